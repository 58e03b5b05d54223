// Layer and neuron methods (guidedbp/grad_cam.h, neuron.h, layer.h) on
// hand-computed models: values, selector forms, errors and the guarantees of
// the other methods (nothing left behind, repeated calls, threads).

#include <gtest/gtest.h>
#include <guidedbp/guidedbp.h>
#include <torch/script.h>

#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "test_models.h"

namespace {

// Select the neuron from the layer's input (Captum's
// attribute_to_neuron_input=True).
const guidedbp::NeuronAttributionOptions kToNeuronInput =
    guidedbp::NeuronAttributionOptions().attribute_to_neuron_input(true);

using guidedbp_test::expect_error;
using guidedbp_test::f32;
using guidedbp_test::hand_input;
using guidedbp_test::hand_v;
using guidedbp_test::hand_w;

/// The hand-computed model of test_models.h with named layers:
/// f(x) = v . act(lin(x)), lin(x) = W x = [1, -1, 3] for x = [2, 1].
///   Grad-CAM of lin (2-D: no averaging): sum(v * mask * W x)
///     = (-1)(1) + 0 + (3)(3) = 8.
///   Neurons of act: 0 -> W[0] = [1, -1] (act input 1 > 0); 1 -> guided 0
///   (input -1), deconvolution W[1] = [-1, 1]; of lin's input x: 0 -> [1, 0].
torch::jit::Module hand_layers(bool in_control_flow = false) {
  torch::jit::Module lin("Lin");
  lin.register_parameter("w", hand_w(), /*is_buffer=*/false);
  lin.define("def forward(self, x):\n    return torch.matmul(x, self.w.t())\n");
  torch::jit::Module act("Act");
  act.define("def forward(self, h):\n    return torch.relu(h)\n");
  torch::jit::Module m("HandLayers");
  m.register_module("lin", lin);
  m.register_module("act", act);
  m.register_parameter("v", hand_v(), /*is_buffer=*/false);
  if (in_control_flow) {
    m.define(
        "def forward(self, x):\n"
        "    h = x\n"
        "    if bool(x.sum() > 0):\n"
        "        h = self.lin.forward(x)\n"
        "    return torch.matmul(self.act.forward(h), self.v).view(-1)\n");
  } else {
    m.define(
        "def forward(self, x):\n"
        "    return torch.matmul(self.act.forward(self.lin.forward(x)), self.v).view(-1)\n");
  }
  return m;
}

/// f(x) = relu(pair(split(x))), split(x) = (x, 2 x), pair(a, b) = a + b: a
/// layer with two input tensors and one with a tuple of two output tensors.
torch::jit::Module two_tensor_layers() {
  torch::jit::Module pair("Pair");
  pair.define("def forward(self, a, b):\n    return a + b\n");
  torch::jit::Module split("Split");
  split.define("def forward(self, x):\n    return x, 2 * x\n");
  torch::jit::Module m("TwoTensorLayers");
  m.register_module("pair", pair);
  m.register_module("split", split);
  m.define(
      "def forward(self, x):\n"
      "    a, b = self.split.forward(x)\n"
      "    return torch.relu(self.pair.forward(a, b))\n");
  return m;
}

/// f(x) = [sum(a0), 2 sum(a1)], a = relu(split(x)), split(x) = cat(x, -x)
/// along channels, for x of shape (N, 1, 2, 2). For x = [[1, -2], [3, .5]]:
///   out = [4.5, 4] (argmax 0); for -x: out = [2, 9] (argmax 1).
///   Target 0 at split: gradient (x > 0) on channel 0, 0 on channel 1;
///     weights [3/4, 0]; map 0.75 x = [[.75, -1.5], [2.25, .375]], with ReLU
///     [[.75, 0], [2.25, .375]]; guided gradient at x: (x > 0).
///     Guided Grad-CAM: [[.75, 0], [2.25, .375]].
///   Target 1: gradient 2 (x < 0) on channel 1; weights [0, 2/4]; map
///     -0.5 x = [[-.5, 1], [-1.5, -.25]], with ReLU [[0, 1], [0, 0]]; guided
///     gradient -2 (x < 0) = [[0, -2], [0, 0]]. Guided Grad-CAM: [[0, -2],
///     [0, 0]].
///   For -x, target 1: weights [0, 2 (3/4)]; map with ReLU 1.5 relu(x) =
///     [[1.5, 0], [4.5, .75]]; guided gradient -2 (x > 0). Guided Grad-CAM:
///     [[-3, 0], [-9, -1.5]].
torch::jit::Module split_channels() {
  torch::jit::Module split("Split");
  split.define("def forward(self, x):\n    return torch.cat([x, -x], 1)\n");
  torch::jit::Module m("SplitChannels");
  m.register_module("split", split);
  m.define(
      "def forward(self, x):\n"
      "    a = torch.relu(self.split.forward(x))\n"
      "    return torch.stack([a[:, 0].sum([1, 2]), 2 * a[:, 1].sum([1, 2])], "
      "1)\n");
  return m;
}

torch::Tensor split_input() {
  return f32({1., -2, 3, .5}).view({1, 1, 2, 2});
}

torch::Tensor image(std::vector<double> values) {
  return f32(std::move(values)).view({1, 1, 2, 2});
}

class LayerTest : public guidedbp_test::SeededTest {};

TEST_F(LayerTest, GradCamOfTwoDimensionalLayerIsHandValue) {
  guidedbp::LayerGradCam cam(hand_layers(), "lin");
  torch::Tensor map = cam.attribute(hand_input());
  EXPECT_TRUE(torch::allclose(map, f32({8.}).view({1, 1})));
}

TEST_F(LayerTest, NeuronSelectorsGiveHandValues) {
  torch::jit::Module m = hand_layers();
  guidedbp::NeuronGuidedBackprop gbp(m, "act");
  guidedbp::NeuronDeconvolution deconv(m, "act");
  EXPECT_TRUE(
      torch::equal(gbp.attribute(hand_input(), 0), f32({1., -1}).view({1, 2})));
  EXPECT_TRUE(torch::equal(
      gbp.attribute(hand_input(), {1}), f32({0., 0}).view({1, 2})));
  EXPECT_TRUE(torch::equal(
      deconv.attribute(hand_input(), -2), f32({-1., 1}).view({1, 2})));
  // A range sums: neurons 0 and 1.
  EXPECT_TRUE(torch::equal(
      deconv.attribute(hand_input(), {guidedbp::NeuronRange{0, 2}}),
      f32({0., 0}).view({1, 2})));
  // A callable: one value per example.
  auto second = [](const torch::Tensor& out) { return out.select(1, 0); };
  EXPECT_TRUE(torch::equal(
      gbp.attribute(hand_input(), second), f32({1., -1}).view({1, 2})));
  // The neuron input of lin is x itself.
  guidedbp::NeuronGuidedBackprop lin(m, "lin");
  EXPECT_TRUE(torch::equal(
      lin.attribute(hand_input(), 0, {}, kToNeuronInput),
      f32({1., 0}).view({1, 2})));
}

TEST_F(LayerTest, UnknownLayerListsNearbyNames) {
  expect_error<c10::ValueError>(
      [] { guidedbp::GuidedGradCam(hand_layers(), "lni"); },
      "no layer 'lni'; nearby names: lin, act");
  expect_error<c10::ValueError>(
      [] { guidedbp::NeuronGuidedBackprop(hand_layers(), ""); }, "empty");
}

TEST_F(LayerTest, LayerInControlFlowIsAClearError) {
  expect_error<c10::ValueError>(
      [] {
        guidedbp::LayerGradCam(hand_layers(/*in_control_flow=*/true), "lin");
      },
      "runs only inside control flow");
}

TEST_F(LayerTest, SelectorErrorsAreTyped) {
  torch::Tensor layer = torch::randn({2, 4, 3, 3});
  expect_error<c10::ValueError>(
      [&] { (void)guidedbp::NeuronSelector(3).select(layer); },
      "e.g. (3, 0, 0)");
  expect_error<c10::IndexError>(
      [&] {
        (void)guidedbp::NeuronSelector({4, 0, 0}).select(layer);
      },
      "index 4 is out of range for dimension 1 (size 4)");
  expect_error<c10::IndexError>(
      [&] {
        (void)guidedbp::NeuronSelector({0, -4, 0}).select(layer);
      },
      "index -4");
  expect_error<c10::IndexError>(
      [&] {
        (void)guidedbp::NeuronSelector({guidedbp::NeuronRange{5, 9}})
            .select(layer);
      },
      "selects nothing");
  expect_error<c10::ValueError>(
      [&] {
        (void)guidedbp::NeuronSelector({0, 0, 0, 0}).select(layer);
      },
      "has 4 indices");
  expect_error<c10::ValueError>(
      [&] {
        (void)guidedbp::NeuronSelector({0, 0}).select(layer);
      },
      "leaves 3 values per example");
  expect_error<c10::ValueError>(
      [&] {
        (void)guidedbp::NeuronSelector([](const torch::Tensor& t) {
          return t;
        }).select(layer);
      },
      "one value per example");
  // Negative indices and clamped ranges follow Python.
  EXPECT_TRUE(torch::equal(
      guidedbp::NeuronSelector({-1, guidedbp::NeuronRange{-2, 99}, 0})
          .select(layer),
      layer.select(1, 3).slice(1, 1, 3).select(2, 0).sum(1)));
  EXPECT_EQ(
      guidedbp::NeuronSelector({5, guidedbp::NeuronRange{0, 2}}).to_string(),
      "(5, 0:2)");
}

TEST_F(LayerTest, LayerWithSeveralTensorsIsAClearError) {
  torch::jit::Module m = two_tensor_layers();
  torch::Tensor x = torch::randn({2, 3});
  expect_error<c10::ValueError>(
      [&] {
        (void)guidedbp::LayerGradCam(m, "pair").attribute(
            x,
            0,
            {},
            guidedbp::LayerGradCamOptions().attribute_to_layer_input(true));
      },
      "LayerGradCam: layer 'pair' has 2 input tensors, but Grad-CAM needs one");
  expect_error<c10::ValueError>(
      [&] {
        (void)guidedbp::NeuronGuidedBackprop(m, "pair").attribute(
            x, 0, {}, kToNeuronInput);
      },
      "layer 'pair' has 2 input tensors, but neuron methods need a layer with "
      "one; choose a layer with one tensor");
  // A TorchScript layer's tuple output is refused when the graph is read.
  expect_error<c10::ValueError>(
      [&] { (void)guidedbp::GuidedGradCam(m, "split").attribute(x, 0); },
      "layer 'split' has no output tensor in the TorchScript forward: it "
      "returns a Tuple");
  expect_error<c10::ValueError>(
      [&] { (void)guidedbp::NeuronDeconvolution(m, "split").attribute(x, 0); },
      "layer 'split' has no output tensor in the TorchScript forward: it "
      "returns a Tuple");
}

TEST_F(LayerTest, GuidedGradCamOfOneInputThatCannotTakeTheMapThrows) {
  guidedbp::GuidedGradCam gc(hand_layers(), "lin");
  // lin's map is (N, 1): no spatial dims to upsample to an input.
  expect_error<c10::ValueError>(
      [&] { (void)gc.attribute(hand_input()); }, "cannot be upsampled");
  guidedbp_test::WarningCapture warnings;
  auto result = gc.attribute(std::vector<torch::Tensor>{hand_input()});
  EXPECT_EQ(result[0].numel(), 0);
  ASSERT_FALSE(warnings.messages.empty());
  EXPECT_NE(warnings.messages.back().find("empty tensor"), std::string::npos);
}

TEST_F(LayerTest, InterpolateRejectsModeThatDoesNotFit) {
  expect_error<c10::ValueError>(
      [] {
        (void)guidedbp::interpolate(
            torch::ones({1, 1, 2}), {4}, guidedbp::InterpolateMode::kBilinear);
      },
      "needs a map with 2 spatial dimension(s)");
  EXPECT_TRUE(torch::equal(
      guidedbp::interpolate(torch::ones({1, 1, 2, 2}), {4, 4}),
      torch::ones({1, 1, 4, 4})));
}

torch::jit::Module conv_layers() {
  torch::jit::Module conv("Conv");
  conv.register_parameter("w", torch::randn({3, 2, 3, 3}), false);
  conv.define(
      "def forward(self, x):\n    return torch.conv2d(x, self.w, None, 1, 1)\n");
  torch::jit::Module m("ConvNet");
  m.register_module("conv", conv);
  m.register_parameter("fc", torch::randn({3 * 4 * 4, 5}), false);
  m.define(
      "def forward(self, x):\n"
      "    h = torch.relu(self.conv.forward(x))\n"
      "    return torch.matmul(torch.relu(h).flatten(1), self.fc)\n");
  return m;
}

TEST_F(LayerTest, RepeatedCallsAfterUserInferenceAgree) {
  torch::jit::Module m = conv_layers();
  torch::Tensor x = torch::randn({2, 2, 4, 4});
  guidedbp::GuidedGradCam gc(m, "conv");
  torch::Tensor first = gc.attribute(x, 1);
  for (int i = 0; i < 4; ++i) { // the user's own optimised runs with grad
    m.forward({x.clone().requires_grad_()}).toTensor().sum().backward();
  }
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(torch::equal(gc.attribute(x, 1), first)) << "call " << i;
  }
  EXPECT_GT(first.abs().max().item<double>(), 0);
}

TEST_F(LayerTest, LeavesNothingOnInputsOrModel) {
  torch::jit::Module m = conv_layers();
  torch::Tensor x = torch::randn({2, 2, 4, 4});
  torch::Tensor y = torch::randn({2, 2, 4, 4}).requires_grad_();
  (void)guidedbp::GuidedGradCam(m, "conv").attribute(x, 1);
  (void)guidedbp::NeuronDeconvolution(m, "conv").attribute(y, {0, 1, 1});
  EXPECT_FALSE(x.requires_grad());
  EXPECT_FALSE(y.grad().defined());
  for (const auto& p : m.parameters()) {
    EXPECT_FALSE(p.grad().defined());
  }
  EXPECT_TRUE(torch::GradMode::is_enabled());
  EXPECT_TRUE(torch::jit::getGraphExecutorOptimize());
}

TEST_F(LayerTest, ThreadsShareOneObject) {
  torch::jit::Module m = conv_layers();
  torch::Tensor x = torch::randn({2, 2, 4, 4});
  guidedbp::GuidedGradCam gc(m, "conv");
  guidedbp::NeuronGuidedBackprop ngbp(m, "conv");
  const torch::Tensor want_gc = gc.attribute(x, 2);
  const torch::Tensor want_n = ngbp.attribute(x, {1, 2, 2});
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      bool good = true;
      for (int i = 0; i < 5; ++i) {
        good &= torch::equal(gc.attribute(x, 2), want_gc);
        good &= torch::equal(ngbp.attribute(x, {1, 2, 2}), want_n);
      }
      ok[t] = good;
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(ok, std::vector<int>(4, 1));
}

TEST_F(LayerTest, MarkedFunctionNeedsItsMark) {
  guidedbp::Model f = [](torch::Tensor x) {
    return guidedbp::layer_output("hidden", torch::relu(x * 2)).sum(1);
  };
  expect_error<c10::ValueError>(
      [&] {
        (void)guidedbp::NeuronGuidedBackprop(f, "hiden")
            .attribute(torch::ones({1, 3}), 0);
      },
      "marked: hidden");
  expect_error<c10::ValueError>(
      [&] {
        (void)guidedbp::NeuronGuidedBackprop(f, "hidden")
            .attribute(torch::ones({1, 3}), 0, {}, kToNeuronInput);
      },
      "layer inputs are found in TorchScript modules and torch::nn::Sequential");
  EXPECT_TRUE(torch::equal(
      guidedbp::NeuronGuidedBackprop(f, "hidden")
          .attribute(torch::ones({1, 3}), 1),
      f32({0., 2, 0}).view({1, 3})));
  // Outside an attribution the mark is the identity.
  torch::Tensor x = torch::ones({2});
  EXPECT_TRUE(guidedbp::layer_output("hidden", x).is_same(x));
}

TEST_F(LayerTest, GuidedGradCamTargetsFromOneForwardPassAreHandValues) {
  guidedbp::GuidedGradCam ggc(split_channels(), "split");
  const guidedbp::GuidedGradCamTargetsResult r =
      ggc.attribute_targets({split_input()}, {0, 1});
  ASSERT_EQ(r.attributions.size(), 2u);
  ASSERT_EQ(r.grad_cams.size(), 2u);
  EXPECT_TRUE(torch::allclose(r.output, f32({4.5, 4}).view({1, 2})));
  EXPECT_TRUE(
      torch::allclose(r.attributions[0][0], image({.75, 0, 2.25, .375})));
  EXPECT_TRUE(torch::allclose(r.grad_cams[0], image({.75, 0, 2.25, .375})));
  EXPECT_TRUE(torch::allclose(r.attributions[1][0], image({0., -2, 0, 0})));
  EXPECT_TRUE(torch::allclose(r.grad_cams[1], image({0., 1, 0, 0})));
  EXPECT_EQ(r.relu_count, 1);
  // The same as one call per target.
  for (int64_t k = 0; k < 2; ++k) {
    const guidedbp::GuidedGradCamResult one =
        ggc.attribute_with_map({split_input()}, k);
    EXPECT_TRUE(torch::equal(one.attributions[0], r.attributions[k][0]));
    EXPECT_TRUE(torch::equal(one.grad_cam, r.grad_cams[k]));
  }
  expect_error<c10::ValueError>(
      [&] { (void)ggc.attribute_targets({split_input()}, {}); },
      "GuidedGradCam.attribute_targets: no targets given");
}

TEST_F(LayerTest, GuidedGradCamTargetsChosenFromTheOutputOfTheSamePass) {
  torch::jit::Module m = split_channels();
  guidedbp::GuidedGradCam ggc(m, "split");
  // Example 0 predicts class 0, example 1 (-x) class 1.
  const torch::Tensor x = torch::cat({split_input(), -split_input()});
  torch::Tensor seen;
  const guidedbp::GuidedGradCamTargetsResult r =
      ggc.attribute_chosen_targets({x}, [&seen](const torch::Tensor& output) {
        seen = output;
        return std::vector<guidedbp::Target>{output.argmax(1), 1};
      });
  EXPECT_TRUE(torch::allclose(seen, f32({4.5, 4, 2, 9}).view({2, 2})));
  EXPECT_TRUE(torch::equal(seen, r.output));
  ASSERT_EQ(r.attributions.size(), 2u);
  EXPECT_TRUE(torch::allclose(
      r.attributions[0][0],
      torch::cat({image({.75, 0, 2.25, .375}), image({-3., 0, -9, -1.5})})));
  EXPECT_TRUE(torch::allclose(
      r.grad_cams[0],
      torch::cat({image({.75, 0, 2.25, .375}), image({1.5, 0, 4.5, .75})})));
  // attribute_targets with the targets the chooser picked.
  const guidedbp::GuidedGradCamTargetsResult same =
      ggc.attribute_targets({x}, {guidedbp::Target::per_example({0, 1}), 1});
  for (size_t k = 0; k < 2; ++k) {
    EXPECT_TRUE(torch::equal(r.attributions[k][0], same.attributions[k][0]));
    EXPECT_TRUE(torch::equal(r.grad_cams[k], same.grad_cams[k]));
  }
  // Usable where a method's AttributionResult is expected.
  const guidedbp::AttributionResult& base = r;
  EXPECT_EQ(base.relu_count, 1);
  // A chooser that chooses nothing, or throws, is reported as such and
  // leaves nothing behind.
  expect_error<c10::ValueError>(
      [&] {
        (void)ggc.attribute_chosen_targets({x}, [](const torch::Tensor&) {
          return std::vector<guidedbp::Target>{};
        });
      },
      "the target chooser returned no targets");
  EXPECT_THROW(
      (void)ggc.attribute_chosen_targets(
          {x},
          [](const torch::Tensor&) -> std::vector<guidedbp::Target> {
            throw std::runtime_error("no");
          }),
      std::runtime_error);
  EXPECT_TRUE(torch::GradMode::is_enabled());
  EXPECT_TRUE(torch::jit::getGraphExecutorOptimize());
  for (const auto& p : m.parameters()) {
    EXPECT_FALSE(p.grad().defined());
  }
}

TEST_F(LayerTest, LayerGradCamTargetsAreHandValues) {
  guidedbp::LayerGradCam cam(split_channels(), "split");
  const guidedbp::LayerGradCamResult r =
      cam.attribute_targets({split_input()}, {0, 1});
  ASSERT_EQ(r.attributions.size(), 2u);
  EXPECT_TRUE(torch::allclose(r.output, f32({4.5, 4}).view({1, 2})));
  EXPECT_TRUE(
      torch::allclose(r.attributions[0], image({.75, -1.5, 2.25, .375})));
  EXPECT_TRUE(torch::allclose(r.attributions[1], image({-.5, 1, -1.5, -.25})));
  const guidedbp::LayerGradCamResult relu = cam.attribute_chosen_targets(
      {split_input()},
      [](const torch::Tensor& output) {
        return std::vector<guidedbp::Target>{output.argmax(1)};
      },
      {},
      guidedbp::LayerGradCamOptions().relu_attributions(true));
  ASSERT_EQ(relu.attributions.size(), 1u);
  EXPECT_TRUE(
      torch::allclose(relu.attributions[0], image({.75, 0, 2.25, .375})));
  EXPECT_TRUE(torch::equal(cam.attribute(split_input(), 1), r.attributions[1]));
  expect_error<c10::ValueError>(
      [&] { (void)cam.attribute_targets({split_input()}, {}); },
      "LayerGradCam.attribute_targets: no targets given");
}

TEST_F(LayerTest, NeuronTargetsFromOneForwardPassAreHandValues) {
  torch::jit::Module m = hand_layers();
  guidedbp::NeuronGuidedBackprop gbp(m, "act");
  guidedbp::NeuronDeconvolution deconv(m, "act");
  // Neurons 0, 1, 2 of act: W[0] = [1, -1]; guided 0 (act input -1),
  // deconvolution W[1] = [-1, 1]; W[2] = [1, 1] (act input 3 > 0).
  const guidedbp::AttributionResult g =
      gbp.attribute_targets({hand_input()}, {0, 1, 2});
  ASSERT_EQ(g.attributions.size(), 3u);
  EXPECT_TRUE(torch::equal(g.attributions[0][0], f32({1., -1}).view({1, 2})));
  EXPECT_TRUE(torch::equal(g.attributions[1][0], f32({0., 0}).view({1, 2})));
  EXPECT_TRUE(torch::equal(g.attributions[2][0], f32({1., 1}).view({1, 2})));
  EXPECT_TRUE(torch::allclose(g.output, f32({8.}))); // v . act(lin(x))
  EXPECT_EQ(g.relu_count, 1);
  const guidedbp::AttributionResult d =
      deconv.attribute_targets({hand_input()}, {1});
  EXPECT_TRUE(torch::equal(d.attributions[0][0], f32({-1., 1}).view({1, 2})));
  expect_error<c10::ValueError>(
      [&] { (void)gbp.attribute_targets({hand_input()}, {}); },
      "NeuronGuidedBackprop.attribute_targets: no neurons given");
}

TEST_F(LayerTest, NeuronsChosenFromTheLayerOfTheSamePass) {
  torch::jit::Module m = hand_layers();
  guidedbp::NeuronGuidedBackprop gbp(m, "act");
  torch::Tensor seen;
  // The most active neuron of act = [1, 0, 3]: neuron 2, W[2] = [1, 1].
  const guidedbp::AttributionResult r = gbp.attribute_chosen_targets(
      {hand_input()}, [&seen](const torch::Tensor& layer) {
        seen = layer;
        return std::vector<guidedbp::NeuronSelector>{
            layer.argmax(1).item<int64_t>(), 0};
      });
  EXPECT_TRUE(torch::equal(seen, f32({1., 0, 3}).view({1, 3})));
  EXPECT_FALSE(seen.requires_grad());
  ASSERT_EQ(r.attributions.size(), 2u);
  EXPECT_TRUE(torch::equal(r.attributions[0][0], f32({1., 1}).view({1, 2})));
  const guidedbp::AttributionResult same =
      gbp.attribute_targets({hand_input()}, {2, 0});
  for (size_t k = 0; k < 2; ++k) {
    EXPECT_TRUE(torch::equal(r.attributions[k][0], same.attributions[k][0]));
  }
  // The layer's input when asked: lin's input is x itself.
  guidedbp::NeuronGuidedBackprop lin(m, "lin");
  const guidedbp::AttributionResult to_input = lin.attribute_chosen_targets(
      {hand_input()},
      [&seen](const torch::Tensor& layer) {
        seen = layer;
        return std::vector<guidedbp::NeuronSelector>{0};
      },
      {},
      kToNeuronInput);
  EXPECT_TRUE(torch::equal(seen, hand_input()));
  EXPECT_TRUE(
      torch::equal(to_input.attributions[0][0], f32({1., 0}).view({1, 2})));
  expect_error<c10::ValueError>(
      [&] {
        (void)gbp.attribute_chosen_targets(
            {hand_input()}, [](const torch::Tensor&) {
              return std::vector<guidedbp::NeuronSelector>{};
            });
      },
      "the neuron chooser returned no neurons");
  EXPECT_THROW(
      (void)gbp.attribute_chosen_targets(
          {hand_input()},
          [](const torch::Tensor&) -> std::vector<guidedbp::NeuronSelector> {
            throw std::runtime_error("no");
          }),
      std::runtime_error);
  EXPECT_TRUE(torch::GradMode::is_enabled());
  EXPECT_TRUE(torch::jit::getGraphExecutorOptimize());
}

TEST_F(LayerTest, LayerShapesListsEveryModule) {
  auto layers = guidedbp::layer_shapes(hand_layers(), {hand_input()});
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(layers[0].path, "lin");
  EXPECT_EQ(layers[0].output_shape, std::vector<int64_t>({1, 3}));
  EXPECT_EQ(layers[1].path, "act");
}

} // namespace
