#pragma once

#include <guidedbp/attribution.h>
#include <guidedbp/model.h>
#include <guidedbp/target.h>
#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace guidedbp {

/// Options of `infidelity`.
struct InfidelityOptions {
  /// Scale the attributions by Captum's beta = S_ab / S_aa (S_aa = 0
  /// replaced by 1) before comparing, as Captum's `normalize=True`; the
  /// result's `values` are then the normalized ones. Default: false.
  TORCH_ARG(bool, normalize) = false;
};

/// What `infidelity` computes, one value per example (shape (N), the
/// inputs' dtype).
struct InfidelityResult {
  /// The infidelity as the options asked: `normalized` when `normalize`,
  /// else `unnormalized`.
  torch::Tensor values;
  /// Mean over samples of `(sum(attr * I) - (f(x) - f(x~)))^2`.
  torch::Tensor unnormalized;
  /// The same with `sum(attr * I)` scaled by beta (Captum's normalize).
  torch::Tensor normalized;
};

/// Infidelity of attributions (Yeh et al. 2019), exactly Captum's
/// `captum.metrics.infidelity` on given perturbations: for each example i,
/// the mean over its n samples j of
/// `(sum_k sum(attributions[k][i] * perturbations[k][i*n+j])
///   - (f(x)_i - f(perturbed_inputs)_{i*n+j}))^2`,
/// where f is the model's output selected by `target`. Lower is more
/// faithful; the scale is that of the output squared.
/// REQUIRES: one attribution tensor per input with the input's shape; one
/// perturbation and one perturbed-input tensor per input with n*N rows in
/// Captum's row layout (row i*n+j: example i, sample j).
/// NOTE: targets and tensor arguments are repeated n times per example as
/// Captum does; the model runs twice (the inputs, the perturbed inputs).
/// Throws c10::ValueError for mismatched shapes.
///
/// Captum: `infidelity(forward_func, perturb_func, inputs, attributions,
/// additional_forward_args, target, n_perturb_samples, normalize=...)` with
/// a `perturb_func` that returns these tensors.
///
/// Example:
/// ```
/// auto p = guidedbp::gaussian_perturbations({x}, {});
/// auto r = guidedbp::infidelity(model, {x}, {attr}, p.perturbations,
///                               p.perturbed_inputs, /*target=*/3);
/// ```
[[nodiscard]] InfidelityResult infidelity(
    const Model& model,
    const std::vector<torch::Tensor>& inputs,
    const std::vector<torch::Tensor>& attributions,
    const std::vector<torch::Tensor>& perturbations,
    const std::vector<torch::Tensor>& perturbed_inputs,
    const Target& target = Target(),
    const ForwardArgs& additional_forward_args = {},
    const InfidelityOptions& options = {});

/// Options of `gaussian_perturbations`.
struct GaussianPerturbationOptions {
  /// Samples per example (Captum's `n_perturb_samples`). Default: 10.
  TORCH_ARG(int64_t, samples) = 10;
  /// Standard deviation of the noise. Default: 0.003.
  TORCH_ARG(double, noise_std) = 0.003;
  /// Seed of a private generator (the global one is left as it is).
  /// Default: 0.
  TORCH_ARG(uint64_t, seed) = 0;
};

/// Perturbations and perturbed inputs in Captum's row layout.
struct Perturbations {
  std::vector<torch::Tensor> perturbations;    ///< I, one per input.
  std::vector<torch::Tensor> perturbed_inputs; ///< x~ = x - I.
};

/// Gaussian noise I ~ N(0, noise_std^2) and x~ = x - I, n rows per example
/// (row i*n+j: example i, sample j), in each input's dtype and device: the
/// perturbation of Captum's infidelity examples.
///
/// Example:
/// ```
/// auto p = guidedbp::gaussian_perturbations(
///     {x}, guidedbp::GaussianPerturbationOptions().samples(20).seed(1));
/// ```
[[nodiscard]] Perturbations gaussian_perturbations(
    const std::vector<torch::Tensor>& inputs,
    const GaussianPerturbationOptions& options = {});

} // namespace guidedbp
