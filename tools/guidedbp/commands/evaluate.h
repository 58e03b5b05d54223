#pragma once

// `guidedbp evaluate`: what the metrics share. evaluate_command.cpp checks
// the command line, loads the model and tensors and writes the report; each
// metric is in its own file (evaluate_infidelity.cpp,
// evaluate_sensitivity.cpp, evaluate_mprt.cpp, evaluate_curves.cpp); the
// --image inputs and the batches are in evaluate_images.cpp.

#include <guidedbp/attribution.h>
#include <guidedbp/target.h>
#include <torch/script.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "imaging/preprocess.h"

namespace guidedbp {
namespace cli {

/// The --image inputs of a run, read --batch-size at a time.
struct ImageSet {
  /// This run's images (after --shard), in the listed order.
  std::vector<std::string> names;
  /// Each one's position in the whole sorted listing (before --shard): the
  /// image's seed offset for generated perturbations.
  std::vector<int64_t> positions;
  PreprocessOptions options;
  /// The first image read and its preprocessed size: every image must match.
  std::string first;
  std::vector<int64_t> size;
};

/// What a metric runs on: the model, and the inputs on --device.
struct EvaluateRun {
  const EvaluateArgs& args;
  torch::jit::Module module;
  torch::Device device;
  std::vector<torch::Tensor>
      inputs;        ///< --input, on `device`; empty for --image
  ForwardArgs extra; ///< --forward-arg, on `device`.
  Target target;
  ImageSet* images = nullptr; ///< --image; null for --input
  int64_t examples = 0;       ///< N: rows of the inputs, or images of the run
};

/// Examples [begin, end) of a run: their inputs on the device, and the
/// target and forward args cut to them.
struct EvaluateBatch {
  std::vector<torch::Tensor> inputs;
  ForwardArgs extra;
  Target target;
  int64_t begin = 0;
  int64_t end = 0;
};

/// Calls `fn` for each batch of `run`: the whole --input at once, or
/// --batch-size images at a time, read only when their batch comes.
/// Per-example targets and the tensor --forward-args whose first dimension
/// is N are cut to the batch; other forward args go whole to each batch.
void for_each_batch(
    const EvaluateRun& run,
    const std::function<void(const EvaluateBatch&)>& fn);

/// Generated perturbation tensors of `batch`: `generate(inputs, seed)` on
/// the batch with --seed for --input (one generator for the whole tensor,
/// as the library does), and on each image alone with --seed + its
/// position in the whole listing for --image, concatenated per tensor
/// (Captum's row layout is kept: image i's rows stay together).
std::vector<torch::Tensor> generated_perturbations(
    const EvaluateRun& run,
    const EvaluateBatch& batch,
    const std::function<std::vector<
        torch::Tensor>(const std::vector<torch::Tensor>&, uint64_t)>& generate);

/// The rows of `batch` in given tensors read from `paths`: rows [begin,
/// end), or [begin * n, end * n) of `per_sample` tensors (n = rows / N); for
/// --input (one batch) the tensors themselves. Throws CliError for --image
/// when the rows are not N (or a multiple of N for `per_sample`).
std::vector<torch::Tensor> batch_rows(
    const EvaluateRun& run,
    const EvaluateBatch& batch,
    const std::vector<torch::Tensor>& tensors,
    const std::vector<std::string>& paths,
    bool per_sample);

/// A metric's part of the report and its summary line for stdout.
struct MetricReport {
  nlohmann::json fields;
  std::string summary;
  /// Images to write with the report (--plot, --strip): path, PNG bytes.
  std::vector<std::pair<std::string, std::vector<uint8_t>>> images;
};

/// Whether the run reads images (--image, --files-from), not tensors.
inline bool image_form(const EvaluateArgs& args) {
  return !args.images.empty() || !args.files_from.empty();
}

/// The number of model inputs: 1 for images, else the --input count.
inline size_t input_count(const EvaluateArgs& args) {
  return image_form(args) ? 1 : args.inputs.size();
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

/// Lists --image (files, folders) and applies --shard, before anything is
/// read; the channels come from the model unless --grayscale or --rgb.
/// Throws CliError when the shard has no images.
ImageSet list_image_inputs(
    const EvaluateArgs& args,
    const torch::jit::Module& module);

/// Images [begin, end) of `set`, read and preprocessed as `explain` does,
/// stacked: an (end - begin) x C x H x W tensor on the CPU. Throws CliError
/// for an unreadable image or one whose size differs from the first's.
torch::Tensor read_image_batch(ImageSet& set, int64_t begin, int64_t end);

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
