#pragma once

// explain's plan: the command line resolved once, before any model or image
// is read, into the values every stage reads (explain_stages.h).

#include <guidedbp/grad_cam.h>
#include <guidedbp/visualization.h>

#include <string>
#include <vector>

#include "cli/commands.h"
#include "commands/class_choice.h"
#include "dataset/output_names.h"
#include "dataset/shard.h"
#include "imaging/preprocess.h"

namespace guidedbp {
namespace cli {

struct ExplainPlan {
  bool grad_cam = false; ///< guided-gradcam: a layer method
  InterpolateMode interpolate = InterpolateMode::kNearest;
  VisualizeOptions visualize;
  /// channels: 0 here; the stages set it from the model.
  PreprocessOptions preprocess;
  std::vector<std::string> labels; ///< --labels, one per class
  Shard shard;
  OutputNaming naming;
  ClassRequest classes; ///< --target / --top-k
};

/// Checks the options' usage rules (UsageError) and resolves them; reads
/// --labels (CliError when it cannot).
ExplainPlan plan_explain(const ExplainArgs& args);

} // namespace cli
} // namespace guidedbp
