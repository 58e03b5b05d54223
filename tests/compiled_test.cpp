// guidedbp::CompiledAttribution on a package of `guidedbp export`. Run by
// tests/cli/export_test.py, which makes the package (a small float64 CNN,
// Guided Backprop) and float64 references on the eager model, and passes
// them as GUIDEDBP_TEST_PACKAGE and GUIDEDBP_TEST_DATA (lib_x.pt,
// lib_t1.pt, lib_per_example.pt, lib_output.pt). On LibTorch < 2.6 it checks
// the one clear error instead.

#include <gtest/gtest.h>
#include <guidedbp/compiled.h>
#include <torch/serialize.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace {

torch::Tensor read_tensor(const std::string& name) {
  const std::string folder = std::getenv("GUIDEDBP_TEST_DATA");
  std::ifstream in(folder + "/" + name, std::ios::binary);
  std::vector<char> bytes(
      (std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return torch::pickle_load(bytes).toTensor();
}

void expect_close(const torch::Tensor& actual, const torch::Tensor& expected) {
  ASSERT_EQ(actual.sizes(), expected.sizes());
  ASSERT_EQ(actual.scalar_type(), expected.scalar_type());
  const double scale = expected.abs().max().item<double>();
  EXPECT_LE((actual - expected).abs().max().item<double>(), 1e-10 * scale);
}

class CompiledTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!guidedbp::compiled_packages_supported()) {
      GTEST_SKIP() << "LibTorch < 2.6: no AOTInductor packages";
    }
    const char* package = std::getenv("GUIDEDBP_TEST_PACKAGE");
    if (package == nullptr) {
      GTEST_SKIP() << "GUIDEDBP_TEST_PACKAGE not set (tests/cli/export_test.py "
                      "sets it)";
    }
    gbp_ = std::make_unique<guidedbp::CompiledAttribution>(package);
    x_ = read_tensor("lib_x.pt");
  }
  std::unique_ptr<guidedbp::CompiledAttribution> gbp_;
  torch::Tensor x_;
};

TEST(CompiledUnsupportedTest, PackageIsOneClearErrorBeforeLibTorch26) {
  if (guidedbp::compiled_packages_supported()) {
    GTEST_SKIP() << "LibTorch >= 2.6";
  }
  try {
    guidedbp::CompiledAttribution package("model.pt2");
    FAIL() << "no error";
  } catch (const c10::NotImplementedError& e) {
    EXPECT_NE(
        std::string(e.what_without_backtrace()).find("LibTorch >= 2.6"),
        std::string::npos);
  }
}

TEST_F(CompiledTest, MetadataSaysWhatWasExported) {
  const guidedbp::CompiledMetadata& m = gbp_->metadata();
  EXPECT_EQ(m.method, "guided-backprop");
  EXPECT_EQ(gbp_->method(), "guided-backprop");
  EXPECT_FALSE(m.abs);
  EXPECT_EQ(m.relu_count, 2);
  ASSERT_EQ(m.input_shapes.size(), 1u);
  EXPECT_EQ(m.input_shapes[0], (std::vector<int64_t>{2, 5, 5}));
  EXPECT_EQ(m.output_shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(m.dtype, torch::kDouble);
  EXPECT_EQ(m.torch_version.substr(0, 3), "2.6");
}

TEST_F(CompiledTest, EveryTargetFormEqualsTheReference) {
  const torch::Tensor t1 = read_tensor("lib_t1.pt");
  expect_close(gbp_->attribute(x_, 1), t1);
  expect_close(gbp_->attribute(x_, guidedbp::Target::tuple({1})), t1);
  expect_close(gbp_->attribute(x_, torch::tensor(1)), t1);
  const torch::Tensor per = read_tensor("lib_per_example.pt");
  expect_close(
      gbp_->attribute(x_, guidedbp::Target::per_example({2, 0, 1, 1})), per);
  expect_close(gbp_->attribute(x_, torch::tensor({2, 0, 1, 1})), per);
  expect_close(
      gbp_->attribute(
          x_, guidedbp::Target::per_example_tuples({{2}, {0}, {1}, {1}})),
      per);
  expect_close(gbp_->attribute({x_}, 1).at(0), t1);
}

TEST_F(CompiledTest, TargetsFromOneCallAndTheOutput) {
  guidedbp::AttributionResult r = gbp_->attribute_targets({x_}, {1, 1});
  ASSERT_EQ(r.attributions.size(), 2u);
  expect_close(r.attributions[1][0], read_tensor("lib_t1.pt"));
  expect_close(r.output, read_tensor("lib_output.pt"));
  EXPECT_EQ(r.relu_count, 2);
  guidedbp::AttributionResult chosen =
      gbp_->attribute_chosen_targets({x_}, [](const torch::Tensor& out) {
        EXPECT_EQ(out.sizes(), (std::vector<int64_t>{4, 3}));
        return std::vector<guidedbp::Target>{guidedbp::Target(1)};
      });
  expect_close(chosen.attributions[0][0], read_tensor("lib_t1.pt"));
}

TEST_F(CompiledTest, NonContiguousInputsGiveTheSameResult) {
  // Same values, other strides: a transposed copy transposed back.
  const torch::Tensor strided = x_.transpose(2, 3).contiguous().transpose(2, 3);
  ASSERT_FALSE(strided.is_contiguous());
  expect_close(gbp_->attribute(strided, 1), read_tensor("lib_t1.pt"));
}

TEST_F(CompiledTest, TypedErrorsWithValues) {
  EXPECT_THROW((void)gbp_->attribute(x_.to(torch::kFloat), 1), c10::TypeError);
  EXPECT_THROW((void)gbp_->attribute(x_, 3), c10::IndexError);
  EXPECT_THROW((void)gbp_->attribute(x_, guidedbp::Target()), c10::ValueError);
  EXPECT_THROW(
      (void)gbp_->attribute(x_, guidedbp::Target::per_example({0, 1})),
      c10::ValueError);
  try {
    (void)gbp_->attribute(torch::zeros({2, 2, 5, 6}, torch::kDouble), 0);
    FAIL() << "no error";
  } catch (const c10::ValueError& e) {
    EXPECT_NE(
        std::string(e.what_without_backtrace()).find("[N, 2, 5, 5]"),
        std::string::npos);
  }
  EXPECT_THROW((void)gbp_->attribute_targets({x_}, {}), c10::ValueError);
  EXPECT_THROW((void)gbp_->attribute({x_, x_}, 0), c10::ValueError);
}

TEST_F(CompiledTest, ThreadsShareOnePackage) {
  const torch::Tensor t1 = read_tensor("lib_t1.pt");
  std::vector<torch::Tensor> results(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int call = 0; call < 5; ++call) {
        results[i] = gbp_->attribute(x_, 1);
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (const torch::Tensor& r : results) {
    expect_close(r, t1);
  }
}

} // namespace

namespace {

// The layer packages: Guided Grad-CAM and Neuron Guided Backprop of layer
// `down` of export_test.py's Cam (GUIDEDBP_TEST_GGC_PACKAGE,
// GUIDEDBP_TEST_NEURON_PACKAGE), with references lib_cx.pt (input),
// lib_ggc_t1.pt, lib_ggc_map.pt, lib_n_tuple.pt ((1, 2, 0)), lib_n_range.pt
// ((0:2, 1, 1)), lib_n_callable.pt (layer[:, 1, 1, 1] * layer[:, 0, 0, 0])
// and lib_n_layer.pt (the layer's output).
class CompiledLayerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* ggc = std::getenv("GUIDEDBP_TEST_GGC_PACKAGE");
    const char* neuron = std::getenv("GUIDEDBP_TEST_NEURON_PACKAGE");
    if (!guidedbp::compiled_packages_supported() || ggc == nullptr ||
        neuron == nullptr) {
      GTEST_SKIP() << "no layer packages (tests/cli/export_test.py makes them)";
    }
    ggc_ = std::make_unique<guidedbp::CompiledAttribution>(ggc);
    neuron_ = std::make_unique<guidedbp::CompiledAttribution>(neuron);
    x_ = read_tensor("lib_cx.pt");
  }
  std::unique_ptr<guidedbp::CompiledAttribution> ggc_;
  std::unique_ptr<guidedbp::CompiledAttribution> neuron_;
  torch::Tensor x_;
};

TEST_F(CompiledLayerTest, MetadataRecordsTheLayer) {
  EXPECT_EQ(ggc_->method(), "guided-gradcam");
  EXPECT_EQ(ggc_->metadata().layer, "down");
  EXPECT_FALSE(ggc_->is_neuron());
  EXPECT_EQ(neuron_->method(), "neuron-guided-backprop");
  EXPECT_TRUE(neuron_->is_neuron());
  EXPECT_EQ(neuron_->metadata().layer_shape, (std::vector<int64_t>{3, 3, 3}));
}

TEST_F(CompiledLayerTest, GuidedGradCamAndItsMapEqualTheReference) {
  expect_close(ggc_->attribute(x_, 1), read_tensor("lib_ggc_t1.pt"));
  guidedbp::GuidedGradCamTargetsResult r =
      ggc_->attribute_targets_with_maps({x_}, [](const torch::Tensor&) {
        return std::vector<guidedbp::Target>{guidedbp::Target(1)};
      });
  ASSERT_EQ(r.grad_cams.size(), 1u);
  expect_close(r.attributions[0][0], read_tensor("lib_ggc_t1.pt"));
  expect_close(r.grad_cams[0], read_tensor("lib_ggc_map.pt"));
}

TEST_F(CompiledLayerTest, EveryNeuronSelectorFormEqualsTheReference) {
  expect_close(
      neuron_->attribute_neuron(x_, {1, 2, 0}), read_tensor("lib_n_tuple.pt"));
  expect_close(
      neuron_->attribute_neuron(x_, {guidedbp::NeuronRange{0, 2}, 1, 1}),
      read_tensor("lib_n_range.pt"));
  expect_close(
      neuron_->attribute_neuron(
          x_,
          [](const torch::Tensor& layer) {
            return layer.select(1, 1).select(1, 1).select(1, 1) *
                layer.select(1, 0).select(1, 0).select(1, 0);
          }),
      read_tensor("lib_n_callable.pt"));
  guidedbp::AttributionResult r =
      neuron_->attribute_neuron_targets({x_}, {{0, 0, 0}, {1, 2, 0}});
  ASSERT_EQ(r.attributions.size(), 2u);
  expect_close(r.attributions[1][0], read_tensor("lib_n_tuple.pt"));
  expect_close(r.output, read_tensor("lib_n_layer.pt"));
  guidedbp::AttributionResult chosen =
      neuron_->attribute_chosen_neurons({x_}, [](const torch::Tensor& layer) {
        EXPECT_EQ(layer.sizes(), (std::vector<int64_t>{4, 3, 3, 3}));
        return std::vector<guidedbp::NeuronSelector>{{1, 2, 0}};
      });
  expect_close(chosen.attributions[0][0], read_tensor("lib_n_tuple.pt"));
}

TEST_F(CompiledLayerTest, WrongUseIsATypedError) {
  EXPECT_THROW((void)neuron_->attribute(x_, 1), c10::ValueError);
  EXPECT_THROW((void)ggc_->attribute_neuron(x_, {0, 0, 0}), c10::ValueError);
  EXPECT_THROW((void)neuron_->attribute_neuron(x_, {3, 0, 0}), c10::IndexError);
  EXPECT_THROW((void)neuron_->attribute_neuron(x_, 7), c10::ValueError);
  EXPECT_THROW(
      (void)neuron_->attribute_neuron(
          x_,
          {0, 0, 0},
          guidedbp::NeuronAttributionOptions().attribute_to_neuron_input(true)),
      c10::NotImplementedError);
  EXPECT_THROW(
      (void)neuron_->attribute_neuron_targets({x_}, {}), c10::ValueError);
}

} // namespace
