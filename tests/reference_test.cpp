// Reference-value tests: guidedbp's attributions against values computed in
// Python by tests/reference/torch_reference.py (an independent implementation
// that swaps every relu call of the EAGER model for an autograd.Function).
// The data is written by tests/reference/make_reference.py; see
// tests/reference/README.md for what each case covers and how to remake it.

#include <c10/util/Exception.h>
#include <gtest/gtest.h>
#include <guidedbp/guidedbp.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/script.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "test_models.h"

namespace {

namespace fs = std::filesystem;

/// The committed cases, as named by make_reference.py's committed_cases().
const std::vector<std::string> kCases = {
    "convnet_one_conv",
    "relu_modules",
    "functional_relu",
    "inplace_relu",
    "shared_relu",
    "residual",
    "maxpool",
    "batchnorm",
    "multi_input",
    "extra_args",
    "target_none_vector",
    "target_none_column",
    "target_tuple_3d",
    "no_relu",
};

/// The torchvision cases, written at test time by the CTest fixture
/// `reference.torchvision.generate` (make_reference.py --torchvision).
const std::vector<std::string> kTorchvisionCases = {
    "resnet18_scripted",
    "resnet18_traced",
    "vgg11_scripted",
    "mobilenet_v2_scripted",
};

/// The rules as the reference names them; expected values are `<rule><i>`.
const std::vector<std::string> kRules = {"guided", "deconvolution", "plain"};

/// One case: the TorchScript model and the container of data written by
/// make_reference.py.
struct ReferenceCase {
  std::string name;
  torch::jit::Module model;
  torch::jit::Module data;
  std::vector<torch::Tensor> inputs;
  guidedbp::ForwardArgs extra;
  guidedbp::Target target;
  std::string target_kind;
  int64_t relu_count = 0;

  std::vector<torch::Tensor> expected(const std::string& rule) const {
    std::vector<torch::Tensor> out;
    for (size_t i = 0; i < inputs.size(); ++i) {
      out.push_back(data.attr(rule + std::to_string(i)).toTensor());
    }
    return out;
  }
};

std::vector<int64_t> to_vector(const torch::Tensor& values) {
  torch::Tensor v = values.to(torch::kLong).contiguous().view({-1});
  return std::vector<int64_t>(
      v.data_ptr<int64_t>(), v.data_ptr<int64_t>() + v.numel());
}

/// The guidedbp::Target that make_reference.py encoded as (kind, values).
guidedbp::Target make_target(
    const std::string& kind,
    const torch::Tensor& values) {
  if (kind == "none") {
    return guidedbp::Target::none();
  }
  if (kind == "index") {
    return guidedbp::Target::index(to_vector(values).at(0));
  }
  if (kind == "tuple") {
    return guidedbp::Target::tuple(to_vector(values));
  }
  if (kind == "per_example") {
    return guidedbp::Target::per_example(to_vector(values));
  }
  if (kind == "per_example_tuples") {
    TORCH_CHECK(
        values.dim() == 2,
        "per_example_tuples must be (N, k), got ",
        values.sizes());
    std::vector<std::vector<int64_t>> tuples;
    for (int64_t n = 0; n < values.size(0); ++n) {
      tuples.push_back(to_vector(values[n]));
    }
    return guidedbp::Target::per_example_tuples(std::move(tuples));
  }
  if (kind == "tensor") {
    return guidedbp::Target(values);
  }
  TORCH_CHECK(false, "unknown target_kind '", kind, "' in the reference data");
}

std::string missing_torchvision_message(const fs::path& path) {
  return "missing torchvision reference file " + path.string() +
      ": it is written at test time by the CTest fixture reference.torchvision.generate, "
      "i.e. /usr/bin/python3 tests/reference/make_reference.py --torchvision " +
      fs::path(GUIDEDBP_TORCHVISION_DIR).string() +
      " (run the tests with ctest, or run that command first)";
}

ReferenceCase load_case(const fs::path& dir, const std::string& name) {
  ReferenceCase c;
  c.name = name;
  c.model = torch::jit::load((dir / (name + ".model.pt")).string());
  c.model.eval();
  c.data = torch::jit::load((dir / (name + ".data.pt")).string());
  const int64_t num_inputs = c.data.attr("num_inputs").toInt();
  for (int64_t i = 0; i < num_inputs; ++i) {
    c.inputs.push_back(c.data.attr("input" + std::to_string(i)).toTensor());
  }
  const int64_t num_extra = c.data.attr("num_extra").toInt();
  for (int64_t i = 0; i < num_extra; ++i) {
    c.extra.push_back(c.data.attr("extra" + std::to_string(i)));
  }
  c.target_kind = c.data.attr("target_kind").toStringRef();
  c.target =
      make_target(c.target_kind, c.data.attr("target_values").toTensor());
  c.relu_count = c.data.attr("relu_count").toInt();
  return c;
}

/// What one attribution call gave.
struct Outcome {
  std::vector<torch::Tensor> attributions;
  int64_t relu_count = 0;
};

template <typename Method>
Outcome run_method(const Method& method, const ReferenceCase& c) {
  Outcome out;
  if (c.inputs.size() == 1) {
    out.attributions = {method.attribute(c.inputs[0], c.target, c.extra)};
  } else {
    out.attributions = method.attribute(c.inputs, c.target, c.extra);
  }
  out.relu_count =
      method.attribute_targets(c.inputs, {c.target}, c.extra).relu_count;
  return out;
}

Outcome run_rule(
    const std::string& rule,
    const guidedbp::Model& model,
    const ReferenceCase& c) {
  if (rule == "guided") {
    return run_method(guidedbp::GuidedBackprop(model), c);
  }
  if (rule == "deconvolution") {
    return run_method(guidedbp::Deconvolution(model), c);
  }
  return run_method(guidedbp::Saliency(model), c);
}

/// Checks `got` against the reference for `rule`; returns the largest
/// absolute difference over all inputs.
double check_rule(
    const ReferenceCase& c,
    const std::string& rule,
    const Outcome& got,
    double float32_rtol = 1e-5,
    double float32_atol = 1e-6) {
  SCOPED_TRACE("rule " + rule);
  const std::vector<torch::Tensor> expected = c.expected(rule);
  EXPECT_EQ(got.attributions.size(), expected.size());
  double max_diff = 0;
  for (size_t i = 0; i < std::min(got.attributions.size(), expected.size());
       ++i) {
    const torch::Tensor& g = got.attributions[i];
    const torch::Tensor& e = expected[i];
    EXPECT_EQ(g.sizes(), e.sizes()) << "input " << i;
    EXPECT_EQ(g.scalar_type(), e.scalar_type()) << "input " << i;
    EXPECT_EQ(g.sizes(), c.inputs[i].sizes()) << "input " << i;
    EXPECT_EQ(g.scalar_type(), c.inputs[i].scalar_type()) << "input " << i;
    if (g.sizes() != e.sizes() || g.scalar_type() != e.scalar_type()) {
      max_diff = std::numeric_limits<double>::infinity();
      continue;
    }
    const bool is_double = e.scalar_type() == torch::kDouble;
    const double rtol = is_double ? 1e-10 : float32_rtol;
    const double atol = is_double ? 1e-12 : float32_atol;
    const double diff = (g - e).abs().max().item<double>();
    max_diff = std::max(max_diff, diff);
    EXPECT_TRUE(torch::allclose(g, e, rtol, atol))
        << "input " << i << ": max |got - expected| = " << diff << " (rtol "
        << rtol << ", atol " << atol << ")\n got:\n"
        << g << "\n expected:\n"
        << e;
  }
  if (rule != "plain") {
    EXPECT_EQ(got.relu_count, c.relu_count) << "ReLU applications overridden";
  }
  return max_diff;
}

void print_max_diffs(
    const std::string& name,
    const std::string& how,
    const std::vector<std::pair<std::string, double>>& diffs) {
  std::ostringstream line;
  line << "[ reference ] " << std::left << std::setw(22) << name
       << std::setw(14) << how << " max |got - expected|:";
  for (const auto& [rule, diff] : diffs) {
    line << ' ' << rule << ' ' << std::scientific << std::setprecision(2)
         << diff;
  }
  std::cout << line.str() << std::endl;
}

/// Runs every rule on `model` for case `c` (twice over, so that the second
/// round runs after TorchScript's profiling run) and checks each result, and
/// that the library warned exactly when no ReLU was overridden.
void check_all_rules(
    const ReferenceCase& c,
    const guidedbp::Model& model,
    const std::string& how,
    int rounds = 2,
    double float32_rtol = 1e-5,
    double float32_atol = 1e-6) {
  std::vector<std::pair<std::string, double>> diffs;
  for (const std::string& rule : kRules) {
    diffs.emplace_back(rule, 0.0);
  }
  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round + 1));
    for (size_t r = 0; r < kRules.size(); ++r) {
      std::vector<std::string> warned;
      Outcome got;
      {
        guidedbp_test::WarningCapture capture;
        got = run_rule(kRules[r], model, c);
        warned = capture.messages;
      }
      const double diff =
          check_rule(c, kRules[r], got, float32_rtol, float32_atol);
      diffs[r].second = std::max(diffs[r].second, diff);
      if (c.relu_count == 0 && kRules[r] != "plain") {
        // No ReLU (e.g. ReLU6 = hardtanh): the result is the plain gradient
        // (the reference stored it for every rule) and the user is told.
        EXPECT_FALSE(warned.empty())
            << kRules[r] << ": expected a warning that no ReLU was overridden";
      } else {
        EXPECT_TRUE(warned.empty())
            << kRules[r] << ": unexpected warning: " << warned.front();
      }
    }
  }
  print_max_diffs(c.name, how, diffs);
}

/// The CamelCase test name of a snake_case case name.
std::string camel_case(const std::string& name) {
  std::string out;
  bool upper = true;
  for (char ch : name) {
    if (ch == '_') {
      upper = true;
    } else {
      out += upper
          ? static_cast<char>(std::toupper(static_cast<unsigned char>(ch)))
          : ch;
      upper = false;
    }
  }
  return out;
}

struct CaseName {
  std::string operator()(
      const testing::TestParamInfo<std::string>& info) const {
    return camel_case(info.param);
  }
};

// ---------------------------------------------------------------------------
// The committed cases as TorchScript modules and as plain functions.
// ---------------------------------------------------------------------------

class ReferenceCaseTest : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    torch::manual_seed(0);
  }
};

TEST_P(ReferenceCaseTest, TorchScriptMatchesPython) {
  const ReferenceCase c = load_case(GUIDEDBP_REFERENCE_DIR, GetParam());
  SCOPED_TRACE("case " + c.name + " (TorchScript)");
  check_all_rules(c, c.model, "TorchScript");
}

TEST_P(ReferenceCaseTest, TorchScriptAfterUserInferenceMatchesPython) {
  ReferenceCase c = load_case(GUIDEDBP_REFERENCE_DIR, GetParam());
  SCOPED_TRACE("case " + c.name + " (TorchScript, after the user's inference)");
  // The user's own inference first, as plain C++ code does it: grad mode on,
  // inputs not requiring grad, graph optimizer on. From the second run on the
  // profiling executor caches an optimised plan whose fused differentiable
  // graphs hide ReLUs; the attributions must not pick that plan up.
  std::vector<c10::IValue> args(c.inputs.begin(), c.inputs.end());
  args.insert(args.end(), c.extra.begin(), c.extra.end());
  for (int run = 0; run < 3; ++run) {
    c.model.forward(args);
  }
  check_all_rules(c, c.model, "after infer.", /*rounds=*/1);
}

TEST_P(ReferenceCaseTest, PlainFunctionMatchesPython) {
  const ReferenceCase c = load_case(GUIDEDBP_REFERENCE_DIR, GetParam());
  SCOPED_TRACE("case " + c.name + " (plain function)");
  torch::jit::Module module = c.model;
  // No graph-executor guard here: the attribution itself must keep the ReLUs
  // of a TorchScript module called from a plain function visible.
  if (c.inputs.size() == 1 && c.extra.empty()) {
    check_all_rules(
        c,
        [module](torch::Tensor x) mutable {
          return module.forward({x}).toTensor();
        },
        "tensor fn");
  } else {
    check_all_rules(
        c,
        [module](const std::vector<c10::IValue>& args) mutable {
          return module.forward(args);
        },
        "IValue fn");
  }
}

INSTANTIATE_TEST_SUITE_P(
    Committed,
    ReferenceCaseTest,
    testing::ValuesIn(kCases),
    CaseName());

TEST(ReferenceTest, DataFolderHoldsExactlyTheListedCases) {
  std::set<std::string> found;
  for (const auto& entry : fs::directory_iterator(GUIDEDBP_REFERENCE_DIR)) {
    const std::string file = entry.path().filename().string();
    for (const std::string suffix : {".model.pt", ".data.pt"}) {
      if (file.size() > suffix.size() &&
          file.compare(file.size() - suffix.size(), suffix.size(), suffix) ==
              0) {
        found.insert(file.substr(0, file.size() - suffix.size()));
      }
    }
  }
  const std::set<std::string> listed(kCases.begin(), kCases.end());
  EXPECT_EQ(found, listed) << "kCases in reference_test.cpp and the files in "
                           << GUIDEDBP_REFERENCE_DIR << " disagree";
  for (const std::string& name : kCases) {
    EXPECT_TRUE(
        fs::exists(fs::path(GUIDEDBP_REFERENCE_DIR) / (name + ".model.pt")))
        << name;
    EXPECT_TRUE(
        fs::exists(fs::path(GUIDEDBP_REFERENCE_DIR) / (name + ".data.pt")))
        << name;
  }
}

TEST(ReferenceTest, DataCoversEveryTargetForm) {
  std::set<std::string> kinds;
  for (const std::string& name : kCases) {
    kinds.insert(load_case(GUIDEDBP_REFERENCE_DIR, name).target_kind);
  }
  EXPECT_EQ(
      kinds,
      (std::set<std::string>{
          "none",
          "index",
          "tuple",
          "per_example",
          "per_example_tuples",
          "tensor"}));
}

TEST(ReferenceTest, ModelWithoutReluWarnsAndGivesPlainGradient) {
  const ReferenceCase c = load_case(GUIDEDBP_REFERENCE_DIR, "no_relu");
  ASSERT_EQ(c.relu_count, 0);
  for (const std::string rule : {"guided", "deconvolution"}) {
    SCOPED_TRACE(rule);
    std::vector<std::string> warned;
    Outcome got;
    {
      guidedbp_test::WarningCapture capture;
      got = run_rule(rule, c.model, c);
      warned = capture.messages;
    }
    EXPECT_EQ(got.relu_count, 0);
    ASSERT_EQ(got.attributions.size(), 1u);
    EXPECT_TRUE(torch::allclose(
        got.attributions[0], c.expected("plain")[0], 1e-5, 1e-6));
    EXPECT_FALSE(warned.empty()) << "expected a warning: no ReLU overridden";
  }
}

// ---------------------------------------------------------------------------
// The same models re-created in C++ torch::nn, weights copied from the
// TorchScript modules by name.
// ---------------------------------------------------------------------------

/// Copies every parameter and buffer of `from` into the same-named one of `to`.
void copy_weights(const torch::jit::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  auto params = to.named_parameters(/*recurse=*/true);
  auto buffers = to.named_buffers(/*recurse=*/true);
  size_t copied = 0;
  for (const auto& p : from.named_parameters(/*recurse=*/true)) {
    torch::Tensor* dst = params.find(p.name);
    ASSERT_NE(dst, nullptr) << "no parameter " << p.name << " in " << to.name();
    ASSERT_EQ(dst->sizes(), p.value.sizes()) << p.name;
    dst->copy_(p.value);
    ++copied;
  }
  for (const auto& b : from.named_buffers(/*recurse=*/true)) {
    torch::Tensor* dst = buffers.find(b.name);
    ASSERT_NE(dst, nullptr) << "no buffer " << b.name << " in " << to.name();
    ASSERT_EQ(dst->sizes(), b.value.sizes()) << b.name;
    dst->copy_(b.value);
    ++copied;
  }
  EXPECT_EQ(copied, params.size() + buffers.size())
      << to.name() << ": tensors left uncopied";
}

/// make_reference.py's ConvNetOneConv (Captum's BasicModel_ConvNet_One_Conv).
struct ConvNetOneConvImpl : torch::nn::Module {
  ConvNetOneConvImpl()
      : conv1(register_module("conv1", torch::nn::Conv2d(1, 2, 3))),
        relu1(register_module("relu1", torch::nn::ReLU())),
        fc1(register_module("fc1", torch::nn::Linear(8, 4))),
        relu2(register_module("relu2", torch::nn::ReLU())) {}
  torch::Tensor forward(torch::Tensor x) {
    x = relu1(conv1(x));
    return relu2(fc1(x.view({-1, 8})));
  }
  torch::nn::Conv2d conv1;
  torch::nn::ReLU relu1;
  torch::nn::Linear fc1;
  torch::nn::ReLU relu2;
};
TORCH_MODULE(ConvNetOneConv);

/// make_reference.py's ExtraArgs: a tensor, a float and an int argument.
struct ExtraArgsImpl : torch::nn::Module {
  ExtraArgsImpl()
      : fc1(register_module("fc1", torch::nn::Linear(6, 8))),
        fc2(register_module("fc2", torch::nn::Linear(8, 8))),
        fc3(register_module("fc3", torch::nn::Linear(8, 3))) {}
  torch::Tensor forward(
      torch::Tensor x,
      torch::Tensor mask,
      double scale,
      int64_t shift) {
    torch::Tensor h = torch::relu(fc1(x * mask));
    h = torch::relu(fc2(h) + shift);
    return fc3(h) * scale;
  }
  torch::nn::Linear fc1, fc2, fc3;
};
TORCH_MODULE(ExtraArgs);

/// make_reference.py's BatchNorm (float64, eval mode).
struct BatchNormNetImpl : torch::nn::Module {
  BatchNormNetImpl()
      : conv(register_module("conv", torch::nn::Conv2d(2, 4, 3))),
        bn(register_module("bn", torch::nn::BatchNorm2d(4))),
        relu(register_module("relu", torch::nn::ReLU())),
        fc(register_module("fc", torch::nn::Linear(4 * 3 * 3, 3))) {}
  torch::Tensor forward(torch::Tensor x) {
    x = relu(bn(conv(x)));
    return fc(x.flatten(1));
  }
  torch::nn::Conv2d conv;
  torch::nn::BatchNorm2d bn;
  torch::nn::ReLU relu;
  torch::nn::Linear fc;
};
TORCH_MODULE(BatchNormNet);

TEST(ReferenceTest, NnModuleConvNetOneConvMatchesPython) {
  const ReferenceCase c = load_case(GUIDEDBP_REFERENCE_DIR, "convnet_one_conv");
  SCOPED_TRACE("case convnet_one_conv (torch::nn)");
  ConvNetOneConv net;
  copy_weights(c.model, *net);
  net->eval();
  check_all_rules(c, net, "torch::nn", /*rounds=*/1);
}

TEST(ReferenceTest, NnSequentialReluModulesMatchesPython) {
  const ReferenceCase c = load_case(GUIDEDBP_REFERENCE_DIR, "relu_modules");
  SCOPED_TRACE("case relu_modules (torch::nn::Sequential)");
  torch::nn::Sequential net(
      torch::nn::Linear(6, 8),
      torch::nn::ReLU(),
      torch::nn::Linear(8, 8),
      torch::nn::ReLU(),
      torch::nn::Linear(8, 4));
  copy_weights(c.model, *net);
  net->eval();
  check_all_rules(c, net, "torch::nn", /*rounds=*/1);
}

TEST(ReferenceTest, NnModuleExtraArgsMatchesPython) {
  const ReferenceCase c = load_case(GUIDEDBP_REFERENCE_DIR, "extra_args");
  SCOPED_TRACE("case extra_args (torch::nn)");
  ASSERT_EQ(c.extra.size(), 3u);
  ASSERT_TRUE(c.extra[0].isTensor());
  ASSERT_TRUE(c.extra[1].isDouble());
  ASSERT_TRUE(c.extra[2].isInt());
  ExtraArgs net;
  copy_weights(c.model, *net);
  net->eval();
  check_all_rules(c, net.ptr(), "torch::nn", /*rounds=*/1);
}

TEST(ReferenceTest, NnModuleBatchNormMatchesPython) {
  const ReferenceCase c = load_case(GUIDEDBP_REFERENCE_DIR, "batchnorm");
  SCOPED_TRACE("case batchnorm (torch::nn, float64)");
  ASSERT_EQ(c.inputs[0].scalar_type(), torch::kDouble);
  BatchNormNet net;
  net->to(torch::kDouble);
  copy_weights(c.model, *net);
  net->eval();
  check_all_rules(c, net, "torch::nn", /*rounds=*/1);
}

// ---------------------------------------------------------------------------
// torchvision models (data made at test time by the CTest fixture).
// ---------------------------------------------------------------------------

class TorchvisionReferenceTest : public testing::TestWithParam<std::string> {};

TEST_P(TorchvisionReferenceTest, TorchScriptMatchesPython) {
  const fs::path dir(GUIDEDBP_TORCHVISION_DIR);
  for (const std::string suffix : {".model.pt", ".data.pt"}) {
    const fs::path path = dir / (GetParam() + suffix);
    ASSERT_TRUE(fs::exists(path)) << missing_torchvision_message(path);
  }
  const ReferenceCase c = load_case(dir, GetParam());
  SCOPED_TRACE("case " + c.name + " (torchvision, TorchScript)");
  // Deep float32 networks: allow for a different summation order. mobilenet_v2
  // has relu_count 0 (ReLU6 is hardtanh): check_all_rules expects the warning.
  check_all_rules(
      c, c.model, "TorchScript", /*rounds=*/1, /*rtol=*/1e-4, /*atol=*/1e-6);
}

INSTANTIATE_TEST_SUITE_P(
    Torchvision,
    TorchvisionReferenceTest,
    testing::ValuesIn(kTorchvisionCases),
    CaseName());

} // namespace
