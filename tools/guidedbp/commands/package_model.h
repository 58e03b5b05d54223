#pragma once

// Packages of `guidedbp export` (torch.export models compiled with a method,
// AOTInductor, LibTorch >= 2.6) as attribute and explain take them for
// --model: recognised by name, loaded with one-line errors, and the method
// options checked against the package's own method.

#include <guidedbp/compiled.h>

#include <memory>
#include <string>

namespace guidedbp {
namespace cli {

/// True when --model names a package (PKG.pt2) rather than TorchScript.
bool is_package_path(const std::string& model);

/// Loads the package. Throws CliError with the library's line, and on
/// LibTorch >= 2.6 a hint that an ExportedProgram needs `guidedbp export`
/// first.
std::unique_ptr<CompiledAttribution> load_package(const std::string& model);

/// Throws UsageError when a --method given (`has_method`) differs from the
/// package's, naming the package's method, or when --abs asks for what the
/// package does not compute.
void check_package_method(
    const CompiledAttribution& package,
    const std::string& model,
    bool has_method,
    const std::string& method,
    bool abs);

} // namespace cli
} // namespace guidedbp
