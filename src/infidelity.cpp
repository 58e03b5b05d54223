#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>
#include <guidedbp/infidelity.h>
#include <torch/torch.h>

#include "detail/metric_steps.h"

namespace guidedbp {

InfidelityResult infidelity(
    const Model& model,
    const std::vector<torch::Tensor>& inputs,
    const std::vector<torch::Tensor>& attributions,
    const std::vector<torch::Tensor>& perturbations,
    const std::vector<torch::Tensor>& perturbed_inputs,
    const Target& target,
    const ForwardArgs& additional_forward_args,
    const InfidelityOptions& options) {
  constexpr const char* kWho = "guidedbp::infidelity";
  const int64_t n =
      detail::samples_of(inputs, perturbed_inputs, kWho, "perturbed inputs");
  const int64_t examples = inputs[0].size(0);
  detail::check_rows(inputs, attributions, examples, kWho, "attributions");
  detail::check_rows(
      inputs, perturbations, examples * n, kWho, "perturbations");
  detail::check_rows(
      inputs, perturbed_inputs, examples * n, kWho, "perturbed inputs");
  torch::NoGradGuard no_grad;

  // The order of Captum's operations, so that float32 results agree too.
  torch::Tensor fx = detail::selected_output(
      model, inputs, target, additional_forward_args, kWho);
  torch::Tensor fxt = detail::selected_output(
      model,
      perturbed_inputs,
      detail::expand_target(target, n),
      detail::expand_args(additional_forward_args, n),
      kWho);
  torch::Tensor diffs = (fx.repeat_interleave(n, 0) - fxt).view({examples, -1});
  torch::Tensor sums;
  for (size_t k = 0; k < inputs.size(); ++k) {
    torch::Tensor a = attributions[k].repeat_interleave(n, 0);
    torch::Tensor s = (a * perturbations[k]).view({a.size(0), -1}).sum(1);
    sums = k == 0 ? s : sums + s;
  }
  sums = sums.view({examples, -1});

  InfidelityResult result;
  result.unnormalized = (sums - diffs).pow(2).sum(-1) / n;
  torch::Tensor s_aa = sums.pow(2).sum(-1);
  torch::Tensor s_ab = (sums * diffs).sum(-1);
  torch::Tensor s_bb = diffs.pow(2).sum(-1);
  torch::Tensor beta =
      s_ab / torch::where(s_aa != 0, s_aa, torch::ones_like(s_aa));
  result.normalized = (beta.pow(2) * s_aa - 2 * beta * s_ab + s_bb) / n;
  result.values = options.normalize() ? result.normalized : result.unnormalized;
  return result;
}

Perturbations gaussian_perturbations(
    const std::vector<torch::Tensor>& inputs,
    const GaussianPerturbationOptions& options) {
  TORCH_CHECK_VALUE(
      options.samples() > 0,
      "guidedbp::gaussian_perturbations: samples must be positive, got ",
      options.samples());
  TORCH_CHECK_VALUE(
      options.noise_std() >= 0,
      "guidedbp::gaussian_perturbations: noise_std must be >= 0, got ",
      options.noise_std());
  auto generator = at::make_generator<at::CPUGeneratorImpl>(options.seed());
  Perturbations out;
  for (const torch::Tensor& x : inputs) {
    torch::Tensor expanded = x.repeat_interleave(options.samples(), 0);
    torch::Tensor noise = torch::randn(
                              expanded.sizes(),
                              generator,
                              torch::TensorOptions().dtype(x.scalar_type())) *
        options.noise_std();
    noise = noise.to(x.device());
    out.perturbations.push_back(noise);
    out.perturbed_inputs.push_back(expanded - noise);
  }
  return out;
}

} // namespace guidedbp
