// Tests of the metrics (infidelity.h, sensitivity.h, similarity.h,
// randomization.h) against hand-computed values and PyTorch's own
// reset_parameters. Captum's formulas on real models:
// tests/cli/evaluate_test.py.

#include <gtest/gtest.h>
#include <guidedbp/guidedbp.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

#include "test_models.h"

namespace {

using guidedbp_test::SeededTest;

class MetricsTest : public SeededTest {};

torch::Tensor f64(std::vector<double> values) {
  return torch::tensor(values, torch::kDouble);
}

// f(x) = 2 x0 - x1 per example (N x 2 -> N).
guidedbp::Model linear_scalar() {
  return guidedbp::Model(
      [](torch::Tensor x) { return 2 * x.select(1, 0) - x.select(1, 1); });
}

TEST_F(MetricsTest, InfidelityMatchesHandComputed) {
  // One example x = (1, 1), attribution (1, 0), n = 2 samples:
  // I1 = (1, 0): sum(a*I) = 1, f(x) - f(x - I1) = 2, squared error 1;
  // I2 = (0, 2): sum(a*I) = 0, f(x) - f(x - I2) = -2, squared error 4.
  torch::Tensor x = f64({1, 1}).view({1, 2});
  torch::Tensor a = f64({1, 0}).view({1, 2});
  torch::Tensor i = f64({1, 0, 0, 2}).view({2, 2});
  auto r = guidedbp::infidelity(linear_scalar(), {x}, {a}, {i}, {x - i});
  EXPECT_DOUBLE_EQ(r.values.item<double>(), (1.0 + 4.0) / 2);
  // beta = (1*2 + 0*-2) / (1 + 0) = 2: errors (2 - 2)^2 and (0 + 2)^2.
  EXPECT_DOUBLE_EQ(r.normalized.item<double>(), (0.0 + 4.0) / 2);
  auto n = guidedbp::infidelity(
      linear_scalar(),
      {x},
      {a},
      {i},
      {x - i},
      {},
      {},
      guidedbp::InfidelityOptions().normalize(true));
  EXPECT_DOUBLE_EQ(n.values.item<double>(), 2.0);
}

TEST_F(MetricsTest, InfidelityOfZeroAttributionIsMeanSquaredChange) {
  torch::Tensor x = f64({1, 1}).view({1, 2});
  torch::Tensor i = f64({1, 0, 0, 2}).view({2, 2});
  auto r = guidedbp::infidelity(
      linear_scalar(), {x}, {torch::zeros_like(x)}, {i}, {x - i});
  EXPECT_DOUBLE_EQ(r.values.item<double>(), (4.0 + 4.0) / 2);
  EXPECT_DOUBLE_EQ(r.normalized.item<double>(), (4.0 + 4.0) / 2);
}

TEST_F(MetricsTest, InfidelityRejectsRowsNotAMultipleOfTheBatch) {
  torch::Tensor x = torch::zeros({2, 2}, torch::kDouble);
  torch::Tensor i = torch::zeros({3, 2}, torch::kDouble);
  try {
    (void)guidedbp::infidelity(linear_scalar(), {x}, {x}, {i}, {i});
    FAIL() << "expected c10::ValueError";
  } catch (const c10::ValueError& e) {
    EXPECT_NE(
        std::string(e.what()).find("3 rows for 2 examples"), std::string::npos)
        << e.what();
  }
}

TEST_F(MetricsTest, SensitivityMaxOfIdentityExplanation) {
  // E(x) = x: the max over samples of ||x - x~|| / ||x||.
  guidedbp::Explanation identity = [](const std::vector<torch::Tensor>& inputs,
                                      const guidedbp::Target&,
                                      const guidedbp::ForwardArgs&) {
    return inputs;
  };
  torch::Tensor x = f64({3, 4}).view({1, 2});              // norm 5
  torch::Tensor xt = f64({3, 4, 3, 5, 0, 0}).view({3, 2}); // 0, 1, 5
  torch::Tensor s = guidedbp::sensitivity_max(identity, {x}, {xt});
  EXPECT_DOUBLE_EQ(s.item<double>(), 5.0 / 5.0);
  torch::Tensor inf = guidedbp::sensitivity_max(
      identity,
      {x},
      {xt},
      {},
      {},
      guidedbp::SensitivityOptions().norm_ord(INFINITY));
  EXPECT_DOUBLE_EQ(inf.item<double>(), 4.0 / 4.0);
  // A zero explanation: the denominator is replaced by 1, so the value is
  // the largest ||x~||, that of (3, 5).
  torch::Tensor z = torch::zeros({1, 2}, torch::kDouble);
  EXPECT_DOUBLE_EQ(
      guidedbp::sensitivity_max(identity, {z}, {xt}).item<double>(),
      std::sqrt(34.0));
}

TEST_F(MetricsTest, SpearmanUsesAverageRanks) {
  // Ranks (2, 3.5, 3.5, 5, 1) and (1, 4, 2.5, 5, 2.5): Pearson 29/38.
  torch::Tensor a = f64({1, 2, 2, 3, 0}).view({1, 5});
  torch::Tensor b = f64({1, 3, 2, 4, 2}).view({1, 5});
  EXPECT_NEAR(guidedbp::spearman(a, b).item<double>(), 29.0 / 38.0, 1e-15);
  EXPECT_TRUE(
      std::isnan(guidedbp::spearman(a, torch::ones_like(b)).item<double>()));
}

TEST_F(MetricsTest, SsimIsOneForIdenticalMapsAndNanForOneConstant) {
  torch::Tensor a = torch::rand({2, 9, 8}, torch::kDouble);
  torch::Tensor s = guidedbp::ssim(a, a);
  EXPECT_NEAR(s[0].item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(s[1].item<double>(), 1.0, 1e-12);
  torch::Tensor c = torch::full({1, 7, 7}, 3.0, torch::kDouble);
  EXPECT_TRUE(std::isnan(guidedbp::ssim(c, c).item<double>()));
}

// randomize_layer against LibTorch's own reset_parameters after
// torch::manual_seed: the same generator, the same rules.
TEST_F(MetricsTest, RandomizeLayerEqualsResetParametersBitwise) {
  torch::nn::Sequential net(
      torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 3, 3)),
      torch::nn::BatchNorm2d(3),
      torch::nn::Flatten(),
      torch::nn::Linear(3 * 4 * 4, 5));
  guidedbp::Model model = net;
  EXPECT_EQ(
      guidedbp::randomizable_layers(model),
      (std::vector<std::string>{"0", "1", "3"}));
  torch::Tensor before = net[0]->as<torch::nn::Conv2d>()->weight.clone();
  guidedbp::Model copy = model.deep_copy();
  guidedbp::randomize_layer(copy, "0", /*seed=*/11);
  guidedbp::randomize_layer(copy, "3", /*seed=*/12);
  auto copy_net =
      std::dynamic_pointer_cast<torch::nn::SequentialImpl>(copy.nn_module());
  ASSERT_TRUE(copy_net);

  auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 3, 3));
  torch::manual_seed(11);
  conv->reset_parameters();
  auto linear = torch::nn::Linear(3 * 4 * 4, 5);
  torch::manual_seed(12);
  linear->reset_parameters();
  EXPECT_TRUE(torch::equal(
      (*copy_net)[0]->as<torch::nn::Conv2d>()->weight, conv->weight));
  EXPECT_TRUE(
      torch::equal((*copy_net)[0]->as<torch::nn::Conv2d>()->bias, conv->bias));
  EXPECT_TRUE(torch::equal(
      (*copy_net)[3]->as<torch::nn::Linear>()->weight, linear->weight));
  EXPECT_TRUE(torch::equal(
      (*copy_net)[3]->as<torch::nn::Linear>()->bias, linear->bias));
  // The model itself is untouched.
  EXPECT_TRUE(torch::equal(net[0]->as<torch::nn::Conv2d>()->weight, before));
}

TEST_F(MetricsTest, RandomizeTorchScriptCopyEqualsResetParameters) {
  torch::jit::Module module = torch::jit::load(
      std::string(GUIDEDBP_REFERENCE_DIR) + "/batchnorm.model.pt");
  guidedbp::Model model = module;
  const std::vector<std::string> layers = guidedbp::randomizable_layers(model);
  ASSERT_FALSE(layers.empty());
  torch::jit::Module copy_module = module.deepcopy();
  guidedbp::Model copy = copy_module;
  std::map<std::string, torch::Tensor> before;
  for (const auto& p : module.named_parameters()) {
    before[p.name] = p.value.clone();
  }
  for (const std::string& layer : layers) {
    guidedbp::randomize_layer(copy, layer, /*seed=*/5);
  }
  // The module's parameters are unchanged; each Conv2d/Linear of the copy
  // equals a LibTorch module of its shape reset after manual_seed(5).
  for (const auto& p : module.named_parameters()) {
    EXPECT_TRUE(torch::equal(p.value, before[p.name])) << p.name;
  }
  int checked = 0;
  for (const auto& item : copy_module.named_modules()) {
    const std::string type = item.value.type()->name()->name();
    if (type != "Conv2d" && type != "Linear") {
      continue;
    }
    torch::Tensor w = item.value.attr("weight").toTensor();
    torch::Tensor expected = torch::empty_like(w);
    torch::manual_seed(5);
    torch::nn::init::kaiming_uniform_(expected, std::sqrt(5.0));
    EXPECT_TRUE(torch::equal(w, expected)) << item.name;
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST_F(MetricsTest, RandomizationTestNeverChangesTheModel) {
  torch::nn::Sequential net(
      torch::nn::Linear(4, 6), torch::nn::ReLU(), torch::nn::Linear(6, 3));
  torch::Tensor w0 = net[0]->as<torch::nn::Linear>()->weight.clone();
  torch::Tensor x = torch::rand({2, 4});
  auto r = guidedbp::model_parameter_randomization(
      net, [&](const guidedbp::Model& m) {
        return guidedbp::GuidedBackprop(m).attribute(x, /*target=*/1);
      });
  EXPECT_EQ(r.layers, (std::vector<std::string>{"2", "0"}));
  ASSERT_EQ(r.similarity.size(), 2u);
  EXPECT_EQ(r.similarity[0].spearman_abs.sizes(), torch::IntArrayRef({2}));
  EXPECT_TRUE(torch::equal(net[0]->as<torch::nn::Linear>()->weight, w0));
  EXPECT_TRUE(net[0]->as<torch::nn::Linear>()->weight.requires_grad());
}

TEST_F(MetricsTest, RandomizationTestRejectsAModelWithoutParameters) {
  guidedbp::Model f = [](torch::Tensor x) { return x.sum(1); };
  try {
    (void)guidedbp::model_parameter_randomization(
        f, [](const guidedbp::Model&) {
          return torch::zeros({1, 2});
        });
    FAIL() << "expected c10::ValueError";
  } catch (const c10::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("no parameters"), std::string::npos)
        << e.what();
  }
}

TEST_F(MetricsTest, DeletionCurveRemovesTopPixelsFirstTiesByIndex) {
  // Scores (sum(x), 0): the probability of class 0 is sigmoid(sum(x)).
  guidedbp::Model model = [](torch::Tensor x) {
    torch::Tensor s = x.sum({1, 2, 3});
    return torch::stack({s, torch::zeros_like(s)}, 1);
  };
  torch::Tensor x = f64({1, 2}).view({1, 1, 1, 2});
  torch::Tensor tied = f64({1, 1}).view({1, 1, 1, 2});
  auto sigmoid = [](double v) { return 1 / (1 + std::exp(-v)); };
  // Tied map: pixel 0 goes first, leaving sum 2, then nothing (0).
  auto r = guidedbp::pixel_curve(
      model,
      x,
      tied,
      guidedbp::PixelCurve::kDeletion,
      /*target=*/0,
      {},
      guidedbp::PixelCurveOptions().step(1));
  ASSERT_EQ(r.curves.sizes(), torch::IntArrayRef({1, 3}));
  EXPECT_NEAR(r.curves[0][0].item<double>(), sigmoid(3), 1e-15);
  EXPECT_NEAR(r.curves[0][1].item<double>(), sigmoid(2), 1e-15);
  EXPECT_NEAR(r.curves[0][2].item<double>(), 0.5, 1e-15);
  EXPECT_NEAR(
      r.auc.item<double>(), (sigmoid(3) / 2 + sigmoid(2) + 0.25) / 2, 1e-15);
  // The map ranks pixel 1 first: sum 1 after one step.
  auto s = guidedbp::pixel_curve(
      model,
      x,
      f64({1, 4}).view({1, 1, 2}),
      guidedbp::PixelCurve::kDeletion,
      {},
      {},
      guidedbp::PixelCurveOptions().step(1));
  EXPECT_NEAR(s.curves[0][1].item<double>(), sigmoid(1), 1e-15);
  EXPECT_EQ(s.classes[0].item<int64_t>(), 0); // predicted
}

} // namespace
