#include "commands/package_model.h"

#include "cli/cli_error.h"
#include "cli/report.h"

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

void check_package_method(
    const CompiledAttribution& package,
    const std::string& model,
    bool has_method,
    const std::string& method,
    bool abs) {
  const CompiledMetadata& meta = package.metadata();
  if (has_method && method != meta.method) {
    throw UsageError(
        "--method " + method + " conflicts with " + model +
        ", which computes " + meta.method +
        " (compiled in by guidedbp export): drop --method or export the "
        "model with --method " +
        method);
  }
  if (abs && !meta.abs) {
    throw UsageError(
        "--abs: " + model + " computes " + meta.method +
        (meta.method == "saliency"
             ? " without the absolute value; export it with --abs"
             : ", which has no --abs"));
  }
}

} // namespace cli
} // namespace guidedbp
