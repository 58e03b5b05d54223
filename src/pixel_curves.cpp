#include <c10/util/Exception.h>
#include <guidedbp/pixel_curves.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "detail/metric_steps.h"

namespace guidedbp {
namespace {

constexpr const char* kWho = "guidedbp::pixel_curve";

torch::Tensor scores(
    const Model& model,
    const torch::Tensor& input,
    const ForwardArgs& args) {
  torch::Tensor t = detail::output_scores(model, {input}, args, kWho);
  TORCH_CHECK_VALUE(
      t.dim() == 2 && t.size(0) == input.size(0),
      kWho,
      ": the model's output has shape ",
      t.sizes(),
      "; the curves need N x K class scores for ",
      input.size(0),
      " examples");
  return t;
}

// RISE's blur: a normalised Gaussian of side `size`, per channel, zero
// padding.
torch::Tensor blur(const torch::Tensor& x, int64_t size, double sigma) {
  torch::Tensor r =
      torch::arange(size, x.options()) - static_cast<double>(size / 2);
  torch::Tensor g = torch::exp(-r.pow(2) / (2 * sigma * sigma));
  torch::Tensor k = torch::outer(g, g);
  k = k / k.sum();
  const int64_t c = x.size(1);
  torch::Tensor weight = k.expand({c, 1, size, size}).contiguous();
  return torch::nn::functional::conv2d(
      x,
      weight,
      torch::nn::functional::Conv2dFuncOptions().padding(size / 2).groups(c));
}

} // namespace

Target predicted_classes(
    const Model& model,
    const torch::Tensor& input,
    const ForwardArgs& additional_forward_args) {
  torch::NoGradGuard no_grad;
  torch::Tensor predicted =
      scores(model, input, additional_forward_args).argmax(1).to(torch::kCPU);
  std::vector<int64_t> classes(
      predicted.data_ptr<int64_t>(),
      predicted.data_ptr<int64_t>() + predicted.numel());
  return Target::per_example(classes);
}

PixelCurveResult pixel_curve(
    const Model& model,
    const torch::Tensor& input,
    const torch::Tensor& maps,
    PixelCurve curve,
    const Target& target,
    const ForwardArgs& additional_forward_args,
    const PixelCurveOptions& options) {
  TORCH_CHECK_VALUE(
      input.dim() == 4,
      kWho,
      ": the input has shape ",
      input.sizes(),
      "; expected N x C x H x W images");
  const int64_t n = input.size(0), h = input.size(2), w = input.size(3);
  TORCH_CHECK_VALUE(
      (maps.dim() == 4 && maps.sizes() == input.sizes()) ||
          (maps.dim() == 3 && maps.size(0) == n && maps.size(1) == h &&
           maps.size(2) == w),
      kWho,
      ": the maps have shape ",
      maps.sizes(),
      "; expected the input's ",
      input.sizes(),
      " or N x H x W");
  const int64_t step = options.step() > 0 ? options.step() : w;
  TORCH_CHECK_VALUE(
      options.step() >= 0, kWho, ": step must be >= 0, got ", options.step());
  TORCH_CHECK_VALUE(
      options.blur_size() >= 1 && options.blur_size() % 2 == 1 &&
          options.blur_sigma() > 0,
      kWho,
      ": the blur needs an odd size >= 1 and sigma > 0, got ",
      options.blur_size(),
      " and ",
      options.blur_sigma());
  torch::NoGradGuard no_grad;
  const Target chosen = target.kind() == Target::Kind::kNone
      ? predicted_classes(model, input, additional_forward_args)
      : target;

  // Pixel order: descending channel-summed map, ties by index (a stable
  // sort of the negated values). The optional<bool> picks the stable
  // overload: plain (true, 1) would be sort(dim=1, descending=true).
  torch::Tensor saliency =
      (maps.dim() == 4 ? maps.sum(1) : maps).reshape({n, h * w});
  torch::Tensor order =
      std::get<1>((-saliency.to(torch::kFloat64))
                      .sort(
                          c10::optional<bool>(/*stable=*/true),
                          /*dim=*/1,
                          /*descending=*/false));
  const int64_t pixels = h * w;
  const int64_t steps = (pixels + step - 1) / step;

  const bool deletion = curve == PixelCurve::kDeletion;
  torch::Tensor start = deletion
      ? input.clone()
      : blur(input, options.blur_size(), options.blur_sigma());
  torch::Tensor finish = deletion ? torch::zeros_like(input) : input;
  // rank[i][p]: the position of pixel p in example i's order.
  torch::Tensor rank = torch::empty_like(order);
  rank.scatter_(
      1,
      order,
      torch::arange(pixels, order.options()).expand({n, pixels}).contiguous());
  rank = rank.view({n, 1, h, w}).to(input.device());

  std::vector<torch::Tensor> points;
  for (int64_t k = 0; k <= steps; ++k) {
    torch::Tensor changed = rank < std::min(k * step, pixels);
    torch::Tensor x = torch::where(changed, finish, start);
    torch::Tensor p = torch::softmax(
        scores(model, x, additional_forward_args).to(torch::kFloat64), 1);
    points.push_back(chosen.select(p).reshape({-1}).to(torch::kCPU));
  }
  PixelCurveResult result;
  result.curves = torch::stack(points, 1);
  const torch::Tensor& c = result.curves;
  result.auc = (c.sum(1) - c.select(1, 0) / 2 - c.select(1, steps) / 2) /
      static_cast<double>(steps);
  if (chosen.kind() == Target::Kind::kPerExample) {
    result.classes = torch::tensor(chosen.indices(), torch::kLong);
  } else if (chosen.kind() == Target::Kind::kIndex) {
    result.classes = torch::full({n}, chosen.indices().front(), torch::kLong);
  }
  return result;
}

} // namespace guidedbp
