// Unit tests of explain's and serve's image preprocessing (resize sizes and
// antialiasing, channel conversion and its notes) and of the model's expected
// channel count, against hand-computed values. The comparison with
// torchvision itself is end-to-end: cli_test.py --area preprocess.

#include "imaging/preprocess.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/cli_error.h"
#include "io/model_io.h"

using guidedbp::cli::channel_mismatch_message;
using guidedbp::cli::expected_input_channels;
using guidedbp::cli::Image;
using guidedbp::cli::parse_resize;
using guidedbp::cli::preprocess;
using guidedbp::cli::preprocess_options;
using guidedbp::cli::PreprocessArgs;
using guidedbp::cli::Preprocessed;
using guidedbp::cli::PreprocessOptions;
using guidedbp::cli::UsageError;

namespace {

Image make_image(int height, int width, std::vector<uint8_t> pixels) {
  Image image;
  image.height = height;
  image.width = width;
  image.channels =
      static_cast<int>(pixels.size() / (size_t(height) * size_t(width)));
  image.pixels = std::move(pixels);
  return image;
}

std::vector<float> values(const torch::Tensor& t) {
  torch::Tensor c = t.contiguous();
  return std::vector<float>(
      c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

} // namespace

TEST(PreprocessTest, ResizeSpellings) {
  EXPECT_EQ(parse_resize("256"), std::vector<int64_t>({256}));
  EXPECT_EQ(parse_resize("224,320"), std::vector<int64_t>({224, 320}));
  EXPECT_EQ(parse_resize("1,16384"), std::vector<int64_t>({1, 16384}));
  for (const char* bad :
       {"",
        "0",
        "-1",
        "+5",
        " 5",
        "5 ",
        "a",
        "1.5",
        "16385",
        "1,2,3",
        ",",
        "224,",
        ",224",
        "99999999999999999999",
        "3,0"}) {
    try {
      parse_resize(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const UsageError& e) {
      const std::string message = e.what();
      EXPECT_EQ(
          message.find("--resize " + std::string(bad) + ": expected N"), 0u)
          << message;
      EXPECT_NE(message.find("--resize 224,224"), std::string::npos);
      EXPECT_EQ(message.find('\n'), std::string::npos);
    }
  }
  PreprocessArgs args;
  EXPECT_TRUE(preprocess_options(args).resize.empty());
  EXPECT_FALSE(preprocess_options(args).antialias);
  args.resize = "7,9";
  args.antialias = true;
  EXPECT_EQ(preprocess_options(args).resize, std::vector<int64_t>({7, 9}));
  EXPECT_TRUE(preprocess_options(args).antialias);
  EXPECT_EQ(preprocess_options(args).channels, 0);
}

// A 1 x 4 row 0, 70, 140, 210 halved to 1 x 2. Plain bilinear
// (align_corners=False) samples at 0.5 and 2.5: 35, 175. Antialiased
// (PIL's and ATen's separable triangle filter widened by the scale 2):
// output 0 is centred at 1.0 with support 2, taps 0..2 weighted
// 0.75, 0.75, 0.25 (normalised: 3/7, 3/7, 1/7) -> 50; output 1, centred at
// 3.0, taps 1..3 weighted 1/7, 3/7, 3/7 -> 160. The height stays 1.
TEST(PreprocessTest, AntialiasedResizeIsTheWidenedTriangleFilter) {
  const Image row = make_image(1, 4, {0, 70, 140, 210});
  PreprocessOptions options;
  options.resize = {1, 2};
  Preprocessed plain = preprocess(row, options);
  ASSERT_EQ(plain.pixels.sizes(), torch::IntArrayRef({1, 1, 2}));
  EXPECT_NEAR(values(plain.pixels)[0], 35 / 255.0, 1e-6);
  EXPECT_NEAR(values(plain.pixels)[1], 175 / 255.0, 1e-6);
  options.antialias = true;
  Preprocessed smooth = preprocess(row, options);
  ASSERT_EQ(smooth.pixels.sizes(), torch::IntArrayRef({1, 1, 2}));
  EXPECT_NEAR(values(smooth.pixels)[0], 50 / 255.0, 1e-6);
  EXPECT_NEAR(values(smooth.pixels)[1], 160 / 255.0, 1e-6);
  EXPECT_TRUE(smooth.notes.empty());
  // Upsampling: the filter is not widened, antialiasing changes nothing.
  options.resize = {1, 8};
  EXPECT_TRUE(torch::allclose(
      preprocess(row, options).pixels,
      [&] {
        PreprocessOptions p = options;
        p.antialias = false;
        return preprocess(row, p).pixels;
      }(),
      0,
      1e-6));
}

TEST(PreprocessTest, ResizeToExactHeightAndWidth) {
  // 3 x 6 to shorter side 2 keeps the ratio (2 x 4); "2,5" is exactly 2 x 5.
  const Image image = make_image(3, 6, std::vector<uint8_t>(18, 90));
  PreprocessOptions options;
  options.resize = {2};
  EXPECT_EQ(
      preprocess(image, options).input.sizes(),
      torch::IntArrayRef({1, 1, 2, 4}));
  options.resize = {2, 5};
  Preprocessed out = preprocess(image, options);
  EXPECT_EQ(out.input.sizes(), torch::IntArrayRef({1, 1, 2, 5}));
  // A constant image stays constant whatever the filter.
  EXPECT_TRUE(torch::allclose(
      out.pixels, torch::full({1, 2, 5}, 90 / 255.0f), 0, 1e-6));
  options.antialias = true;
  EXPECT_TRUE(torch::allclose(
      preprocess(image, options).pixels,
      torch::full({1, 2, 5}, 90 / 255.0f),
      0,
      1e-6));
}

TEST(PreprocessTest, ConvertsChannelsToWhatTheModelTakes) {
  const Image gray = make_image(1, 2, {10, 200});
  const Image rgb = make_image(1, 1, {100, 50, 200});
  PreprocessOptions options;
  // 0: as decoded, nothing said.
  EXPECT_EQ(preprocess(gray, options).input.size(1), 1);
  EXPECT_EQ(preprocess(rgb, options).input.size(1), 3);
  EXPECT_TRUE(preprocess(gray, options).notes.empty());

  options.channels = 3;
  Preprocessed to_rgb = preprocess(gray, options);
  ASSERT_EQ(to_rgb.input.sizes(), torch::IntArrayRef({1, 3, 1, 2}));
  EXPECT_EQ(
      values(to_rgb.pixels),
      std::vector<float>(
          {10 / 255.f,
           200 / 255.f,
           10 / 255.f,
           200 / 255.f,
           10 / 255.f,
           200 / 255.f}));
  EXPECT_EQ(
      to_rgb.notes,
      std::vector<std::string>(
          {"grayscale image converted to RGB (the model takes 3 channels; "
           "--rgb says so explicitly)"}));
  EXPECT_TRUE(preprocess(rgb, options).notes.empty());

  options.channels = 1;
  Preprocessed to_gray = preprocess(rgb, options);
  ASSERT_EQ(to_gray.input.sizes(), torch::IntArrayRef({1, 1, 1, 1}));
  // ITU-R 601-2 luma, by hand: 0.2989 * 100 + 0.587 * 50 + 0.114 * 200.
  EXPECT_NEAR(values(to_gray.pixels)[0], 82.04 / 255, 1e-6);
  EXPECT_EQ(
      to_gray.notes,
      std::vector<std::string>(
          {"colour image converted to grayscale (the model takes 1 channel; "
           "--grayscale says so explicitly)"}));
  EXPECT_TRUE(preprocess(gray, options).notes.empty());

  // The explicit flags win over the model and are not reported.
  options.channels = 3;
  options.grayscale = true;
  Preprocessed asked = preprocess(rgb, options);
  EXPECT_EQ(asked.input.size(1), 1);
  EXPECT_TRUE(asked.notes.empty());
  EXPECT_EQ(preprocess(gray, options).input.size(1), 1);
  options.grayscale = false;
  options.rgb = true;
  options.channels = 1;
  EXPECT_EQ(preprocess(gray, options).input.size(1), 3);
  EXPECT_TRUE(preprocess(gray, options).notes.empty());
  EXPECT_EQ(preprocess(rgb, options).input.size(1), 3);
}

TEST(PreprocessTest, ReportsTransparencyAsItsOwnNote) {
  Image rgba = make_image(1, 1, {255, 255, 255});
  rgba.had_alpha = true;
  PreprocessOptions options;
  EXPECT_EQ(
      preprocess(rgba, options).notes,
      std::vector<std::string>(
          {"image with transparency composited over white"}));
  options.channels = 1;
  EXPECT_EQ(
      preprocess(rgba, options).notes,
      std::vector<std::string>(
          {"image with transparency composited over white",
           "colour image converted to grayscale (the model takes 1 channel; "
           "--grayscale says so explicitly)"}));
}

TEST(PreprocessTest, ExpectedInputChannelsIsTheFirstFourDimensionalWeight) {
  torch::jit::Module none("NoParameters");
  EXPECT_FALSE(expected_input_channels(none).has_value());

  // Own parameters first, then submodules in registration order; a 2-D
  // weight is skipped.
  torch::jit::Module conv("Conv");
  conv.register_parameter("weight", torch::zeros({8, 1, 3, 3}), false);
  conv.register_parameter("bias", torch::zeros({8}), false);
  torch::jit::Module later("Later");
  later.register_parameter("weight", torch::zeros({4, 3, 3, 3}), false);
  torch::jit::Module model("Model");
  model.register_parameter("scale", torch::ones({2, 2}), false);
  model.register_module("conv", conv);
  model.register_module("later", later);
  ASSERT_TRUE(expected_input_channels(model).has_value());
  EXPECT_EQ(*expected_input_channels(model), 1);
  EXPECT_EQ(*expected_input_channels(later), 3);

  // A first 4-D weight taking 2 channels: unknown, even if a later one
  // takes 3.
  torch::jit::Module two("Two");
  two.register_parameter("weight", torch::zeros({4, 2, 3, 3}), false);
  two.register_module("later", later);
  EXPECT_FALSE(expected_input_channels(two).has_value());
  // Buffers are not parameters.
  torch::jit::Module buffer("Buffer");
  buffer.register_buffer("kernel", torch::zeros({4, 1, 3, 3}));
  EXPECT_FALSE(expected_input_channels(buffer).has_value());
}

TEST(PreprocessTest, ChannelMismatchMessageNamesTheOption) {
  // ATen's text, as a TorchScript interpreter error ends with it.
  const std::string conv =
      "The following operation failed in the TorchScript interpreter.\n"
      "Traceback of TorchScript (most recent call last):\n"
      "RuntimeError: Given groups=1, weight of size [2, 3, 3, 3], expected "
      "input[1, 1, 5, 5] to have 3 channels, but got 1 channels instead\n";
  EXPECT_EQ(
      channel_mismatch_message(conv),
      "the model takes 3-channel input but the image has 1 after "
      "preprocessing: "
      "pass --rgb (gray images to 3 channels), not --grayscale");
  EXPECT_EQ(
      channel_mismatch_message(
          "Given groups=1, weight of size [2, 1, 3, 3], expected input[1, 3, "
          "5, 5] to have 1 channels, but got 3 channels instead"),
      "the model takes 1-channel input but the image has 3 after "
      "preprocessing: "
      "pass --grayscale (colour images to 1 channel), not --rgb");
  const std::string other = channel_mismatch_message(
      "Given groups=1, weight of size [2, 2, 3, 3], expected input[1, 3, 5, "
      "5] to have 2 channels, but got 3 channels instead");
  EXPECT_EQ(
      other.find("the model takes 2-channel input but the image has 3"), 0u)
      << other;
  EXPECT_NE(other.find("guidedbp attribute"), std::string::npos) << other;
  EXPECT_EQ(
      channel_mismatch_message(
          "mat1 and mat2 shapes cannot be multiplied (1x98 and 18x4)"),
      "");
}
