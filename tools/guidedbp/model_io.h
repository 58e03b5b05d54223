#pragma once

#include <torch/script.h>

#include <string>

namespace guidedbp {
namespace cli {

/// Loads a TorchScript module (`torch.jit.script`/`trace`, saved) and puts
/// it in eval mode. Throws CliError naming the file when it is missing or is
/// not a TorchScript archive.
torch::jit::Module load_model(const std::string& path);

} // namespace cli
} // namespace guidedbp
