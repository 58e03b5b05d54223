#include "detail/relu_override.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function_hook.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "detail/attribution_steps.h"

namespace guidedbp {
namespace detail {
namespace {

// Replaces the gradient a ReLU node sends to its input. The engine calls a
// post hook with the node's results (the gradient w.r.t. the ReLU's input,
// already masked by x > 0) and the gradient it received (w.r.t. its output).
class ReluRuleHook : public torch::autograd::FunctionPostHook {
 public:
  explicit ReluRuleHook(ReluRule rule) : rule_(rule) {}

  torch::autograd::variable_list operator()(
      const torch::autograd::variable_list& grad_inputs,
      const torch::autograd::variable_list& grad_outputs) override {
    torch::autograd::variable_list result = grad_inputs;
    if (result.empty() || !result[0].defined()) {
      return result;
    }
    // In place: result[0] is the fresh output of the ReLU's own backward that
    // nothing else holds, so clamping it allocates nothing (peak memory
    // equals a plain gradient's).
    if (rule_ == ReluRule::kGuided) {
      result[0].clamp_min_(0);
    } else if (
        rule_ == ReluRule::kDeconvolution && !grad_outputs.empty() &&
        grad_outputs[0].defined()) {
      at::clamp_min_out(result[0], grad_outputs[0], 0);
    }
    return result;
  }

 private:
  ReluRule rule_;
};

} // namespace

void override_relus(
    const torch::Tensor& root,
    ReluRule rule,
    VisitedNodes& visited,
    ReluOverrideCount& count) {
  std::vector<torch::autograd::Node*> stack;
  if (const auto& fn = root.grad_fn()) {
    stack.push_back(fn.get());
  }
  while (!stack.empty()) {
    torch::autograd::Node* node = stack.back();
    stack.pop_back();
    if (!visited.insert(node).second) {
      continue;
    }
    const std::string name = node->name();
    if (name == "ReluBackward0") {
      node->add_post_hook(std::make_unique<ReluRuleHook>(rule));
      ++count.relus;
    } else if (name.find("DifferentiableGraphBackward") != std::string::npos) {
      ++count.fused_graphs;
    }
    for (const auto& edge : node->next_edges()) {
      if (edge.function && !visited.count(edge.function.get())) {
        stack.push_back(edge.function.get());
      }
    }
  }
}

RuleGradients relu_rule_gradients(
    const std::vector<torch::Tensor>& selected,
    const std::vector<torch::Tensor>& leaves,
    ReluRule rule,
    const Model& model,
    const char* who) {
  RuleGradients result;
  result.grads.reserve(selected.size());
  VisitedNodes visited;
  ReluOverrideCount count;
  for (size_t k = 0; k < selected.size(); ++k) {
    if (rule != ReluRule::kPlain) {
      override_relus(selected[k], rule, visited, count);
    }
    const bool more_passes = k + 1 < selected.size();
    std::vector<torch::Tensor> grads = torch::autograd::grad(
        {selected[k]},
        leaves,
        {torch::ones_like(selected[k])},
        /*retain_graph=*/more_passes,
        /*create_graph=*/false,
        /*allow_unused=*/true);
    check_gradients(grads, leaves, who);
    result.grads.push_back(std::move(grads));
  }
  result.relu_count = count.relus;
  if (rule != ReluRule::kPlain) {
    warn_relu_count(count.relus, count.fused_graphs, model, who);
  }
  return result;
}

} // namespace detail
} // namespace guidedbp
