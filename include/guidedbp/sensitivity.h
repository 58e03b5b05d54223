#pragma once

#include <guidedbp/attribution.h>
#include <guidedbp/target.h>
#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

namespace guidedbp {

/// An explanation method as the metrics call it: the attributions of
/// `inputs` (one tensor per input) for `target`, with the additional
/// forward arguments. Captum's `explanation_func`.
using Explanation = std::function<std::vector<torch::Tensor>(
    const std::vector<torch::Tensor>& inputs,
    const Target& target,
    const ForwardArgs& additional_forward_args)>;

/// `method.attribute` as an `Explanation`; it keeps a copy of the method.
///
/// Example:
/// ```
/// auto e = guidedbp::explanation(guidedbp::GuidedBackprop(model));
/// ```
[[nodiscard]] Explanation explanation(const ModifiedReluGradient& method);

/// Options of `sensitivity_max`.
struct SensitivityOptions {
  /// The norm of the flattened explanation (all inputs concatenated): 2 is
  /// Captum's "fro" (the Frobenius norm of one row), any p > 0, or infinity.
  /// Default: 2 ("fro").
  TORCH_ARG(double, norm_ord) = 2.0;
};

/// Max-sensitivity of an explanation (Yeh et al. 2019), exactly Captum's
/// `captum.metrics.sensitivity_max` on given perturbed inputs: for each
/// example i, the max over its n samples j of
/// `||E(x)_i - E(perturbed_inputs)_{i*n+j}|| / ||E(x)_i||` (a zero
/// denominator replaced by 1). 0 means the explanation did not move; 1
/// means it moved as much as its own size. Shape (N).
/// REQUIRES: one perturbed-input tensor per input with n*N rows (row i*n+j:
/// example i, sample j).
/// NOTE: targets and tensor arguments are repeated n times per example.
/// Throws c10::ValueError for mismatched shapes.
///
/// Captum: `sensitivity_max(explanation_func, inputs, perturb_func,
/// n_perturb_samples=n, norm_ord=...)`.
///
/// Example:
/// ```
/// auto e = guidedbp::explanation(guidedbp::GuidedBackprop(model));
/// auto xt = guidedbp::uniform_perturbed_inputs({x}, {});
/// torch::Tensor s = guidedbp::sensitivity_max(e, {x}, xt, /*target=*/3);
/// ```
[[nodiscard]] torch::Tensor sensitivity_max(
    const Explanation& explanation,
    const std::vector<torch::Tensor>& inputs,
    const std::vector<torch::Tensor>& perturbed_inputs,
    const Target& target = Target(),
    const ForwardArgs& additional_forward_args = {},
    const SensitivityOptions& options = {});

/// Options of `uniform_perturbed_inputs`.
struct UniformPerturbationOptions {
  /// Samples per example (Captum's `n_perturb_samples`). Default: 10.
  TORCH_ARG(int64_t, samples) = 10;
  /// Radius of the L-infinity ball (Captum's `perturb_radius`). Default: 0.02.
  TORCH_ARG(double, radius) = 0.02;
  /// Seed of a private generator. Default: 0.
  TORCH_ARG(uint64_t, seed) = 0;
};

/// `x + U(-radius, radius)` per element, n rows per example (row i*n+j),
/// Captum's `default_perturb_func` of sensitivity_max.
///
/// Example:
/// ```
/// auto xt = guidedbp::uniform_perturbed_inputs(
///     {x}, guidedbp::UniformPerturbationOptions().radius(0.05));
/// ```
[[nodiscard]] std::vector<torch::Tensor> uniform_perturbed_inputs(
    const std::vector<torch::Tensor>& inputs,
    const UniformPerturbationOptions& options = {});

} // namespace guidedbp
