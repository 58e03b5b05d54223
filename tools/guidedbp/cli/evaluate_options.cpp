// `guidedbp evaluate`: its command line (CLI11), torch-free; the command
// itself is commands/evaluate_command.cpp.

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/noted_option.h"
#include "methods/method_catalogue.h"

namespace guidedbp {
namespace cli {
namespace {

const char* kEvaluateFooter = R"(
Metrics (docs/evaluate.md says how to read each; no pass/fail):
  infidelity       Captum's infidelity of given --attributions: mean over samples of
                   (sum(attr * I) - (f(x) - f(x - I)))^2; "normalized" with Captum's beta
  sensitivity-max  Captum's sensitivity_max of --method: max over samples of
                   ||E(x) - E(x~)|| / ||E(x)||
  mprt             the model parameter randomization test (Adebayo et al. 2018):
                   similarity of --method's maps to those of randomized copies
  deletion         RISE's deletion curve: the class probability as the most important
                   pixels (of --method's map) are set to 0, --step at a time; AUC
  insertion        the same, inserting them into a blurred image
                   (--target: default the predicted class)

Perturbations: row i*n+j of a given --perturbations/--perturbed-inputs tensor is
example i, sample j (Captum's layout); n = rows / N.

Images: --image instead of --input reads PNG/JPEG files and folders as `explain`
does, with its preprocessing flags (its --normalize imagenet is spelled
--image-normalize imagenet here); they must be one size after preprocessing.
They go through --batch-size at a time; generated perturbations of the image
at position k of the whole listing come from seed --seed + k, so no
value depends on --batch-size or --shard. --manifest FILE.jsonl appends one
line per image (explain's format, plus "metric" and "value").

Examples:
  guidedbp evaluate --metric mprt --method saliency --model model.pt \
      --image images/ --target 3 --output report.json --plot mprt.png
  guidedbp evaluate --metric infidelity --model m.pt --input x.npy --target 3 \
      --attributions a.npy --samples 10 --noise-std 0.003 --seed 0 --output report.json
  guidedbp evaluate --metric infidelity --model m.pt --input x.npy --target 3 \
      --attributions a.npy --perturbations I.npy --perturbed-inputs xt.npy --normalize \
      --output report.json
  guidedbp evaluate --metric sensitivity-max --method saliency --model m.pt \
      --input x.npy --target '[3, 1]' --samples 10 --radius 0.02 --output report.json
  guidedbp evaluate --metric mprt --method guided-backprop --model m.pt --input x.npy \
      --target 3 --output report.json --plot mprt.png --strip strip.png
  guidedbp evaluate --metric deletion --method guided-backprop --model m.pt \
      --input x.npy --output report.json --plot curves.png

Exit status: 0 success, 1 error (one line on stderr: "guidedbp: <cause>"),
2 usage error.)";

} // namespace

std::vector<std::string> evaluate_metrics() {
  return {"infidelity", "sensitivity-max", "mprt", "deletion", "insertion"};
}

CLI::App* add_evaluate_command(CLI::App& app, EvaluateArgs& args) {
  CLI::App* e = app.add_subcommand(
      "evaluate",
      "How far attributions can be trusted: Captum's infidelity and "
      "sensitivity_max, the model randomization test");
  e->add_option("--metric", args.metric, "the metric")
      ->required()
      ->check(CLI::IsMember(evaluate_metrics()));
  e->add_option("--model", args.model, "TorchScript model file (MODEL.pt)")
      ->required();
  CLI::Option* input =
      e->add_option(
           "--input",
           args.inputs,
           "input tensor (.npy or .pt), batch first; repeat for several "
           "inputs")
          ->take_all();
  CLI::Option* image =
      e->add_option(
           "--image",
           args.images,
           "images (PNG/JPEG files or folders, walked as `explain` does), "
           "preprocessed as `explain` does (--resize, --image-normalize, ...) and "
           "stacked into the one input, in their listed order; repeatable")
          ->take_all()
          ->excludes(input);
  input->excludes(image);
  e->add_option(
      "--files-from",
      args.files_from,
      "also the images listed in this file, one path per line (- : stdin), "
      "as `explain --files-from`");
  add_preprocess_options(e, args.preprocess, "--image-normalize");
  e->add_option(
      "--shard",
      args.shard,
      "--image: only shard I of N (0-based) of the listed images, as "
      "`explain --shard`");
  add_noted_option(
      e,
      "--batch-size",
      args.batch_size,
      args.has_batch_size,
      "--image: images per forward/backward pass (default 16); the values "
      "do not depend on it")
      ->check(CLI::Range(int64_t(1), int64_t(4096)));
  e->add_option(
      "--manifest",
      args.manifest,
      "--image: append one JSON line per image to this file, as `explain "
      "--manifest` (JSON Lines), once the report is written");
  e->add_option(
       "--forward-arg",
       args.forward_args,
       "extra forward argument after the inputs, as `attribute` takes it")
      ->take_all();
  add_noted_option(
      e,
      "--target",
      args.target,
      args.has_target,
      "which output, a literal as `attribute --target` takes (3, (1,2), "
      "[3,1,0], [(0,1),(2,3)]); default: none");
  add_noted_option(
      e,
      "--method",
      args.method,
      args.has_method,
      "sensitivity-max, mprt, deletion, insertion: the attribution method "
      "(default guided-backprop)")
      ->check(CLI::IsMember(method_names(MethodCommand::kEvaluate)));
  e->add_flag(
      "--abs", args.abs, "saliency only: the absolute value of the gradient");
  e->add_option(
       "--attributions",
       args.attributions,
       "infidelity: the attributions to evaluate, one per --input")
      ->take_all();
  e->add_option(
       "--perturbations",
       args.perturbations,
       "infidelity: the perturbations I, one per --input, n rows per example")
      ->take_all();
  e->add_option(
       "--perturbed-inputs",
       args.perturbed_inputs,
       "infidelity, sensitivity-max: the perturbed inputs, one per --input, "
       "n rows per example")
      ->take_all();
  add_noted_option(
      e,
      "--samples",
      args.samples,
      args.has_samples,
      "perturbations generated per example (default 10)")
      ->check(CLI::PositiveNumber);
  add_noted_option(
      e,
      "--noise-std",
      args.noise_std,
      args.has_noise_std,
      "infidelity: standard deviation of the Gaussian perturbations "
      "(default 0.003)")
      ->check(CLI::NonNegativeNumber);
  add_noted_option(
      e,
      "--radius",
      args.radius,
      args.has_radius,
      "sensitivity-max: radius of the uniform L-inf perturbations (default "
      "0.02)")
      ->check(CLI::NonNegativeNumber);
  add_noted_option(
      e,
      "--seed",
      args.seed,
      args.has_seed,
      "seed of generated perturbations and of mprt's randomization (default "
      "0)");
  e->add_flag(
      "--normalize",
      args.normalize,
      "infidelity: values are the normalized infidelity (Captum's "
      "normalize=True); both are written either way");
  add_noted_option(
      e,
      "--norm",
      args.norm,
      args.has_norm,
      "sensitivity-max: fro (default) or a number P > 0 (inf for the max "
      "norm)");
  add_noted_option(
      e,
      "--order",
      args.order,
      args.has_order,
      "mprt: cascading (top layer down, default) or independent")
      ->check(CLI::IsMember({"cascading", "independent"}));
  e->add_option("--output", args.output, "the report (.json)")->required();
  e->add_option(
       "--step",
       args.step,
       "deletion, insertion: pixels removed or inserted per step (default: "
       "one row, W)")
      ->check(CLI::PositiveNumber);
  e->add_option(
      "--plot",
      args.plot,
      "mprt: similarity against layer; deletion, insertion: the curves "
      "(.png)");
  e->add_option("--strip", args.strip, "mprt: the maps per layer (.png)");
  add_runtime_options(e, args.runtime);
  e->footer(kEvaluateFooter);
  return e;
}

} // namespace cli
} // namespace guidedbp
