#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>
#include <guidedbp/sensitivity.h>
#include <torch/torch.h>

#include "detail/metric_steps.h"

namespace guidedbp {
namespace {

constexpr const char* kWho = "guidedbp::sensitivity_max";

// One row per example (or sample): every input's explanation flattened and
// concatenated.
torch::Tensor rows_of(const std::vector<torch::Tensor>& tensors) {
  std::vector<torch::Tensor> flat;
  for (const torch::Tensor& t : tensors) {
    flat.push_back(t.reshape({t.size(0), -1}));
  }
  return torch::cat(flat, 1);
}

std::vector<torch::Tensor> checked(
    std::vector<torch::Tensor> explanations,
    const std::vector<torch::Tensor>& inputs) {
  detail::check_rows(
      inputs, explanations, inputs[0].size(0), kWho, "explanations");
  return explanations;
}

} // namespace

Explanation explanation(const ModifiedReluGradient& method) {
  return [method](
             const std::vector<torch::Tensor>& inputs,
             const Target& target,
             const ForwardArgs& args) {
    return method.attribute(inputs, target, args);
  };
}

torch::Tensor sensitivity_max(
    const Explanation& explanation,
    const std::vector<torch::Tensor>& inputs,
    const std::vector<torch::Tensor>& perturbed_inputs,
    const Target& target,
    const ForwardArgs& additional_forward_args,
    const SensitivityOptions& options) {
  const int64_t n =
      detail::samples_of(inputs, perturbed_inputs, kWho, "perturbed inputs");
  const int64_t examples = inputs[0].size(0);
  detail::check_rows(
      inputs, perturbed_inputs, examples * n, kWho, "perturbed inputs");
  TORCH_CHECK_VALUE(
      options.norm_ord() > 0,
      kWho,
      ": norm_ord must be positive (2 is \"fro\"), got ",
      options.norm_ord());
  TORCH_CHECK_VALUE(explanation, kWho, ": the explanation is empty");

  std::vector<torch::Tensor> original =
      checked(explanation(inputs, target, additional_forward_args), inputs);
  std::vector<torch::Tensor> moved = explanation(
      perturbed_inputs,
      detail::expand_target(target, n),
      detail::expand_args(additional_forward_args, n));
  detail::check_rows(inputs, moved, examples * n, kWho, "explanations");

  torch::NoGradGuard no_grad;
  const double p = options.norm_ord();
  torch::Tensor differences =
      rows_of(detail::repeat_rows(original, n)) - rows_of(moved);
  torch::Tensor norm =
      at::linalg_vector_norm(rows_of(original), p, {1}, /*keepdim=*/true)
          .repeat_interleave(n, 0);
  norm = torch::where(norm == 0.0, torch::ones_like(norm), norm);
  torch::Tensor ratio =
      at::linalg_vector_norm(differences, p, {1}, /*keepdim=*/true) / norm;
  return std::get<0>(ratio.view({examples, -1}).max(1));
}

std::vector<torch::Tensor> uniform_perturbed_inputs(
    const std::vector<torch::Tensor>& inputs,
    const UniformPerturbationOptions& options) {
  TORCH_CHECK_VALUE(
      options.samples() > 0,
      "guidedbp::uniform_perturbed_inputs: samples must be positive, got ",
      options.samples());
  TORCH_CHECK_VALUE(
      options.radius() >= 0,
      "guidedbp::uniform_perturbed_inputs: radius must be >= 0, got ",
      options.radius());
  auto generator = at::make_generator<at::CPUGeneratorImpl>(options.seed());
  std::vector<torch::Tensor> out;
  for (const torch::Tensor& x : inputs) {
    torch::Tensor expanded = x.repeat_interleave(options.samples(), 0);
    torch::Tensor noise =
        torch::empty(
            expanded.sizes(), torch::TensorOptions().dtype(x.scalar_type()))
            .uniform_(-options.radius(), options.radius(), generator);
    out.push_back(expanded + noise.to(x.device()));
  }
  return out;
}

} // namespace guidedbp
