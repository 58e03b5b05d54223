#pragma once

// `guidedbp evaluate`: what the metrics share. evaluate_command.cpp checks
// the command line, loads the model and tensors and writes the report; each
// metric is in its own file (evaluate_infidelity.cpp,
// evaluate_sensitivity.cpp, evaluate_mprt.cpp).

#include <guidedbp/attribution.h>
#include <guidedbp/target.h>
#include <torch/script.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.h"

namespace guidedbp {
namespace cli {

/// What a metric runs on: the model and tensors on --device.
struct EvaluateRun {
  const EvaluateArgs& args;
  torch::jit::Module module;
  torch::Device device;
  std::vector<torch::Tensor> inputs; ///< On `device`.
  ForwardArgs extra;                 ///< --forward-arg, on `device`.
  Target target;
};

/// A metric's part of the report and its summary line for stdout.
struct MetricReport {
  nlohmann::json fields;
  std::string summary;
  /// Images to write with the report (--plot, --strip): path, PNG bytes.
  std::vector<std::pair<std::string, std::vector<uint8_t>>> images;
};

/// The number of model inputs: 1 for --image, else the --input count.
inline size_t input_count(const EvaluateArgs& args) {
  return args.images.empty() ? args.inputs.size() : 1;
}

/// Usage checks of each metric (UsageError), before anything is loaded.
void check_infidelity_args(const EvaluateArgs& args);
void check_sensitivity_args(const EvaluateArgs& args);
void check_mprt_args(const EvaluateArgs& args);
void check_curve_args(const EvaluateArgs& args);

MetricReport evaluate_infidelity(const EvaluateRun& run);
MetricReport evaluate_sensitivity(const EvaluateRun& run);
MetricReport evaluate_mprt(const EvaluateRun& run);
/// deletion and insertion.
MetricReport evaluate_curves(const EvaluateRun& run);

/// The --image inputs: one N x C x H x W tensor and the images' paths.
struct ImageInputs {
  torch::Tensor input;
  std::vector<std::string> names;
};

/// Lists --image (files, folders), applies --shard, reads and preprocesses
/// each image as `explain` does (channels from the model unless --grayscale
/// or --rgb) and stacks them. Throws CliError for an unreadable image or
/// images of different sizes.
ImageInputs read_image_inputs(
    const EvaluateArgs& args,
    const torch::jit::Module& module);

/// Tensors read from `paths` and moved to `device`; `what` names them in
/// errors ("--attributions").
std::vector<torch::Tensor> read_tensors(
    const std::vector<std::string>& paths,
    const torch::Device& device);

/// A 1-D tensor as a JSON list (NaN as null).
nlohmann::json json_values(const torch::Tensor& values);

/// "mean M over N examples" of a 1-D tensor, ignoring NaN.
std::string mean_text(const torch::Tensor& values);

} // namespace cli
} // namespace guidedbp
