// guidedbp evaluate --metric deletion|insertion: RISE's curves (Petsiuk et
// al. 2018) of a method's maps, with their AUC and a plot.

#include <guidedbp/pixel_curves.h>

#include "cli/cli_error.h"
#include "commands/evaluate.h"
#include "imaging/figure.h"
#include "methods/methods.h"

namespace guidedbp {
namespace cli {

void check_curve_args(const EvaluateArgs& args) {
  const std::string& m = args.metric;
  if (input_count(args) != 1) {
    throw UsageError(
        "--metric " + m + " takes one --input of images (N x C x H x W); " +
        std::to_string(input_count(args)) + " given");
  }
}

MetricReport evaluate_curves(const EvaluateRun& run) {
  const EvaluateArgs& args = run.args;
  std::unique_ptr<ModifiedReluGradient> method =
      make_method(run.module, args.method, args.abs);
  const PixelCurve kind = args.metric == "deletion" ? PixelCurve::kDeletion
                                                    : PixelCurve::kInsertion;
  std::vector<torch::Tensor> curve_parts, auc_parts, class_parts;
  int64_t width = 0;
  for_each_batch(run, [&](const EvaluateBatch& batch) {
    const torch::Tensor& x = batch.inputs.front();
    if (x.dim() != 4) {
      throw CliError(
          (args.inputs.empty() ? "the images" : args.inputs.front()) +
          " has shape " + c10::str(x.sizes()) + "; --metric " + args.metric +
          " needs N x C x H x W images");
    }
    width = x.size(3);
    const Target target = args.has_target
        ? batch.target
        : predicted_classes(run.module, x, batch.extra);
    torch::Tensor maps = method->attribute(x, target, batch.extra);
    PixelCurveResult r = pixel_curve(
        run.module,
        x,
        maps,
        kind,
        target,
        batch.extra,
        PixelCurveOptions().step(args.step));
    curve_parts.push_back(r.curves);
    auc_parts.push_back(r.auc);
    if (r.classes.defined()) {
      class_parts.push_back(r.classes);
    }
  });
  PixelCurveResult r;
  r.curves = torch::cat(curve_parts);
  r.auc = torch::cat(auc_parts);
  if (!class_parts.empty()) {
    r.classes = torch::cat(class_parts);
  }
  nlohmann::json classes; // null for targets that are not one class each
  if (r.classes.defined()) {
    classes = nlohmann::json::array();
    for (int64_t i = 0; i < r.classes.numel(); ++i) {
      classes.push_back(r.classes[i].item<int64_t>());
    }
  }
  nlohmann::json curves = nlohmann::json::array();
  for (int64_t i = 0; i < r.curves.size(0); ++i) {
    curves.push_back(json_values(r.curves[i]));
  }
  const int64_t step = args.step > 0 ? args.step : width;
  MetricReport report;
  report.fields = {
      {"step", step},
      {"seed", nullptr}, // nothing random

      {"classes", classes},
      {"curves", curves},
      {"values", json_values(r.auc)},
  };
  if (args.metric == "insertion") {
    report.fields["blur"] = {{"size", 11}, {"sigma", 5.0}};
  }
  if (!args.plot.empty()) {
    report.images.emplace_back(
        args.plot, curve_plot(r.curves, args.metric + " " + args.method));
  }
  report.summary = args.metric + " of " + args.method + ": AUC " +
      mean_text(r.auc) + ", " + std::to_string(r.curves.size(1) - 1) +
      " steps of " + std::to_string(step) + " pixels";
  return report;
}

} // namespace cli
} // namespace guidedbp
