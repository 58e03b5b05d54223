#pragma once

// The library classes of the catalogue's input methods (method_catalogue.h
// says what each method is and takes; this builds it).

#include <guidedbp/attribution.h>

#include <memory>
#include <string>

namespace guidedbp {
namespace cli {

/// The input method named `method` ("guided-backprop", "deconvolution",
/// "saliency": MethodKind::kInput of the catalogue) on `model`; `abs`:
/// Saliency's absolute value (check_method_options has checked it). Throws
/// UsageError for another name.
std::unique_ptr<ModifiedReluGradient> make_method(
    const Model& model,
    const std::string& method,
    bool abs);

} // namespace cli
} // namespace guidedbp
