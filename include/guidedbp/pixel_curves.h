#pragma once

#include <guidedbp/attribution.h>
#include <guidedbp/model.h>
#include <guidedbp/target.h>
#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>

namespace guidedbp {

/// Which RISE curve (Petsiuk et al. 2018).
enum class PixelCurve {
  kDeletion,  ///< Remove the most important pixels first (set them to 0).
  kInsertion, ///< Insert them first into a blurred copy of the image.
};

/// Options of `pixel_curve`.
struct PixelCurveOptions {
  /// Pixels changed per step; 0: one row's worth (W). Default: 0.
  TORCH_ARG(int64_t, step) = 0;
  /// Insertion's blur: a Gaussian kernel of this side (RISE's 11) ...
  TORCH_ARG(int64_t, blur_size) = 11;
  /// ... and this sigma (RISE's 5), zero padding. Default: 5.
  TORCH_ARG(double, blur_sigma) = 5.0;
};

/// Curves, one per example.
struct PixelCurveResult {
  /// (N, S + 1): the score after 0, step, 2 step, ... pixels, up to all H*W.
  torch::Tensor curves;
  /// (N): the trapezoid area under each curve, with the x axis normalised
  /// to [0, 1] (RISE's `auc`).
  torch::Tensor auc;
  /// (N): the class whose probability is the score.
  torch::Tensor classes;
};

/// The deletion or insertion curve of saliency maps (RISE, Petsiuk et al.
/// 2018): pixels ordered by the channel-summed map, descending (ties broken
/// by index, lowest first), are removed (deletion: set to 0 in every
/// channel, in the model's input space) or inserted (insertion: copied from
/// `input` into a blurred copy of it) `step` at a time, and the model's
/// softmax probability of the class is recorded after each step. Deletion:
/// a faithful map makes the probability fall fast (low AUC); insertion: rise
/// fast (high AUC).
/// REQUIRES: `input` N x C x H x W; `maps` N x C x H x W or N x H x W; the
/// model returns N x K scores.
/// NOTE: `target` of Kind::kNone means the class predicted on `input`; any
/// other target must select one class per example of the N x K output.
/// Throws c10::ValueError for other shapes.
///
/// Example:
/// ```
/// torch::Tensor maps = guidedbp::GuidedBackprop(model).attribute(x, 3);
/// auto del = guidedbp::pixel_curve(model, x, maps, PixelCurve::kDeletion, 3);
/// ```
[[nodiscard]] PixelCurveResult pixel_curve(
    const Model& model,
    const torch::Tensor& input,
    const torch::Tensor& maps,
    PixelCurve curve,
    const Target& target = Target(),
    const ForwardArgs& additional_forward_args = {},
    const PixelCurveOptions& options = {});

/// The class each example's scores predict on `input` (argmax of the
/// output), as a per-example target.
///
/// Example:
/// ```
/// guidedbp::Target predicted = guidedbp::predicted_classes(model, x);
/// ```
[[nodiscard]] Target predicted_classes(
    const Model& model,
    const torch::Tensor& input,
    const ForwardArgs& additional_forward_args = {});

} // namespace guidedbp
