// The library's rows of docs/bad-inputs.md that no other test covers: what
// each bad input gives (exception type and message, or the documented
// behaviour when it is not an error, e.g. NaN inputs).

#include <gtest/gtest.h>
#include <guidedbp/attribution.h>
#include <guidedbp/model.h>
#include <guidedbp/target.h>

#include <cmath>
#include <limits>

#include "test_models.h"

using namespace guidedbp_test;

namespace {

// forward(x) = relu(conv2d(x, w)).flatten(1): needs N x 3 x H x W.
torch::jit::Module conv_module() {
  torch::jit::Module module("Conv3");
  module.register_parameter("w", torch::ones({2, 3, 3, 3}), false);
  module.define(
      "def forward(self, x):\n"
      "    return torch.relu(torch.conv2d(x, self.w)).flatten(1)\n");
  return module;
}

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

} // namespace

// NaN and Inf inputs are not rejected: the gradient is computed. A ReLU lets
// the gradient through at a NaN input as PyTorch's own ReLU backward does
// (relu(NaN) = NaN is not <= 0), so a piecewise-linear model gives finite
// attributions (its output is NaN); where the gradient depends on the value,
// NaN and Inf propagate into the attribution.
TEST(BadInputTest, NonFiniteInputsAreAttributedNotRejected) {
  torch::Tensor x = f32({kNaN, 1.0, -1.0, kInf}).view({1, -1});
  guidedbp::GuidedBackprop relu_sum(
      [](torch::Tensor t) { return torch::relu(t).sum(1); });
  torch::Tensor a = relu_sum.attribute(x);
  EXPECT_TRUE(torch::equal(a, f32({1.0, 1.0, 0.0, 1.0}).view({1, -1}))) << a;

  guidedbp::Saliency square([](torch::Tensor t) { return (t * t).sum(1); });
  torch::Tensor g = square.attribute(x); // 2x
  EXPECT_TRUE(std::isnan(g[0][0].item<float>()));
  EXPECT_EQ(g[0][1].item<float>(), 2.0f);
  EXPECT_EQ(g[0][2].item<float>(), -2.0f);
  EXPECT_TRUE(std::isinf(g[0][3].item<float>()));
}

// A shape the model rejects: the model's own error passes through. Inside a
// TorchScript module the interpreter rethrows it as a std::runtime_error
// (first line "The following operation failed in the TorchScript
// interpreter.", the cause on the last line); from a C++ nn module it is the
// operator's c10::Error.
TEST(BadInputTest, WrongChannelCountOrRankIsTheModelsError) {
  guidedbp::GuidedBackprop gbp(conv_module());
  expect_error<std::runtime_error>(
      [&] {
        (void)gbp.attribute(torch::ones({1, 1, 5, 5}), 0);
      },
      "to have 3 channels, but got 1");
  expect_error<std::runtime_error>(
      [&] {
        (void)gbp.attribute(torch::ones({1, 5}), 0);
      },
      "Expected 3D (unbatched) or 4D (batched)");
  guidedbp::GuidedBackprop linear{
      torch::nn::Sequential(torch::nn::Linear(4, 2), torch::nn::ReLU())};
  expect_error<c10::Error>(
      [&] {
        (void)linear.attribute(torch::ones({2, 3}), 0);
      },
      "cannot be multiplied");
}

TEST(BadInputTest, ModelReturningDictOrNothingIsATypeError) {
  torch::jit::Module dict("DictOut");
  dict.define(
      "def forward(self, x):\n    return {'a': torch.relu(x).sum(1)}\n");
  expect_error<c10::TypeError>(
      [&] {
        (void)guidedbp::GuidedBackprop(dict).attribute(torch::ones({1, 2}));
      },
      "returned a GenericDict, but attribution needs one output tensor");
  guidedbp::Saliency none(
      [](const std::vector<c10::IValue>&) { return c10::IValue(); });
  expect_error<c10::TypeError>(
      [&] {
        (void)none.attribute(torch::ones({1, 2}));
      },
      "returned a None");
}

TEST(BadInputTest, OutputThatDoesNotDependOnTheInputIsAValueError) {
  guidedbp::Saliency detached(
      [](torch::Tensor x) { return x.detach().sum(1); });
  expect_error<c10::ValueError>(
      [&] {
        (void)detached.attribute(torch::ones({2, 3}));
      },
      "does not depend differentiably");
}

TEST(BadInputTest, EmptyBatchAndUndefinedInputsAreValueErrors) {
  guidedbp::GuidedBackprop gbp(
      [](torch::Tensor x) { return torch::relu(x).sum(1); });
  expect_error<c10::ValueError>(
      [&] {
        (void)gbp.attribute(torch::ones({0, 3}));
      },
      "non-empty batch dimension");
  expect_error<c10::ValueError>(
      [&] { (void)gbp.attribute(torch::Tensor()); },
      "input 0 is an undefined tensor");
  expect_error<c10::ValueError>(
      [&] {
        (void)gbp.attribute_targets({torch::ones({1, 3})}, {});
      },
      "no targets given");
}

TEST(BadInputTest, ExtremeTargetIndicesAreIndexErrorsWithoutOverflow) {
  guidedbp::GuidedBackprop gbp([](torch::Tensor x) { return torch::relu(x); });
  torch::Tensor x = torch::ones({2, 3});
  const int64_t max = std::numeric_limits<int64_t>::max();
  const int64_t min = std::numeric_limits<int64_t>::min();
  expect_error<c10::IndexError>(
      [&] { (void)gbp.attribute(x, max); }, "(valid: -3 to 2)");
  expect_error<c10::IndexError>(
      [&] { (void)gbp.attribute(x, min); }, "(valid: -3 to 2)");
  expect_error<c10::IndexError>(
      [&] {
        (void)gbp.attribute(x, guidedbp::Target::per_example({0, max}));
      },
      "valid: 0 to 2");
  expect_error<c10::IndexError>(
      [&] {
        (void)gbp.attribute(x, guidedbp::Target::per_example({min, 0}));
      },
      "valid: 0 to 2");
}

TEST(BadInputTest, MalformedTargetsAreValueOrTypeErrors) {
  guidedbp::GuidedBackprop gbp([](torch::Tensor x) {
    return torch::relu(x).view({-1, 2, 3});
  });
  torch::Tensor x = torch::ones({2, 6});
  // An empty per-example list.
  expect_error<c10::ValueError>(
      [&] { (void)gbp.attribute(x, guidedbp::Target::per_example({})); },
      "has 0 per-example entries, but the batch has 2");
  // Per-example tuples of different lengths.
  expect_error<c10::ValueError>(
      [&] {
        (void)gbp.attribute(
            x, guidedbp::Target::per_example_tuples({{0, 1}, {1}}));
      },
      "the per-example tuples must all have the same length, got 2 and 1");
  // Target tensors: floating point, undefined, 2-D.
  expect_error<c10::TypeError>(
      [&] {
        guidedbp::Target t(torch::tensor({0.5, 1.5}));
      },
      "must hold integers, got Float");
  expect_error<c10::TypeError>(
      [&] { guidedbp::Target t{torch::Tensor()}; }, "an undefined tensor");
  expect_error<c10::ValueError>(
      [&] {
        guidedbp::Target t(torch::zeros({2, 2}, torch::kLong));
      },
      "got shape [2, 2]");
}
