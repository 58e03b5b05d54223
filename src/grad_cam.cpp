#include <c10/util/Exception.h>
#include <guidedbp/grad_cam.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/nn/functional/upsampling.h>

#include <string>
#include <utility>

#include "detail/attribution_steps.h"
#include "detail/layer_forward.h"
#include "detail/relu_override.h"

namespace guidedbp {
namespace {

constexpr const char* kLayerGradCam = "LayerGradCam";
constexpr const char* kGuidedGradCam = "GuidedGradCam";

// The map of one layer tensor from its activations and plain gradient.
torch::Tensor grad_cam_map(
    const torch::Tensor& activations,
    const torch::Tensor& gradient,
    bool relu) {
  torch::Tensor weights = gradient;
  if (gradient.dim() > 2) {
    std::vector<int64_t> spatial;
    for (int64_t d = 2; d < gradient.dim(); ++d) {
      spatial.push_back(d);
    }
    weights = gradient.mean(spatial, /*keepdim=*/true);
  }
  torch::Tensor map = (weights * activations.detach()).sum(1, /*keepdim=*/true);
  return relu ? torch::relu(map) : map;
}

// The layer's one tensor, as (N, C, ...) activations that depend on the
// inputs.
torch::Tensor layer_activations(
    const detail::LayerRun& run,
    const std::string& layer,
    bool layer_input,
    const char* who) {
  const torch::Tensor& a = detail::single_layer_tensor(
      run.layer,
      layer,
      layer_input,
      who,
      "Grad-CAM needs one (Captum: not supported for layers with multiple "
      "inputs / outputs)");
  TORCH_CHECK_VALUE(
      a.dim() >= 2 && a.requires_grad(),
      who,
      ": layer '",
      layer,
      "' gives a tensor of shape ",
      a.sizes(),
      a.requires_grad() ? "" : " that does not depend on the inputs",
      "; Grad-CAM needs (N, C, ...) activations computed from the inputs");
  return a;
}

// One forward pass and the plain gradient of the selected output at the
// layer; the caller holds the AttributionModeGuard for both passes.
struct LayerPass {
  std::vector<torch::Tensor> leaves;
  torch::Tensor output;
  torch::Tensor selected;
  torch::Tensor activations;
  torch::Tensor gradient;
};

LayerPass layer_pass(
    const detail::LayerForward& layer_forward,
    const Model& model,
    const std::vector<torch::Tensor>& inputs,
    const Target& target,
    const ForwardArgs& additional_forward_args,
    bool layer_input,
    bool keep_graph,
    const char* who) {
  LayerPass pass;
  pass.leaves = detail::make_leaves(inputs);
  detail::LayerRun run = layer_forward.run(
      detail::forward_arguments(pass.leaves, additional_forward_args));
  pass.output = detail::output_tensor(run.output, model, who);
  pass.activations =
      layer_activations(run, layer_forward.path(), layer_input, who);
  pass.selected = target.select(pass.output);
  pass.gradient = torch::autograd::grad(
      {pass.selected},
      {pass.activations},
      {torch::ones_like(pass.selected)},
      /*retain_graph=*/keep_graph,
      /*create_graph=*/false,
      /*allow_unused=*/true)[0];
  if (!pass.gradient.defined()) {
    pass.gradient = torch::zeros_like(pass.activations);
  }
  return pass;
}

} // namespace

const char* interpolate_mode_name(InterpolateMode mode) {
  switch (mode) {
    case InterpolateMode::kNearest:
      return "nearest";
    case InterpolateMode::kLinear:
      return "linear";
    case InterpolateMode::kBilinear:
      return "bilinear";
    case InterpolateMode::kBicubic:
      return "bicubic";
    case InterpolateMode::kTrilinear:
      return "trilinear";
    case InterpolateMode::kArea:
      return "area";
  }
  return "?";
}

torch::Tensor interpolate(
    const torch::Tensor& layer_attribution,
    at::IntArrayRef size,
    InterpolateMode mode) {
  namespace F = torch::nn::functional;
  const int64_t dims = layer_attribution.dim() - 2;
  TORCH_CHECK_VALUE(
      dims >= 1 && dims <= 3 && static_cast<int64_t>(size.size()) == dims,
      "interpolate: a map of shape ",
      layer_attribution.sizes(),
      " has ",
      dims,
      " spatial dimension(s), but the target size ",
      size,
      " has ",
      size.size(),
      "; maps need 1 to 3 spatial dimensions and a size for each");
  const int64_t needed = mode == InterpolateMode::kLinear ? 1
      : mode == InterpolateMode::kBilinear || mode == InterpolateMode::kBicubic
      ? 2
      : mode == InterpolateMode::kTrilinear ? 3
                                            : dims;
  TORCH_CHECK_VALUE(
      needed == dims,
      "interpolate: mode '",
      interpolate_mode_name(mode),
      "' needs a map with ",
      needed,
      " spatial dimension(s), got shape ",
      layer_attribution.sizes(),
      "; use 'nearest' or 'area'");
  auto options = F::InterpolateFuncOptions().size(size.vec());
  switch (mode) {
    case InterpolateMode::kNearest:
      options.mode(torch::kNearest);
      break;
    case InterpolateMode::kLinear:
      options.mode(torch::kLinear).align_corners(false);
      break;
    case InterpolateMode::kBilinear:
      options.mode(torch::kBilinear).align_corners(false);
      break;
    case InterpolateMode::kBicubic:
      options.mode(torch::kBicubic).align_corners(false);
      break;
    case InterpolateMode::kTrilinear:
      options.mode(torch::kTrilinear).align_corners(false);
      break;
    case InterpolateMode::kArea:
      options.mode(torch::kArea);
      break;
  }
  return F::interpolate(layer_attribution, options);
}

LayerGradCam::LayerGradCam(Model model, std::string layer)
    : LayerGradCam(std::move(model), std::move(layer), kLayerGradCam) {}

LayerGradCam::LayerGradCam(Model model, std::string layer, const char* who)
    : model_(std::move(model)),
      layer_(std::move(layer)),
      forwards_(
          std::make_shared<const detail::LayerForwards>(model_, layer_, who)) {}

torch::Tensor LayerGradCam::attribute(
    const torch::Tensor& input,
    const Target& target,
    const ForwardArgs& additional_forward_args,
    const LayerGradCamOptions& options) const {
  return attribute(
      std::vector<torch::Tensor>{input},
      target,
      additional_forward_args,
      options);
}

torch::Tensor LayerGradCam::attribute(
    const std::vector<torch::Tensor>& inputs,
    const Target& target,
    const ForwardArgs& additional_forward_args,
    const LayerGradCamOptions& options) const {
  detail::check_inputs(inputs, kLayerGradCam);
  const detail::LayerForward& layer_forward =
      forwards_->get(options.attribute_to_layer_input());
  detail::AttributionModeGuard mode;
  LayerPass pass = layer_pass(
      layer_forward,
      model_,
      inputs,
      target,
      additional_forward_args,
      options.attribute_to_layer_input(),
      /*keep_graph=*/false,
      kLayerGradCam);
  return grad_cam_map(
      pass.activations, pass.gradient, options.relu_attributions());
}

GuidedGradCam::GuidedGradCam(Model model, std::string layer)
    : grad_cam_(std::move(model), std::move(layer), kGuidedGradCam) {}

torch::Tensor GuidedGradCam::attribute(
    const torch::Tensor& input,
    const Target& target,
    const ForwardArgs& additional_forward_args,
    const GuidedGradCamOptions& options) const {
  GuidedGradCamResult result = attribute_with_map(
      std::vector<torch::Tensor>{input},
      target,
      additional_forward_args,
      options);
  TORCH_CHECK_VALUE(
      result.attributions[0].numel() > 0 || input.numel() == 0,
      kGuidedGradCam,
      ".attribute: the Grad-CAM map of layer '",
      layer(),
      "' (shape ",
      result.grad_cam.sizes(),
      ") cannot be upsampled to the input of shape ",
      input.sizes(),
      " with mode '",
      interpolate_mode_name(options.interpolate_mode()),
      "'; the input needs as many dimensions as the map (choose another layer "
      "or mode)");
  return std::move(result.attributions[0]);
}

std::vector<torch::Tensor> GuidedGradCam::attribute(
    const std::vector<torch::Tensor>& inputs,
    const Target& target,
    const ForwardArgs& additional_forward_args,
    const GuidedGradCamOptions& options) const {
  GuidedGradCamResult result =
      attribute_with_map(inputs, target, additional_forward_args, options);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (result.attributions[i].numel() == 0 && inputs[i].numel() > 0) {
      TORCH_WARN(
          kGuidedGradCam,
          ": the Grad-CAM map of layer '",
          layer(),
          "' (shape ",
          result.grad_cam.sizes(),
          ") cannot be upsampled to input ",
          i,
          " (shape ",
          inputs[i].sizes(),
          ") with mode '",
          interpolate_mode_name(options.interpolate_mode()),
          "'; its attribution is an empty tensor (as in Captum)");
    }
  }
  return std::move(result.attributions);
}

GuidedGradCamResult GuidedGradCam::attribute_with_map(
    const std::vector<torch::Tensor>& inputs,
    const Target& target,
    const ForwardArgs& additional_forward_args,
    const GuidedGradCamOptions& options) const {
  detail::check_inputs(inputs, kGuidedGradCam);
  const detail::LayerForward& layer_forward =
      grad_cam_.forwards_->get(options.attribute_to_layer_input());
  detail::AttributionModeGuard mode;
  const Model& model = grad_cam_.model();
  // One forward pass serves both parts: first the plain gradient at the
  // layer (before any ReLU is overridden), keeping the graph ...
  LayerPass pass = layer_pass(
      layer_forward,
      model,
      inputs,
      target,
      additional_forward_args,
      options.attribute_to_layer_input(),
      /*keep_graph=*/true,
      kGuidedGradCam);
  GuidedGradCamResult result;
  result.grad_cam =
      grad_cam_map(pass.activations, pass.gradient, /*relu=*/true);
  pass.gradient.reset();
  pass.activations.reset();

  // ... then the guided gradient at the inputs.
  detail::RuleGradients guided = detail::relu_rule_gradients(
      {pass.selected}, pass.leaves, ReluRule::kGuided, model, kGuidedGradCam);
  for (size_t i = 0; i < guided.grads[0].size(); ++i) {
    const torch::Tensor& x = inputs[i];
    torch::Tensor upsampled;
    if (x.dim() == result.grad_cam.dim()) {
      try {
        upsampled = interpolate(
            result.grad_cam, x.sizes().slice(2), options.interpolate_mode());
      } catch (const c10::ValueError&) {
      }
    }
    if (!upsampled.defined()) {
      result.attributions.push_back(torch::empty({0}, x.options()));
      continue;
    }
    const torch::Tensor& gradient = guided.grads[0][i];
    result.attributions.push_back(gradient * upsampled.to(gradient.dtype()));
  }
  result.output = pass.output.detach();
  result.relu_count = guided.relu_count;
  return result;
}

} // namespace guidedbp
