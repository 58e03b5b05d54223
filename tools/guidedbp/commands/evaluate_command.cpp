// guidedbp evaluate: the checks every metric shares, the loading, and the
// report. The metrics themselves are in evaluate_<metric>.cpp.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <sstream>

#include "cli/cli_error.h"
#include "cli/commands.h"
#include "cli/target_literal.h"
#include "cli/text.h"
#include "commands/evaluate.h"
#include "commands/forward_arg.h"
#include "commands/target_convert.h"
#include "dataset/manifest.h"
#include "io/file_util.h"
#include "io/model_io.h"
#include "io/tensor_io.h"
#include "methods/method_catalogue.h"
#include "runtime/runtime.h"

namespace guidedbp {
namespace cli {
namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
      text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Which metrics take each metric's own options: one table, so that every
// metric refuses the others' options, with the same words.
struct MetricOption {
  const char* option;
  bool (*given)(const EvaluateArgs&);
  std::vector<std::string> metrics;
  /// Sets how perturbations are generated, so it conflicts with given ones.
  bool generates = false;
};

const std::vector<MetricOption>& metric_options() {
  using A = const EvaluateArgs&;
  static const std::vector<std::string> kWithMethod = {
      "sensitivity-max", "mprt", "deletion", "insertion"};
  static const std::vector<MetricOption> options = {
      {"--attributions",
       [](A a) { return !a.attributions.empty(); },
       {"infidelity"}},
      {"--perturbations",
       [](A a) { return !a.perturbations.empty(); },
       {"infidelity"}},
      {"--perturbed-inputs",
       [](A a) { return !a.perturbed_inputs.empty(); },
       {"infidelity", "sensitivity-max"}},
      {"--samples",
       [](A a) { return a.has_samples; },
       {"infidelity", "sensitivity-max"},
       true},
      {"--noise-std",
       [](A a) { return a.has_noise_std; },
       {"infidelity"},
       true},
      {"--normalize", [](A a) { return a.normalize; }, {"infidelity"}},
      {"--radius", [](A a) { return a.has_radius; }, {"sensitivity-max"}, true},
      {"--norm", [](A a) { return a.has_norm; }, {"sensitivity-max"}},
      {"--seed",
       [](A a) { return a.has_seed; },
       {"infidelity", "sensitivity-max", "mprt"},
       true},
      {"--order", [](A a) { return a.has_order; }, {"mprt"}},
      {"--strip", [](A a) { return !a.strip.empty(); }, {"mprt"}},
      {"--plot",
       [](A a) { return !a.plot.empty(); },
       {"mprt", "deletion", "insertion"}},
      {"--method", [](A a) { return a.has_method; }, kWithMethod},
      {"--abs", [](A a) { return a.abs; }, kWithMethod},
  };
  return options;
}

// UsageError "--OPTION applies to METRICS, not to --metric M" for the first
// option given that the metric does not take; with given perturbations, the
// options that would generate them are refused too.
void refuse_other_metrics_options(const EvaluateArgs& args) {
  const bool perturbations_given =
      !args.perturbations.empty() || !args.perturbed_inputs.empty();
  for (const MetricOption& entry : metric_options()) {
    if (!entry.given(args)) {
      continue;
    }
    const auto& metrics = entry.metrics;
    if (std::find(metrics.begin(), metrics.end(), args.metric) ==
        metrics.end()) {
      throw UsageError(
          std::string(entry.option) + " applies to " + spoken_list(metrics) +
          ", not to --metric " + args.metric + "; leave it out");
    }
    if (entry.generates && perturbations_given) {
      throw UsageError(
          std::string(entry.option) +
          " sets generated perturbations, but perturbations are given (n is "
          "their rows / N); leave it out or give no perturbation files");
    }
  }
}

void check_common(const EvaluateArgs& args) {
  if (args.inputs.empty() && !image_form(args)) {
    throw UsageError(
        "no input: give --input TENSOR (.npy/.pt), --image FILE|FOLDER or "
        "--files-from LIST");
  }
  if (!args.inputs.empty() && !args.files_from.empty()) {
    throw UsageError(
        "--files-from lists images; give either --input tensors or images");
  }
  if (!image_form(args)) {
    const std::pair<const char*, bool> image_options[] = {
        {"--shard", !args.shard.empty()},
        {"--batch-size", args.has_batch_size},
        {"--manifest", !args.manifest.empty()}};
    for (const auto& [option, given] : image_options) {
      if (given) {
        throw UsageError(
            std::string(option) +
            " applies to --image; leave it out with --input");
      }
    }
  }
  if (!ends_with(args.output, ".json")) {
    throw UsageError(
        "--output " + limit_length(args.output, 80) +
        ": the report is JSON; give a .json file");
  }
  for (const std::string* png : {&args.plot, &args.strip}) {
    if (!png->empty() && !ends_with(*png, ".png")) {
      throw UsageError(
          limit_length(*png, 80) +
          ": --plot and --strip write PNG images; give a .png file");
    }
  }
  const bool has_method_metric = args.metric != "infidelity";
  if (has_method_metric) {
    MethodOptions given;
    given.abs = args.abs;
    given.target = args.has_target;
    check_method_options(
        find_method(args.method, MethodCommand::kEvaluate),
        given,
        MethodCommand::kEvaluate);
  }
  refuse_other_metrics_options(args);
  if (args.metric == "infidelity") {
    check_infidelity_args(args);
  } else if (args.metric == "sensitivity-max") {
    check_sensitivity_args(args);
  } else if (args.metric == "mprt") {
    check_mprt_args(args);
  } else if (args.metric == "deletion" || args.metric == "insertion") {
    check_curve_args(args);
  } else {
    throw UsageError(
        "unknown --metric '" + limit_length(args.metric, 40) +
        "' (expected infidelity, sensitivity-max, mprt, deletion or insertion)");
  }
}

// One `explain`-style manifest line per image, once the report is
// written: "targets" holds the image's class when the report has one
// (deletion, insertion: "classes"; a class target), "outputs" the report
// and its images, "metric" and "value" the image's entry of "values".
void write_manifest(
    Manifest& manifest,
    const EvaluateArgs& args,
    const Target& target,
    const std::vector<std::string>& names,
    const MetricReport& metric) {
  const nlohmann::json& values = metric.fields.at("values");
  const nlohmann::json classes =
      metric.fields.contains("classes") ? metric.fields["classes"] : nullptr;
  std::vector<std::string> outputs = {args.output};
  for (const auto& image : metric.images) {
    outputs.push_back(image.first);
  }
  for (size_t i = 0; i < names.size(); ++i) {
    ManifestRecord record;
    record.input = names[i];
    if (classes.is_array()) {
      record.targets = {classes[i].get<int64_t>()};
    } else if (target.kind() == Target::Kind::kIndex) {
      record.targets = target.indices();
    } else if (target.kind() == Target::Kind::kPerExample) {
      record.targets = {target.indices()[i]};
    }
    if (classes.is_array() && !args.has_target) {
      record.predicted = classes[i].get<int64_t>();
    }
    record.outputs = outputs;
    record.metric = args.metric;
    if (values[i].is_number()) {
      record.value = values[i].get<double>();
    }
    manifest.write(record);
  }
}

} // namespace

std::vector<torch::Tensor> read_tensors(
    const std::vector<std::string>& paths,
    const torch::Device& device) {
  std::vector<torch::Tensor> out;
  for (const std::string& path : paths) {
    torch::Tensor t = read_tensor(path);
    if (!t.is_floating_point() || t.dim() == 0) {
      throw CliError(
          path +
          ": expected a floating-point tensor with a batch dimension, "
          "got " +
          std::string(c10::toString(t.scalar_type())) + " with " +
          std::to_string(t.dim()) + " dimensions");
    }
    out.push_back(t.to(device));
  }
  return out;
}

nlohmann::json json_values(const torch::Tensor& values) {
  nlohmann::json list = nlohmann::json::array();
  torch::Tensor v = values.detach().to(torch::kCPU, torch::kFloat64);
  for (int64_t i = 0; i < v.numel(); ++i) {
    const double x = v[i].item<double>();
    list.push_back(std::isfinite(x) ? nlohmann::json(x) : nlohmann::json());
  }
  return list;
}

std::string mean_text(const torch::Tensor& values) {
  torch::Tensor v = values.detach().to(torch::kCPU, torch::kFloat64);
  torch::Tensor finite = v.masked_select(torch::isfinite(v));
  std::ostringstream text;
  text.precision(4);
  if (finite.numel() == 0) {
    text << "no defined value";
  } else {
    text << "mean " << finite.mean().item<double>();
  }
  text << " over " << v.numel() << (v.numel() == 1 ? " example" : " examples");
  return text.str();
}

int run_evaluate(const EvaluateArgs& args) {
  check_common(args); // usage errors before anything is loaded
  Target target;
  if (args.has_target) {
    target = to_target(parse_target_literal(args.target));
  }
  const torch::Device device = apply_runtime(args.runtime);
  torch::jit::Module module = load_model(args.model);
  module.to(device);
  // The manifest opens before any work, so that a bad path fails first.
  std::optional<Manifest> manifest;
  if (!args.manifest.empty()) {
    manifest.emplace(args.manifest);
  }
  EvaluateRun run{args, module, device, {}, {}, target};
  ImageSet images;
  if (!image_form(args)) {
    run.inputs = read_tensors(args.inputs, device);
    run.examples = run.inputs.front().size(0);
  } else {
    images = list_image_inputs(args, module);
    run.images = &images;
    run.examples = static_cast<int64_t>(images.names.size());
  }
  for (const std::string& text : args.forward_args) {
    c10::IValue arg = forward_arg(text);
    run.extra.push_back(
        arg.isTensor() ? c10::IValue(arg.toTensor().to(device)) : arg);
  }
  MetricReport metric;
  if (args.metric == "infidelity") {
    metric = evaluate_infidelity(run);
  } else if (args.metric == "sensitivity-max") {
    metric = evaluate_sensitivity(run);
  } else if (args.metric == "mprt") {
    metric = evaluate_mprt(run);
  } else {
    metric = evaluate_curves(run);
  }
  nlohmann::json report = {
      {"metric", args.metric},
      {"method",
       args.metric == "infidelity" ? nlohmann::json()
                                   : nlohmann::json(args.method)},
      {"model", args.model},
      {"inputs", image_form(args) ? images.names : args.inputs},
      {"target",
       args.has_target ? nlohmann::json(args.target) : nlohmann::json()},
  };
  if (args.metric != "infidelity") {
    report["abs"] = args.abs;
  }
  for (auto& item : metric.fields.items()) {
    report[item.key()] = item.value();
  }
  StagedFiles files;
  const std::string text = report.dump(2) + "\n";
  files.stage(args.output, text.data(), text.size());
  for (const auto& image : metric.images) {
    files.stage(image.first, image.second);
  }
  files.commit();
  if (manifest) {
    write_manifest(*manifest, args, target, images.names, metric);
  }
  std::printf("%s\n", metric.summary.c_str());
  return 0;
}

} // namespace cli
} // namespace guidedbp
