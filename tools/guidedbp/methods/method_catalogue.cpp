#include "methods/method_catalogue.h"

#include <algorithm>

#include "cli/cli_error.h"
#include "cli/text.h"

namespace guidedbp {
namespace cli {
namespace {

using C = MethodCommand;

// The names of the methods `command` offers that match `keep`.
template <typename Keep>
std::vector<std::string> names_where(MethodCommand command, Keep keep) {
  std::vector<std::string> names;
  for (const MethodInfo& m : method_catalogue()) {
    if (m.offered_by(command) && keep(m)) {
      names.emplace_back(m.name);
    }
  }
  return names;
}

// The options only layer methods take, as each command spells them.
const char* layer_options(MethodCommand command) {
  return command == C::kExplain
      ? "--layer, --interpolate and --gradcam-map"
      : "--layer, --interpolate, --neuron and --attribute-to-*-input";
}

} // namespace

bool MethodInfo::offered_by(MethodCommand command) const {
  return std::find(commands.begin(), commands.end(), command) != commands.end();
}

const std::vector<MethodInfo>& method_catalogue() {
  static const std::vector<MethodInfo> catalogue = {
      {"guided-backprop",
       "Guided Backpropagation (Springenberg et al.): ReLUs pass only "
       "positive gradients where their input was positive",
       MethodKind::kInput,
       false,
       {C::kAttribute, C::kExplain, C::kServe, C::kExport, C::kEvaluate}},
      {"deconvolution",
       "Deconvolution (Zeiler and Fergus): ReLUs pass only positive "
       "gradients, whatever their input",
       MethodKind::kInput,
       false,
       {C::kAttribute, C::kExplain, C::kServe, C::kExport, C::kEvaluate}},
      {"saliency",
       "Saliency (Simonyan et al.): the plain gradient; --abs its absolute "
       "value",
       MethodKind::kInput,
       true,
       {C::kAttribute, C::kExplain, C::kServe, C::kExport, C::kEvaluate}},
      {"guided-gradcam",
       "Guided Grad-CAM: Guided Backpropagation scaled by the Grad-CAM map of "
       "--layer",
       MethodKind::kLayer,
       false,
       {C::kAttribute, C::kExplain, C::kExport}},
      {"neuron-guided-backprop",
       "Guided Backpropagation of one --neuron of --layer",
       MethodKind::kNeuron,
       false,
       {C::kAttribute, C::kExport}},
      {"neuron-deconvolution",
       "Deconvolution of one --neuron of --layer",
       MethodKind::kNeuron,
       false,
       {C::kAttribute, C::kExport}},
  };
  return catalogue;
}

std::vector<std::string> method_names(MethodCommand command) {
  return names_where(command, [](const MethodInfo&) { return true; });
}

const MethodInfo& find_method(const std::string& name, MethodCommand command) {
  for (const MethodInfo& m : method_catalogue()) {
    if (name == m.name && m.offered_by(command)) {
      return m;
    }
  }
  throw UsageError(
      "unknown --method '" + limit_length(name, 60) + "' (expected one of " +
      spoken_list(method_names(command)) + ")");
}

void check_method_options(
    const MethodInfo& method,
    const MethodOptions& options,
    MethodCommand command) {
  const std::string name = method.name;
  if (options.abs && !method.takes_abs) {
    throw UsageError(
        "--abs applies to --method " +
        spoken_list(names_where(
            command, [](const MethodInfo& m) { return m.takes_abs; })) +
        " only");
  }
  if (!method.needs_layer()) {
    if (options.layer || options.interpolate || options.layer_input ||
        options.neuron || options.neuron_input) {
      throw UsageError(
          std::string(layer_options(command)) + " apply to --method " +
          spoken_list(names_where(
              command, [](const MethodInfo& m) { return m.needs_layer(); })) +
          " only");
    }
    return;
  }
  if (!options.layer) {
    throw UsageError(
        "--method " + name +
        " needs --layer PATH (a named_modules() path such as layer4 or "
        "features.18; `guidedbp layers --model M.pt` lists them)");
  }
  const auto neuron_methods = names_where(command, [](const MethodInfo& m) {
    return m.kind == MethodKind::kNeuron;
  });
  const auto layer_methods = names_where(command, [](const MethodInfo& m) {
    return m.kind == MethodKind::kLayer;
  });
  if (method.kind == MethodKind::kNeuron) {
    if (!options.neuron) {
      throw UsageError(
          "--method " + name +
          " needs --neuron SPEC (an int such as 7, or a tuple such as "
          "'(5, 1, 2)')");
    }
    if (options.target) {
      throw UsageError(
          "--target does not apply to --method " + name +
          ": the neuron (--neuron) is what is explained");
    }
    if (options.interpolate || options.layer_input) {
      throw UsageError(
          "--interpolate and --attribute-to-layer-input apply to --method " +
          spoken_list(layer_methods) + " only");
    }
  } else if (options.neuron || options.neuron_input) {
    throw UsageError(
        "--neuron and --attribute-to-neuron-input apply to --method " +
        spoken_list(neuron_methods) + " only");
  }
}

} // namespace cli
} // namespace guidedbp
