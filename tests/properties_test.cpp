// What an attribution must leave as it found it, also when it throws, and
// how it behaves under NoGradGuard and concurrent callers.

#include <gtest/gtest.h>
#include <guidedbp/attribution.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <thread>

#include "test_models.h"

using namespace guidedbp_test;

namespace {

// Everything of the caller's state an attribution could disturb.
struct CallerState {
  bool grad_mode;
  bool graph_optimizer;
  bool input_requires_grad;
  bool input_has_grad;
  std::vector<bool> param_has_grad;
};

CallerState snapshot(const torch::Tensor& input, const torch::nn::Module& net) {
  CallerState s;
  s.grad_mode = torch::GradMode::is_enabled();
  s.graph_optimizer = torch::jit::getGraphExecutorOptimize();
  s.input_requires_grad = input.requires_grad();
  s.input_has_grad = input.grad().defined();
  for (const auto& p : net.parameters()) {
    s.param_has_grad.push_back(p.grad().defined());
  }
  return s;
}

void expect_same(const CallerState& a, const CallerState& b) {
  EXPECT_EQ(a.grad_mode, b.grad_mode);
  EXPECT_EQ(a.graph_optimizer, b.graph_optimizer);
  EXPECT_EQ(a.input_requires_grad, b.input_requires_grad);
  EXPECT_EQ(a.input_has_grad, b.input_has_grad);
  EXPECT_EQ(a.param_has_grad, b.param_has_grad);
}

} // namespace

class PropertiesTest : public SeededTest {};

TEST_F(PropertiesTest, LeavesInputsAndParametersUntouched) {
  CaptumConvNet net;
  torch::Tensor plain_input = captum_input();
  auto before = snapshot(plain_input, *net);
  guidedbp::GuidedBackprop gbp(net);
  (void)gbp.attribute(plain_input, 0);
  expect_same(snapshot(plain_input, *net), before);
  EXPECT_FALSE(plain_input.requires_grad());

  // An input that requires grad and holds a .grad keeps both as they were.
  torch::Tensor leaf = captum_input().requires_grad_();
  leaf.mutable_grad() = torch::full_like(leaf, 7.0);
  (void)gbp.attribute(leaf, 0);
  EXPECT_TRUE(leaf.requires_grad());
  EXPECT_TRUE(torch::equal(leaf.grad(), torch::full_like(leaf, 7.0)));
  for (const auto& p : net->parameters()) {
    EXPECT_FALSE(p.grad().defined());
  }
}

TEST_F(PropertiesTest, LeavesNothingBehindWhenTheForwardThrows) {
  CaptumConvNet net;
  torch::Tensor x = captum_input();
  auto before = snapshot(x, *net);
  guidedbp::GuidedBackprop gbp(
      [net](torch::Tensor input) mutable -> torch::Tensor {
        net(input); // builds part of a graph first
        TORCH_CHECK(false, "model failed on purpose");
      });
  EXPECT_THROW((void)gbp.attribute(x, 0), c10::Error);
  expect_same(snapshot(x, *net), before);
  // The same object and model still give the right answer afterwards.
  EXPECT_TRUE(torch::allclose(
      guidedbp::GuidedBackprop(net).attribute(x, 0), captum_guided()));
}

TEST_F(PropertiesTest, LeavesNothingBehindWhenTargetSelectionThrows) {
  CaptumConvNet net;
  torch::Tensor x = captum_input();
  torch::jit::setGraphExecutorOptimize(true);
  auto before = snapshot(x, *net);
  guidedbp::GuidedBackprop gbp(net);
  EXPECT_THROW((void)gbp.attribute(x, /*target=*/4), c10::IndexError);
  expect_same(snapshot(x, *net), before);
  EXPECT_TRUE(torch::allclose(gbp.attribute(x, 0), captum_guided()));
}

TEST_F(PropertiesTest, RestoresAnOptimizerFlagThatWasOff) {
  torch::jit::setGraphExecutorOptimize(false);
  (void)guidedbp::GuidedBackprop(CaptumConvNet{}).attribute(captum_input(), 0);
  EXPECT_FALSE(torch::jit::getGraphExecutorOptimize());
  torch::jit::setGraphExecutorOptimize(true);
}

TEST_F(PropertiesTest, WorksUnderNoGradGuard) {
  torch::NoGradGuard no_grad;
  guidedbp::GuidedBackprop gbp(CaptumConvNet{});
  EXPECT_TRUE(
      torch::allclose(gbp.attribute(captum_input(), 0), captum_guided()));
  EXPECT_FALSE(torch::GradMode::is_enabled());
}

TEST_F(PropertiesTest, WorksUnderInferenceMode) {
  guidedbp::GuidedBackprop gbp(CaptumConvNet{});
  c10::InferenceMode inference;
  torch::Tensor x = captum_input(); // an inference tensor
  EXPECT_TRUE(torch::allclose(gbp.attribute(x, 0), captum_guided()));
  EXPECT_TRUE(c10::InferenceMode::is_enabled());
}

TEST_F(PropertiesTest, ConcurrentThreadsOnOneTorchScriptModel) {
  torch::jit::Module module = hand_script_module("torch.relu(h)");
  guidedbp::GuidedBackprop gbp(module);
  torch::Tensor x = torch::randn({4, 2});
  torch::Tensor expected = gbp.attribute(x);
  constexpr int kThreads = 4;
  constexpr int kCalls = 10;
  std::vector<int> correct(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        if (torch::equal(gbp.attribute(x), expected)) {
          ++correct[t];
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(correct[t], kCalls) << "thread " << t;
  }
}
