#pragma once

// Where and how a subcommand computes: --device, --threads, --allow-tf32.

#include <torch/types.h>

#include <string>

namespace guidedbp {
namespace cli {

/// The options as parsed (main.cpp validates their spelling).
struct RuntimeArgs {
  std::string device = "cpu"; ///< "cpu", "cuda" or "cuda:N".
  int threads = 0;            ///< Intra-op threads; 0: LibTorch's default.
  bool allow_tf32 = false;    ///< Let cuDNN and cuBLAS use TF32 on CUDA.
};

/// True for the spellings --device takes: cpu, cuda, cuda:N.
bool is_device_spelling(const std::string& text);

/// Applies --threads and the TF32 choice to this process and returns the
/// device to compute on. Throws CliError, before any work, when the device
/// cannot be used: a LibTorch without CUDA, no GPU visible, or an index past
/// the last device.
torch::Device apply_runtime(const RuntimeArgs& args);

} // namespace cli
} // namespace guidedbp
