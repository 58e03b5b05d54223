#pragma once

// Packages of `guidedbp export` (torch.export models compiled with a method,
// AOTInductor, LibTorch >= 2.6) as attribute, explain and serve take them for
// --model: recognised by name, loaded with one-line errors, and the options
// that name a method, --abs or a layer checked against the package's own (one
// rule for the command line and serve's requests).

#include <guidedbp/compiled.h>

#include <memory>
#include <string>

#include "methods/method_catalogue.h"

namespace guidedbp {
namespace cli {

/// True when --model names a package (PKG.pt2) rather than TorchScript.
bool is_package_path(const std::string& model);

/// Loads the package. Throws CliError with the library's line, and on
/// LibTorch >= 2.6 a hint that an ExportedProgram needs `guidedbp export`
/// first.
std::unique_ptr<CompiledAttribution> load_package(const std::string& model);

/// What a run asks of a package besides its inputs.
struct PackageRequest {
  bool has_method = false; ///< a method was named
  std::string method;
  bool abs = false;
  std::string layer; ///< "": none named
};

/// The request of a command line's options (attribute's and explain's
/// arguments both have these members).
template <typename Args>
PackageRequest package_request(const Args& args) {
  PackageRequest request;
  request.has_method = args.has_method;
  request.method = args.method;
  request.abs = args.abs;
  request.layer = args.layer;
  return request;
}

/// Why `request` does not fit the package called `model` (empty when it
/// fits): a method other than the package's, an absolute value it lacks, a
/// layer other than its own. `prefix` is how the user spells the options:
/// "--" on the command line, "" in a serve request.
std::string package_mismatch(
    const CompiledMetadata& meta,
    const std::string& model,
    const PackageRequest& request,
    const std::string& prefix);

/// The command line's check: throws UsageError with package_mismatch's line.
void check_package_request(
    const CompiledAttribution& package,
    const std::string& model,
    const PackageRequest& request);

/// Throws UsageError when the package's method is not one `command` offers,
/// naming those it does (`command_name`: "explain", "serve").
void check_package_offered(
    const CompiledAttribution& package,
    const std::string& model,
    MethodCommand command,
    const std::string& command_name);

} // namespace cli
} // namespace guidedbp
