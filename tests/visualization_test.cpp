// Tests of guidedbp/visualization.h: Captum's visualize_image_attr math on
// hand-computed cases.

#include <gtest/gtest.h>
#include <guidedbp/visualization.h>
#include <torch/torch.h>

#include <string>

#include "test_models.h"

namespace {

using guidedbp::Colormap;
using guidedbp::VisualMethod;
using guidedbp::VisualSign;

std::vector<int> pixel(const torch::Tensor& rgb, int64_t y, int64_t x) {
  return {
      rgb[y][x][0].item<int>(),
      rgb[y][x][1].item<int>(),
      rgb[y][x][2].item<int>()};
}

} // namespace

TEST(VisualizationTest, CumulativeSumThresholdOnTinyArray) {
  // sorted 1 2 3 4, cumulative 1 3 6 10.
  torch::Tensor v = torch::tensor({4.0, 1.0, 3.0, 2.0});
  EXPECT_DOUBLE_EQ(guidedbp::cumulative_sum_threshold(v, 50), 3.0); // 6 >= 5
  EXPECT_DOUBLE_EQ(guidedbp::cumulative_sum_threshold(v, 30), 2.0); // 3 >= 3
  EXPECT_DOUBLE_EQ(guidedbp::cumulative_sum_threshold(v, 98), 4.0); // 10 >= 9.8
  EXPECT_DOUBLE_EQ(guidedbp::cumulative_sum_threshold(v, 0), 1.0);
  EXPECT_THROW(guidedbp::cumulative_sum_threshold(v, 101), c10::ValueError);
  EXPECT_THROW(
      guidedbp::cumulative_sum_threshold(torch::zeros({0}), 50),
      c10::ValueError);
}

TEST(VisualizationTest, NormalizeSumsChannelsAndHandlesSigns) {
  // 2 channels, 1 x 4 pixels; channel sums: -4, 1, 2, 3.
  torch::Tensor a = torch::tensor({-3.0, 0.5, 1.0, 1.0, -1.0, 0.5, 1.0, 2.0})
                        .reshape({2, 1, 4});
  // all: |sum| sorted 1 2 3 4, total 10, 50% -> threshold 3.
  torch::Tensor all =
      guidedbp::normalize_attr(a, VisualSign::kAll, /*outlier_perc=*/50);
  EXPECT_TRUE(torch::allclose(
      all, torch::tensor({{-1.0, 1.0 / 3, 2.0 / 3, 1.0}}).to(torch::kFloat64)));
  // positive: 0 1 2 3, total 6, 50% -> cumulative 0 1 3 -> threshold 2.
  torch::Tensor pos = guidedbp::normalize_attr(a, VisualSign::kPositive, 50);
  EXPECT_TRUE(torch::allclose(
      pos, torch::tensor({{0.0, 0.5, 1.0, 1.0}}).to(torch::kFloat64)));
  // negative: only -4; threshold -4; values -4 / -4 = 1, zeros elsewhere.
  torch::Tensor neg = guidedbp::normalize_attr(a, VisualSign::kNegative, 50);
  EXPECT_TRUE(torch::allclose(
      neg, torch::tensor({{1.0, 0.0, 0.0, 0.0}}).to(torch::kFloat64)));
  // absolute_value: like all, but magnitudes.
  torch::Tensor abs =
      guidedbp::normalize_attr(a, VisualSign::kAbsoluteValue, 50);
  EXPECT_TRUE(torch::allclose(
      abs, torch::tensor({{1.0, 1.0 / 3, 2.0 / 3, 1.0}}).to(torch::kFloat64)));
}

TEST(VisualizationTest, AllZeroAttributionWarnsAndGivesZeros) {
  guidedbp_test::WarningCapture warnings;
  torch::Tensor norm =
      guidedbp::normalize_attr(torch::zeros({3, 2, 2}), VisualSign::kAll);
  EXPECT_TRUE(torch::equal(norm, torch::zeros({2, 2}, torch::kFloat64)));
  std::string all;
  for (const std::string& message : warnings.messages) {
    all += message + "\n";
  }
  EXPECT_NE(all.find("blank"), std::string::npos) << all;
  // A blank RdWhGn map is (almost) white: 0 maps to entry 128 of 256, just
  // past the white anchor, as in matplotlib.
  torch::Tensor rgb = guidedbp::visualize_image_attr(
      torch::zeros({1, 2, 2}),
      torch::Tensor(),
      guidedbp::VisualizeOptions().sign(VisualSign::kAll));
  EXPECT_TRUE(torch::all(rgb >= 250).item<bool>());
  EXPECT_TRUE(torch::all(rgb == rgb[0][0]).item<bool>());
}

TEST(VisualizationTest, ColormapEndpoints) {
  auto at = [](Colormap c, double v, double vmin) {
    return pixel(
        guidedbp::apply_colormap(torch::full({1, 1}, v), c, vmin, 1.0), 0, 0);
  };
  EXPECT_EQ(at(Colormap::kRdWhGn, -1.0, -1.0), (std::vector<int>{255, 0, 0}));
  // 0 is entry floor(0.5 * 256) = 128 of 256, a hair past the white anchor
  // (127.5), so each channel is just below 255 and truncates to 254.
  EXPECT_EQ(
      at(Colormap::kRdWhGn, 0.0, -1.0), (std::vector<int>{254, 254, 254}));
  EXPECT_EQ(at(Colormap::kRdWhGn, 1.0, -1.0), (std::vector<int>{0, 128, 0}));
  // ColorBrewer ends: Blues #f7fbff .. #08306b, Greens #f7fcf5 .. #00441b,
  // Reds #fff5f0 .. #67000d (uint8(c * 255) may truncate by one).
  auto near = [](std::vector<int> got, std::vector<int> want) {
    for (int c = 0; c < 3; ++c) {
      EXPECT_NEAR(got[c], want[c], 1) << c;
    }
  };
  near(at(Colormap::kBlues, 0.0, 0.0), {0xf7, 0xfb, 0xff});
  near(at(Colormap::kBlues, 1.0, 0.0), {0x08, 0x30, 0x6b});
  near(at(Colormap::kGreens, 0.0, 0.0), {0xf7, 0xfc, 0xf5});
  near(at(Colormap::kGreens, 1.0, 0.0), {0x00, 0x44, 0x1b});
  near(at(Colormap::kReds, 0.0, 0.0), {0xff, 0xf5, 0xf0});
  near(at(Colormap::kReds, 1.0, 0.0), {0x67, 0x00, 0x0d});
  near(at(Colormap::kGray, 0.5, 0.0), {128, 128, 128});
  // Out of range values clip to the ends.
  EXPECT_EQ(at(Colormap::kRdWhGn, -5.0, -1.0), (std::vector<int>{255, 0, 0}));
  EXPECT_THROW(
      (void)guidedbp::apply_colormap(torch::zeros({1}), Colormap::kGray, 1, 1),
      c10::ValueError);
}

TEST(VisualizationTest, MethodsOnOnePixelPair) {
  // Two pixels: attributions 1 and 0 (threshold 1), image gray 0.5 and 1.0.
  torch::Tensor attr = torch::tensor({1.0, 0.0}).reshape({1, 1, 2});
  torch::Tensor image = torch::tensor({0.5, 1.0}).reshape({1, 1, 2});
  auto options =
      guidedbp::VisualizeOptions().sign(VisualSign::kPositive).outlier_perc(0);
  // masked_image: int(127 * 1) = 127, int(255 * 0) = 0.
  torch::Tensor masked = guidedbp::visualize_image_attr(
      attr, image, options.method(VisualMethod::kMaskedImage));
  EXPECT_EQ(pixel(masked, 0, 0), (std::vector<int>{127, 127, 127}));
  EXPECT_EQ(pixel(masked, 0, 1), (std::vector<int>{0, 0, 0}));
  // alpha_scaling over white: alpha 255 keeps the pixel, alpha 0 is white.
  torch::Tensor alpha = guidedbp::visualize_image_attr(
      attr, image, options.method(VisualMethod::kAlphaScaling));
  EXPECT_EQ(pixel(alpha, 0, 0), (std::vector<int>{127, 127, 127}));
  EXPECT_EQ(pixel(alpha, 0, 1), (std::vector<int>{255, 255, 255}));
  // blended: gray autoscaled to 0 (black) and 255 (white), half of Greens.
  torch::Tensor blended = guidedbp::visualize_image_attr(
      attr, image, options.method(VisualMethod::kBlendedHeatMap));
  auto green_top = guidedbp::colormap_rgb(Colormap::kGreens, 1.0);
  EXPECT_NEAR(pixel(blended, 0, 0)[1], 0.5 * int(green_top[1] * 255), 1.0);
  EXPECT_THROW(
      (void)guidedbp::visualize_image_attr(attr, torch::Tensor(), options),
      c10::ValueError);
}

TEST(VisualizationTest, ParsesCaptumNames) {
  EXPECT_EQ(
      guidedbp::parse_visual_sign("absolute_value"),
      VisualSign::kAbsoluteValue);
  EXPECT_EQ(
      guidedbp::parse_visual_method("blended_heat_map"),
      VisualMethod::kBlendedHeatMap);
  EXPECT_EQ(guidedbp::to_string(VisualSign::kNegative), "negative");
  EXPECT_THROW(guidedbp::parse_visual_sign("both"), c10::ValueError);
  EXPECT_THROW(guidedbp::parse_visual_method("heatmap"), c10::ValueError);
  // The name lists (the CLI's choices) are Captum's names, each parsing back.
  EXPECT_EQ(
      guidedbp::visual_sign_names(),
      (std::vector<std::string>{
          "all", "positive", "negative", "absolute_value"}));
  EXPECT_EQ(
      guidedbp::visual_method_names(),
      (std::vector<std::string>{
          "heat_map", "blended_heat_map", "masked_image", "alpha_scaling"}));
  for (const std::string& name : guidedbp::visual_sign_names()) {
    EXPECT_EQ(guidedbp::to_string(guidedbp::parse_visual_sign(name)), name);
  }
  for (const std::string& name : guidedbp::visual_method_names()) {
    EXPECT_EQ(guidedbp::to_string(guidedbp::parse_visual_method(name)), name);
  }
}
