// Layers: the one dispatch between the three capture mechanisms
// (layer_graph.cpp, layer_sequential.cpp, layer_marker.cpp).

#include <c10/util/Exception.h>
#include <guidedbp/layer.h>
#include <torch/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "detail/layer_forward.h"
#include "detail/layer_mechanism.h"

namespace guidedbp {
namespace detail {

const LayerMechanism& layer_mechanism(
    const Model& model,
    const std::string& path) {
  for (const LayerMechanism* mechanism :
       {&graph_layers(), &sequential_layers()}) {
    if (mechanism->reaches(model, path)) {
      return *mechanism;
    }
  }
  return marked_layers();
}

LayerForward::LayerForward(
    const Model& model,
    std::string path,
    bool layer_input,
    std::string who)
    : model_(model), path_(std::move(path)), who_(std::move(who)) {
  TORCH_CHECK_VALUE(
      !path_.empty(),
      who_,
      ": the layer path is empty; name a layer as named_modules() does, e.g. "
      "'layer4' or 'features.18'");
  capture_ =
      layer_mechanism(model_, path_).capture(model_, path_, layer_input, who_);
}

LayerRun LayerForward::run(const std::vector<c10::IValue>& args) const {
  return capture_->run(args);
}

LayerForwards::LayerForwards(
    const Model& model,
    std::string path,
    std::string who)
    : output_(model, std::move(path), /*layer_input=*/false, std::move(who)) {}

const LayerForward& LayerForwards::get(bool layer_input) const {
  if (!layer_input) {
    return output_;
  }
  std::call_once(input_once_, [this] {
    input_ = std::make_unique<LayerForward>(
        output_.model(), output_.path(), /*layer_input=*/true, output_.who());
  });
  return *input_;
}

} // namespace detail

std::vector<LayerInfo> layer_shapes(
    const Model& model,
    const std::vector<torch::Tensor>& inputs,
    const std::vector<c10::IValue>& additional_forward_args) {
  torch::NoGradGuard no_grad;
  std::vector<c10::IValue> args(inputs.begin(), inputs.end());
  args.insert(
      args.end(),
      additional_forward_args.begin(),
      additional_forward_args.end());
  return detail::layer_mechanism(model, "").shapes(model, args);
}

} // namespace guidedbp
