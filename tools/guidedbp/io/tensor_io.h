#pragma once

#include <torch/types.h>

#include <string>

namespace guidedbp {
namespace cli {

/// Reads one tensor from `path`, by extension: `.npy` (numpy, see
/// npy_format.h) or `.pt` (one tensor saved by Python's `torch.save` or
/// `torch::pickle_save`; anything else in the file is rejected).
/// Throws CliError naming the file.
torch::Tensor read_tensor(const std::string& path);

/// The bytes of `tensor` (moved to the CPU, made contiguous) in the format
/// that `path`'s extension names: `.npy` (numpy.load reads it) or `.pt`
/// (torch.load reads it). Throws CliError for another extension or a dtype
/// `.npy` cannot hold.
std::vector<char> encode_tensor(
    const torch::Tensor& tensor,
    const std::string& path);

/// True for the extensions `read_tensor` knows (".npy", ".pt").
bool is_tensor_file(const std::string& path);

} // namespace cli
} // namespace guidedbp
