// Every kind of model converts to guidedbp::Model and receives its inputs and
// additional forward arguments in order; misuse gives typed errors.

#include <gtest/gtest.h>
#include <guidedbp/attribution.h>
#include <guidedbp/model.h>

#include "test_models.h"

using namespace guidedbp_test;

namespace {

// forward(x, mask, scale, flip): every supported parameter type.
struct ArgsModelImpl : torch::nn::Module {
  torch::Tensor forward(
      torch::Tensor x,
      torch::Tensor mask,
      int64_t power,
      double scale,
      bool flip) {
    torch::Tensor y = torch::relu(x * mask).pow(power) * scale;
    return (flip ? -y : y).sum(1);
  }
};
TORCH_MODULE(ArgsModel);

} // namespace

TEST(ModelTest, NnModuleGetsAdditionalArgumentsInOrder) {
  guidedbp::GuidedBackprop gbp(ArgsModel{});
  torch::Tensor x = f32({1.0, -2.0, 3.0}).view({1, -1});
  torch::Tensor mask = f32({1.0, 1.0, 0.0}).view({1, -1});
  // d/dx of sum(relu(x*m)^2 * 0.5) = relu(x*m) * m = [1, 0, 0].
  torch::Tensor a =
      gbp.attribute(x, guidedbp::Target(), {mask, int64_t{2}, 0.5, false});
  EXPECT_TRUE(torch::allclose(a, f32({1.0, 0.0, 0.0}).view({1, -1})));
  // flip: the gradient into the ReLU is negative, so guided gives zeros.
  a = gbp.attribute(x, guidedbp::Target(), {mask, int64_t{2}, 0.5, true});
  EXPECT_TRUE(torch::allclose(a, torch::zeros({1, 3})));
}

TEST(ModelTest, SharedPtrToModule) {
  auto net = std::make_shared<CaptumConvNetImpl>();
  guidedbp::GuidedBackprop gbp(net);
  EXPECT_TRUE(
      torch::allclose(gbp.attribute(captum_input(), 0), captum_guided()));
}

TEST(ModelTest, GeneralFunctionSeesAllArguments) {
  guidedbp::Model model = guidedbp::Model::Function(
      [](const std::vector<c10::IValue>& args) -> c10::IValue {
        return (args[0].toTensor() * args[1].toDouble()).sum(1);
      });
  guidedbp::Saliency saliency(model);
  EXPECT_TRUE(torch::allclose(
      saliency.attribute(torch::ones({2, 2}), guidedbp::Target(), {3.0}),
      torch::full({2, 2}, 3.0)));
}

TEST(ModelTest, LambdaTakingArgumentList) {
  guidedbp::Saliency saliency(
      [](const std::vector<c10::IValue>& args) -> c10::IValue {
        return (args[0].toTensor() * args[1].toTensor()).sum(1);
      });
  std::vector<torch::Tensor> a =
      saliency.attribute({torch::ones({1, 2}), torch::full({1, 2}, 4.0)});
  EXPECT_TRUE(torch::allclose(a[0], torch::full({1, 2}, 4.0)));
  EXPECT_TRUE(torch::allclose(a[1], torch::ones({1, 2})));
}

TEST(ModelTest, RejectsWrongArgumentCountAndTypes) {
  guidedbp::GuidedBackprop gbp(ArgsModel{});
  torch::Tensor x = torch::ones({1, 3});
  expect_error<c10::ValueError>(
      [&] { (void)gbp.attribute(x); }, "takes 5 argument(s)");
  expect_error<c10::TypeError>(
      [&] {
        (void)gbp.attribute(x, guidedbp::Target(), {x, 2.5, 0.5, false});
      },
      "forward argument 2 must be an integer, got Double");
  guidedbp::GuidedBackprop seq{torch::nn::Sequential(torch::nn::ReLU())};
  expect_error<c10::ValueError>(
      [&] {
        (void)seq.attribute({x, x});
      },
      "torch::nn::Sequential takes 1 argument(s)");
}

TEST(ModelTest, RejectsNonTensorOutput) {
  torch::jit::Module module("TupleOut");
  module.define("def forward(self, x):\n    return (x.sum(1), x.sum(1))\n");
  expect_error<c10::TypeError>(
      [&] {
        (void)guidedbp::GuidedBackprop(module).attribute(torch::ones({1, 2}));
      },
      "returned a Tuple, but attribution needs one output tensor");
}

TEST(ModelTest, RejectsBadInputs) {
  guidedbp::GuidedBackprop gbp([](torch::Tensor x) { return x.sum(1); });
  expect_error<c10::ValueError>(
      [&] { (void)gbp.attribute(std::vector<torch::Tensor>{}); },
      "no inputs given");
  expect_error<c10::TypeError>(
      [&] {
        (void)gbp.attribute(torch::ones({1, 2}, torch::kLong));
      },
      "input 0 has dtype Long");
  expect_error<c10::ValueError>(
      [&] { (void)gbp.attribute(torch::tensor(1.0)); },
      "need a batch dimension (dim 0)");
  guidedbp::Saliency two([](const std::vector<c10::IValue>& a) -> c10::IValue {
    return a[0].toTensor().sum(1);
  });
  expect_error<c10::ValueError>(
      [&] {
        (void)two.attribute({torch::ones({2, 2}), torch::ones({3, 2})});
      },
      "inputs have different batch sizes: input 0 has 2 examples (shape [2, 2]) but input 1 has 3");
}

TEST(ModelTest, RejectsInputThatDoesNotInfluenceTheOutput) {
  guidedbp::Saliency saliency(
      [](const std::vector<c10::IValue>& a) -> c10::IValue {
        return a[0].toTensor().sum(1);
      });
  expect_error<c10::ValueError>(
      [&] {
        (void)saliency.attribute({torch::ones({1, 2}), torch::ones({1, 2})});
      },
      "input 1 (shape [1, 2]) does not influence the selected output");
}

TEST(ModelTest, MethodsAreDeletableThroughTheBasePointer) {
  // Saliency has a member of its own: deleting it through the base needs the
  // virtual destructor (found by AddressSanitizer in the CLI).
  EXPECT_TRUE(
      std::has_virtual_destructor<guidedbp::ModifiedReluGradient>::value);
  std::unique_ptr<guidedbp::ModifiedReluGradient> method =
      std::make_unique<guidedbp::Saliency>(
          [](torch::Tensor x) { return x.sum(1); },
          guidedbp::SaliencyOptions().abs(true));
  EXPECT_TRUE(method->abs());
}

namespace {
// forward takes its tensor by const reference: Model converts each argument
// to a value first (it once bound the reference to a destroyed temporary).
struct ConstRefModule : torch::nn::Module {
  torch::Tensor forward(const torch::Tensor& x, const double& scale) {
    return x * scale;
  }
};

// A module that is not torch::nn::Cloneable.
struct PlainModule : torch::nn::Module {
  PlainModule() : fc(register_module("fc", torch::nn::Linear(2, 1))) {}
  torch::Tensor forward(torch::Tensor x) {
    return fc(x);
  }
  torch::nn::Linear fc;
};
} // namespace

TEST(ModelTest, NnModuleTakesArgumentsByConstReference) {
  guidedbp::Model model(std::make_shared<ConstRefModule>());
  torch::Tensor out = model.forward({torch::ones({2}), 3.0}).toTensor();
  EXPECT_TRUE(torch::equal(out, torch::full({2}, 3.0)));
}

TEST(ModelTest, DeepCopyOwnsItsParametersAndNamesWhatCannotBeCopied) {
  torch::nn::Linear linear(2, 1);
  guidedbp::Model model = linear;
  guidedbp::Model copy = model.deep_copy();
  torch::Tensor x = torch::ones({1, 2});
  EXPECT_TRUE(torch::equal(
      copy.forward({x}).toTensor(), model.forward({x}).toTensor()));
  EXPECT_NE(
      copy.nn_module()->parameters()[0].data_ptr(), linear->weight.data_ptr());
  guidedbp::Model plain(std::make_shared<PlainModule>());
  EXPECT_THROW(plain.deep_copy(), c10::ValueError);
  guidedbp::Model f = [](torch::Tensor t) { return t; };
  EXPECT_THROW(f.deep_copy(), c10::ValueError);
}
