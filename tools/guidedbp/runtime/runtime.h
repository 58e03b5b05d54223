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

/// Gives the calling thread's ATen ops one intra-op thread, as PyTorch's
/// DataLoader does in its workers, leaving every other thread's count as it
/// is: explain's I/O workers then do not each start a team as large as the
/// model's on the same cores. Does nothing where LibTorch does not use
/// OpenMP for its intra-op pool.
void use_one_intra_op_thread_in_this_thread();

} // namespace cli
} // namespace guidedbp
