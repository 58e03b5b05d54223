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
  std::vector<torch::Tensor> attributions =
      read_tensors(args.attributions, run.device);
  Perturbations p;
  const bool given = !args.perturbations.empty();
  if (given) {
    p.perturbations = read_tensors(args.perturbations, run.device);
    p.perturbed_inputs = read_tensors(args.perturbed_inputs, run.device);
  } else {
    p = gaussian_perturbations(
        run.inputs,
        GaussianPerturbationOptions()
            .samples(args.samples)
            .noise_std(args.noise_std)
            .seed(args.seed));
  }
  InfidelityResult r = infidelity(
      run.module,
      run.inputs,
      attributions,
      p.perturbations,
      p.perturbed_inputs,
      run.target,
      run.extra,
      InfidelityOptions().normalize(args.normalize));
  const int64_t n = p.perturbed_inputs[0].size(0) / run.inputs[0].size(0);
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
