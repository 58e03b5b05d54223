#include <c10/util/Exception.h>
#include <guidedbp/similarity.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace guidedbp {
namespace {

// 1-based ranks, ties given the mean of the ranks they span.
std::vector<double> average_ranks(const double* x, int64_t n) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [x](int64_t i, int64_t j) {
    return x[i] < x[j];
  });
  std::vector<double> ranks(static_cast<size_t>(n));
  for (int64_t start = 0; start < n;) {
    int64_t end = start + 1;
    while (end < n && x[order[end]] == x[order[start]]) {
      ++end;
    }
    const double rank = 0.5 * static_cast<double>(start + end - 1) + 1.0;
    for (int64_t k = start; k < end; ++k) {
      ranks[order[k]] = rank;
    }
    start = end;
  }
  return ranks;
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n;
  const double mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) * (a[i] - ma);
    bb += (b[i] - mb) * (b[i] - mb);
  }
  if (aa == 0 || bb == 0) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  return ab / std::sqrt(aa * bb);
}

} // namespace

torch::Tensor spearman(const torch::Tensor& a, const torch::Tensor& b) {
  TORCH_CHECK_VALUE(
      a.sizes() == b.sizes() && a.dim() >= 1,
      "guidedbp::spearman: the maps have shapes ",
      a.sizes(),
      " and ",
      b.sizes(),
      "; expected one shape with a batch dimension");
  torch::Tensor x =
      a.detach().to(torch::kCPU, torch::kFloat64).reshape({a.size(0), -1});
  torch::Tensor y =
      b.detach().to(torch::kCPU, torch::kFloat64).reshape({b.size(0), -1});
  x = x.contiguous();
  y = y.contiguous();
  torch::Tensor out = torch::empty({a.size(0)}, torch::kFloat64);
  const int64_t n = x.size(1);
  for (int64_t i = 0; i < a.size(0); ++i) {
    const double* xi = x.data_ptr<double>() + i * n;
    const double* yi = y.data_ptr<double>() + i * n;
    out[i] = pearson(average_ranks(xi, n), average_ranks(yi, n));
  }
  return out;
}

torch::Tensor ssim(
    const torch::Tensor& a,
    const torch::Tensor& b,
    const SsimOptions& options) {
  const int64_t w = options.win_size();
  TORCH_CHECK_VALUE(
      a.sizes() == b.sizes() && a.dim() == 3,
      "guidedbp::ssim: the maps have shapes ",
      a.sizes(),
      " and ",
      b.sizes(),
      "; expected one shape (N, H, W)");
  TORCH_CHECK_VALUE(
      w >= 3 && w % 2 == 1 && a.size(1) >= w && a.size(2) >= w,
      "guidedbp::ssim: win_size ",
      w,
      " must be odd, >= 3 and at most the map's sides ",
      a.sizes().slice(1));
  torch::NoGradGuard no_grad;
  torch::Tensor x = a.detach().to(torch::kCPU, torch::kFloat64).unsqueeze(1);
  torch::Tensor y = b.detach().to(torch::kCPU, torch::kFloat64).unsqueeze(1);
  // scikit-image filters with reflection, then drops (w-1)/2 pixels on each
  // side: the windows left never reach the padding, so a valid (unpadded)
  // mean filter gives the same values.
  auto mean = [w](const torch::Tensor& t) {
    return torch::avg_pool2d(t, {w, w}, {1, 1});
  };
  const double np = static_cast<double>(w * w);
  const double cov_norm = np / (np - 1.0);
  torch::Tensor ux = mean(x), uy = mean(y);
  torch::Tensor uxx = mean(x * x), uyy = mean(y * y), uxy = mean(x * y);
  torch::Tensor vx = cov_norm * (uxx - ux * ux);
  torch::Tensor vy = cov_norm * (uyy - uy * uy);
  torch::Tensor vxy = cov_norm * (uxy - ux * uy);
  torch::Tensor range = torch::maximum(x.amax({1, 2, 3}), y.amax({1, 2, 3})) -
      torch::minimum(x.amin({1, 2, 3}), y.amin({1, 2, 3}));
  torch::Tensor r = range.view({-1, 1, 1, 1});
  torch::Tensor c1 = (options.k1() * r).pow(2);
  torch::Tensor c2 = (options.k2() * r).pow(2);
  torch::Tensor s = ((2 * ux * uy + c1) * (2 * vxy + c2)) /
      ((ux * ux + uy * uy + c1) * (vx + vy + c2));
  torch::Tensor out = s.mean({1, 2, 3});
  return torch::where(
      range == 0,
      torch::full_like(out, std::numeric_limits<double>::quiet_NaN()),
      out);
}

} // namespace guidedbp
