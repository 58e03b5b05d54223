#pragma once

// What each attribution method of the command line is and which options and
// commands it takes: one torch-free table that every subcommand, `serve` and
// the help text read. The torch factory that builds a method sits beside it
// (methods.h).

#include <string>
#include <vector>

namespace guidedbp {
namespace cli {

/// The commands that offer methods.
/// kExport: `guidedbp export`, which compiles a method into a package.
/// kEvaluate: `guidedbp evaluate`, whose metrics explain with a method.
enum class MethodCommand { kAttribute, kExplain, kServe, kExport, kEvaluate };

/// How a method chooses what it explains.
enum class MethodKind {
  kInput,  ///< An output's gradient w.r.t. the inputs, a ReLU rule (--target).
  kLayer,  ///< Guided Grad-CAM: --target, and a --layer whose map scales it.
  kNeuron, ///< A neuron (--neuron) of a --layer, not a --target.
};

/// One method of the catalogue.
struct MethodInfo {
  const char* name;    ///< As on the command line, e.g. "guided-backprop".
  const char* summary; ///< One line for help texts.
  MethodKind kind;
  bool takes_abs;                      ///< --abs: Captum's Saliency(abs=True).
  std::vector<MethodCommand> commands; ///< Where it is offered.

  bool needs_layer() const {
    return kind != MethodKind::kInput;
  }
  bool offered_by(MethodCommand command) const;
};

/// Every method, in the order help texts list them.
const std::vector<MethodInfo>& method_catalogue();

/// The names `command` offers, for CLI11's checks and help.
std::vector<std::string> method_names(MethodCommand command);

/// The method named `name` as `command` offers it. Throws UsageError naming
/// the choices for an unknown name or one the command does not offer.
const MethodInfo& find_method(const std::string& name, MethodCommand command);

/// The options that depend on the method, as a command received them.
struct MethodOptions {
  bool abs = false;
  bool layer = false;        ///< --layer
  bool interpolate = false;  ///< --interpolate (or explain's --gradcam-map)
  bool layer_input = false;  ///< --attribute-to-layer-input
  bool neuron = false;       ///< --neuron
  bool neuron_input = false; ///< --attribute-to-neuron-input
  bool target = false;       ///< --target
};

/// Throws UsageError, naming the option and the methods of `command` it
/// applies to, when `options` holds one that `method` does not take or lacks
/// one it needs (--layer for layer and neuron methods, --neuron for neuron
/// methods).
void check_method_options(
    const MethodInfo& method,
    const MethodOptions& options,
    MethodCommand command);

} // namespace cli
} // namespace guidedbp
