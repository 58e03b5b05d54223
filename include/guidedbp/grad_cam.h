#pragma once

#include <guidedbp/attribution.h>
#include <guidedbp/model.h>
#include <guidedbp/target.h>
#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace guidedbp {

namespace detail {
class LayerForwards;
} // namespace detail

/// How a Grad-CAM map is upsampled to an input's size: the modes of
/// `torch.nn.functional.interpolate` (align_corners false, as Captum calls it).
enum class InterpolateMode {
  kNearest,   ///< any map (Captum's default)
  kLinear,    ///< 3-D maps (N, 1, L) only
  kBilinear,  ///< 4-D maps (N, 1, H, W) only
  kBicubic,   ///< 4-D maps only
  kTrilinear, ///< 5-D maps only
  kArea,      ///< adaptive average pooling, any map
};

/// "nearest", "linear", "bilinear", "bicubic", "trilinear" or "area".
const char* interpolate_mode_name(InterpolateMode mode);

/// Upsamples a layer attribution (N, C, d1, ..., dk) to spatial `size`
/// (k values) as Captum's `LayerAttribution.interpolate` does.
/// Throws c10::ValueError when `size` does not have k values or the mode does
/// not fit the map's dimensions.
[[nodiscard]] torch::Tensor interpolate(
    const torch::Tensor& layer_attribution,
    at::IntArrayRef size,
    InterpolateMode mode = InterpolateMode::kNearest);

/// Options of `LayerGradCam::attribute` and its other entry points.
struct LayerGradCamOptions {
  /// Attribute to the layer's input instead of its output. Default: false.
  TORCH_ARG(bool, attribute_to_layer_input) = false;
  /// Apply a ReLU to the map (Grad-CAM as published). Default: false, as
  /// Captum's `relu_attributions=False`.
  TORCH_ARG(bool, relu_attributions) = false;
};

/// What one `LayerGradCam::attribute_targets` call computed, all from its one
/// forward pass.
struct LayerGradCamResult {
  /// `attributions[k]`: the layer's map for target k, as `attribute` returns
  /// it.
  std::vector<torch::Tensor> attributions;
  /// The model's output for the inputs, detached from the graph.
  torch::Tensor output;
};

/// Grad-CAM (Selvaraju et al., 2017) of one layer: the layer's activations
/// weighted by their gradient averaged over the spatial dimensions (dims 2..;
/// none for a 2-D layer), summed over channels (dim 1, kept with size 1).
/// Gradients are plain (no ReLU is overridden).
///
/// The layer is its dotted `named_modules()` path: "layer4",
/// "layer3.1.conv2", "features.18". TorchScript modules (scripted or traced)
/// are read from their graph; `torch::nn::Sequential` paths run child by
/// child; other C++ modules and functions mark the layer with
/// `guidedbp::layer_output` (see guidedbp/layer.h). A module called several
/// times counts by its last call, as in Captum.
///
/// REQUIRES: the layer yields one tensor (else c10::ValueError).
/// Throws c10::ValueError for an unknown path (the message lists nearby
/// names), and what `GuidedBackprop::attribute` throws for inputs and
/// targets. NOTE: Nothing is left on the model; threads may share an object.
///
/// Captum: `captum.attr.LayerGradCam(model, layer).attribute(inputs, target,
/// additional_forward_args, attribute_to_layer_input, relu_attributions)`.
///
/// Example:
/// ```
/// guidedbp::LayerGradCam cam(torch::jit::load("resnet18.pt"), "layer4");
/// torch::Tensor map = cam.attribute(images, /*target=*/3); // (N, 1, 7, 7)
/// ```
class LayerGradCam {
 public:
  LayerGradCam(Model model, std::string layer);

  /// The map of the layer, shape (N, 1, d1, ..., dk) for a layer output of
  /// shape (N, C, d1, ..., dk).
  [[nodiscard]] torch::Tensor attribute(
      const torch::Tensor& input,
      const Target& target = Target(),
      const ForwardArgs& additional_forward_args = {},
      const LayerGradCamOptions& options = {}) const;

  [[nodiscard]] torch::Tensor attribute(
      const std::vector<torch::Tensor>& inputs,
      const Target& target = Target(),
      const ForwardArgs& additional_forward_args = {},
      const LayerGradCamOptions& options = {}) const;

  /// The maps for K targets from ONE forward pass (one backward pass to the
  /// layer per target), with the model's output. `attributions[k]` equals
  /// `attribute(inputs, targets[k], ...)`.
  ///
  /// Throws c10::ValueError for an empty `targets`, and what `attribute`
  /// throws.
  ///
  /// Example:
  /// ```
  /// auto r = cam.attribute_targets({x}, {0, 1, 2}); // r.attributions[k]
  /// ```
  [[nodiscard]] LayerGradCamResult attribute_targets(
      const std::vector<torch::Tensor>& inputs,
      const std::vector<Target>& targets,
      const ForwardArgs& additional_forward_args = {},
      const LayerGradCamOptions& options = {}) const;

  /// As `attribute_targets`, with the targets chosen by `choose` from the
  /// model's output of the same forward pass (e.g. the predicted class).
  /// Errors thrown by `choose` propagate; nothing is left behind.
  ///
  /// Example:
  /// ```
  /// auto r = cam.attribute_chosen_targets({x}, [](const torch::Tensor& out) {
  ///   return std::vector<guidedbp::Target>{out.argmax(1)}; // predicted
  /// });
  /// ```
  [[nodiscard]] LayerGradCamResult attribute_chosen_targets(
      const std::vector<torch::Tensor>& inputs,
      const ChooseTargets& choose,
      const ForwardArgs& additional_forward_args = {},
      const LayerGradCamOptions& options = {}) const;

  const Model& model() const {
    return model_;
  }
  const std::string& layer() const {
    return layer_;
  }

 private:
  friend class GuidedGradCam;
  LayerGradCam(Model model, std::string layer, const char* who);

  Model model_;
  std::string layer_;
  // Built once per object: building a TorchScript layer graph costs about as
  // much as a forward pass.
  std::shared_ptr<const detail::LayerForwards> forwards_;
};

/// Options of `GuidedGradCam::attribute` and its other entry points.
struct GuidedGradCamOptions {
  /// How the Grad-CAM map is upsampled to each input. Default: kNearest.
  TORCH_ARG(InterpolateMode, interpolate_mode) = InterpolateMode::kNearest;
  /// Grad-CAM of the layer's input instead of its output. Default: false.
  TORCH_ARG(bool, attribute_to_layer_input) = false;
};

/// What `GuidedGradCam::attribute_with_map` returns.
struct GuidedGradCamResult {
  /// One per input: Guided Backprop times the upsampled map; an empty tensor
  /// (numel 0) for an input that cannot take the map (see `attribute`).
  std::vector<torch::Tensor> attributions;
  /// The layer's Grad-CAM map with ReLU, (N, 1, d1, ..., dk), before
  /// upsampling.
  torch::Tensor grad_cam;
  /// The model's output of this forward pass (detached).
  torch::Tensor output;
  /// ReLU applications overridden by the Guided Backprop part.
  int64_t relu_count = 0;
};

/// What one `GuidedGradCam::attribute_targets` call computed, all from its
/// one forward pass: `attributions[k][i]` is input i's attribution for target
/// k (an empty tensor where input i cannot take the map, without a warning:
/// the caller decides), `output` the model's output and `relu_count` the
/// ReLU applications the Guided Backprop passes overrode; with each target's
/// Grad-CAM map.
struct GuidedGradCamTargetsResult : AttributionResult {
  /// `grad_cams[k]`: the layer's Grad-CAM map with ReLU for target k,
  /// (N, 1, d1, ..., dk), before upsampling.
  std::vector<torch::Tensor> grad_cams;
};

/// Guided Grad-CAM (Selvaraju et al., 2017): the Guided Backprop attribution
/// of each input times the layer's Grad-CAM map (with ReLU), upsampled to the
/// input's spatial size. Both come from ONE forward pass: a plain backward
/// pass to the layer, then the guided one to the inputs. Every ReLU is
/// overridden, as in `GuidedBackprop` (Captum overrides `nn.ReLU` modules
/// only: the results agree on models whose ReLUs are all modules).
///
/// Inputs whose dimensions cannot take the map (dim different from the map's,
/// e.g. a 2-D input beside an image, or a mode that does not fit): Captum
/// warns and returns an empty tensor for them; so does the multi-input
/// `attribute` (TORCH_WARN, `numel() == 0`). The one-input `attribute`
/// throws c10::ValueError instead, since an empty result is never useful
/// there.
///
/// Captum: `captum.attr.GuidedGradCam(model, layer).attribute(inputs, target,
/// additional_forward_args, interpolate_mode, attribute_to_layer_input)`.
///
/// Example:
/// ```
/// guidedbp::GuidedGradCam ggc(torch::jit::load("resnet18.pt"), "layer4");
/// torch::Tensor a = ggc.attribute(images, /*target=*/3,
///     {}, guidedbp::GuidedGradCamOptions().interpolate_mode(
///             guidedbp::InterpolateMode::kBilinear));
/// ```
class GuidedGradCam {
 public:
  GuidedGradCam(Model model, std::string layer);

  [[nodiscard]] torch::Tensor attribute(
      const torch::Tensor& input,
      const Target& target = Target(),
      const ForwardArgs& additional_forward_args = {},
      const GuidedGradCamOptions& options = {}) const;

  [[nodiscard]] std::vector<torch::Tensor> attribute(
      const std::vector<torch::Tensor>& inputs,
      const Target& target = Target(),
      const ForwardArgs& additional_forward_args = {},
      const GuidedGradCamOptions& options = {}) const;
  /// A braced list of inputs: `attribute({x}, t)` is a list of one input and
  /// returns a vector, as for `GuidedBackprop`.
  [[nodiscard]] std::vector<torch::Tensor> attribute(
      std::initializer_list<torch::Tensor> inputs,
      const Target& target = Target(),
      const ForwardArgs& additional_forward_args = {},
      const GuidedGradCamOptions& options = {}) const {
    return attribute(
        std::vector<torch::Tensor>(inputs),
        target,
        additional_forward_args,
        options);
  }

  /// As the multi-input `attribute`, also returning the Grad-CAM map (for
  /// drawing it), the model's output and the ReLU count. An input that cannot
  /// take the map gets an empty tensor without a warning: the caller decides.
  [[nodiscard]] GuidedGradCamResult attribute_with_map(
      const std::vector<torch::Tensor>& inputs,
      const Target& target = Target(),
      const ForwardArgs& additional_forward_args = {},
      const GuidedGradCamOptions& options = {}) const;

  /// Attributions of the same inputs for K targets from ONE forward pass: K
  /// plain backward passes to the layer, then K guided ones to the inputs
  /// (the graph kept in between), with each target's map, the model's output
  /// and the ReLU count. `attributions[k]` and `grad_cams[k]` equal what
  /// `attribute_with_map(inputs, targets[k], ...)` returns.
  ///
  /// Throws c10::ValueError for an empty `targets`, and what `attribute`
  /// throws.
  ///
  /// Example:
  /// ```
  /// auto r = ggc.attribute_targets({x}, {0, 1, 2}); // r.attributions[k][0]
  /// ```
  [[nodiscard]] GuidedGradCamTargetsResult attribute_targets(
      const std::vector<torch::Tensor>& inputs,
      const std::vector<Target>& targets,
      const ForwardArgs& additional_forward_args = {},
      const GuidedGradCamOptions& options = {}) const;

  /// As `attribute_targets`, with the targets chosen by `choose` from the
  /// model's output of the same forward pass (e.g. the predicted class, or
  /// the top k), as `GuidedBackprop::attribute_chosen_targets` does. Errors
  /// thrown by `choose` propagate; nothing is left behind.
  ///
  /// Example:
  /// ```
  /// auto r = ggc.attribute_chosen_targets({x}, [](const torch::Tensor& out) {
  ///   return std::vector<guidedbp::Target>{out.argmax(1)}; // predicted
  /// });
  /// torch::Tensor map = r.grad_cams[0]; // (N, 1, h, w)
  /// ```
  [[nodiscard]] GuidedGradCamTargetsResult attribute_chosen_targets(
      const std::vector<torch::Tensor>& inputs,
      const ChooseTargets& choose,
      const ForwardArgs& additional_forward_args = {},
      const GuidedGradCamOptions& options = {}) const;

  const Model& model() const {
    return grad_cam_.model();
  }
  const std::string& layer() const {
    return grad_cam_.layer();
  }

 private:
  LayerGradCam grad_cam_;
};

} // namespace guidedbp
