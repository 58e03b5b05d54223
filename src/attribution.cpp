#include <c10/util/Exception.h>
#include <guidedbp/attribution.h>

#include <string>
#include <utility>

#include "detail/attribution_steps.h"
#include "detail/relu_override.h"

namespace guidedbp {
namespace {

const char* method_name(ReluRule rule) {
  switch (rule) {
    case ReluRule::kGuided:
      return "GuidedBackprop";
    case ReluRule::kDeconvolution:
      return "Deconvolution";
    case ReluRule::kPlain:
      return "Saliency";
  }
  return "attribute";
}

} // namespace

ModifiedReluGradient::ModifiedReluGradient(Model model, ReluRule rule, bool abs)
    : model_(std::move(model)), rule_(rule), abs_(abs) {}

torch::Tensor ModifiedReluGradient::attribute(
    const torch::Tensor& input,
    const Target& target,
    const ForwardArgs& additional_forward_args) const {
  return attribute(
      std::vector<torch::Tensor>{input}, target, additional_forward_args)[0];
}

std::vector<torch::Tensor> ModifiedReluGradient::attribute(
    const std::vector<torch::Tensor>& inputs,
    const Target& target,
    const ForwardArgs& additional_forward_args) const {
  return std::move(attribute_targets(inputs, {target}, additional_forward_args)
                       .attributions[0]);
}

std::vector<torch::Tensor> ModifiedReluGradient::attribute(
    std::initializer_list<torch::Tensor> inputs,
    const Target& target,
    const ForwardArgs& additional_forward_args) const {
  return attribute(
      std::vector<torch::Tensor>(inputs), target, additional_forward_args);
}

AttributionResult ModifiedReluGradient::attribute_targets(
    const std::vector<torch::Tensor>& inputs,
    const std::vector<Target>& targets,
    const ForwardArgs& additional_forward_args) const {
  return attribute_chosen_targets(
      inputs,
      detail::given_choices(targets, method_name(rule_), "targets"),
      additional_forward_args);
}

AttributionResult ModifiedReluGradient::attribute_chosen_targets(
    const std::vector<torch::Tensor>& inputs,
    const ChooseTargets& choose,
    const ForwardArgs& additional_forward_args) const {
  const char* who = method_name(rule_);
  detail::check_inputs(inputs, who);
  // Each guard restores its flag on every exit, exceptions included.
  detail::AttributionModeGuard mode;
  const std::vector<torch::Tensor> leaves = detail::make_leaves(inputs);
  torch::Tensor output = detail::output_tensor(
      model_.forward(
          detail::forward_arguments(leaves, additional_forward_args)),
      model_,
      who);

  AttributionResult result;
  result.output = output.detach();
  const std::vector<Target> targets = choose(result.output);
  TORCH_CHECK_VALUE(
      !targets.empty(),
      who,
      ".attribute_chosen_targets: the target chooser returned no targets; "
      "return at least one");
  std::vector<torch::Tensor> selected;
  selected.reserve(targets.size());
  for (const Target& target : targets) {
    selected.push_back(target.select(output));
  }
  detail::RuleGradients gradients =
      detail::relu_rule_gradients(selected, leaves, rule_, model_, who);
  if (abs_) {
    for (std::vector<torch::Tensor>& grads : gradients.grads) {
      for (torch::Tensor& grad : grads) {
        grad = grad.abs();
      }
    }
  }
  result.attributions = std::move(gradients.grads);
  result.relu_count = gradients.relu_count;
  return result;
}

} // namespace guidedbp
