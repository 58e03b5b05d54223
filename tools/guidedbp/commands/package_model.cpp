#include "commands/package_model.h"

#include "cli/cli_error.h"
#include "cli/report.h"
#include "cli/text.h"

namespace guidedbp {
namespace cli {

bool is_package_path(const std::string& model) {
  const std::string tail = ".pt2";
  return model.size() >= tail.size() &&
      model.compare(model.size() - tail.size(), tail.size(), tail) == 0;
}

std::unique_ptr<CompiledAttribution> load_package(const std::string& model) {
  try {
    return std::make_unique<CompiledAttribution>(model);
  } catch (const c10::Error& e) {
    throw CliError(
        error_line(e) +
        (compiled_packages_supported()
             ? " (an ExportedProgram must first be compiled: guidedbp export "
               "--model EP.pt2 --method M --output PKG.pt2)"
             : ""));
  }
}

std::string package_mismatch(
    const CompiledMetadata& meta,
    const std::string& model,
    const PackageRequest& request,
    const std::string& prefix) {
  if (request.has_method && request.method != meta.method) {
    return prefix + "method " + request.method + " conflicts with " + model +
        ", which computes " + meta.method +
        " (compiled in by guidedbp export): leave " + prefix +
        "method out or export the model with --method " + request.method;
  }
  if (request.abs && !meta.abs) {
    return prefix + "abs: " + model + " computes " + meta.method +
        (meta.method == "saliency"
             ? " without the absolute value; export it with --abs"
             : ", which has no absolute value; leave " + prefix + "abs out");
  }
  if (!request.layer.empty() && request.layer != meta.layer) {
    if (meta.layer.empty()) {
      return prefix + "layer " + request.layer + ": " + model + " computes " +
          meta.method + ", which takes no layer; leave " + prefix + "layer out";
    }
    return prefix + "layer " + request.layer + " conflicts with " + model +
        ", whose layer is " + meta.layer +
        " (compiled in by guidedbp export): leave " + prefix +
        "layer out or export the model with --layer " + request.layer;
  }
  return "";
}

void check_package_request(
    const CompiledAttribution& package,
    const std::string& model,
    const PackageRequest& request) {
  const std::string why =
      package_mismatch(package.metadata(), model, request, "--");
  if (!why.empty()) {
    throw UsageError(why);
  }
}

void check_package_offered(
    const CompiledAttribution& package,
    const std::string& model,
    MethodCommand command,
    const std::string& command_name) {
  const std::string& method = package.metadata().method;
  for (const MethodInfo& m : method_catalogue()) {
    if (method == m.name && m.offered_by(command)) {
      return;
    }
  }
  throw UsageError(
      model + " computes " + method + ", which guidedbp " + command_name +
      " does not offer (it offers " + spoken_list(method_names(command)) + ")" +
      (method.compare(0, 7, "neuron-") == 0
           ? "; use guidedbp attribute --neuron SPEC"
           : ""));
}

} // namespace cli
} // namespace guidedbp
