#include "io/tensor_io.h"

#include <torch/serialize.h>

#include <cstring>

#include "cli/cli_error.h"
#include "cli/report.h"
#include "io/file_util.h"
#include "io/npy_format.h"

namespace guidedbp {
namespace cli {
namespace {

torch::ScalarType to_scalar_type(NpyDType dtype) {
  switch (dtype) {
    case NpyDType::kFloat16:
      return torch::kFloat16;
    case NpyDType::kFloat32:
      return torch::kFloat32;
    case NpyDType::kFloat64:
      return torch::kFloat64;
    case NpyDType::kInt8:
      return torch::kInt8;
    case NpyDType::kInt16:
      return torch::kInt16;
    case NpyDType::kInt32:
      return torch::kInt32;
    case NpyDType::kInt64:
      return torch::kInt64;
    case NpyDType::kUInt8:
      return torch::kUInt8;
    case NpyDType::kBool:
      return torch::kBool;
  }
  return torch::kFloat32;
}

NpyDType to_npy_dtype(torch::ScalarType type, const std::string& path) {
  switch (type) {
    case torch::kFloat16:
      return NpyDType::kFloat16;
    case torch::kFloat32:
      return NpyDType::kFloat32;
    case torch::kFloat64:
      return NpyDType::kFloat64;
    case torch::kInt8:
      return NpyDType::kInt8;
    case torch::kInt16:
      return NpyDType::kInt16;
    case torch::kInt32:
      return NpyDType::kInt32;
    case torch::kInt64:
      return NpyDType::kInt64;
    case torch::kUInt8:
      return NpyDType::kUInt8;
    case torch::kBool:
      return NpyDType::kBool;
    default:
      throw CliError(
          path + ": a .npy file cannot hold dtype " +
          std::string(c10::toString(type)) + "; write a .pt file instead");
  }
}

torch::Tensor read_npy(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  NpyHeader header = parse_npy_header(bytes.data(), bytes.size(), path);
  torch::Tensor tensor =
      torch::empty(header.shape, to_scalar_type(header.dtype));
  if (header.data_bytes > 0) {
    std::memcpy(
        tensor.data_ptr(),
        bytes.data() + header.data_offset,
        header.data_bytes);
  }
  return tensor;
}

torch::Tensor read_pt(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  std::vector<char> data(bytes.begin(), bytes.end());
  bytes.clear();
  bytes.shrink_to_fit();
  torch::IValue value;
  try {
    value = torch::pickle_load(data);
  } catch (const c10::Error& e) {
    throw CliError(
        path + ": not a readable .pt tensor file (" + error_line(e) + ")");
  }
  // LibTorch 1.13's pickle_load throws above for a dict; 2.x reads it.
  if (!value.isTensor()) {
    throw CliError(
        path + ": not a tensor file: it holds a " + value.tagKind() +
        "; save a single tensor with torch.save(tensor, path)");
  }
  return value.toTensor();
}

} // namespace

bool is_tensor_file(const std::string& path) {
  std::string ext = extension(path);
  return ext == ".npy" || ext == ".pt";
}

torch::Tensor read_tensor(const std::string& path) {
  std::string ext = extension(path);
  if (ext == ".npy") {
    return read_npy(path);
  }
  if (ext == ".pt") {
    return read_pt(path);
  }
  throw CliError(
      path + ": unknown tensor file extension (expected .npy or .pt)");
}

std::vector<char> encode_tensor(
    const torch::Tensor& tensor,
    const std::string& path) {
  std::string ext = extension(path);
  torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
  if (ext == ".pt") {
    return torch::pickle_save(t);
  }
  if (ext != ".npy") {
    throw CliError(
        path + ": unknown tensor file extension (expected .npy or .pt)");
  }
  std::vector<int64_t> shape(t.sizes().begin(), t.sizes().end());
  std::vector<uint8_t> header =
      make_npy_header(to_npy_dtype(t.scalar_type(), path), shape);
  size_t data_bytes = static_cast<size_t>(t.numel()) * t.element_size();
  std::vector<char> out(header.size() + data_bytes);
  std::memcpy(out.data(), header.data(), header.size());
  if (data_bytes > 0) {
    std::memcpy(out.data() + header.size(), t.data_ptr(), data_bytes);
  }
  return out;
}

} // namespace cli
} // namespace guidedbp
