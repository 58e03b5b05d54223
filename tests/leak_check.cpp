// Resident memory must stay flat over many attributions (issue #5): runs
// `--calls` attributions (default 1000) on a TorchScript module built in C++
// and on a torch::nn model, mixing methods, attribute_targets and calls that
// throw, and compares the resident set size after `--warmup` calls (default
// 100: LibTorch's one-time allocations, allocator caches and the TorchScript
// executor's plan are in place by then) with the one at the end. Exits 1 if
// it grew by more than `--max-growth-mb` (default 4).
//
// Usage: guidedbp_leak_check [--calls N] [--warmup N] [--max-growth-mb MB]
// Run by scripts/leak-check.sh; prints one line per checkpoint.

#include <guidedbp/attribution.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "detail/torch_compat.h"

namespace {

// VmRSS of this process in MiB, from /proc/self/status.
double resident_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::strtod(line.c_str() + 6, nullptr) / 1024.0; // kB -> MiB
    }
  }
  return -1;
}

torch::jit::Module script_net() {
  torch::jit::Module m("LeakNet");
  m.register_parameter("w1", torch::randn({8, 3, 3, 3}), /*is_buffer=*/false);
  m.register_parameter(
      "w2", torch::randn({10, 8 * 14 * 14}) * 0.01, /*is_buffer=*/false);
  m.define(
      "def forward(self, x):\n"
      "    h = torch.relu(torch.conv2d(x, self.w1, None, 1, 1))\n"
      "    h = torch.max_pool2d(h, 2)\n"
      "    return torch.matmul(torch.flatten(h, 1), self.w2.t())\n");
  m.eval();
  return m;
}

torch::nn::Sequential nn_net() {
  torch::nn::Sequential net(
      torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 3).padding(1)),
      torch::nn::ReLU(torch::nn::ReLUOptions(/*inplace=*/true)),
      torch::nn::MaxPool2d(2),
      torch::nn::Flatten(),
      torch::nn::Linear(8 * 14 * 14, 10));
  net->eval();
  return net;
}

long parse_arg(int argc, char** argv, const char* name, long fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) {
      return std::strtol(argv[i + 1], nullptr, 10);
    }
  }
  return fallback;
}

} // namespace

int main(int argc, char** argv) {
  const long calls = parse_arg(argc, argv, "--calls", 1000);
  const long warmup = parse_arg(argc, argv, "--warmup", 100);
  const double max_growth =
      static_cast<double>(parse_arg(argc, argv, "--max-growth-mb", 4));
  torch::manual_seed(0);
  guidedbp::detail::reset_warning_handler();

  torch::jit::Module module = script_net();
  torch::nn::Sequential net = nn_net();
  std::vector<guidedbp::ModifiedReluGradient> explainers = {
      guidedbp::GuidedBackprop(module),
      guidedbp::Deconvolution(module),
      guidedbp::Saliency(module),
      guidedbp::GuidedBackprop(net),
      guidedbp::Deconvolution(net),
      guidedbp::Saliency(net)};

  double at_warmup = 0;
  long thrown = 0;
  for (long call = 1; call <= calls; ++call) {
    torch::Tensor x = torch::randn({2, 3, 28, 28});
    const auto& explainer = explainers[call % explainers.size()];
    try {
      if (call % 10 == 0) {
        (void)explainer.attribute(x, /*target=*/10); // out of range: throws
      } else if (call % 10 == 5) {
        guidedbp::AttributionResult result =
            explainer.attribute_targets({x}, {0, 3, 9});
        (void)result;
      } else {
        torch::Tensor a =
            explainer.attribute(x, guidedbp::Target::per_example({1, 7}));
        (void)a;
      }
    } catch (const c10::IndexError&) {
      ++thrown;
    }
    if (call == warmup) {
      at_warmup = resident_mib();
      std::printf(
          "leak_check: RSS after %ld calls: %.1f MiB\n", call, at_warmup);
    }
  }
  const double at_end = resident_mib();
  const double growth = at_end - at_warmup;
  std::printf(
      "leak_check: RSS after %ld calls: %.1f MiB (%ld threw as expected)\n"
      "leak_check: growth from call %ld to call %ld: %+.2f MiB (limit %.0f MiB)\n",
      calls,
      at_end,
      thrown,
      warmup,
      calls,
      growth,
      max_growth);
  if (thrown != calls / 10) {
    std::printf(
        "leak_check: FAILED: expected %ld IndexErrors, got %ld\n",
        calls / 10,
        thrown);
    return 1;
  }
  if (growth > max_growth) {
    std::printf(
        "leak_check: FAILED: resident memory grew by %.2f MiB\n", growth);
    return 1;
  }
  std::printf("leak_check: OK\n");
  return 0;
}
