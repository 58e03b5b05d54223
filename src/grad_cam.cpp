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

// One forward pass and, for each target `choose` picks from its output, the
// Grad-CAM map from the plain gradient at the layer; the caller holds the
// AttributionModeGuard for all passes.
struct LayerPass {
  std::vector<torch::Tensor> leaves;
  torch::Tensor output;
  std::vector<torch::Tensor> selected; // per target
  std::vector<torch::Tensor> maps;     // per target
};

// `keep_graph`: keep the graph after the last target (for guided passes).
LayerPass layer_pass(
    const detail::LayerForward& layer_forward,
    const Model& model,
    const std::vector<torch::Tensor>& inputs,
    const ChooseTargets& choose,
    const ForwardArgs& additional_forward_args,
    bool layer_input,
    bool relu,
    bool keep_graph,
    const char* who) {
  LayerPass pass;
  pass.leaves = detail::make_leaves(inputs);
  detail::LayerRun run = layer_forward.run(
      detail::forward_arguments(pass.leaves, additional_forward_args));
  pass.output = detail::output_tensor(run.output, model, who);
  const torch::Tensor activations =
      layer_activations(run, layer_forward.path(), layer_input, who);
  const std::vector<Target> targets = choose(pass.output.detach());
  TORCH_CHECK_VALUE(
      !targets.empty(),
      who,
      ".attribute_chosen_targets: the target chooser returned no targets; "
      "return at least one");
  for (const Target& target : targets) {
    pass.selected.push_back(target.select(pass.output));
  }
  for (size_t k = 0; k < targets.size(); ++k) {
    const torch::Tensor& selected = pass.selected[k];
    torch::Tensor gradient = torch::autograd::grad(
        {selected},
        {activations},
        {torch::ones_like(selected)},
        /*retain_graph=*/keep_graph || k + 1 < targets.size(),
        /*create_graph=*/false,
        /*allow_unused=*/true)[0];
    if (!gradient.defined()) {
      gradient = torch::zeros_like(activations);
    }
    pass.maps.push_back(grad_cam_map(activations, gradient, relu));
  }
  return pass;
}

// Guided Backprop of input `x` times the map upsampled to it, or an empty
// tensor when `x` cannot take the map.
torch::Tensor guided_times_map(
    const torch::Tensor& guided,
    const torch::Tensor& map,
    const torch::Tensor& x,
    InterpolateMode mode) {
  torch::Tensor upsampled;
  if (x.dim() == map.dim()) {
    try {
      upsampled = interpolate(map, x.sizes().slice(2), mode);
    } catch (const c10::ValueError&) {
    }
  }
  if (!upsampled.defined()) {
    return torch::empty({0}, x.options());
  }
  return guided * upsampled.to(guided.dtype());
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
  return std::move(
      attribute_targets(inputs, {target}, additional_forward_args, options)
          .attributions[0]);
}

LayerGradCamResult LayerGradCam::attribute_targets(
    const std::vector<torch::Tensor>& inputs,
    const std::vector<Target>& targets,
    const ForwardArgs& additional_forward_args,
    const LayerGradCamOptions& options) const {
  return attribute_chosen_targets(
      inputs,
      detail::given_choices(targets, kLayerGradCam, "targets"),
      additional_forward_args,
      options);
}

LayerGradCamResult LayerGradCam::attribute_chosen_targets(
    const std::vector<torch::Tensor>& inputs,
    const ChooseTargets& choose,
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
      choose,
      additional_forward_args,
      options.attribute_to_layer_input(),
      options.relu_attributions(),
      /*keep_graph=*/false,
      kLayerGradCam);
  LayerGradCamResult result;
  result.attributions = std::move(pass.maps);
  result.output = pass.output.detach();
  return result;
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
  GuidedGradCamTargetsResult all =
      attribute_targets(inputs, {target}, additional_forward_args, options);
  GuidedGradCamResult result;
  result.attributions = std::move(all.attributions[0]);
  result.grad_cam = std::move(all.grad_cams[0]);
  result.output = std::move(all.output);
  result.relu_count = all.relu_count;
  return result;
}

GuidedGradCamTargetsResult GuidedGradCam::attribute_targets(
    const std::vector<torch::Tensor>& inputs,
    const std::vector<Target>& targets,
    const ForwardArgs& additional_forward_args,
    const GuidedGradCamOptions& options) const {
  return attribute_chosen_targets(
      inputs,
      detail::given_choices(targets, kGuidedGradCam, "targets"),
      additional_forward_args,
      options);
}

GuidedGradCamTargetsResult GuidedGradCam::attribute_chosen_targets(
    const std::vector<torch::Tensor>& inputs,
    const ChooseTargets& choose,
    const ForwardArgs& additional_forward_args,
    const GuidedGradCamOptions& options) const {
  detail::check_inputs(inputs, kGuidedGradCam);
  const detail::LayerForward& layer_forward =
      grad_cam_.forwards_->get(options.attribute_to_layer_input());
  detail::AttributionModeGuard mode;
  const Model& model = grad_cam_.model();
  // One forward pass serves both parts: first the plain gradients at the
  // layer (before any ReLU is overridden), keeping the graph ...
  LayerPass pass = layer_pass(
      layer_forward,
      model,
      inputs,
      choose,
      additional_forward_args,
      options.attribute_to_layer_input(),
      /*relu=*/true,
      /*keep_graph=*/true,
      kGuidedGradCam);
  // ... then the guided gradients at the inputs.
  detail::RuleGradients guided = detail::relu_rule_gradients(
      pass.selected, pass.leaves, ReluRule::kGuided, model, kGuidedGradCam);
  GuidedGradCamTargetsResult result;
  for (size_t k = 0; k < pass.maps.size(); ++k) {
    std::vector<torch::Tensor> attributions;
    for (size_t i = 0; i < inputs.size(); ++i) {
      attributions.push_back(guided_times_map(
          guided.grads[k][i],
          pass.maps[k],
          inputs[i],
          options.interpolate_mode()));
    }
    result.attributions.push_back(std::move(attributions));
  }
  result.grad_cams = std::move(pass.maps);
  result.output = pass.output.detach();
  result.relu_count = guided.relu_count;
  return result;
}

} // namespace guidedbp
