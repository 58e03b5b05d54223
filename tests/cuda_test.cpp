// Attribution on CUDA: Captum's published values and the hand-computed model
// on the GPU, CUDA against CPU with TF32 off, and that the library leaves the
// process's TF32 settings alone. The GPU tests skip where LibTorch sees no
// CUDA device (scripts/gpu-check.sh runs them on a machine with one).

#include <ATen/Context.h>
#include <gtest/gtest.h>
#include <guidedbp/attribution.h>
#include <torch/cuda.h>

#include "test_models.h"

using namespace guidedbp_test;

namespace {

#define GUIDEDBP_SKIP_WITHOUT_CUDA()                                 \
  if (!torch::cuda::is_available()) {                                \
    GTEST_SKIP() << "no CUDA device visible to this LibTorch build"; \
  }

// TF32 off for one test (the CLI's default: full float32 precision); the
// previous settings come back at scope exit.
class Tf32Off {
 public:
  Tf32Off()
      : cudnn_(at::globalContext().allowTF32CuDNN()),
        cublas_(at::globalContext().allowTF32CuBLAS()) {
    at::globalContext().setAllowTF32CuDNN(false);
    at::globalContext().setAllowTF32CuBLAS(false);
  }
  ~Tf32Off() {
    at::globalContext().setAllowTF32CuDNN(cudnn_);
    at::globalContext().setAllowTF32CuBLAS(cublas_);
  }

 private:
  bool cudnn_;
  bool cublas_;
};

// A small random CNN with module, functional and in-place ReLUs.
struct SmallCnnImpl : torch::nn::Module {
  SmallCnnImpl()
      : conv1(register_module("conv1", torch::nn::Conv2d(3, 8, 3))),
        conv2(register_module("conv2", torch::nn::Conv2d(8, 8, 3))),
        fc(register_module("fc", torch::nn::Linear(8 * 12 * 12, 10))) {}
  torch::Tensor forward(torch::Tensor x) {
    x = torch::relu(conv1(x));
    x = conv2(x).relu_();
    return fc(torch::nn::functional::relu(x).flatten(1));
  }
  torch::nn::Conv2d conv1;
  torch::nn::Conv2d conv2;
  torch::nn::Linear fc;
};
TORCH_MODULE(SmallCnn);

} // namespace

class CudaTest : public SeededTest {};

TEST_F(CudaTest, CaptumExampleOnGpu) {
  GUIDEDBP_SKIP_WITHOUT_CUDA();
  Tf32Off tf32_off;
  CaptumConvNet net;
  net->to(torch::kCUDA);
  torch::Tensor x = captum_input().to(torch::kCUDA);
  torch::Tensor guided = guidedbp::GuidedBackprop(net).attribute(x, 0);
  torch::Tensor deconv = guidedbp::Deconvolution(net).attribute(x, 0);
  EXPECT_TRUE(guided.is_cuda());
  EXPECT_TRUE(torch::allclose(guided.cpu(), captum_guided()));
  EXPECT_TRUE(torch::allclose(deconv.cpu(), captum_deconvolution()));
}

TEST_F(CudaTest, HandModelEveryRuleAndPerExampleTarget) {
  GUIDEDBP_SKIP_WITHOUT_CUDA();
  torch::jit::Module m = hand_script_module();
  m.to(torch::kCUDA);
  torch::Tensor x = hand_input().repeat({2, 1}).to(torch::kCUDA);
  // hand_forward returns one value per example: per-example targets index
  // a (2, 1) view of it.
  guidedbp::Model model = [m](torch::Tensor in) mutable {
    return m.forward({in}).toTensor().view({-1, 1});
  };
  auto target = guidedbp::Target::per_example({0, 0});
  EXPECT_TRUE(torch::allclose(
      guidedbp::GuidedBackprop(model).attribute(x, target).cpu(),
      hand_guided().repeat({2, 1})));
  EXPECT_TRUE(torch::allclose(
      guidedbp::Deconvolution(model).attribute(x, target).cpu(),
      hand_deconvolution().repeat({2, 1})));
  EXPECT_TRUE(torch::allclose(
      guidedbp::Saliency(model).attribute(x, target).cpu(),
      hand_plain().repeat({2, 1})));
}

TEST_F(CudaTest, MatchesCpuWithTf32Off) {
  GUIDEDBP_SKIP_WITHOUT_CUDA();
  Tf32Off tf32_off;
  SmallCnn cpu_net;
  cpu_net->eval();
  SmallCnn gpu_net;
  gpu_net->eval();
  {
    torch::NoGradGuard no_grad;
    auto from = cpu_net->parameters();
    auto to = gpu_net->parameters();
    for (size_t i = 0; i < from.size(); ++i) {
      to[i].copy_(from[i]);
    }
  }
  gpu_net->to(torch::kCUDA);
  torch::Tensor x = torch::randn({4, 3, 16, 16});
  torch::Tensor x_gpu = x.to(torch::kCUDA);
  for (guidedbp::ReluRule rule :
       {guidedbp::ReluRule::kGuided,
        guidedbp::ReluRule::kDeconvolution,
        guidedbp::ReluRule::kPlain}) {
    torch::Tensor on_cpu =
        guidedbp::ModifiedReluGradient(cpu_net, rule).attribute(x, 7);
    torch::Tensor on_gpu =
        guidedbp::ModifiedReluGradient(gpu_net, rule).attribute(x_gpu, 7);
    ASSERT_TRUE(on_gpu.is_cuda());
    const double scale = on_cpu.abs().max().item<double>();
    const double diff = (on_gpu.cpu() - on_cpu).abs().max().item<double>();
    EXPECT_LT(diff, 1e-5 * scale) << "rule " << static_cast<int>(rule);
  }
}

// Runs everywhere: the TF32 flags are process-wide and belong to the user.
TEST_F(CudaTest, LeavesTf32SettingsAlone) {
  Tf32Off restore_at_exit; // saves the settings and puts them back
  CaptumConvNet net;
  torch::Tensor x = captum_input();
  if (torch::cuda::is_available()) {
    net->to(torch::kCUDA);
    x = x.to(torch::kCUDA);
  }
  for (bool allowed : {true, false}) {
    at::globalContext().setAllowTF32CuDNN(allowed);
    at::globalContext().setAllowTF32CuBLAS(!allowed);
    (void)guidedbp::GuidedBackprop(net).attribute(x, 0);
    EXPECT_EQ(at::globalContext().allowTF32CuDNN(), allowed);
    EXPECT_EQ(at::globalContext().allowTF32CuBLAS(), !allowed);
  }
}
