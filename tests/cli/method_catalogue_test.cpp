// Unit tests of the method catalogue (torch-free): which command offers which
// method, and the usage errors for options a method does not take.

#include "methods/method_catalogue.h"

#include <gtest/gtest.h>

#include "cli/cli_error.h"

using namespace guidedbp::cli;

namespace {

// The UsageError check_method_options throws ("" when none).
std::string refusal(
    const std::string& method,
    const MethodOptions& options,
    MethodCommand command) {
  try {
    check_method_options(find_method(method, command), options, command);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

MethodOptions with(void (*set)(MethodOptions&)) {
  MethodOptions o;
  set(o);
  return o;
}

} // namespace

TEST(MethodCatalogueTest, EachCommandOffersItsMethods) {
  using V = std::vector<std::string>;
  // attribute and export (with --layer) offer every method.
  const V all = {
      "guided-backprop",
      "deconvolution",
      "saliency",
      "guided-gradcam",
      "neuron-guided-backprop",
      "neuron-deconvolution"};
  EXPECT_EQ(method_names(MethodCommand::kAttribute), all);
  EXPECT_EQ(
      method_names(MethodCommand::kExplain),
      (V{"guided-backprop", "deconvolution", "saliency", "guided-gradcam"}));
  EXPECT_EQ(
      method_names(MethodCommand::kServe),
      (V{"guided-backprop", "deconvolution", "saliency"}));
  EXPECT_EQ(method_names(MethodCommand::kExport), all);
  try {
    find_method("neuron-deconvolution", MethodCommand::kExplain);
    FAIL() << "explain offered a neuron method";
  } catch (const UsageError& e) {
    EXPECT_NE(
        std::string(e.what()).find(
            "expected one of guided-backprop, deconvolution, saliency and "
            "guided-gradcam"),
        std::string::npos)
        << e.what();
  }
}

TEST(MethodCatalogueTest, AbsIsForSaliencyOnly) {
  const MethodOptions abs = with([](MethodOptions& o) { o.abs = true; });
  EXPECT_EQ(refusal("saliency", abs, MethodCommand::kAttribute), "");
  for (const char* m : {"guided-backprop", "guided-gradcam"}) {
    EXPECT_EQ(
        refusal(m, abs, MethodCommand::kExplain),
        "--abs applies to --method saliency only");
  }
}

TEST(MethodCatalogueTest, LayerOptionsNeedALayerMethod) {
  const MethodOptions layer = with([](MethodOptions& o) { o.layer = true; });
  EXPECT_EQ(
      refusal("guided-backprop", layer, MethodCommand::kAttribute),
      "--layer, --interpolate, --neuron and --attribute-to-*-input apply to "
      "--method guided-gradcam, neuron-guided-backprop and "
      "neuron-deconvolution only");
  EXPECT_EQ(
      refusal("saliency", layer, MethodCommand::kExplain),
      "--layer, --interpolate and --gradcam-map apply to --method "
      "guided-gradcam only");
  EXPECT_NE(
      refusal("guided-gradcam", MethodOptions(), MethodCommand::kExplain)
          .find("--method guided-gradcam needs --layer PATH"),
      std::string::npos);
  EXPECT_EQ(refusal("guided-gradcam", layer, MethodCommand::kExplain), "");
}

TEST(MethodCatalogueTest, NeuronMethodsTakeANeuronNotATarget) {
  MethodOptions o;
  o.layer = true;
  EXPECT_NE(
      refusal("neuron-deconvolution", o, MethodCommand::kAttribute)
          .find("needs --neuron SPEC"),
      std::string::npos);
  o.neuron = true;
  EXPECT_EQ(refusal("neuron-deconvolution", o, MethodCommand::kAttribute), "");
  o.target = true;
  EXPECT_NE(
      refusal("neuron-guided-backprop", o, MethodCommand::kAttribute)
          .find("--target does not apply"),
      std::string::npos);
  o.target = false;
  o.interpolate = true;
  EXPECT_EQ(
      refusal("neuron-guided-backprop", o, MethodCommand::kAttribute),
      "--interpolate and --attribute-to-layer-input apply to --method "
      "guided-gradcam only");
  EXPECT_EQ(
      refusal("guided-gradcam", o, MethodCommand::kAttribute),
      "--neuron and --attribute-to-neuron-input apply to --method "
      "neuron-guided-backprop and neuron-deconvolution only");
}
