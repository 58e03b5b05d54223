#include "commands/explain_plan.h"

#include <cstdlib>

#include "cli/cli_error.h"
#include "commands/layer_command.h"
#include "commands/package_model.h"
#include "io/file_util.h"
#include "methods/method_catalogue.h"

namespace guidedbp {
namespace cli {

ExplainPlan plan_explain(const ExplainArgs& args) {
  // (--grayscale with --rgb, --target with --top-k: CLI11 rejects them.)
  const MethodInfo& method = find_method(args.method, MethodCommand::kExplain);
  MethodOptions given;
  given.abs = args.abs;
  given.layer = !args.layer.empty();
  given.interpolate = args.has_interpolate || args.gradcam_map;
  // A package's method and layer are its own (ExplainStages checks --method,
  // --abs, --layer and --gradcam-map against them); its upsampling is
  // compiled in.
  if (!is_package_path(args.model)) {
    check_method_options(method, given, MethodCommand::kExplain);
  } else if (args.has_interpolate) {
    throw UsageError(
        "--interpolate does not apply to a package (" + args.model +
        "): a guided-gradcam package upsamples with nearest, compiled in by "
        "guidedbp export");
  }
  if (args.images.empty() && args.files_from.empty()) {
    throw UsageError(
        "no images: give image files or folders, or --files-from LIST");
  }
  ExplainPlan plan;
  plan.grad_cam = method.kind == MethodKind::kLayer;
  plan.interpolate = parse_interpolate(args.interpolate);
  plan.visualize = VisualizeOptions()
                       .method(parse_visual_method(args.visual))
                       .sign(parse_visual_sign(args.sign))
                       .outlier_perc(args.outlier_perc);
  plan.preprocess = preprocess_options(args.preprocess);
  plan.shard =
      resolve_shard(args.shard, args.shard_count, [](const char* name) {
        return std::getenv(name);
      });
  if (!args.labels.empty()) {
    plan.labels = read_lines(args.labels);
  }

  plan.naming.maps = args.top_k > 0 ? args.top_k : 1;
  plan.naming.top_k = args.top_k > 0;
  if (args.has_target && args.target >= 0) {
    plan.naming.fixed_class = args.target;
  }
  plan.naming.panel = args.panel;
  plan.naming.npy = args.save_raw;
  plan.naming.gradcam_png = args.gradcam_map && !args.panel;

  plan.classes.top_k = args.top_k;
  if (args.has_target) {
    plan.classes.fixed = args.target;
  }
  plan.classes.top_k_name = "--top-k";
  plan.classes.fixed_name = "--target";
  return plan;
}

} // namespace cli
} // namespace guidedbp
