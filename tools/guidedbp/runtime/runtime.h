#pragma once

// Applies a subcommand's --device, --threads and --allow-tf32 (RuntimeArgs).

#include <torch/types.h>

#include "cli/commands.h"

namespace guidedbp {
namespace cli {

/// Applies --threads and the TF32 choice to this process and returns the
/// device to compute on. Throws CliError, before any work, when the device
/// cannot be used: a LibTorch without CUDA, no GPU visible, or an index past
/// the last device.
torch::Device apply_runtime(const RuntimeArgs& args);

} // namespace cli
} // namespace guidedbp
