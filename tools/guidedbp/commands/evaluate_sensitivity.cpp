// guidedbp evaluate --metric sensitivity-max: Captum's sensitivity_max of a
// method, on given or generated (uniform L-inf) perturbed inputs.

#include <guidedbp/sensitivity.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "cli/cli_error.h"
#include "commands/evaluate.h"
#include "methods/methods.h"

namespace guidedbp {
namespace cli {
namespace {

// --norm: fro (2), inf, or a number > 0.
double norm_order(const std::string& text) {
  if (text == "fro") {
    return 2.0;
  }
  if (text == "inf") {
    return std::numeric_limits<double>::infinity();
  }
  char* end = nullptr;
  errno = 0;
  const double p = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno != 0 || !(p > 0)) {
    throw UsageError(
        "--norm '" + limit_length(text, 40) +
        "': expected fro, inf or a number > 0 (the p of the p-norm)");
  }
  return p;
}

} // namespace

void check_sensitivity_args(const EvaluateArgs& args) {
  norm_order(args.norm);
  if (!args.perturbed_inputs.empty() &&
      args.perturbed_inputs.size() != input_count(args)) {
    throw UsageError(
        "give one --perturbed-inputs per --input (" +
        std::to_string(input_count(args)) + " --input, " +
        std::to_string(args.perturbed_inputs.size()) + " --perturbed-inputs)");
  }
}

MetricReport evaluate_sensitivity(const EvaluateRun& run) {
  const EvaluateArgs& args = run.args;
  const bool given = !args.perturbed_inputs.empty();
  std::vector<torch::Tensor> perturbed_given;
  if (given) {
    perturbed_given = read_tensors(args.perturbed_inputs, run.device);
  }
  std::unique_ptr<ModifiedReluGradient> method =
      make_method(run.module, args.method, args.abs);
  const double order = norm_order(args.norm);
  std::vector<torch::Tensor> batches;
  int64_t n = 0;
  for_each_batch(run, [&](const EvaluateBatch& batch) {
    std::vector<torch::Tensor> perturbed = given
        ? batch_rows(run, batch, perturbed_given, args.perturbed_inputs, true)
        : generated_perturbations(
              run,
              batch,
              [&](const std::vector<torch::Tensor>& inputs, uint64_t seed) {
                return uniform_perturbed_inputs(
                    inputs,
                    UniformPerturbationOptions()
                        .samples(args.samples)
                        .radius(args.radius)
                        .seed(seed));
              });
    batches.push_back(sensitivity_max(
        explanation(*method),
        batch.inputs,
        perturbed,
        batch.target,
        batch.extra,
        SensitivityOptions().norm_ord(order)));
    n = perturbed[0].size(0) / batch.inputs[0].size(0);
  });
  const torch::Tensor values = torch::cat(batches);
  MetricReport report;
  report.fields = {
      {"perturbations", given ? "given" : "uniform"},
      {"samples", n},
      {"radius", given ? nlohmann::json() : nlohmann::json(args.radius)},
      {"seed", given ? nlohmann::json() : nlohmann::json(args.seed)},
      {"norm", args.norm},
      {"values", json_values(values)},
  };
  report.summary = "sensitivity-max of " + args.method + ": " +
      mean_text(values) + ", " + std::to_string(n) + " samples each";
  return report;
}

} // namespace cli
} // namespace guidedbp
