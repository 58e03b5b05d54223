#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "commands.h"
#include "image_io.h"

namespace guidedbp {
namespace cli {

/// torchvision-like preprocessing of a decoded image, in this order:
/// channels (`grayscale` / `rgb`), `Resize(resize)`, `CenterCrop(crop)`,
/// to float in [0, 1], then `Normalize(mean, std)`.
struct PreprocessOptions {
  /// Shorter side to this many pixels, the longer one scaled to keep the
  /// aspect ratio (torchvision's `Resize(int)`, truncating like it), bilinear
  /// with `align_corners=False` and no antialiasing: torchvision's
  /// `Resize(..., antialias=False)` on tensors, i.e. `F.interpolate`.
  /// 0: no resize.
  int64_t resize = 0;
  /// Square centre crop (torchvision's `CenterCrop(int)`: offset
  /// `round((size - crop) / 2)`, zero padding when the image is smaller).
  /// 0: no crop.
  int64_t crop = 0;
  /// To 1 channel with ITU-R 601-2 luma, torchvision's `rgb_to_grayscale`:
  /// 0.2989 R + 0.587 G + 0.114 B.
  bool grayscale = false;
  /// Gray images to 3 channels (repeated), for models that take RGB.
  bool rgb = false;
  /// Per-channel mean and std (one value for all channels, or one per
  /// channel); empty: no normalisation.
  std::vector<double> mean;
  std::vector<double> std;
};

/// The preprocessed image before normalisation (`pixels`, C x H x W float32
/// in [0, 1], for drawing) and the model input (`input`, 1 x C x H x W).
struct Preprocessed {
  torch::Tensor pixels;
  torch::Tensor input;
};

/// The options the command-line flags ask for (`--normalize imagenet`: mean
/// 0.485,0.456,0.406, std 0.229,0.224,0.225). Throws UsageError for
/// --grayscale with --rgb, or --mean without --std (and the reverse).
PreprocessOptions preprocess_options(const PreprocessArgs& args);

/// Applies `options` to `image`. Throws CliError for a mean/std whose length
/// matches neither 1 nor the channel count, or a zero std.
Preprocessed preprocess(const Image& image, const PreprocessOptions& options);

/// An H x W x 3 uint8 tensor (a drawn map, `visualize_image_attr`'s result)
/// as an Image, for encode_png and the panel layout.
Image to_image(const torch::Tensor& rgb);

} // namespace cli
} // namespace guidedbp
