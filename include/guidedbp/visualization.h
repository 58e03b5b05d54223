#pragma once

#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace guidedbp {

/// Which attributions a heat map shows, and how they are scaled (Captum's
/// `sign` argument of `visualize_image_attr`).
enum class VisualSign {
  kAll,      ///< Signed values scaled to [-1, 1]; colour map red-white-green.
  kPositive, ///< Positive values only, scaled to [0, 1]; colour map Greens.
  kNegative, ///< Negative values only, magnitudes scaled to [0, 1]; Reds.
  kAbsoluteValue, ///< Magnitudes scaled to [0, 1]; colour map Blues.
};

/// How the scaled attribution is drawn (Captum's `method` argument).
enum class VisualMethod {
  kHeatMap,        ///< The colour map alone.
  kBlendedHeatMap, ///< The colour map at `alpha_overlay` over the gray image.
  kMaskedImage,    ///< The image multiplied by the scaled attribution.
  kAlphaScaling,   ///< The image with the scaled attribution as its alpha,
                   ///< composited over white (matplotlib's axes background).
};

/// The colour maps of Captum's defaults, plus `kGray` for the backdrop of
/// `kBlendedHeatMap`. Each is matplotlib's 256-entry lookup table.
enum class Colormap {
  kRdWhGn, ///< Captum's `LinearSegmentedColormap.from_list("RdWhGn",
           ///< ["red", "white", "green"])`: (1,0,0) -> (1,1,1) -> (0,0.502,0).
  kGreens, ///< matplotlib "Greens" (ColorBrewer, 9 anchors).
  kReds,   ///< matplotlib "Reds" (ColorBrewer, 9 anchors).
  kBlues,  ///< matplotlib "Blues" (ColorBrewer, 9 anchors).
  kGray,   ///< matplotlib "gray": black to white.
};

/// Parses "all", "positive", "negative", "absolute_value" (Captum's names).
/// Throws c10::ValueError listing the accepted names.
VisualSign parse_visual_sign(const std::string& name);
/// Parses "heat_map", "blended_heat_map", "masked_image", "alpha_scaling".
/// Throws c10::ValueError listing the accepted names.
VisualMethod parse_visual_method(const std::string& name);
/// Captum's name of `sign` / `method` ("absolute_value", "heat_map", ...).
std::string to_string(VisualSign sign);
std::string to_string(VisualMethod method);
/// All of Captum's names, in enum order: {"all", "positive", "negative",
/// "absolute_value"} and {"heat_map", "blended_heat_map", "masked_image",
/// "alpha_scaling"} (e.g. for a command line's choices).
std::vector<std::string> visual_sign_names();
std::vector<std::string> visual_method_names();
/// The colour map Captum uses by default for `sign`.
Colormap default_colormap(VisualSign sign);

/// Options of `visualize_image_attr`, with Captum's defaults.
struct VisualizeOptions {
  /// How to draw. Default: `kHeatMap` (Captum's default `"heat_map"`).
  TORCH_ARG(VisualMethod, method) = VisualMethod::kHeatMap;
  /// Which values to show. Default: `kAbsoluteValue` (Captum's default).
  TORCH_ARG(VisualSign, sign) = VisualSign::kAbsoluteValue;
  /// Percent of the attribution mass left above the threshold (and so
  /// clipped to the extreme colour). Default: 2 (Captum's default).
  TORCH_ARG(double, outlier_perc) = 2.0;
  /// Opacity of the heat map in `kBlendedHeatMap`. Default: 0.5 (Captum).
  TORCH_ARG(double, alpha_overlay) = 0.5;
};

// clang-format off
/// The value at which the cumulative sum of the sorted `values` first
/// reaches `percentile` percent of their total (Captum's
/// `_cumulative_sum_threshold`): sort ascending, cumulative sum, return the
/// first sorted value whose cumulative sum is `>= total * percentile / 100`.
///
/// REQUIRES: `values` non-empty, non-negative for a meaningful result;
/// `0 <= percentile <= 100`. Throws c10::ValueError otherwise (empty input,
/// percentile out of range). Sums are taken in double precision.
///
/// Example:
/// ```
/// // sorted 1,2,3,4, cumulative 1,3,6,10; 50% of 10 is first reached at 3.
/// double t = guidedbp::cumulative_sum_threshold(torch::tensor({4., 1., 3., 2.}), 50);
/// // t == 3
/// ```
// clang-format on
double cumulative_sum_threshold(const torch::Tensor& values, double percentile);

// clang-format off
/// Captum's `_normalize_attr`: sums `attribution` (C x H x W, channels
/// first as in torch, or already H x W) over its channels, keeps the values
/// `sign` selects, divides by the `100 - outlier_perc` mass threshold and
/// clips. Returns an H x W float64 tensor in [-1, 1] (`kAll`) or [0, 1]
/// (the other signs; for `kNegative` the magnitudes of the negative values).
///
/// NOTE: Captum warns when the threshold is below 1e-5 in magnitude (the
/// values are then likely all near zero) and asserts when it is exactly 0.
/// Here: a warning (TORCH_WARN) for both, and a threshold of exactly 0 (an
/// all-zero attribution, or no value of the chosen sign) gives all zeros,
/// i.e. a blank map, instead of an error.
/// Throws c10::ValueError for a non-2-D/3-D or empty attribution or
/// `outlier_perc` outside [0, 100]; non-finite values are treated as 0.
///
/// Example:
/// ```
/// torch::Tensor m = guidedbp::normalize_attr(a[0], guidedbp::VisualSign::kAll, 2);
/// ```
// clang-format on
[[nodiscard]] torch::Tensor normalize_attr(
    const torch::Tensor& attribution,
    VisualSign sign,
    double outlier_perc = 2.0);

/// Maps each value of `values` (any shape S) through `colormap` after
/// matplotlib's linear normalisation `(v - vmin) / (vmax - vmin)`, exactly as
/// matplotlib's `Colormap.__call__(..., bytes=True)` does: index
/// `floor(x * 256)` clipped to [0, 255] into a 256-entry table linearly
/// interpolated between the colour map's anchors, each channel converted as
/// `uint8(c * 255)` (truncated). Returns S x 3 uint8 (RGB).
/// REQUIRES: `vmax > vmin`; throws c10::ValueError otherwise.
///
/// Example:
/// ```
/// auto rgb = guidedbp::apply_colormap(m, guidedbp::Colormap::kRdWhGn, -1, 1);
/// ```
[[nodiscard]] torch::Tensor apply_colormap(
    const torch::Tensor& values,
    Colormap colormap,
    double vmin,
    double vmax);

/// The RGB colour (each in [0, 1]) of `colormap` at `x` in [0, 1], from
/// the 256-entry table (`apply_colormap` for one value, before the uint8
/// conversion).
std::vector<double> colormap_rgb(Colormap colormap, double x);

/// Renders `image` (C x H x W with C = 1 or 3, values in [0, 1]; any other
/// range is clipped) as H x W x 3 uint8 the way Captum prepares its
/// `original_image`: `int(v * 255)` clipped to [0, 255]; gray is repeated
/// into R, G and B. Throws c10::ValueError for another shape.
[[nodiscard]] torch::Tensor image_to_rgb(const torch::Tensor& image);

/// Captum's `visualize_image_attr` as an image: returns the H x W x 3 uint8
/// RGB picture that Captum draws into its matplotlib axes (without the axes
/// and colour bar, one pixel per attribution element).
///
/// - `attribution`: C x H x W (or H x W), any floating dtype; summed over C.
/// - `image`: C x H x W (C = 1 or 3) in [0, 1], the input the attribution is
///   of; needed by every method but `kHeatMap` (may be undefined then).
///
/// Per method, with `m` the `normalize_attr` map and `cmap` the sign's
/// default colour map over [-1, 1] (`kAll`) or [0, 1]:
/// - `kHeatMap`: `cmap(m)`.
/// - `kBlendedHeatMap`: `alpha * cmap(m) + (1 - alpha) * gray`, where
///   `gray` is the channel mean of `image` drawn with matplotlib's "gray"
///   colour map autoscaled to its min..max (imshow's default), as Captum
///   does; rounded to nearest.
/// - `kMaskedImage`: `clip(int(image_rgb * m), 0, 255)` (negative `m` -> 0).
/// - `kAlphaScaling`: image_rgb with alpha `int(m * 255)` clipped to
///   [0, 255], composited over white, rounded to nearest.
///
/// NOTE: warns (TORCH_WARN, see `normalize_attr`) for an all-zero
/// attribution and returns a blank map. Throws c10::ValueError for shapes
/// that disagree or a missing image.
///
/// Example:
/// ```
/// torch::Tensor rgb = guidedbp::visualize_image_attr(
///     attribution[0], image[0],
///     guidedbp::VisualizeOptions()
///         .method(guidedbp::VisualMethod::kBlendedHeatMap)
///         .sign(guidedbp::VisualSign::kAll));
/// ```
[[nodiscard]] torch::Tensor visualize_image_attr(
    const torch::Tensor& attribution,
    const torch::Tensor& image,
    const VisualizeOptions& options = {});

} // namespace guidedbp
