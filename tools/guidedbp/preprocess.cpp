#include "preprocess.h"

#include <cmath>
#include <string>

#include "cli_error.h"

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

PreprocessOptions preprocess_options(const PreprocessArgs& args) {
  if (args.grayscale && args.rgb) {
    throw UsageError("--grayscale and --rgb exclude each other");
  }
  if (args.mean.empty() != args.std.empty()) {
    throw UsageError("--mean and --std go together");
  }
  PreprocessOptions options;
  options.resize = args.resize;
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

Preprocessed preprocess(const Image& image, const PreprocessOptions& options) {
  // H x W x C uint8 -> C x H x W float in [0, 1] (torchvision's ToTensor).
  torch::Tensor x = torch::from_blob(
                        const_cast<uint8_t*>(image.pixels.data()),
                        {image.height, image.width, image.channels},
                        torch::kUInt8)
                        .permute({2, 0, 1})
                        .to(torch::kFloat32)
                        .div(255.0);
  if (options.grayscale && x.size(0) == 3) {
    x = (0.2989 * x[0] + 0.587 * x[1] + 0.114 * x[2]).unsqueeze(0);
  }
  if (options.rgb && x.size(0) == 1) {
    x = x.expand({3, x.size(1), x.size(2)});
  }
  if (options.resize > 0) {
    const int64_t h = x.size(1);
    const int64_t w = x.size(2);
    int64_t oh, ow;
    if (w <= h) {
      ow = options.resize;
      oh = static_cast<int64_t>(options.resize * h / static_cast<double>(w));
    } else {
      oh = options.resize;
      ow = static_cast<int64_t>(options.resize * w / static_cast<double>(h));
    }
    oh = std::max<int64_t>(oh, 1);
    ow = std::max<int64_t>(ow, 1);
    if (oh != h || ow != w) {
      x = at::upsample_bilinear2d(x.unsqueeze(0).contiguous(), {oh, ow}, false)
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
  Preprocessed out;
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

Image to_image(const torch::Tensor& rgb) {
  torch::Tensor t = rgb.contiguous();
  Image image;
  image.height = static_cast<int>(t.size(0));
  image.width = static_cast<int>(t.size(1));
  image.channels = 3;
  image.pixels.assign(t.data_ptr<uint8_t>(), t.data_ptr<uint8_t>() + t.numel());
  return image;
}

} // namespace cli
} // namespace guidedbp
