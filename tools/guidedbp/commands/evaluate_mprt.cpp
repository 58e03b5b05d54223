// guidedbp evaluate --metric mprt: the model parameter randomization test
// (Adebayo et al. 2018) of a method, with its plot and strip of maps.

#include <guidedbp/randomization.h>

#include "cli/cli_error.h"
#include "commands/evaluate.h"
#include "imaging/figure.h"
#include "methods/methods.h"

namespace guidedbp {
namespace cli {
namespace {

// One list per layer, one value per example (null where undefined).
nlohmann::json per_layer(
    const RandomizationResult& r,
    torch::Tensor MapSimilarity::*field) {
  nlohmann::json layers = nlohmann::json::array();
  for (const MapSimilarity& s : r.similarity) {
    layers.push_back(json_values(s.*field));
  }
  return layers;
}

} // namespace

void check_mprt_args(const EvaluateArgs& args) {
  if (input_count(args) != 1) {
    throw UsageError(
        "--metric mprt compares the maps of one input; give one --input (" +
        std::to_string(input_count(args)) + " given)");
  }
}

MetricReport evaluate_mprt(const EvaluateRun& run) {
  const EvaluateArgs& args = run.args;
  if (!args.strip.empty() && run.images == nullptr) {
    const torch::Tensor& x = run.inputs.front();
    if (x.dim() != 3 && x.dim() != 4) {
      throw CliError(
          "--strip draws 2-D maps, but the input has shape " +
          c10::str(x.sizes()) +
          " (expected N x C x H x W or N x H x W); leave --strip out");
    }
  }
  // Every randomized state is explained on all batches: the images are
  // read once and kept on the CPU, one batch at a time goes to the device,
  // and the maps come back to the CPU (the test compares all of them).
  std::vector<EvaluateBatch> batches;
  for_each_batch(run, [&](const EvaluateBatch& batch) {
    batches.push_back(batch);
    if (run.images != nullptr) {
      batches.back().inputs.front() = batch.inputs.front().cpu();
    }
  });
  const std::string method_name = args.method;
  const bool abs = args.abs;
  const bool one_batch = run.images == nullptr;
  auto explain = [&](const Model& model) {
    std::unique_ptr<ModifiedReluGradient> method =
        make_method(model, method_name, abs);
    if (one_batch) {
      const EvaluateBatch& b = batches.front();
      return method->attribute(b.inputs, b.target, b.extra).front();
    }
    std::vector<torch::Tensor> maps;
    for (const EvaluateBatch& b : batches) {
      maps.push_back(
          method
              ->attribute({b.inputs.front().to(run.device)}, b.target, b.extra)
              .front()
              .cpu());
    }
    return torch::cat(maps);
  };
  RandomizationResult r = model_parameter_randomization(
      run.module,
      explain,
      RandomizationOptions()
          .order(
              args.order == "independent" ? RandomizationOrder::kIndependent
                                          : RandomizationOrder::kCascading)
          .seed(args.seed));
  MetricReport report;
  report.fields = {
      {"order", args.order},
      {"seed", args.seed},
      {"layers", r.layers},
      {"similarity",
       {{"spearman_abs", per_layer(r, &MapSimilarity::spearman_abs)},
        {"spearman", per_layer(r, &MapSimilarity::spearman)},
        {"ssim", per_layer(r, &MapSimilarity::ssim)}}},
      {"values", json_values(r.similarity.back().spearman_abs)},
  };
  if (!args.plot.empty()) {
    report.images.emplace_back(args.plot, similarity_plot(r, args.method));
  }
  if (!args.strip.empty()) {
    report.images.emplace_back(args.strip, map_strip(r));
  }
  report.summary = "mprt (" + args.order + ") of " + args.method +
      ": spearman_abs after randomizing " + r.layers.front() + ": " +
      mean_text(r.similarity.front().spearman_abs) + "; after all " +
      std::to_string(r.layers.size()) +
      " layers: " + mean_text(r.similarity.back().spearman_abs);
  return report;
}

} // namespace cli
} // namespace guidedbp
