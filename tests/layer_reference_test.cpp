// Layer and neuron methods (issue 10) against
// tests/reference/layer_reference.py: Captum's LayerGradCam, GuidedGradCam,
// NeuronGuidedBackprop and NeuronDeconvolution re-implemented on the EAGER
// models with forward hooks. The data is written at test time by the CTest
// fixture reference.layers.generate (tests/reference/make_layer_reference.py).

#include <c10/util/Exception.h>
#include <gtest/gtest.h>
#include <guidedbp/guidedbp.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/script.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kLayerCases = {
    "resnet18_scripted",
    "resnet18_traced",
    "vgg11_scripted",
    "vgg11_traced",
    "functional_relu_scripted",
    "functional_relu_traced",
    "two_input",
    "relu_sequential",
};

fs::path layer_dir() {
  return fs::path(GUIDEDBP_LAYER_REFERENCE_DIR);
}

torch::jit::Module load(const std::string& name, const std::string& suffix) {
  const fs::path path = layer_dir() / (name + suffix);
  if (!fs::exists(path)) {
    throw std::runtime_error(
        path.string() +
        " is missing: run ctest (fixture reference.layers.generate) or "
        "/usr/bin/python3 tests/reference/make_layer_reference.py " +
        layer_dir().string());
  }
  torch::jit::Module m = torch::jit::load(path.string());
  m.eval();
  return m;
}

guidedbp::Target decode_target(const torch::Tensor& t) {
  if (t.numel() == 0) {
    return guidedbp::Target();
  }
  std::vector<int64_t> v(
      t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
  return v.size() == 1 ? guidedbp::Target::index(v[0])
                       : guidedbp::Target::per_example(v);
}

guidedbp::NeuronSelector decode_selector(
    const std::string& kind,
    const torch::Tensor& rows) {
  auto row = [&](int64_t r, int64_t c) { return rows[r][c].item<int64_t>(); };
  if (kind == "int") {
    return guidedbp::NeuronSelector(row(0, 1));
  }
  if (kind == "callable") {
    const int64_t c = row(0, 0);
    return guidedbp::NeuronSelector([c](const torch::Tensor& out) {
      return out.select(1, c).reshape({out.size(0), -1}).sum(1);
    });
  }
  std::vector<guidedbp::NeuronIndex> indices;
  for (int64_t r = 0; r < rows.size(0); ++r) {
    if (row(r, 0) == 1) {
      indices.emplace_back(guidedbp::NeuronRange{row(r, 1), row(r, 2)});
    } else {
      indices.emplace_back(row(r, 1));
    }
  }
  return guidedbp::NeuronSelector(indices);
}

guidedbp::InterpolateMode decode_mode(const std::string& mode) {
  if (mode == "bilinear") {
    return guidedbp::InterpolateMode::kBilinear;
  }
  if (mode == "bicubic") {
    return guidedbp::InterpolateMode::kBicubic;
  }
  if (mode == "area") {
    return guidedbp::InterpolateMode::kArea;
  }
  return guidedbp::InterpolateMode::kNearest;
}

// Largest |difference| relative to the largest |expected| over all checks.
double worst_relative = 0;
double worst_absolute = 0;

void expect_close(
    const torch::Tensor& actual,
    const torch::Tensor& expected,
    const std::string& what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  const double scale = expected.abs().max().item<double>();
  const double diff = (actual - expected).abs().max().item<double>();
  worst_absolute = std::max(worst_absolute, diff);
  worst_relative = std::max(worst_relative, diff / std::max(scale, 1e-30));
  EXPECT_LE(diff, 2e-4 * scale + 1e-7)
      << what << ": max |diff| " << diff << ", max |expected| " << scale;
}

/// Runs every check of a case's data on `model` (the TorchScript model, or an
/// nn module with the same weights); `skip_inputs`: checks of layer inputs
/// must throw c10::ValueError instead (marked layers have no inputs).
void run_checks(
    const guidedbp::Model& model,
    const torch::jit::Module& data,
    const std::string& name,
    bool skip_inputs = false) {
  std::vector<torch::Tensor> inputs;
  for (int64_t i = 0; i < data.attr("num_inputs").toInt(); ++i) {
    inputs.push_back(data.attr("input" + std::to_string(i)).toTensor());
  }
  const int64_t checks = data.attr("num_checks").toInt();
  ASSERT_GT(checks, 0);
  for (int64_t k = 0; k < checks; ++k) {
    const std::string p = "check" + std::to_string(k) + "_";
    const std::string method = data.attr(p + "method").toStringRef();
    const std::string layer = data.attr(p + "layer").toStringRef();
    const bool to_input = data.attr(p + "to_input").toBool();
    const auto neuron_options =
        guidedbp::NeuronAttributionOptions().attribute_to_neuron_input(
            to_input);
    const std::string what = name + " check " + std::to_string(k) + " " +
        method + " " + layer + (to_input ? " (input)" : "");
    const guidedbp::Target target =
        decode_target(data.attr(p + "target").toTensor());
    std::vector<torch::Tensor> actual;
    auto attribute = [&] {
      if (method == "guided_grad_cam") {
        guidedbp::GuidedGradCam gc(model, layer);
        auto result = gc.attribute_with_map(
            inputs,
            target,
            {},
            guidedbp::GuidedGradCamOptions()
                .interpolate_mode(
                    decode_mode(data.attr(p + "mode").toStringRef()))
                .attribute_to_layer_input(to_input));
        expect_close(
            result.grad_cam, data.attr(p + "cam").toTensor(), what + " map");
        actual = result.attributions;
      } else if (method == "layer_grad_cam") {
        guidedbp::LayerGradCam cam(model, layer);
        actual = {cam.attribute(
            inputs,
            target,
            {},
            guidedbp::LayerGradCamOptions()
                .attribute_to_layer_input(to_input)
                .relu_attributions(data.attr(p + "relu").toBool()))};
      } else {
        const guidedbp::NeuronSelector selector = decode_selector(
            data.attr(p + "selector_kind").toStringRef(),
            data.attr(p + "selector").toTensor());
        if (method == "neuron_guided_backprop") {
          actual = guidedbp::NeuronGuidedBackprop(model, layer)
                       .attribute(inputs, selector, {}, neuron_options);
        } else {
          actual = guidedbp::NeuronDeconvolution(model, layer)
                       .attribute(inputs, selector, {}, neuron_options);
        }
      }
    };
    if (skip_inputs && to_input) {
      EXPECT_THROW(attribute(), c10::ValueError) << what;
      continue;
    }
    attribute();
    for (size_t i = 0; i < actual.size(); ++i) {
      const std::string key = p + "expected" + std::to_string(i);
      const bool fits = !data.hasattr(p + "fits" + std::to_string(i)) ||
          data.attr(p + "fits" + std::to_string(i)).toBool();
      if (!fits) {
        EXPECT_EQ(actual[i].numel(), 0) << what << " input " << i;
        continue;
      }
      expect_close(
          actual[i],
          data.attr(key).toTensor(),
          what + " input " + std::to_string(i));
    }
  }
}

class LayerReferenceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LayerReferenceTest, TorchScriptMatchesPython) {
  const std::string name = GetParam();
  torch::jit::Module model = load(name, ".model.pt");
  torch::jit::Module data = load(name, ".data.pt");
  run_checks(model, data, name);
  std::cout << "[ layer reference ] " << name << ": max |diff| "
            << worst_absolute << ", max |diff| / max |expected| "
            << worst_relative << " (running maximum)\n";
}

INSTANTIATE_TEST_SUITE_P(
    Cases,
    LayerReferenceTest,
    ::testing::ValuesIn(kLayerCases),
    [](const auto& info) {
      std::string s;
      bool up = true;
      for (char c : info.param) {
        if (c == '_') {
          up = true;
        } else {
          s += up ? static_cast<char>(std::toupper(c)) : c;
          up = false;
        }
      }
      return s;
    });

/// make_layer_reference.py's relu_sequential.
torch::nn::Sequential relu_sequential_like(const torch::jit::Module& scripted) {
  torch::nn::Sequential seq(
      torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 3, 3).padding(1)),
      torch::nn::ReLU(),
      torch::nn::Conv2d(3, 4, 3),
      torch::nn::ReLU(),
      torch::nn::Flatten(),
      torch::nn::Linear(4 * 4 * 4, 5));
  torch::NoGradGuard no_grad;
  auto params = seq->named_parameters();
  for (const auto& p : scripted.named_parameters()) {
    params[p.name].copy_(p.value);
  }
  return seq;
}

TEST(LayerReferenceTest, NnSequentialMatchesPython) {
  torch::jit::Module scripted = load("relu_sequential", ".model.pt");
  run_checks(
      relu_sequential_like(scripted),
      load("relu_sequential", ".data.pt"),
      "relu_sequential (torch::nn::Sequential)");
}

TEST(LayerReferenceTest, MarkedNnModuleMatchesPython) {
  torch::jit::Module scripted = load("relu_sequential", ".model.pt");
  torch::nn::Sequential seq = relu_sequential_like(scripted);
  // Each child's output is marked with the child's name.
  guidedbp::Model marked = [seq](torch::Tensor x) mutable {
    size_t i = 0;
    for (auto& child : *seq) {
      x = guidedbp::layer_output(std::to_string(i++), child.forward(x));
    }
    return x;
  };
  run_checks(
      marked,
      load("relu_sequential", ".data.pt"),
      "relu_sequential (marked function)",
      /*skip_inputs=*/true);
}

} // namespace
