#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>
#include <guidedbp/attribution.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <string>
#include <utility>

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

void check_inputs(const std::vector<torch::Tensor>& inputs, const char* who) {
  TORCH_CHECK_VALUE(
      !inputs.empty(),
      who,
      ".attribute: no inputs given; pass at least one tensor");
  for (size_t i = 0; i < inputs.size(); ++i) {
    const torch::Tensor& x = inputs[i];
    TORCH_CHECK_VALUE(
        x.defined(), who, ".attribute: input ", i, " is an undefined tensor");
    TORCH_CHECK_TYPE(
        x.is_floating_point(),
        who,
        ".attribute: input ",
        i,
        " has dtype ",
        x.scalar_type(),
        ", but gradients need a floating-point input; convert it, e.g. with "
        ".to(torch::kFloat)");
    TORCH_CHECK_VALUE(
        x.dim() >= 1,
        who,
        ".attribute: input ",
        i,
        " is a scalar, but inputs need a batch dimension (dim 0)");
    TORCH_CHECK_VALUE(
        x.size(0) == inputs[0].size(0),
        who,
        ".attribute: inputs have different batch sizes: input 0 has ",
        inputs[0].size(0),
        " examples (shape ",
        inputs[0].sizes(),
        ") but input ",
        i,
        " has ",
        x.size(0),
        " (shape ",
        x.sizes(),
        ")");
  }
}

// Our own leaf for each input. It shares the caller's storage but not its
// autograd state, so the caller's requires_grad and .grad stay as they were.
torch::Tensor make_leaf(const torch::Tensor& x) {
  // Inference tensors cannot require grad: copy them out.
  torch::Tensor base = x.is_inference() ? x.clone() : x.detach();
  return base.detach().requires_grad_(true);
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
  // Checked before the forward pass, which may be expensive.
  TORCH_CHECK_VALUE(
      !targets.empty(),
      method_name(rule_),
      ".attribute_targets: no targets given; pass at least one");
  return attribute_chosen_targets(
      inputs,
      [&targets](const torch::Tensor&) { return targets; },
      additional_forward_args);
}

AttributionResult ModifiedReluGradient::attribute_chosen_targets(
    const std::vector<torch::Tensor>& inputs,
    const ChooseTargets& choose,
    const ForwardArgs& additional_forward_args) const {
  const char* who = method_name(rule_);
  check_inputs(inputs, who);

  // Each guard restores its flag on every exit, exceptions included.
  c10::InferenceMode not_inference(false);
  torch::AutoGradMode grad_on(true);
  // The profiling executor would hide ReLUs inside fused differentiable
  // graphs from the second call on. The flag is thread-local, so other
  // threads keep their optimised inference.
  torch::jit::GraphOptimizerEnabledGuard unoptimized(false);

  std::vector<torch::Tensor> leaves;
  leaves.reserve(inputs.size());
  std::vector<c10::IValue> args;
  args.reserve(inputs.size() + additional_forward_args.size());
  for (const auto& x : inputs) {
    leaves.push_back(make_leaf(x));
    args.emplace_back(leaves.back());
  }
  args.insert(
      args.end(),
      additional_forward_args.begin(),
      additional_forward_args.end());

  c10::IValue returned = model_.forward(args);
  TORCH_CHECK_TYPE(
      returned.isTensor(),
      who,
      ".attribute: the model (",
      model_.name(),
      ") returned a ",
      returned.tagKind(),
      ", but attribution needs one output tensor of scores; "
      "wrap the model so that its forward returns a tensor");
  torch::Tensor output = returned.toTensor();
  TORCH_CHECK_VALUE(
      output.requires_grad(),
      who,
      ".attribute: the model's output (shape ",
      output.sizes(),
      ") does not depend differentiably on the inputs (was it computed under "
      "no_grad, detached, or integer-valued?)");

  AttributionResult result;
  result.output = output.detach();
  const std::vector<Target> targets = choose(result.output);
  TORCH_CHECK_VALUE(
      !targets.empty(),
      who,
      ".attribute_chosen_targets: the target chooser returned no targets; "
      "return at least one");
  result.attributions.reserve(targets.size());
  detail::VisitedNodes visited;
  detail::ReluOverrideCount count;
  for (size_t k = 0; k < targets.size(); ++k) {
    torch::Tensor selected = targets[k].select(output);
    if (rule_ != ReluRule::kPlain) {
      detail::override_relus(selected, rule_, visited, count);
    }
    const bool more_targets = k + 1 < targets.size();
    std::vector<torch::Tensor> grads = torch::autograd::grad(
        {selected},
        leaves,
        {torch::ones_like(selected)},
        /*retain_graph=*/more_targets,
        /*create_graph=*/false,
        /*allow_unused=*/true);
    for (size_t i = 0; i < grads.size(); ++i) {
      TORCH_CHECK_VALUE(
          grads[i].defined(),
          who,
          ".attribute: input ",
          i,
          " (shape ",
          inputs[i].sizes(),
          ") does not influence the selected output, so it has no gradient "
          "(Captum raises here too); leave it out of the inputs or pass it as an "
          "additional forward argument");
      if (abs_) {
        grads[i] = grads[i].abs();
      }
    }
    result.attributions.push_back(std::move(grads));
  }

  result.relu_count = count.relus;
  if (count.fused_graphs > 0) {
    TORCH_WARN(
        who,
        ": ",
        count.fused_graphs,
        " fused TorchScript graph(s) in the "
        "computation of ",
        model_.name(),
        " may hide ReLUs that were not "
        "overridden; pass the torch::jit::Module itself rather than a function "
        "that calls it");
  }
  if (rule_ != ReluRule::kPlain && count.relus == 0) {
    TORCH_WARN(
        who,
        ": no ReLU lies between the inputs and the selected output of ",
        model_.name(),
        ", so the result is a plain gradient (ReLU6, LeakyReLU, "
        "GELU and ReLUs fused into other kernels are not ReLUs here)");
  }
  return result;
}

} // namespace guidedbp
