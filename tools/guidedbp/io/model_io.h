#pragma once

#include <torch/script.h>

#include <cstdint>
#include <optional>
#include <string>

namespace guidedbp {
namespace cli {

/// Loads a TorchScript module (`torch.jit.script`/`trace`, saved) and puts
/// it in eval mode. Throws CliError naming the file when it is missing or is
/// not a TorchScript archive.
torch::jit::Module load_model(const std::string& path);

/// The channel count the model's image input most likely has: the in-channel
/// count (`weight.size(1)`) of the first 4-D floating-point parameter in the
/// module's parameter order, when that is 1 or 3. A heuristic: it assumes
/// that parameter is the first convolution's weight, with groups=1 (true of
/// torchvision's classifiers and most CNNs); nullopt when there is no such
/// parameter or its count is neither 1 nor 3 (then images are left as
/// decoded, and a mismatch shows as preprocess.h's
/// channel_mismatch_message).
///
/// Example:
/// ```
/// PreprocessOptions pre = preprocess_options(args.preprocess);
/// pre.channels = expected_input_channels(model).value_or(0);
/// ```
std::optional<int64_t> expected_input_channels(
    const torch::jit::Module& module);

} // namespace cli
} // namespace guidedbp
