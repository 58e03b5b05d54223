// The attribution methods against hand-computed values and Captum's published
// example, for every kind of model and every ReLU form.

#include <gtest/gtest.h>
#include <guidedbp/attribution.h>

#include "test_models.h"

using namespace guidedbp_test;

namespace {

void expect_equal(const torch::Tensor& actual, const torch::Tensor& expected) {
  ASSERT_EQ(actual.sizes(), expected.sizes());
  ASSERT_EQ(actual.scalar_type(), expected.scalar_type());
  EXPECT_TRUE(torch::allclose(actual, expected, /*rtol=*/1e-5, /*atol=*/1e-6))
      << "actual:\n"
      << actual << "\nexpected:\n"
      << expected;
}

// v . relu(W x) written with each ReLU form the library must override.
torch::Tensor hand_forward(const torch::Tensor& x, const std::string& form) {
  torch::Tensor h = torch::matmul(x, hand_w().t());
  torch::Tensor r;
  if (form == "module") {
    static torch::nn::ReLU relu;
    r = relu(h);
  } else if (form == "functional") {
    r = torch::nn::functional::relu(h);
  } else if (form == "in-place") {
    r = h.relu_();
  } else {
    r = torch::relu(h);
  }
  return torch::matmul(r, hand_v()).view({-1});
}

// A TorchScript module with two ReLUs and random weights, built in C++: the
// profiling executor fuses them away from its second optimised call on.
torch::jit::Module two_relu_script_module() {
  torch::jit::Module module("TwoRelu");
  module.register_parameter("w", torch::randn({4, 4}), false);
  module.define(
      "def forward(self, x):\n"
      "    h = torch.relu(torch.matmul(x, self.w))\n"
      "    return torch.relu(torch.matmul(h, self.w) - 0.1)\n");
  return module;
}

} // namespace

class AttributionTest : public SeededTest {};

TEST_F(AttributionTest, CaptumExampleGuidedBackprop) {
  guidedbp::GuidedBackprop gbp(CaptumConvNet{});
  expect_equal(gbp.attribute(captum_input(), /*target=*/0), captum_guided());
  EXPECT_EQ(gbp.attribute_targets({captum_input()}, {0}).relu_count, 2);
}

TEST_F(AttributionTest, CaptumExampleDeconvolution) {
  guidedbp::Deconvolution deconv(CaptumConvNet{});
  expect_equal(
      deconv.attribute(captum_input(), /*target=*/0), captum_deconvolution());
}

TEST_F(AttributionTest, CaptumExampleTwoInputs) {
  guidedbp::GuidedBackprop gbp(CaptumConvNetTwoInputs{});
  std::vector<torch::Tensor> a =
      gbp.attribute({captum_input(), torch::ones({1, 1, 4, 4})}, /*target=*/0);
  ASSERT_EQ(a.size(), 2u);
  expect_equal(a[0], captum_guided_two_inputs());
  expect_equal(a[1], captum_guided_two_inputs());
}

TEST_F(AttributionTest, CaptumExampleAsAdditionalForwardArg) {
  // The second input as an additional forward argument gets no attribution.
  guidedbp::GuidedBackprop gbp(CaptumConvNetTwoInputs{});
  torch::Tensor a =
      gbp.attribute(captum_input(), 0, {torch::ones({1, 1, 4, 4})});
  expect_equal(a, captum_guided_two_inputs());
}

TEST_F(AttributionTest, HandComputedRulesForEveryReluForm) {
  for (std::string form : {"module", "functional", "in-place", "torch::relu"}) {
    SCOPED_TRACE(form);
    guidedbp::Model model = [form](torch::Tensor x) {
      return hand_forward(x, form);
    };
    guidedbp::GuidedBackprop gbp(model);
    expect_equal(gbp.attribute(hand_input()), hand_guided());
    EXPECT_EQ(
        gbp.attribute_targets({hand_input()}, {guidedbp::Target()}).relu_count,
        1);
    expect_equal(
        guidedbp::Deconvolution(model).attribute(hand_input()),
        hand_deconvolution());
    expect_equal(
        guidedbp::Saliency(model).attribute(hand_input()), hand_plain());
  }
}

TEST_F(AttributionTest, HandComputedRulesInTorchScript) {
  for (std::string call :
       {"torch.relu(h)", "torch.relu_(h)", "h.relu_()", "h.relu()"}) {
    SCOPED_TRACE(call);
    torch::jit::Module module = hand_script_module(call);
    expect_equal(
        guidedbp::GuidedBackprop(module).attribute(hand_input()),
        hand_guided());
    expect_equal(
        guidedbp::Deconvolution(module).attribute(hand_input()),
        hand_deconvolution());
    expect_equal(
        guidedbp::Saliency(module).attribute(hand_input()), hand_plain());
  }
}

TEST_F(AttributionTest, SaliencyAbsOption) {
  guidedbp::Saliency saliency(
      [](torch::Tensor x) {
        return (x * f32({-3.0, 2.0})).sum(1);
      },
      guidedbp::SaliencyOptions().abs(true));
  expect_equal(
      saliency.attribute(torch::ones({1, 2})), f32({3.0, 2.0}).view({1, -1}));
}

TEST_F(AttributionTest, ReusedModuleIsOverriddenAtEveryApplication) {
  // out = relu(2 s - 1) - s, s = sum(relu(x * [1, -1])), with ONE ReLU
  // module applied at both places: both applications must be overridden.
  torch::nn::ReLU relu;
  guidedbp::Model model = [relu](torch::Tensor x) mutable {
    torch::Tensor inner = relu(x * f32({1.0, -1.0}));
    return relu(inner.sum(1, /*keepdim=*/true) * 2 - 1).view({-1}) -
        inner.sum(1);
  };
  guidedbp::GuidedBackprop gbp(model);
  guidedbp::AttributionResult result = gbp.attribute_targets(
      {f32({2.0, -3.0}).view({1, -1})}, {guidedbp::Target()});
  torch::Tensor a = result.attributions[0][0];
  EXPECT_EQ(result.relu_count, 2);
  // Hand: inner = [2, 3]; outer input 2*5-1 = 9 > 0. Gradient into inner:
  // from the outer ReLU 2 (guided: relu(2) = 2), minus 1 directly = 1 each.
  // Inner ReLUs pass relu(1) = 1 where active: d/dx = [1 * 1, 1 * -1].
  expect_equal(a, f32({1.0, -1.0}).view({1, -1}));
  // Deconvolution: the same here since every gradient into a ReLU is positive.
  expect_equal(
      guidedbp::Deconvolution(model).attribute(f32({2.0, -3.0}).view({1, -1})),
      f32({1.0, -1.0}).view({1, -1}));
}

TEST_F(AttributionTest, TorchSequentialModel) {
  torch::nn::Sequential seq(
      torch::nn::Linear(2, 3), torch::nn::ReLU(), torch::nn::Linear(3, 1));
  {
    torch::NoGradGuard no_grad;
    auto lin1 = seq[0]->as<torch::nn::Linear>();
    lin1->weight.copy_(hand_w());
    lin1->bias.zero_();
    auto lin2 = seq[2]->as<torch::nn::Linear>();
    lin2->weight.copy_(hand_v().t());
    lin2->bias.zero_();
  }
  guidedbp::GuidedBackprop gbp(seq);
  expect_equal(gbp.attribute(hand_input(), /*target=*/0), hand_guided());
}

TEST_F(AttributionTest, RepeatedTorchScriptCallsAreIdentical) {
  torch::jit::Module module = two_relu_script_module();
  torch::Tensor x = torch::randn({3, 4});
  guidedbp::GuidedBackprop gbp(module);
  torch::Tensor first = gbp.attribute(x, 1);
  EXPECT_EQ(gbp.attribute_targets({x}, {1}).relu_count, 2);
  for (int call = 2; call <= 5; ++call) {
    SCOPED_TRACE(call);
    EXPECT_TRUE(torch::equal(gbp.attribute(x, 1), first));
    guidedbp::AttributionResult again = gbp.attribute_targets({x}, {1});
    EXPECT_TRUE(torch::equal(again.attributions[0][0], first));
    EXPECT_EQ(again.relu_count, 2);
  }
  // The caller's own optimised runs in between change nothing either.
  for (int i = 0; i < 3; ++i) {
    module.forward({x.clone().requires_grad_()}).toTensor().sum().backward();
  }
  torch::Tensor after = gbp.attribute(x, 1);
  EXPECT_EQ(gbp.attribute_targets({x}, {1}).relu_count, 2);
  EXPECT_TRUE(torch::equal(after, first)) << after << first;
}

TEST_F(AttributionTest, ManyTargetsFromOneForwardEqualSeparateCalls) {
  torch::nn::Sequential seq(
      torch::nn::Linear(5, 8),
      torch::nn::ReLU(),
      torch::nn::Linear(8, 8),
      torch::nn::ReLU(),
      torch::nn::Linear(8, 4));
  torch::Tensor x = torch::randn({3, 5});
  for (auto rule :
       {guidedbp::ReluRule::kGuided,
        guidedbp::ReluRule::kDeconvolution,
        guidedbp::ReluRule::kPlain}) {
    guidedbp::ModifiedReluGradient method(seq, rule);
    std::vector<guidedbp::Target> targets = {
        0, 3, guidedbp::Target::per_example({1, 2, 0}), 0};
    guidedbp::AttributionResult many = method.attribute_targets({x}, targets);
    ASSERT_EQ(many.attributions.size(), targets.size());
    for (size_t k = 0; k < targets.size(); ++k) {
      SCOPED_TRACE(k);
      expect_equal(many.attributions[k][0], method.attribute(x, targets[k]));
    }
    // The output of that same forward pass, detached.
    torch::Tensor expected;
    {
      torch::NoGradGuard no_grad;
      expected = seq->forward(x);
    }
    EXPECT_FALSE(many.output.requires_grad());
    expect_equal(many.output, expected);
    EXPECT_EQ(many.relu_count, rule == guidedbp::ReluRule::kPlain ? 0 : 2);
  }
}

TEST_F(AttributionTest, TargetsChosenFromTheOutputOfTheSameForwardPass) {
  torch::nn::Sequential seq(
      torch::nn::Linear(5, 8), torch::nn::ReLU(), torch::nn::Linear(8, 4));
  torch::Tensor x = torch::randn({3, 5});
  guidedbp::GuidedBackprop gbp(seq);
  torch::Tensor seen;
  guidedbp::AttributionResult result =
      gbp.attribute_chosen_targets({x}, [&seen](const torch::Tensor& output) {
        seen = output;
        return std::vector<guidedbp::Target>{output.argmax(1), 2};
      });
  ASSERT_EQ(result.attributions.size(), 2u);
  EXPECT_TRUE(torch::equal(seen, result.output));
  torch::Tensor predicted = seq->forward(x).argmax(1);
  expect_equal(result.attributions[0][0], gbp.attribute(x, predicted));
  expect_equal(result.attributions[1][0], gbp.attribute(x, 2));
  EXPECT_EQ(result.relu_count, 1);
  // A chooser that chooses nothing, or throws, is reported as such.
  EXPECT_THROW(
      (void)gbp.attribute_chosen_targets(
          {x},
          [](const torch::Tensor&) { return std::vector<guidedbp::Target>{}; }),
      c10::ValueError);
  EXPECT_THROW(
      (void)gbp.attribute_chosen_targets(
          {x},
          [](const torch::Tensor&) -> std::vector<guidedbp::Target> {
            throw std::runtime_error("no");
          }),
      std::runtime_error);
}

TEST_F(AttributionTest, BracedListOfOneInputIsTheMultiInputCall) {
  guidedbp::GuidedBackprop gbp(CaptumConvNet{});
  // Compiles only if `{x}` picks the overload that returns a vector.
  std::vector<torch::Tensor> as = gbp.attribute({captum_input()}, 0);
  ASSERT_EQ(as.size(), 1u);
  expect_equal(as[0], captum_guided());
  torch::Tensor one = gbp.attribute(captum_input(), 0);
  expect_equal(one, captum_guided());
}

TEST_F(AttributionTest, KeepsInputDtype) {
  CaptumConvNet net;
  net->to(torch::kDouble);
  guidedbp::GuidedBackprop gbp64(net);
  torch::Tensor a = gbp64.attribute(captum_input().to(torch::kDouble), 0);
  expect_equal(a, captum_guided().to(torch::kDouble));
}

TEST_F(AttributionTest, WarnsWhenNoReluIsOverridden) {
  WarningCapture warnings;
  guidedbp::GuidedBackprop gbp(
      [](torch::Tensor x) { return torch::hardtanh(x, 0, 6).sum(1); });
  guidedbp::AttributionResult result = gbp.attribute_targets(
      {f32({1.0, -1.0, 7.0}).view({1, -1})}, {guidedbp::Target()});
  expect_equal(result.attributions[0][0], f32({1.0, 0.0, 0.0}).view({1, -1}));
  EXPECT_EQ(result.relu_count, 0);
  ASSERT_EQ(warnings.messages.size(), 1u);
  EXPECT_NE(warnings.messages[0].find("plain gradient"), std::string::npos)
      << warnings.messages[0];
}

TEST_F(AttributionTest, SaliencyDoesNotWarn) {
  WarningCapture warnings;
  guidedbp::Saliency saliency([](torch::Tensor x) { return x.sum(1); });
  (void)saliency.attribute(torch::ones({2, 3}));
  EXPECT_TRUE(warnings.messages.empty());
}

TEST_F(AttributionTest, WarnsWhenAFunctionHidesRelusInAFusedTorchScriptGraph) {
  torch::jit::Module module = two_relu_script_module();
  torch::Tensor x = torch::randn({3, 4});
  // The caller's own runs with grad on make the module's executor optimise.
  for (int i = 0; i < 3; ++i) {
    module.forward({x.clone().requires_grad_()}).toTensor().sum().backward();
  }
  WarningCapture warnings;
  guidedbp::GuidedBackprop gbp([module](torch::Tensor input) mutable {
    return module.forward({input}).toTensor();
  });
  (void)gbp.attribute(x, 1);
  bool warned = false;
  for (const auto& m : warnings.messages) {
    warned |= m.find("fused TorchScript graph") != std::string::npos;
  }
  EXPECT_TRUE(warned);
  // Passing the module itself avoids the trap.
  guidedbp::GuidedBackprop direct(module);
  EXPECT_EQ(direct.attribute_targets({x}, {1}).relu_count, 2);
}
