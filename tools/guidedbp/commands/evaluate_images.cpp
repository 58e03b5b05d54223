// guidedbp evaluate --image: images read and preprocessed as `explain` does,
// stacked into one input tensor.

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

ImageInputs read_image_inputs(
    const EvaluateArgs& args,
    const torch::jit::Module& module) {
  PreprocessOptions options = preprocess_options(args.preprocess);
  if (!args.preprocess.grayscale && !args.preprocess.rgb) {
    if (std::optional<int64_t> channels = expected_input_channels(module)) {
      options.channels = *channels;
    }
  }
  check_normalization(options);
  const Shard shard = resolve_shard(
      args.shard, 0, [](const char* name) { return std::getenv(name); });
  std::vector<DatasetImage> images =
      select_shard(list_dataset(args.images, "", std::cin), shard);
  if (images.empty()) {
    throw CliError("--shard " + args.shard + ": this shard has no images");
  }
  ImageInputs out;
  std::vector<torch::Tensor> batch;
  for (const DatasetImage& item : images) {
    std::vector<uint8_t> bytes = read_file(item.path);
    Image image = decode_image(bytes.data(), bytes.size(), item.path);
    torch::Tensor input = preprocess(image, options).input;
    if (!batch.empty() && input.sizes() != batch.front().sizes()) {
      throw CliError(
          item.path + ": preprocessed to " + c10::str(input.sizes().slice(1)) +
          " but " + images.front().path + " to " +
          c10::str(batch.front().sizes().slice(1)) +
          "; the metrics need one size: give --resize and --center-crop");
    }
    batch.push_back(input);
    out.names.push_back(item.path);
  }
  out.input = torch::cat(batch, 0);
  return out;
}

} // namespace cli
} // namespace guidedbp
