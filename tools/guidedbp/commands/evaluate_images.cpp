// guidedbp evaluate: the batches of a run. --image inputs are listed first,
// then read and preprocessed as `explain` does, --batch-size images at a
// time; --input is one batch.

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "cli/cli_error.h"
#include "commands/evaluate.h"
#include "dataset/dataset.h"
#include "dataset/shard.h"
#include "imaging/preprocess.h"
#include "io/file_util.h"
#include "io/image_io.h"
#include "io/model_io.h"

namespace guidedbp {
namespace cli {
namespace {

// The part of a per-example target for examples [begin, end); other
// targets are the same for every example.
Target cut_target(const Target& target, int64_t begin, int64_t end) {
  if (target.kind() == Target::Kind::kPerExample) {
    const auto& all = target.indices();
    return Target::per_example(
        std::vector<int64_t>(all.begin() + begin, all.begin() + end));
  }
  if (target.kind() == Target::Kind::kPerExampleTuples) {
    const auto& all = target.tuples();
    return Target::per_example_tuples(std::vector<std::vector<int64_t>>(
        all.begin() + begin, all.begin() + end));
  }
  return target;
}

size_t per_example_count(const Target& target) {
  return target.kind() == Target::Kind::kPerExample ? target.indices().size()
                                                    : target.tuples().size();
}

} // namespace

ImageSet list_image_inputs(
    const EvaluateArgs& args,
    const torch::jit::Module& module) {
  ImageSet set;
  set.options = preprocess_options(args.preprocess);
  if (!args.preprocess.grayscale && !args.preprocess.rgb) {
    if (std::optional<int64_t> channels = expected_input_channels(module)) {
      set.options.channels = *channels;
    }
  }
  check_normalization(set.options);
  const Shard shard = resolve_shard(
      args.shard, 0, [](const char* name) { return std::getenv(name); });
  std::vector<DatasetImage> images =
      select_shard(list_dataset(args.images, args.files_from, std::cin), shard);
  if (images.empty()) {
    throw CliError("--shard " + args.shard + ": this shard has no images");
  }
  for (size_t j = 0; j < images.size(); ++j) {
    set.names.push_back(images[j].path);
    // select_shard takes positions index, index + count, ...
    set.positions.push_back(
        shard.index + static_cast<int64_t>(j) * shard.count);
  }
  return set;
}

torch::Tensor read_image_batch(ImageSet& set, int64_t begin, int64_t end) {
  std::vector<torch::Tensor> batch;
  for (int64_t i = begin; i < end; ++i) {
    const std::string& name = set.names[i];
    std::vector<uint8_t> bytes = read_file(name);
    Image image = decode_image(bytes.data(), bytes.size(), name);
    torch::Tensor input = preprocess(image, set.options).input;
    if (set.first.empty()) {
      set.first = name;
      set.size = input.sizes().vec();
    }
    if (input.sizes() != c10::IntArrayRef(set.size)) {
      throw CliError(
          name + ": preprocessed to " + c10::str(input.sizes().slice(1)) +
          " but " + set.first + " to " +
          c10::str(c10::IntArrayRef(set.size).slice(1)) +
          "; the metrics need one size: give --resize and --center-crop");
    }
    batch.push_back(input);
  }
  return torch::cat(batch, 0);
}

void for_each_batch(
    const EvaluateRun& run,
    const std::function<void(const EvaluateBatch&)>& fn) {
  if (run.images == nullptr) {
    fn(EvaluateBatch{run.inputs, run.extra, run.target, 0, run.examples});
    return;
  }
  const Target::Kind kind = run.target.kind();
  if ((kind == Target::Kind::kPerExample ||
       kind == Target::Kind::kPerExampleTuples) &&
      per_example_count(run.target) != static_cast<size_t>(run.examples)) {
    throw CliError(
        "--target " + run.args.target + " has " +
        std::to_string(per_example_count(run.target)) + " entries for " +
        std::to_string(run.examples) +
        " images (after --shard); give one per image, in their listed order, "
        "or one class for all");
  }
  const int64_t size = run.args.batch_size;
  for (int64_t begin = 0; begin < run.examples; begin += size) {
    const int64_t end = std::min(run.examples, begin + size);
    EvaluateBatch batch;
    batch.begin = begin;
    batch.end = end;
    batch.inputs = {read_image_batch(*run.images, begin, end).to(run.device)};
    batch.target = cut_target(run.target, begin, end);
    for (const c10::IValue& arg : run.extra) {
      const bool per_example = arg.isTensor() && arg.toTensor().dim() > 0 &&
          arg.toTensor().size(0) == run.examples;
      batch.extra.push_back(
          per_example ? c10::IValue(arg.toTensor().slice(0, begin, end)) : arg);
    }
    fn(batch);
  }
}

std::vector<torch::Tensor> generated_perturbations(
    const EvaluateRun& run,
    const EvaluateBatch& batch,
    const std::function<std::vector<torch::Tensor>(
        const std::vector<torch::Tensor>&,
        uint64_t)>& generate) {
  if (run.images == nullptr) {
    return generate(batch.inputs, run.args.seed);
  }
  std::vector<std::vector<torch::Tensor>> parts;
  for (int64_t i = batch.begin; i < batch.end; ++i) {
    std::vector<torch::Tensor> one;
    for (const torch::Tensor& x : batch.inputs) {
      one.push_back(x.slice(0, i - batch.begin, i - batch.begin + 1));
    }
    const uint64_t seed =
        run.args.seed + static_cast<uint64_t>(run.images->positions[i]);
    std::vector<torch::Tensor> made = generate(one, seed);
    if (parts.empty()) {
      parts.resize(made.size());
    }
    for (size_t t = 0; t < made.size(); ++t) {
      parts[t].push_back(made[t]);
    }
  }
  std::vector<torch::Tensor> out;
  for (const auto& tensors : parts) {
    out.push_back(torch::cat(tensors, 0));
  }
  return out;
}

std::vector<torch::Tensor> batch_rows(
    const EvaluateRun& run,
    const EvaluateBatch& batch,
    const std::vector<torch::Tensor>& tensors,
    const std::vector<std::string>& paths,
    bool per_sample) {
  if (run.images == nullptr) {
    return tensors;
  }
  std::vector<torch::Tensor> out;
  for (size_t t = 0; t < tensors.size(); ++t) {
    const int64_t rows = tensors[t].size(0);
    if (!per_sample && rows != run.examples) {
      throw CliError(
          paths[t] + " has " + std::to_string(rows) + " rows for " +
          std::to_string(run.examples) +
          " images (after --shard); give one row per image, in their listed "
          "order");
    }
    if (rows % run.examples != 0) {
      throw CliError(
          paths[t] + " has " + std::to_string(rows) + " rows for " +
          std::to_string(run.examples) +
          " images (after --shard); expected n rows per image (row i*n+j: "
          "image i, sample j)");
    }
    const int64_t n = rows / run.examples;
    out.push_back(tensors[t].slice(0, batch.begin * n, batch.end * n));
  }
  return out;
}

} // namespace cli
} // namespace guidedbp
