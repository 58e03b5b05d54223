#pragma once

#include <guidedbp/attribution.h>
#include <torch/script.h>

#include <memory>
#include <string>

namespace guidedbp {
namespace cli {

/// Loads a TorchScript module (`torch.jit.script`/`trace`, saved) and puts
/// it in eval mode. Throws CliError naming the file when it is missing or is
/// not a TorchScript archive.
torch::jit::Module load_model(const std::string& path);

/// The attribution method named on the command line: "guided-backprop",
/// "deconvolution" or "saliency" (`abs`: Saliency's absolute value).
std::unique_ptr<ModifiedReluGradient> make_method(
    const torch::jit::Module& module,
    const std::string& method,
    bool abs);

} // namespace cli
} // namespace guidedbp
