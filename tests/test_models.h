#pragma once
// Tiny models shared by the unit tests, with weights chosen so that the
// expected attributions can be computed by hand (see each comment).

#include <c10/util/Exception.h>
#include <guidedbp/guidedbp.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "detail/torch_compat.h"

namespace guidedbp_test {

/// A float32 tensor from literal values (torch::tensor wants one literal type).
inline torch::Tensor f32(std::vector<double> values) {
  return torch::tensor(values, torch::kDouble).to(torch::kFloat);
}

/// Captum's BasicModel_ConvNet_One_Conv
/// (captum/testing/helpers/basic_models.py): conv 1->2 3x3 with all-ones
/// weights and bias [-50, -75], ReLU, view(-1, 8), linear 8->4 with weight
/// [ones(4,5) | -ones(4,3)] and zero bias, ReLU. forward(x, x2) adds the
/// optional second input first.
struct CaptumConvNetImpl : torch::nn::Module {
  CaptumConvNetImpl() {
    conv1 = register_module("conv1", torch::nn::Conv2d(1, 2, 3));
    fc1 = register_module("fc1", torch::nn::Linear(8, 4));
    relu1 =
        register_module("relu1", torch::nn::ReLU(torch::nn::ReLUOptions(true)));
    relu2 =
        register_module("relu2", torch::nn::ReLU(torch::nn::ReLUOptions(true)));
    torch::NoGradGuard no_grad;
    conv1->weight.fill_(1);
    conv1->bias.copy_(f32({-50.0, -75.0}));
    fc1->weight.copy_(
        torch::cat({torch::ones({4, 5}), -torch::ones({4, 3})}, 1));
    fc1->bias.zero_();
  }
  torch::Tensor forward(torch::Tensor x) {
    return relu2(fc1(relu1(conv1(x)).view({-1, 8})));
  }
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::Linear fc1{nullptr};
  torch::nn::ReLU relu1{nullptr}, relu2{nullptr};
};
TORCH_MODULE(CaptumConvNet);

/// The same net taking two inputs that it adds first.
struct CaptumConvNetTwoInputsImpl : torch::nn::Module {
  CaptumConvNetTwoInputsImpl() : net(register_module("net", CaptumConvNet())) {}
  torch::Tensor forward(torch::Tensor x, torch::Tensor x2) {
    return net(x + x2);
  }
  CaptumConvNet net;
};
TORCH_MODULE(CaptumConvNetTwoInputs);

/// Captum's published attributions for target 0 of arange(16).view(1,1,4,4).
inline torch::Tensor captum_input() {
  return torch::arange(16, torch::kFloat).view({1, 1, 4, 4});
}
inline torch::Tensor captum_guided() {
  return f32({0., 1, 1, 1, 1, 3, 3, 2, 1, 3, 3, 2, 1, 2, 2, 1})
      .view({1, 1, 4, 4});
}
inline torch::Tensor captum_deconvolution() {
  return f32({2., 3, 3, 1, 3, 5, 5, 2, 3, 5, 5, 2, 1, 2, 2, 1})
      .view({1, 1, 4, 4});
}
inline torch::Tensor captum_guided_two_inputs() {
  return f32({1., 2, 2, 1, 2, 4, 4, 2, 2, 4, 4, 2, 1, 2, 2, 1})
      .view({1, 1, 4, 4});
}

/// f(x) = v . relu(W x) with x = [2, 1], W = [[1,-1],[-1,1],[1,1]],
/// v = [-1, 2, 3]: W x = [1, -1, 3], so the ReLU mask is [1, 0, 1].
///   plain:  W^T (v * mask)       = W^T [-1, 0, 3] = [2, 4]
///   guided: W^T relu(v * mask)   = W^T [ 0, 0, 3] = [3, 3]
///   deconv: W^T relu(v)          = W^T [ 0, 2, 3] = [1, 5]
inline torch::Tensor hand_w() {
  return f32({1., -1, -1, 1, 1, 1}).view({3, 2});
}
inline torch::Tensor hand_v() {
  return f32({-1., 2, 3}).view({3, 1});
}
inline torch::Tensor hand_input() {
  return f32({2., 1}).view({1, 2});
}
inline torch::Tensor hand_plain() {
  return f32({2., 4}).view({1, 2});
}
inline torch::Tensor hand_guided() {
  return f32({3., 3}).view({1, 2});
}
inline torch::Tensor hand_deconvolution() {
  return f32({1., 5}).view({1, 2});
}

/// The hand-computed model as a TorchScript module built in C++, so no file
/// is needed. Its ReLU is `relu_form`: "relu", "relu_" or "functional".
inline torch::jit::Module hand_script_module(
    const std::string& relu_call = "torch.relu(h)") {
  torch::jit::Module m("HandModel");
  m.register_parameter("w", hand_w(), /*is_buffer=*/false);
  m.register_parameter("v", hand_v(), /*is_buffer=*/false);
  m.define(
      "def forward(self, x):\n"
      "    h = torch.matmul(x, self.w.t())\n"
      "    r = " +
      relu_call +
      "\n"
      "    return torch.matmul(r, self.v).view(-1)\n");
  return m;
}

/// The message of an exception, without the C++ backtrace of a c10::Error.
inline std::string message_of(const std::exception& e) {
  if (const auto* error = dynamic_cast<const c10::Error*>(&e)) {
    return error->what_without_backtrace();
  }
  return e.what();
}

/// Expects `call` to throw `ErrorType` (a c10 error type, or e.g. the
/// std::runtime_error of the TorchScript interpreter) whose message contains
/// `fragment`.
template <typename ErrorType>
void expect_error(
    const std::function<void()>& call,
    const std::string& fragment) {
  try {
    call();
    ADD_FAILURE() << "no error, expected one containing: " << fragment;
  } catch (const ErrorType& e) {
    EXPECT_NE(message_of(e).find(fragment), std::string::npos) << message_of(e);
  }
}

/// Records the warnings (TORCH_WARN) raised on this thread while alive.
class WarningCapture {
 public:
  std::vector<std::string> messages;

 private:
  // Declared after `messages`, so installed after it exists.
  guidedbp::detail::ScopedWarningHandler handler_{
      [this](const std::string& message) { messages.push_back(message); }};
};

/// Seeds torch's generator for every test.
class SeededTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(0);
  }
};

} // namespace guidedbp_test
