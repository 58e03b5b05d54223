#pragma once

// explain's three image stages: load (read, decode, preprocess; on a
// worker), explain (the model on a batch; on the main thread), draw (heat
// maps, encode, write; on a worker). pipeline.h decides when each runs.

#include <guidedbp/attribution.h>
#include <guidedbp/compiled.h>
#include <guidedbp/grad_cam.h>
#include <torch/script.h>

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "cli/cli_error.h"
#include "cli/commands.h"
#include "commands/explain_plan.h"
#include "dataset/dataset.h"
#include "dataset/manifest.h"
#include "imaging/preprocess.h"
#include "io/image_io.h"

namespace guidedbp {
namespace cli {

/// A mistake that would fail every image the same way (the model's output
/// does not fit the options): it stops the run at once, reported once.
class RunWideError : public CliError {
 public:
  using CliError::CliError;
};

/// One image after decoding and preprocessing.
struct LoadedImage {
  const DatasetImage* item = nullptr;
  Preprocessed input;
  std::string error;                 ///< reading, decoding or preprocessing
  std::vector<std::string> warnings; ///< library warnings and conversions
};

/// What the model gave for one image, to be drawn.
struct ModelResult {
  const DatasetImage* item = nullptr;
  torch::Tensor pixels;                    ///< C x H x W in [0, 1]
  std::vector<torch::Tensor> attributions; ///< per class: C x H x W (CPU)
  std::vector<torch::Tensor> cams;         ///< guided-gradcam: 1 x h x w
  std::vector<int64_t> classes;
  int64_t predicted = 0;
  torch::Tensor probs; ///< classes, float64, CPU
};

/// One image's end: what to print, record and count.
struct FinishedImage {
  const DatasetImage* item = nullptr;
  std::string error;
  std::vector<std::string> lines;    ///< stdout
  std::vector<std::string> warnings; ///< drawing
  ManifestRecord record;
};

/// The failure of `item` with `message` (prefixed with the image's path).
FinishedImage failed_image(
    const DatasetImage* item,
    const std::string& message);

class ExplainStages {
 public:
  /// Applies --device/--threads, loads the model and builds the method;
  /// completes the plan's preprocessing with the model's channel count and
  /// checks --mean/--std against it (UsageError).
  ExplainStages(const ExplainArgs& args, const ExplainPlan& plan);

  /// Reads, decodes and preprocesses an image; never throws.
  LoadedImage load(const DatasetImage* item) const;

  /// The batch (images of one size) through the model, as one pass when it
  /// can, else image by image so that a bad image fails alone: per image,
  /// its result or its failure. Throws RunWideError only.
  std::vector<std::variant<ModelResult, FinishedImage>> explain(
      std::vector<LoadedImage>& batch);

  /// Draws, encodes and writes one image's outputs, all or nothing; never
  /// throws.
  FinishedImage draw(ModelResult result) const;

  /// True once a model output has fit the options: from then on a failure
  /// is an image's own.
  bool options_fit_output() const {
    return options_fit_output_;
  }

 private:
  std::vector<ModelResult> explain_together(std::vector<LoadedImage>& batch);
  ClassChoice choose(const torch::Tensor& scores, size_t images);
  std::string first_batch_failure(
      const LoadedImage& loaded,
      const std::exception& e) const;
  Image draw_grad_cam(
      const torch::Tensor& cam,
      const torch::Tensor& pixels,
      int scale) const;
  std::string map_line(const ModelResult& result, size_t k) const;
  std::string class_name(int64_t index) const;

  const ExplainArgs& args_;
  ExplainPlan plan_;
  torch::Device device_ = torch::kCPU;
  torch::jit::Module module_;
  std::unique_ptr<ModifiedReluGradient> method_;
  std::unique_ptr<CompiledAttribution> compiled_; ///< a package (.pt2)
  std::unique_ptr<GuidedGradCam> guided_grad_cam_;
  bool options_fit_output_ = false;
};

} // namespace cli
} // namespace guidedbp
