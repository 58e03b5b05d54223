#include "runtime/runtime.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <regex>

#include "cli/cli_error.h"

namespace guidedbp {
namespace cli {

bool is_device_spelling(const std::string& text) {
  static const std::regex spelling("cpu|cuda(:[0-9]{1,3})?");
  return std::regex_match(text, spelling);
}

torch::Device apply_runtime(const RuntimeArgs& args) {
  if (args.threads > 0) {
    at::set_num_threads(args.threads);
  }
  const torch::Device device(args.device);
  if (!device.is_cuda()) {
    return device;
  }
  const std::string option = "--device " + args.device;
  if (!at::hasCUDA()) {
    throw CliError(
        option +
        ": this guidedbp is built against a LibTorch without CUDA; use "
        "--device cpu, or rebuild against a CUDA LibTorch (docs/gpu.md)");
  }
  const auto count = static_cast<int64_t>(torch::cuda::device_count());
  if (count == 0) {
    throw CliError(
        option +
        ": no CUDA device is visible (check the driver and "
        "CUDA_VISIBLE_DEVICES); use --device cpu");
  }
  if (device.has_index() && device.index() >= count) {
    throw CliError(
        option + ": there " + (count == 1 ? "is " : "are ") +
        std::to_string(count) + " CUDA device(s), numbered from 0; use cuda:0" +
        (count > 1 ? " to cuda:" + std::to_string(count - 1) : "") +
        " or --device cpu");
  }
  // TF32 is off unless asked for: maps then match the CPU's (docs/gpu.md).
  // The process is ours, so the global setting is ours to choose.
  at::globalContext().setAllowTF32CuDNN(args.allow_tf32);
  at::globalContext().setAllowTF32CuBLAS(args.allow_tf32);
  return device;
}

} // namespace cli
} // namespace guidedbp
