#pragma once

#include <torch/types.h>

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "io/image_io.h"

namespace guidedbp {
namespace cli {

/// torchvision-like preprocessing of a decoded image, in this order:
/// channels (`grayscale` / `rgb`, else `channels`), `Resize(resize)`,
/// `CenterCrop(crop)`, to float in [0, 1], then `Normalize(mean, std)`.
struct PreprocessOptions {
  /// torchvision's `Resize(size)` on tensors, bilinear with
  /// `align_corners=False`. Empty: no resize. One value N: the shorter side
  /// to N, the longer one scaled to keep the aspect ratio (`Resize(int)`,
  /// truncating like it). Two values H, W: exactly H x W (`Resize((H, W))`).
  std::vector<int64_t> resize;
  /// Resize with antialiasing, torchvision's `Resize(..., antialias=True)`
  /// on tensors (PIL's bilinear resize up to uint8 rounding). false:
  /// `antialias=False`, i.e. plain `F.interpolate` (aliasing when shrinking).
  bool antialias = false;
  /// Square centre crop (torchvision's `CenterCrop(int)`: offset
  /// `round((size - crop) / 2)`, zero padding when the image is smaller).
  /// 0: no crop.
  int64_t crop = 0;
  /// To 1 channel with ITU-R 601-2 luma, torchvision's `rgb_to_grayscale`:
  /// 0.2989 R + 0.587 G + 0.114 B.
  bool grayscale = false;
  /// Gray images to 3 channels (repeated), for models that take RGB.
  bool rgb = false;
  /// The channel count the model takes (1 or 3; model_io.h's
  /// expected_input_channels), used when neither `grayscale` nor `rgb` is
  /// set: gray images are repeated to 3 channels, colour ones converted to
  /// 1 with the luma above, and Preprocessed::notes says so. 0: leave
  /// images as decoded.
  int64_t channels = 0;
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
  /// What was done to the image that the options did not ask for by name,
  /// one note per change: transparency composited over white, gray to RGB
  /// or colour to gray for PreprocessOptions::channels; empty when nothing.
  /// The same few texts recur: a caller prints each distinct note once per
  /// run.
  std::vector<std::string> notes;
};

/// The options the command-line flags ask for (`--normalize imagenet`: mean
/// 0.485,0.456,0.406, std 0.229,0.224,0.225). Throws UsageError for a bad
/// --resize, --grayscale with --rgb, --mean without --std (and the
/// reverse), a zero or non-finite --std or a non-finite --mean. `channels` is
/// left 0: the caller sets it from the model.
PreprocessOptions preprocess_options(const PreprocessArgs& args);

/// The sizes `--resize` takes: "N" gives {N}, "H,W" gives {H, W}, each
/// 1 to 16384. Throws UsageError naming --resize and the expected form.
std::vector<int64_t> parse_resize(const std::string& text);

/// Checks once, before any image, that `mean` and `std` fit the channel count
/// every image is converted to (1 with `grayscale`, 3 with `rgb`, else
/// `channels`; nothing to check when that is 0). Throws UsageError naming
/// the counts.
void check_normalization(const PreprocessOptions& options);

/// Applies `options` to `image`. Throws CliError for a mean/std whose length
/// matches neither 1 nor the channel count, or a zero std.
Preprocessed preprocess(const Image& image, const PreprocessOptions& options);

/// For a model forward error that is a channel mismatch (a convolution's
/// "expected input[1, 1, 224, 224] to have 3 channels, but got 1 channels
/// instead"), one line naming the counts and the option that fixes it
/// (--rgb for 3, --grayscale for 1); "" for any other message. The caller
/// then reports this line instead of the raw error.
std::string channel_mismatch_message(const std::string& error);

/// The one line for a model that fails on preprocessed images (explain and
/// serve): channel_mismatch_message when it is one, else "the model cannot
/// run on " + `what` + " and the model says: " + the model's error line
/// (shortened) + "; " + `fix`.
std::string preprocessed_input_failure(
    const std::exception& error,
    const std::string& what,
    const std::string& fix);

/// An H x W x 3 uint8 tensor (a drawn map, `visualize_image_attr`'s result)
/// as an Image, for encode_png and the panel layout.
Image to_image(const torch::Tensor& rgb);

} // namespace cli
} // namespace guidedbp
