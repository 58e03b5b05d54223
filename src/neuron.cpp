#include <c10/util/Exception.h>
#include <guidedbp/neuron.h>

#include <algorithm>
#include <string>
#include <utility>

#include "detail/attribution_steps.h"
#include "detail/layer_forward.h"
#include "detail/relu_override.h"

namespace guidedbp {
namespace {

const char* method_name(ReluRule rule) {
  return rule == ReluRule::kDeconvolution ? "NeuronDeconvolution"
      : rule == ReluRule::kGuided         ? "NeuronGuidedBackprop"
                                          : "NeuronGradient";
}

// Python's slice(start, stop).indices(size) for step 1.
std::pair<int64_t, int64_t> clamp_range(NeuronRange range, int64_t size) {
  auto clamp = [size](int64_t v) {
    if (v < 0) {
      v += size;
    }
    return std::min(std::max<int64_t>(v, 0), size);
  };
  return {clamp(range.start), clamp(range.stop)};
}

// Throws c10::ValueError unless a tuple of ints `selector` (of `count`
// indices) left one value per example of `layer`; the message completes the
// tuple both ways: zeros, or ranges over the rest.
void check_one_value_per_example(
    const NeuronSelector& selector,
    size_t count,
    const torch::Tensor& selected,
    const torch::Tensor& layer) {
  const int64_t n = layer.size(0);
  if (selected.numel() == n) {
    return;
  }
  std::string indices = selector.to_string();
  indices.pop_back(); // ')'
  if (indices.back() == ',') {
    indices.pop_back();
  }
  std::string zeros = indices;
  std::string ranges = indices;
  for (int64_t d = static_cast<int64_t>(count) + 1; d < layer.dim(); ++d) {
    zeros += ", 0";
    ranges += ", 0:" + std::to_string(layer.size(d));
  }
  TORCH_CHECK_VALUE(
      false,
      "neuron selector ",
      selector.to_string(),
      " leaves ",
      selected.numel() / std::max<int64_t>(n, 1),
      " values per example of the layer output ",
      layer.sizes(),
      "; give one index per dimension after the batch, e.g. ",
      zeros,
      "), or ranges to sum over, e.g. ",
      ranges,
      ")");
}

} // namespace

NeuronSelector::NeuronSelector(int64_t index)
    : is_int_(true), indices_{NeuronIndex(index)} {}

NeuronSelector::NeuronSelector(std::initializer_list<NeuronIndex> indices)
    : indices_(indices) {}

NeuronSelector::NeuronSelector(std::vector<NeuronIndex> indices)
    : indices_(std::move(indices)) {}

NeuronSelector::NeuronSelector(Function function)
    : function_(std::move(function)) {
  TORCH_CHECK_VALUE(
      function_, "NeuronSelector: the selector function is empty");
}

std::string NeuronSelector::to_string() const {
  if (function_) {
    return "<callable>";
  }
  if (is_int_) {
    return std::to_string(indices_[0].index());
  }
  std::string s = "(";
  for (size_t i = 0; i < indices_.size(); ++i) {
    const NeuronIndex& e = indices_[i];
    s += i ? ", " : "";
    s += e.is_range()
        ? std::to_string(e.range().start) + ":" + std::to_string(e.range().stop)
        : std::to_string(e.index());
  }
  return s + (indices_.size() == 1 ? ",)" : ")");
}

torch::Tensor NeuronSelector::select(const torch::Tensor& layer) const {
  const int64_t n = layer.size(0);
  if (function_) {
    torch::Tensor selected = function_(layer);
    TORCH_CHECK_VALUE(
        selected.defined() && selected.dim() >= 1 && selected.size(0) == n &&
            selected.numel() == n,
        "neuron selector: the selector function must return one value per "
        "example (shape [",
        n,
        "]) from the layer output of shape ",
        layer.sizes(),
        ", but returned ",
        selected.defined() ? "shape " + c10::str(selected.sizes())
                           : std::string("an undefined tensor"));
    return selected.reshape({n});
  }
  if (is_int_ && layer.dim() != 2) {
    std::string example = std::to_string(indices_[0].index());
    for (int64_t d = 2; d < layer.dim(); ++d) {
      example += ", 0";
    }
    TORCH_CHECK_VALUE(
        false,
        "neuron selector ",
        to_string(),
        ": an int selects a neuron of a 2-D layer output (N, features), but "
        "the layer output has shape ",
        layer.sizes(),
        "; pass a tuple with one index per dimension after the batch, e.g. (",
        example,
        ")");
  }
  TORCH_CHECK_VALUE(
      static_cast<int64_t>(indices_.size()) <= layer.dim() - 1,
      "neuron selector ",
      to_string(),
      " has ",
      indices_.size(),
      " indices, but the layer output of shape ",
      layer.sizes(),
      " has only ",
      layer.dim() - 1,
      " dimension(s) after the batch");
  TORCH_CHECK_VALUE(
      !indices_.empty(),
      "neuron selector (): the tuple is empty; give indices");
  torch::Tensor selected = layer;
  bool has_range = false;
  int64_t dim = 1; // in `selected`: an index removes its dimension
  for (size_t i = 0; i < indices_.size(); ++i) {
    const NeuronIndex& e = indices_[i];
    // The dimension of the layer output this element indexes (1-based after
    // the batch, as the selector's position).
    const int64_t layer_dim = static_cast<int64_t>(i) + 1;
    const int64_t size = selected.size(dim);
    if (e.is_range()) {
      has_range = true;
      const auto [start, stop] = clamp_range(e.range(), size);
      TORCH_CHECK_INDEX(
          stop > start,
          "neuron selector ",
          to_string(),
          ": range ",
          e.range().start,
          ":",
          e.range().stop,
          " selects nothing of dimension ",
          layer_dim,
          " (size ",
          size,
          ") of the layer output ",
          layer.sizes());
      selected = selected.slice(dim, start, stop);
      ++dim;
    } else {
      const int64_t index = e.index();
      TORCH_CHECK_INDEX(
          index >= -size && index < size,
          "neuron selector ",
          to_string(),
          ": index ",
          index,
          " is out of range for dimension ",
          layer_dim,
          " (size ",
          size,
          ") of the layer output ",
          layer.sizes());
      selected = selected.select(dim, index < 0 ? index + size : index);
    }
  }
  if (has_range) {
    return selected.reshape({n, -1}).sum(1);
  }
  check_one_value_per_example(*this, indices_.size(), selected, layer);
  return selected.reshape({n});
}

NeuronModifiedReluGradient::NeuronModifiedReluGradient(
    Model model,
    std::string layer,
    ReluRule rule)
    : model_(std::move(model)),
      layer_(std::move(layer)),
      rule_(rule),
      forwards_(std::make_shared<const detail::LayerForwards>(
          model_,
          layer_,
          method_name(rule))) {}

torch::Tensor NeuronModifiedReluGradient::attribute(
    const torch::Tensor& input,
    const NeuronSelector& neuron_selector,
    const ForwardArgs& additional_forward_args,
    const NeuronAttributionOptions& options) const {
  return attribute(
      std::vector<torch::Tensor>{input},
      neuron_selector,
      additional_forward_args,
      options)[0];
}

std::vector<torch::Tensor> NeuronModifiedReluGradient::attribute(
    const std::vector<torch::Tensor>& inputs,
    const NeuronSelector& neuron_selector,
    const ForwardArgs& additional_forward_args,
    const NeuronAttributionOptions& options) const {
  return std::move(
      attribute_targets(
          inputs, {neuron_selector}, additional_forward_args, options)
          .attributions[0]);
}

AttributionResult NeuronModifiedReluGradient::attribute_targets(
    const std::vector<torch::Tensor>& inputs,
    const std::vector<NeuronSelector>& neurons,
    const ForwardArgs& additional_forward_args,
    const NeuronAttributionOptions& options) const {
  return attribute_chosen_targets(
      inputs,
      detail::given_choices(neurons, method_name(rule_), "neurons"),
      additional_forward_args,
      options);
}

AttributionResult NeuronModifiedReluGradient::attribute_chosen_targets(
    const std::vector<torch::Tensor>& inputs,
    const ChooseNeurons& choose,
    const ForwardArgs& additional_forward_args,
    const NeuronAttributionOptions& options) const {
  const char* who = method_name(rule_);
  detail::check_inputs(inputs, who);
  const detail::LayerForward& layer_forward =
      forwards_->get(options.attribute_to_neuron_input());
  detail::AttributionModeGuard mode;
  std::vector<torch::Tensor> leaves = detail::make_leaves(inputs);
  detail::LayerRun run = layer_forward.run(
      detail::forward_arguments(leaves, additional_forward_args));
  const torch::Tensor& layer = detail::single_layer_tensor(
      run.layer,
      layer_,
      options.attribute_to_neuron_input(),
      who,
      "neuron methods need a layer with one");
  TORCH_CHECK_VALUE(
      layer.requires_grad(),
      who,
      ": layer '",
      layer_,
      "' (shape ",
      layer.sizes(),
      ") does not depend on the inputs, so its neurons have no gradient");
  const std::vector<NeuronSelector> neurons = choose(layer.detach());
  TORCH_CHECK_VALUE(
      !neurons.empty(),
      who,
      ".attribute_chosen_targets: the neuron chooser returned no neurons; "
      "return at least one");
  std::vector<torch::Tensor> selected;
  selected.reserve(neurons.size());
  for (const NeuronSelector& neuron : neurons) {
    selected.push_back(neuron.select(layer));
    TORCH_CHECK_VALUE(
        selected.back().requires_grad(),
        who,
        ": the selected neurons do not depend on the inputs");
  }
  detail::RuleGradients gradients =
      detail::relu_rule_gradients(selected, leaves, rule_, model_, who);
  AttributionResult result;
  result.attributions = std::move(gradients.grads);
  if (run.output.isTensor()) {
    result.output = run.output.toTensor().detach();
  }
  result.relu_count = gradients.relu_count;
  return result;
}

} // namespace guidedbp
