#pragma once

#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>

namespace guidedbp {

/// Spearman rank correlation of each row of `a` with the same row of `b`
/// (dim 0 is the batch; the rest is flattened), with average ranks for ties
/// (maps of Guided Backprop hold many exact zeros). NaN where a row is
/// constant. Shape (N), float64.
/// Throws c10::ValueError unless `a` and `b` have one shape.
///
/// Equivalent: `scipy.stats.spearmanr(a[i].ravel(), b[i].ravel())`.
///
/// Example:
/// ```
/// torch::Tensor rho = guidedbp::spearman(map.abs(), randomized.abs());
/// ```
[[nodiscard]] torch::Tensor spearman(
    const torch::Tensor& a,
    const torch::Tensor& b);

/// Options of `ssim`.
struct SsimOptions {
  /// Side of the square uniform window. Default: 7 (scikit-image's).
  TORCH_ARG(int64_t, win_size) = 7;
  /// Default: 0.01.
  TORCH_ARG(double, k1) = 0.01;
  /// Default: 0.03.
  TORCH_ARG(double, k2) = 0.03;
};

/// Structural similarity of each 2-D map `a[i]` (shape (N, H, W)) with
/// `b[i]`, as scikit-image's `structural_similarity(a[i], b[i],
/// data_range=R)` with its defaults (uniform window, sample covariance),
/// where R = max(a[i], b[i]) - min(a[i], b[i]). NaN where R is 0 (both
/// maps the same constant). Shape (N), float64. 1 is identical; near 0 is
/// unrelated.
/// Throws c10::ValueError for other shapes or maps smaller than the window.
///
/// Example:
/// ```
/// torch::Tensor s = guidedbp::ssim(a.abs().sum(1), b.abs().sum(1));
/// ```
[[nodiscard]] torch::Tensor ssim(
    const torch::Tensor& a,
    const torch::Tensor& b,
    const SsimOptions& options = {});

} // namespace guidedbp
