// guidedbp evaluate --metric infidelity: Captum's infidelity of given
// attributions, on given or generated (Gaussian) perturbations.

#include <guidedbp/infidelity.h>

#include "cli/cli_error.h"
#include "commands/evaluate.h"

namespace guidedbp {
namespace cli {

void check_infidelity_args(const EvaluateArgs& args) {
  if (args.attributions.size() != input_count(args)) {
    throw UsageError(
        "--metric infidelity needs one --attributions per --input (" +
        std::to_string(input_count(args)) + " --input, " +
        std::to_string(args.attributions.size()) +
        " --attributions); write them with `guidedbp attribute`");
  }
  const bool given =
      !args.perturbations.empty() || !args.perturbed_inputs.empty();
  if (given &&
      (args.perturbations.size() != input_count(args) ||
       args.perturbed_inputs.size() != input_count(args))) {
    throw UsageError(
        "given perturbations need one --perturbations and one "
        "--perturbed-inputs per --input (" +
        std::to_string(input_count(args)) + " --input, " +
        std::to_string(args.perturbations.size()) + " --perturbations, " +
        std::to_string(args.perturbed_inputs.size()) + " --perturbed-inputs)");
  }
}

MetricReport evaluate_infidelity(const EvaluateRun& run) {
  const EvaluateArgs& args = run.args;
  const std::vector<torch::Tensor> attributions =
      read_tensors(args.attributions, run.device);
  const bool given = !args.perturbations.empty();
  std::vector<torch::Tensor> perturbations, perturbed_inputs;
  if (given) {
    perturbations = read_tensors(args.perturbations, run.device);
    perturbed_inputs = read_tensors(args.perturbed_inputs, run.device);
  }
  std::vector<torch::Tensor> values, normalized;
  int64_t n = 0;
  for_each_batch(run, [&](const EvaluateBatch& batch) {
    Perturbations p;
    const std::vector<torch::Tensor> a =
        batch_rows(run, batch, attributions, args.attributions, false);
    if (given) {
      p.perturbations =
          batch_rows(run, batch, perturbations, args.perturbations, true);
      p.perturbed_inputs =
          batch_rows(run, batch, perturbed_inputs, args.perturbed_inputs, true);
    } else {
      std::vector<torch::Tensor> made = generated_perturbations(
          run,
          batch,
          [&](const std::vector<torch::Tensor>& inputs, uint64_t seed) {
            Perturbations g = gaussian_perturbations(
                inputs,
                GaussianPerturbationOptions()
                    .samples(args.samples)
                    .noise_std(args.noise_std)
                    .seed(seed));
            std::vector<torch::Tensor> both = g.perturbations;
            both.insert(
                both.end(),
                g.perturbed_inputs.begin(),
                g.perturbed_inputs.end());
            return both;
          });
      const auto half = made.begin() + static_cast<long>(made.size() / 2);
      p.perturbations.assign(made.begin(), half);
      p.perturbed_inputs.assign(half, made.end());
    }
    InfidelityResult r = infidelity(
        run.module,
        batch.inputs,
        a,
        p.perturbations,
        p.perturbed_inputs,
        batch.target,
        batch.extra,
        InfidelityOptions().normalize(args.normalize));
    values.push_back(r.values);
    normalized.push_back(r.normalized);
    n = p.perturbed_inputs[0].size(0) / batch.inputs[0].size(0);
  });
  InfidelityResult r;
  r.values = torch::cat(values);
  r.normalized = torch::cat(normalized);
  MetricReport report;
  report.fields = {
      {"attributions", args.attributions},
      {"perturbations", given ? "given" : "gaussian"},
      {"samples", n},
      {"noise_std", given ? nlohmann::json() : nlohmann::json(args.noise_std)},
      {"seed", given ? nlohmann::json() : nlohmann::json(args.seed)},
      {"normalize", args.normalize},
      {"values", json_values(r.values)},
      {"normalized", json_values(r.normalized)},
  };
  report.summary = std::string("infidelity") +
      (args.normalize ? " (normalized): " : ": ") + mean_text(r.values) + ", " +
      std::to_string(n) + " samples each";
  return report;
}

} // namespace cli
} // namespace guidedbp
