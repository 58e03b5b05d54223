#include "imaging/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <regex>
#include <string>

#include "cli/cli_error.h"
#include "cli/report.h"
#include "cli/text.h"

namespace guidedbp {
namespace cli {
namespace {

std::vector<double> per_channel(
    const std::vector<double>& values,
    int64_t channels,
    const char* what) {
  if (values.size() == 1) {
    return std::vector<double>(static_cast<size_t>(channels), values[0]);
  }
  if (static_cast<int64_t>(values.size()) != channels) {
    throw CliError(
        std::string("--") + what + " has " + std::to_string(values.size()) +
        " values but the image has " + std::to_string(channels) +
        " channels (give 1 value or one per channel)");
  }
  return values;
}

} // namespace

std::vector<int64_t> parse_resize(const std::string& text) {
  const std::string usage = "--resize " + text +
      ": expected N (shorter side to N pixels) or H,W (exactly H x W), "
      "each 1 to 16384, e.g. --resize 256 or --resize 224,224";
  std::vector<int64_t> sizes;
  for (const std::string& part : split(text, ',')) {
    if (part.empty() || part.size() > 5 ||
        part.find_first_not_of("0123456789") != std::string::npos) {
      throw UsageError(usage);
    }
    const int64_t value = std::stoll(part);
    if (value < 1 || value > 16384) {
      throw UsageError(usage);
    }
    sizes.push_back(value);
  }
  if (sizes.size() > 2) {
    throw UsageError(usage);
  }
  return sizes;
}

PreprocessOptions preprocess_options(const PreprocessArgs& args) {
  if (args.grayscale && args.rgb) {
    throw UsageError("--grayscale and --rgb exclude each other");
  }
  if (args.mean.empty() != args.std.empty()) {
    throw UsageError("--mean and --std go together");
  }
  // Every image would fail the same way: a usage error, said once.
  for (double v : args.std) {
    if (v == 0.0 || !std::isfinite(v)) {
      char text[32];
      std::snprintf(text, sizeof(text), "%g", v);
      throw UsageError(
          std::string("--std ") + text +
          ": std values must be finite and non-zero (a zero std divides by "
          "zero); e.g. --std 0.5, or --normalize imagenet");
    }
  }
  for (double v : args.mean) {
    if (!std::isfinite(v)) {
      throw UsageError("--mean values must be finite numbers");
    }
  }
  PreprocessOptions options;
  if (!args.resize.empty()) {
    options.resize = parse_resize(args.resize);
  }
  options.antialias = args.antialias;
  options.crop = args.center_crop;
  options.grayscale = args.grayscale;
  options.rgb = args.rgb;
  options.mean = args.mean;
  options.std = args.std;
  if (args.normalize == "imagenet") {
    options.mean = {0.485, 0.456, 0.406};
    options.std = {0.229, 0.224, 0.225};
  }
  return options;
}

void check_normalization(const PreprocessOptions& options) {
  const int64_t channels =
      options.grayscale ? 1 : (options.rgb ? 3 : options.channels);
  if (channels <= 0) {
    return; // images stay as decoded: checked per image
  }
  auto check = [channels](const std::vector<double>& values, const char* name) {
    if (values.size() > 1 && static_cast<int64_t>(values.size()) != channels) {
      throw UsageError(
          std::string("--") + name + " has " + std::to_string(values.size()) +
          " values but every image goes to the model with " +
          std::to_string(channels) + " channel" + (channels == 1 ? "" : "s") +
          ": give 1 value or " + std::to_string(channels));
    }
  };
  check(options.mean, "mean");
  check(options.std, "std");
}

Preprocessed preprocess(const Image& image, const PreprocessOptions& options) {
  // H x W x C uint8 -> C x H x W float in [0, 1] (torchvision's ToTensor).
  torch::Tensor x = torch::from_blob(
                        const_cast<uint8_t*>(image.pixels.data()),
                        {image.height, image.width, image.channels},
                        torch::kUInt8)
                        .permute({2, 0, 1})
                        .to(torch::kFloat32)
                        .div(255.0);
  Preprocessed out;
  std::vector<std::string>& notes = out.notes;
  if (image.had_alpha) {
    notes.push_back("image with transparency composited over white");
  }
  const bool to_gray = options.grayscale ||
      (!options.rgb && options.channels == 1 && x.size(0) == 3);
  const bool to_rgb =
      options.rgb || (!options.grayscale && options.channels == 3);
  if (to_gray && x.size(0) == 3) {
    x = (0.2989 * x[0] + 0.587 * x[1] + 0.114 * x[2]).unsqueeze(0);
    if (!options.grayscale) {
      notes.push_back(
          "colour image converted to grayscale (the model takes 1 channel; "
          "--grayscale says so explicitly)");
    }
  }
  if (to_rgb && x.size(0) == 1) {
    x = x.expand({3, x.size(1), x.size(2)});
    if (!options.rgb) {
      notes.push_back(
          "grayscale image converted to RGB (the model takes 3 channels; "
          "--rgb says so explicitly)");
    }
  }
  if (!options.resize.empty()) {
    const int64_t h = x.size(1);
    const int64_t w = x.size(2);
    int64_t oh, ow;
    if (options.resize.size() == 2) {
      oh = options.resize[0];
      ow = options.resize[1];
    } else if (w <= h) {
      ow = options.resize[0];
      oh = static_cast<int64_t>(options.resize[0] * h / static_cast<double>(w));
    } else {
      oh = options.resize[0];
      ow = static_cast<int64_t>(options.resize[0] * w / static_cast<double>(h));
    }
    oh = std::max<int64_t>(oh, 1);
    ow = std::max<int64_t>(ow, 1);
    // Same size: bilinear (with or without antialiasing) is the identity.
    if (oh != h || ow != w) {
      torch::Tensor batch = x.unsqueeze(0).contiguous();
      x = (options.antialias
               ? at::_upsample_bilinear2d_aa(batch, {oh, ow}, false)
               : at::upsample_bilinear2d(batch, {oh, ow}, false))
              .squeeze(0);
    }
  }
  if (options.crop > 0) {
    const int64_t c = options.crop;
    int64_t h = x.size(1);
    int64_t w = x.size(2);
    if (c > h || c > w) {
      // torchvision pads with zeros, left/top getting the smaller half.
      int64_t pad_w = std::max<int64_t>(c - w, 0);
      int64_t pad_h = std::max<int64_t>(c - h, 0);
      torch::Tensor padded =
          torch::zeros({x.size(0), h + pad_h, w + pad_w}, x.options());
      padded.slice(1, pad_h / 2, pad_h / 2 + h)
          .slice(2, pad_w / 2, pad_w / 2 + w)
          .copy_(x);
      x = padded;
      h = x.size(1);
      w = x.size(2);
    }
    // Python's round(): half to even, as std::nearbyint in the default mode.
    int64_t top = static_cast<int64_t>(std::nearbyint((h - c) / 2.0));
    int64_t left = static_cast<int64_t>(std::nearbyint((w - c) / 2.0));
    x = x.slice(1, top, top + c).slice(2, left, left + c);
  }
  out.pixels = x.contiguous();
  torch::Tensor input = out.pixels;
  if (!options.mean.empty() || !options.std.empty()) {
    const int64_t channels = x.size(0);
    std::vector<double> mean = per_channel(options.mean, channels, "mean");
    std::vector<double> std = per_channel(options.std, channels, "std");
    torch::Tensor m = torch::tensor(mean, torch::kFloat64)
                          .to(torch::kFloat32)
                          .view({-1, 1, 1});
    torch::Tensor s = torch::tensor(std, torch::kFloat64)
                          .to(torch::kFloat32)
                          .view({-1, 1, 1});
    for (double v : std) {
      if (v == 0.0 || !std::isfinite(v)) {
        throw CliError("--std values must be finite and non-zero");
      }
    }
    for (double v : mean) {
      if (!std::isfinite(v)) {
        throw CliError("--mean values must be finite");
      }
    }
    input = (input - m) / s;
  }
  out.input = input.unsqueeze(0).contiguous();
  return out;
}

std::string channel_mismatch_message(const std::string& error) {
  // ATen's convolution check, the same text in LibTorch 1.13 and 2.x.
  static const std::regex pattern(
      "expected input\\[[^\\]]*\\] to have ([0-9]+) channels, but got "
      "([0-9]+) channels instead");
  std::smatch match;
  if (!std::regex_search(error, match, pattern)) {
    return "";
  }
  const std::string expected = match[1].str();
  const std::string got = match[2].str();
  std::string line = "the model takes " + expected +
      "-channel input but the image has " + got + " after preprocessing";
  if (expected == "3") {
    return line + ": pass --rgb (gray images to 3 channels), not --grayscale";
  }
  if (expected == "1") {
    return line + ": pass --grayscale (colour images to 1 channel), not --rgb";
  }
  return line +
      ": images give 1 (--grayscale) or 3 (--rgb) channels; this model "
      "needs its own input tensors (guidedbp attribute)";
}

Image to_image(const torch::Tensor& rgb) {
  torch::Tensor t = rgb.contiguous();
  Image image;
  image.height = static_cast<int>(t.size(0));
  image.width = static_cast<int>(t.size(1));
  image.channels = 3;
  image.pixels.assign(t.data_ptr<uint8_t>(), t.data_ptr<uint8_t>() + t.numel());
  return image;
}

std::string preprocessed_input_failure(
    const std::exception& error,
    const std::string& what,
    const std::string& fix) {
  const std::string line = error_line(error);
  const std::string mismatch = channel_mismatch_message(line);
  if (!mismatch.empty()) {
    return mismatch;
  }
  return "the model cannot run on " + what +
      " and the model says: " + limit_length(line, 200) + "; " + fix;
}

} // namespace cli
} // namespace guidedbp
