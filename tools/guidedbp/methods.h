#pragma once

// The attribution methods the command line offers, from one table.

#include <guidedbp/attribution.h>

#include <memory>
#include <string>

namespace guidedbp {
namespace cli {

/// The method named by `--method` ("guided-backprop", "deconvolution",
/// "saliency"; see `method_choices`) on `model`; `abs`: Saliency's absolute
/// value. Throws UsageError for an unknown name or `abs` with another method.
std::unique_ptr<ModifiedReluGradient> make_method(
    const Model& model,
    const std::string& method,
    bool abs);

} // namespace cli
} // namespace guidedbp
