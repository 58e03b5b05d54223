#include "runtime/runtime.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <dlfcn.h>

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

void use_one_intra_op_thread_in_this_thread() {
  // at::set_num_threads would not do: it also sets the count that every
  // thread starting later takes, so the model's own threads would shrink
  // too. OpenMP's count is per thread: once ATen has set this thread's
  // (get_num_threads does), lower it in the OpenMP runtime that LibTorch
  // loaded, found by name so that no second runtime is linked in.
  using SetThreads = void (*)(int);
  static const auto omp_set_num_threads = reinterpret_cast<SetThreads>(
      dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  if (omp_set_num_threads != nullptr) {
    (void)at::get_num_threads();
    omp_set_num_threads(1);
  }
}

} // namespace cli
} // namespace guidedbp
