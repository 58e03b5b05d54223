// guidedbp explain: images in, heat maps out, from one file to a whole
// dataset. The main thread runs the model on batches; a small thread pool
// decodes and preprocesses the next images and draws and writes the finished
// ones meanwhile, with a fixed number of images in flight.

#include <guidedbp/visualization.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "cli_error.h"
#include "commands.h"
#include "dataset.h"
#include "file_util.h"
#include "image_io.h"
#include "interrupt.h"
#include "layer_command.h"
#include "manifest.h"
#include "method_catalogue.h"
#include "methods.h"
#include "model_io.h"
#include "output_names.h"
#include "panel.h"
#include "preprocess.h"
#include "progress.h"
#include "report.h"
#include "runtime.h"
#include "shard.h"
#include "tensor_io.h"
#include "thread_pool.h"

namespace guidedbp {
namespace cli {
namespace {

std::string format_score(double p) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.4f", p);
  return buffer;
}

// "IMAGE: message", unless the message already starts with the image's name.
std::string name_failure(const std::string& image, const std::string& message) {
  if (message.compare(0, image.size() + 1, image + ":") == 0) {
    return message;
  }
  return image + ": " + message;
}

// The one line for an image the model failed on; a channel mismatch names
// the option that fixes it.
std::string model_error_line(const std::exception& e) {
  std::string line = error_line(e);
  std::string mismatch = channel_mismatch_message(line);
  return mismatch.empty() ? line : mismatch;
}

// A mistake that would fail every image the same way (the model's output
// does not fit the options): it stops the run at once, reported once.
class RunWideError : public CliError {
 public:
  using CliError::CliError;
};

// Prints each distinct warning or note once per run, with the image it was
// first seen on.
class ReportOnce {
 public:
  explicit ReportOnce(Progress& progress) : progress_(progress) {}

  void warnings(
      const std::string& image,
      const std::vector<std::string>& messages) {
    for (const std::string& message : messages) {
      if (seen_.insert(message).second) {
        progress_.clear();
        std::fprintf(
            stderr,
            "guidedbp: warning: %s: %s\n",
            image.c_str(),
            message.c_str());
      }
    }
  }

 private:
  Progress& progress_;
  std::set<std::string> seen_;
};

// One image after decoding and preprocessing (on a worker thread).
struct LoadedImage {
  const DatasetImage* item = nullptr;
  Preprocessed input;
  std::string error;                 // reading, decoding or preprocessing
  std::vector<std::string> warnings; // library warnings and conversions
};

// What the model gave for one image, handed to a worker for drawing.
struct ModelResult {
  const DatasetImage* item = nullptr;
  torch::Tensor pixels;                    // C x H x W in [0, 1]
  std::vector<torch::Tensor> attributions; // per target: C x H x W (CPU)
  std::vector<torch::Tensor> cams;         // guided-gradcam: 1 x h x w
  std::vector<int64_t> targets;
  int64_t predicted = 0;
  torch::Tensor probs; // classes, float64, CPU
};

// One image's end: what to print, record and count.
struct FinishedImage {
  const DatasetImage* item = nullptr;
  std::string error;
  std::vector<std::string> lines;    // stdout
  std::vector<std::string> warnings; // drawing
  ManifestRecord record;
};

std::future<FinishedImage> ready(FinishedImage finished) {
  std::promise<FinishedImage> promise;
  promise.set_value(std::move(finished));
  return promise.get_future();
}

FinishedImage failed(const DatasetImage* item, const std::string& message) {
  FinishedImage finished;
  finished.item = item;
  finished.error = name_failure(item->path, message);
  finished.record.input = item->path;
  finished.record.ok = false;
  finished.record.error = finished.error;
  return finished;
}

// The run: options resolved once, then the pipeline.
class ExplainRun {
 public:
  explicit ExplainRun(const ExplainArgs& args);
  int run();

 private:
  LoadedImage load(const DatasetImage* item) const;
  std::vector<ModelResult> explain_batch(std::vector<LoadedImage>& batch);
  std::vector<ModelResult> explain_together(std::vector<LoadedImage>& batch);
  std::vector<std::vector<int64_t>> choose_targets(
      const torch::Tensor& logits,
      size_t images,
      torch::Tensor& probs,
      std::vector<int64_t>& predicted);
  FinishedImage draw(ModelResult result) const;
  Image draw_grad_cam(
      const torch::Tensor& cam,
      const torch::Tensor& pixels,
      int scale) const;
  std::string map_line(const ModelResult& result, size_t k) const;
  std::string first_batch_failure(
      const LoadedImage& loaded,
      const std::exception& e) const;
  std::string class_name(int64_t index) const;

  const ExplainArgs& args_;
  bool grad_cam_ = false;
  InterpolateMode interpolate_ = InterpolateMode::kNearest;
  VisualizeOptions visualize_;
  PreprocessOptions preprocess_;
  std::vector<std::string> labels_;
  torch::Device device_ = torch::kCPU;
  torch::jit::Module module_;
  std::unique_ptr<ModifiedReluGradient> method_;
  std::unique_ptr<GuidedGradCam> guided_grad_cam_;
  OutputNaming naming_;
  std::vector<DatasetImage> images_; // this shard's, in the stable order
  size_t listed_ = 0;                // before sharding
  Shard shard_;
  std::optional<Manifest> manifest_;
  bool options_fit_output_ = false; // a model output passed choose_targets
};

ExplainRun::ExplainRun(const ExplainArgs& args) : args_(args) {
  // (--grayscale with --rgb, --target with --top-k: CLI11 rejects them.)
  const MethodInfo& method = find_method(args.method, MethodCommand::kExplain);
  MethodOptions given;
  given.abs = args.abs;
  given.layer = !args.layer.empty();
  given.interpolate = args.has_interpolate || args.gradcam_map;
  check_method_options(method, given, MethodCommand::kExplain);
  grad_cam_ = method.kind == MethodKind::kLayer;
  if (args.images.empty() && args.files_from.empty()) {
    throw UsageError(
        "no images: give image files or folders, or --files-from LIST");
  }
  interpolate_ = parse_interpolate(args.interpolate);
  visualize_ = VisualizeOptions()
                   .method(parse_visual_method(args.visual))
                   .sign(parse_visual_sign(args.sign))
                   .outlier_perc(args.outlier_perc);
  preprocess_ = preprocess_options(args.preprocess);
  shard_ = resolve_shard(args.shard, args.shard_count, [](const char* name) {
    return std::getenv(name);
  });

  // Everything that would fail every image is checked before the first
  // one: the labels, the model, the method, the out-dir, the manifest.
  if (!args.labels.empty()) {
    labels_ = read_lines(args.labels);
  }
  device_ = apply_runtime(args.runtime);
  module_ = load_model(args.model);
  module_.to(device_);
  if (!args.preprocess.grayscale && !args.preprocess.rgb) {
    if (std::optional<int64_t> channels = expected_input_channels(module_)) {
      preprocess_.channels = *channels;
    }
  }
  check_normalization(preprocess_);
  if (grad_cam_) {
    guided_grad_cam_ = std::make_unique<GuidedGradCam>(module_, args.layer);
  } else {
    method_ = make_method(module_, args.method, args.abs);
  }
  make_directories(args.out_dir);

  naming_.maps = args.top_k > 0 ? args.top_k : 1;
  naming_.top_k = args.top_k > 0;
  if (args.has_target && args.target >= 0) {
    naming_.fixed_class = args.target;
  }
  naming_.panel = args.panel;
  naming_.npy = args.save_raw;
  naming_.gradcam_png = args.gradcam_map && !args.panel;

  std::vector<DatasetImage> all =
      list_dataset(args.images, args.files_from, std::cin);
  listed_ = all.size();
  images_ = select_shard(all, shard_);
  if (!args.manifest.empty()) {
    manifest_.emplace(args.manifest);
  }
}

std::string ExplainRun::class_name(int64_t index) const {
  std::string text = std::to_string(index);
  if (index >= 0 && index < static_cast<int64_t>(labels_.size())) {
    text += " (" + labels_[static_cast<size_t>(index)] + ")";
  }
  return text;
}

LoadedImage ExplainRun::load(const DatasetImage* item) const {
  LoadedImage loaded;
  loaded.item = item;
  try {
    WarningLines collect([&loaded](const std::string& line) {
      loaded.warnings.push_back(line);
    });
    std::vector<uint8_t> bytes = read_file(item->path);
    Image image = decode_image(bytes.data(), bytes.size(), item->path);
    loaded.input = preprocess(image, preprocess_);
    for (const std::string& note : loaded.input.notes) {
      loaded.warnings.push_back(note);
    }
  } catch (const std::exception& e) { // CliError, c10::Error
    loaded.error = error_line(e);
  }
  return loaded;
}

// The targets of each image from the batch's output (N x classes): the
// options' class, the K best, or the predicted one.
std::vector<std::vector<int64_t>> ExplainRun::choose_targets(
    const torch::Tensor& logits,
    size_t images,
    torch::Tensor& probs,
    std::vector<int64_t>& predicted) {
  const auto n = static_cast<int64_t>(images);
  if (logits.dim() != 2 || logits.size(0) != n || logits.size(1) < 1) {
    throw RunWideError(
        "the model's output for " + std::to_string(n) + " image" +
        (n == 1 ? "" : "s") + " has shape " + c10::str(logits.sizes()) +
        "; explain needs N x classes scores (use `guidedbp attribute` for "
        "other models)");
  }
  const int64_t classes = logits.size(1);
  if (!options_fit_output_ && !labels_.empty() &&
      static_cast<int64_t>(labels_.size()) != classes) {
    std::fprintf(
        stderr,
        "guidedbp: warning: %s has %zu labels but the model has %lld classes\n",
        args_.labels.c_str(),
        labels_.size(),
        static_cast<long long>(classes));
  }
  if (args_.top_k > classes) {
    throw RunWideError(
        "--top-k " + std::to_string(args_.top_k) + " but the model has only " +
        std::to_string(classes) + " classes");
  }
  int64_t fixed = -1;
  if (args_.has_target) {
    fixed = args_.target < 0 ? args_.target + classes : args_.target;
    if (fixed < 0 || fixed >= classes) {
      throw RunWideError(
          "--target " + std::to_string(args_.target) +
          " is out of range for a model with " + std::to_string(classes) +
          " classes (valid: 0.." + std::to_string(classes - 1) +
          ", or negative from the end)");
    }
  }
  // Past this point the options fit the output (a misfit is run-wide, so
  // this is the first and only output they are checked against).
  options_fit_output_ = true;
  probs = torch::softmax(logits.to(torch::kCPU, torch::kFloat64), 1);
  torch::Tensor best = probs.argmax(1);
  torch::Tensor top;
  if (args_.top_k > 0) {
    top = std::get<1>(probs.topk(args_.top_k, 1));
  }
  std::vector<std::vector<int64_t>> targets(static_cast<size_t>(n));
  predicted.assign(static_cast<size_t>(n), 0);
  for (int64_t i = 0; i < n; ++i) {
    predicted[i] = best[i].item<int64_t>();
    if (args_.top_k > 0) {
      for (int64_t k = 0; k < args_.top_k; ++k) {
        targets[i].push_back(top[i][k].item<int64_t>());
      }
    } else {
      targets[i].push_back(fixed >= 0 ? fixed : predicted[i]);
    }
  }
  return targets;
}

// One forward and backward pass (per target) for images of one size.
std::vector<ModelResult> ExplainRun::explain_together(
    std::vector<LoadedImage>& batch) {
  std::vector<torch::Tensor> inputs;
  for (const LoadedImage& loaded : batch) {
    inputs.push_back(loaded.input.input);
  }
  torch::Tensor x = torch::cat(inputs).to(device_);
  torch::Tensor probs;
  std::vector<int64_t> predicted;
  std::vector<std::vector<int64_t>> targets;
  // per_target[k]: the batch's attribution for each image's k-th target
  std::vector<torch::Tensor> per_target;
  std::vector<torch::Tensor> cams;
  auto per_example = [&](size_t k) {
    std::vector<int64_t> column;
    for (const std::vector<int64_t>& t : targets) {
      column.push_back(t[k]);
    }
    return Target::per_example(column);
  };
  if (guided_grad_cam_) {
    // Targets from a forward pass of their own, then one pass per target.
    torch::Tensor logits;
    {
      torch::NoGradGuard no_grad;
      c10::IValue out = module_.forward({x});
      if (!out.isTensor()) {
        throw RunWideError(
            "the model returned a " + out.tagKind() +
            "; explain needs one output tensor of scores, N x classes");
      }
      logits = out.toTensor();
    }
    targets = choose_targets(logits, batch.size(), probs, predicted);
    for (size_t k = 0; k < targets[0].size(); ++k) {
      GuidedGradCamResult r = guided_grad_cam_->attribute_with_map(
          {x},
          per_example(k),
          {},
          GuidedGradCamOptions().interpolate_mode(interpolate_));
      if (r.attributions[0].numel() == 0) {
        throw RunWideError(
            "the Grad-CAM map of layer " + args_.layer + " (shape " +
            c10::str(r.grad_cam.sizes()) +
            ") cannot be upsampled to the image; choose a convolutional layer");
      }
      per_target.push_back(r.attributions[0].to(torch::kCPU));
      cams.push_back(r.grad_cam.to(torch::kCPU));
    }
  } else {
    AttributionResult result = method_->attribute_chosen_targets(
        {x}, [&](const torch::Tensor& logits) {
          targets = choose_targets(logits, batch.size(), probs, predicted);
          std::vector<Target> chosen;
          for (size_t k = 0; k < targets[0].size(); ++k) {
            chosen.push_back(per_example(k));
          }
          return chosen;
        });
    for (const std::vector<torch::Tensor>& a : result.attributions) {
      per_target.push_back(a.at(0).to(torch::kCPU));
    }
  }
  std::vector<ModelResult> results(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    ModelResult& r = results[i];
    r.item = batch[i].item;
    r.pixels = batch[i].input.pixels;
    for (size_t k = 0; k < per_target.size(); ++k) {
      r.attributions.push_back(per_target[k][static_cast<int64_t>(i)]);
      if (!cams.empty()) {
        r.cams.push_back(cams[k][static_cast<int64_t>(i)]);
      }
    }
    r.targets = targets[i];
    r.predicted = predicted[i];
    r.probs = probs[static_cast<int64_t>(i)];
  }
  return results;
}

// A batch, or, when it fails for a reason of its own (not run-wide), each
// image alone, so that one bad image fails alone: its `error` is set and its
// result left empty. Throws RunWideError only.
std::vector<ModelResult> ExplainRun::explain_batch(
    std::vector<LoadedImage>& batch) {
  if (batch.size() > 1) {
    try {
      return explain_together(batch);
    } catch (const RunWideError&) {
      throw;
    } catch (const std::exception&) {
      // redone image by image below
    }
  }
  std::vector<ModelResult> results;
  for (LoadedImage& loaded : batch) {
    std::vector<LoadedImage> one{loaded};
    try {
      std::vector<ModelResult> r = explain_together(one);
      results.push_back(std::move(r[0]));
    } catch (const RunWideError&) {
      throw;
    } catch (const std::exception& e) {
      ModelResult failed_result;
      failed_result.item = loaded.item;
      loaded.error = model_error_line(e);
      if (!options_fit_output_ && &loaded == &batch.back() &&
          std::all_of(batch.begin(), batch.end(), [](const LoadedImage& l) {
            return !l.error.empty();
          })) {
        // The model has run on no image yet, and every image of the first
        // batch fails alone: the preprocessed input does not fit the model
        // (a size, a channel count), so every image would. Say it once.
        throw RunWideError(first_batch_failure(loaded, e));
      }
      results.push_back(std::move(failed_result));
    }
  }
  return results;
}

std::string ExplainRun::first_batch_failure(
    const LoadedImage& loaded,
    const std::exception& e) const {
  const std::string mismatch = channel_mismatch_message(error_line(e));
  if (!mismatch.empty()) {
    return mismatch;
  }
  if (!failed_inside_model(e)) {
    return error_line(e); // around the model, e.g. its output's type
  }
  const PreprocessArgs& pre = args_.preprocess;
  std::string made_by = "as decoded";
  if (!pre.resize.empty() || pre.center_crop > 0) {
    made_by = "from";
    if (!pre.resize.empty()) {
      made_by += " --resize " + pre.resize;
    }
    if (pre.center_crop > 0) {
      made_by += " --center-crop " + std::to_string(pre.center_crop);
    }
  }
  return "the model cannot run on the preprocessed images: " +
      loaded.item->path + " becomes input " +
      c10::str(loaded.input.input.sizes()) + " (" + made_by +
      ") and the model says: " + limit_length(error_line(e), 200) +
      "; set --resize/--center-crop to the input size the model was made for";
}

// Draws, encodes and writes one image's outputs, all or nothing (on a
// worker thread).
FinishedImage ExplainRun::draw(ModelResult result) const {
  FinishedImage finished;
  finished.item = result.item;
  finished.record.input = result.item->path;
  try {
    WarningLines collect([&finished](const std::string& line) {
      finished.warnings.push_back(line);
    });
    const torch::Tensor& pixels = result.pixels;
    const int64_t h = pixels.size(1);
    const int64_t w = pixels.size(2);
    // --scale is at most 64; the automatic scale at most 224.
    const int scale = static_cast<int>(
        args_.scale > 0 ? args_.scale
                        : std::max<int64_t>(1, 224 / std::max(h, w)));
    // The names output_names.h gives (and --skip-existing looks for).
    const ImageOutputs names =
        image_outputs(result.item->out_stem, naming_, result.targets);
    StagedFiles files;
    auto write = [&](const std::string& relative, const auto& bytes) {
      const std::string path = output_path(args_.out_dir, relative);
      files.stage(path, bytes);
      finished.record.outputs.push_back(path);
    };
    std::vector<Image> panel{
        enlarge_nearest(to_image(image_to_rgb(pixels)), scale)};
    for (size_t k = 0; k < result.targets.size(); ++k) {
      const ImageOutputs::Map& map = names.maps[k];
      Image rgb = enlarge_nearest(
          to_image(
              visualize_image_attr(result.attributions[k], pixels, visualize_)),
          scale);
      if (map.png.empty()) {
        panel.push_back(rgb);
      } else {
        write(map.png, encode_png(rgb));
      }
      if (!map.npy.empty()) {
        // The raw 1 x C x H x W attribution, as with one image per pass.
        write(
            map.npy,
            encode_tensor(
                result.attributions[k].unsqueeze(0),
                output_path(args_.out_dir, map.npy)));
      }
      if (args_.gradcam_map) {
        Image cam = draw_grad_cam(result.cams.at(k), pixels, scale);
        if (map.gradcam_png.empty()) {
          panel.push_back(cam);
        } else {
          write(map.gradcam_png, encode_png(cam));
        }
      }
      finished.lines.push_back(
          map_line(result, k) + " -> " +
          output_path(args_.out_dir, map.png.empty() ? names.panel : map.png));
    }
    if (!names.panel.empty()) {
      write(names.panel, encode_png(side_by_side(panel)));
    }
    files.commit();
    finished.record.warnings = finished.warnings;
    finished.record.predicted = result.predicted;
    finished.record.score = result.probs[result.predicted].item<double>();
    finished.record.targets = result.targets;
  } catch (const std::exception& e) { // c10::Error, CliError, ...
    FinishedImage failure = failed(result.item, error_line(e));
    failure.warnings = std::move(finished.warnings);
    return failure;
  }
  return finished;
}

// The Grad-CAM map over the image, upsampled as the attribution was.
Image ExplainRun::draw_grad_cam(
    const torch::Tensor& cam,
    const torch::Tensor& pixels,
    int scale) const {
  torch::Tensor upsampled = guidedbp::interpolate(
      cam.unsqueeze(0), pixels.sizes().slice(1), interpolate_)[0];
  return enlarge_nearest(
      to_image(visualize_image_attr(
          upsampled,
          pixels,
          VisualizeOptions()
              .method(VisualMethod::kBlendedHeatMap)
              .sign(VisualSign::kPositive)
              .outlier_perc(args_.outlier_perc))),
      scale);
}

// The stdout line of map `k`, without its file: the image, the class and
// its score.
std::string ExplainRun::map_line(const ModelResult& result, size_t k) const {
  const int64_t target = result.targets[k];
  const bool versus_target = args_.has_target && args_.top_k == 0;
  std::string what = args_.top_k > 0
      ? "top " + std::to_string(k + 1) + ": " + class_name(target)
      : (versus_target ? "target " + class_name(target) + ", " : "") +
          std::string("predicted ") + class_name(result.predicted);
  const double score =
      result.probs[versus_target ? result.predicted : target].item<double>();
  std::string line =
      result.item->path + ": " + what + " score " + format_score(score);
  if (versus_target) {
    line +=
        ", target score " + format_score(result.probs[target].item<double>());
  }
  return line;
}

int ExplainRun::run() {
  // Images whose outputs are all there already, and temporary files that a
  // killed run of these images left behind.
  std::vector<const DatasetImage*> todo;
  size_t skipped = 0;
  {
    ExistingOutputs existing(args_.out_dir);
    for (const DatasetImage& image : images_) {
      if (args_.skip_existing && existing.complete(image, naming_)) {
        ++skipped;
      } else {
        todo.push_back(&image);
      }
    }
  }
  remove_stale_temporaries(args_.out_dir, images_, naming_);
  // The mirrored output folders, made by the main thread before an image's
  // files are drawn (not before the model's first batch, so that a run-wide
  // error leaves --out-dir as it was); one that cannot be made stops the run.
  std::set<std::string> made_folders;
  auto make_output_folder = [&](const DatasetImage& image) {
    for (const std::string& folder : output_folders(args_.out_dir, {image})) {
      if (made_folders.insert(folder).second) {
        try {
          make_directories(folder);
        } catch (const CliError& e) {
          throw RunWideError(e.what());
        }
      }
    }
  };

  Progress progress(todo.size(), args_.quiet, args_.progress_every);
  ReportOnce report(progress);
  InterruptGuard interrupt;
  const size_t batch_size = static_cast<size_t>(args_.batch_size);
  // Bounded memory: at most this many images decoded ahead of the model,
  // and this many waiting to be drawn and written, whatever the dataset.
  const size_t ahead = 2 * batch_size + args_.io_threads;
  ThreadPool pool(static_cast<size_t>(args_.io_threads));

  std::deque<std::future<LoadedImage>> loading;
  std::deque<std::future<FinishedImage>> finishing;
  std::optional<LoadedImage> carried; // the first of the next batch
  size_t next = 0;
  size_t done = 0;
  size_t explained = 0;
  size_t warned = 0; // explained, with warnings about their maps
  std::vector<std::string> failures;

  auto take_loaded = [&]() {
    LoadedImage loaded = loading.front().get();
    loading.pop_front();
    return loaded;
  };
  auto fill = [&] {
    while (loading.size() < ahead && next < todo.size() &&
           !interrupt.interrupted()) {
      const DatasetImage* item = todo[next++];
      loading.push_back(pool.submit([this, item] { return load(item); }));
    }
  };
  auto finish_one = [&] {
    FinishedImage finished = finishing.front().get();
    finishing.pop_front();
    report.warnings(finished.item->path, finished.warnings);
    progress.clear();
    if (finished.error.empty()) {
      ++explained;
      warned += finished.record.warnings.empty() ? 0 : 1;
      for (const std::string& line : finished.lines) {
        std::fprintf(stdout, "%s\n", line.c_str());
      }
      std::fflush(stdout);
    } else {
      failures.push_back(finished.error);
      std::fprintf(stderr, "guidedbp: %s\n", finished.error.c_str());
    }
    if (manifest_) {
      manifest_->write(finished.record);
    }
    progress.update(++done, finished.item->path);
  };
  auto drain_finished = [&](size_t keep) {
    while (finishing.size() > keep ||
           (!finishing.empty() &&
            finishing.front().wait_for(std::chrono::seconds(0)) ==
                std::future_status::ready)) {
      finish_one();
    }
  };

  try {
    for (;;) {
      fill();
      if (interrupt.interrupted() || (loading.empty() && !carried)) {
        break;
      }
      // A batch: consecutive images of one preprocessed size.
      std::vector<LoadedImage> batch;
      while (batch.size() < batch_size && (carried || !loading.empty())) {
        LoadedImage loaded = carried ? std::move(*carried) : take_loaded();
        carried.reset();
        if (!loaded.error.empty()) {
          report.warnings(loaded.item->path, loaded.warnings);
          finishing.push_back(ready(failed(loaded.item, loaded.error)));
          fill();
          continue;
        }
        if (!batch.empty() &&
            loaded.input.input.sizes() != batch[0].input.input.sizes()) {
          carried = std::move(loaded);
          break;
        }
        batch.push_back(std::move(loaded));
        fill();
      }
      if (!batch.empty()) {
        std::vector<std::string> warnings;
        std::vector<ModelResult> results;
        {
          WarningLines collect([&warnings](const std::string& line) {
            warnings.push_back(line);
          });
          results = explain_batch(batch);
        }
        for (const LoadedImage& loaded : batch) {
          report.warnings(loaded.item->path, loaded.warnings);
        }
        report.warnings(batch[0].item->path, warnings);
        for (size_t i = 0; i < results.size(); ++i) {
          if (!batch[i].error.empty()) {
            finishing.push_back(ready(failed(batch[i].item, batch[i].error)));
          } else {
            make_output_folder(*batch[i].item);
            finishing.push_back(
                pool.submit([this, r = std::move(results[i])]() mutable {
                  return draw(std::move(r));
                }));
          }
        }
      }
      drain_finished(ahead);
    }
  } catch (...) {
    // A run-wide error: nothing more is started; what is in flight ends
    // cleanly (written and reported, or removed) before the error is.
    for (std::future<LoadedImage>& f : loading) {
      f.wait();
    }
    // Before the options were found to fit the model's output nothing was
    // drawn: images that failed meanwhile are not reported, the run-wide
    // error alone is.
    try {
      if (options_fit_output_) {
        drain_finished(0);
      }
    } catch (...) {
    }
    for (std::future<FinishedImage>& f : finishing) {
      f.wait();
    }
    progress.clear();
    throw;
  }
  // Images decoded but not yet explained when a signal came are dropped;
  // those already explained are written.
  for (std::future<LoadedImage>& f : loading) {
    f.wait();
  }
  drain_finished(0);
  progress.clear();

  const int signal = interrupt.signal();
  const size_t not_done = todo.size() - done;
  if (!args_.quiet &&
      (progress.shown() || signal != 0 || skipped > 0 || shard_.count > 1 ||
       warned > 0)) {
    const double seconds = progress.elapsed();
    std::string text = std::to_string(explained) + " explained, " +
        std::to_string(failures.size()) + " failed";
    if (skipped > 0) {
      text += ", " + std::to_string(skipped) + " skipped (outputs present)";
    }
    if (signal != 0) {
      text += ", " + std::to_string(not_done) + " not done";
    }
    text += " of " + std::to_string(images_.size()) + " images";
    if (shard_.count > 1) {
      text += " (shard " + std::to_string(shard_.index) + "/" +
          std::to_string(shard_.count) + " of " + std::to_string(listed_) + ")";
    }
    char rate[64];
    std::snprintf(
        rate,
        sizeof(rate),
        " in %s, %.1f images/s",
        format_duration(seconds).c_str(),
        seconds > 0 ? static_cast<double>(done) / seconds : 0.0);
    std::string warnings;
    if (warned > 0) {
      // Each distinct warning was printed once, with its first image; the
      // manifest lists every image's.
      warnings = "; " + std::to_string(warned) + " of the explained with " +
          "warnings (a blank map), " +
          (manifest_ ? "listed in " + manifest_->path()
                     : std::string("--manifest FILE lists them"));
    }
    std::fprintf(
        stderr, "guidedbp: %s%s%s\n", text.c_str(), rate, warnings.c_str());
  }
  if (signal != 0) {
    std::fprintf(
        stderr,
        "guidedbp: interrupted by %s; run again with --skip-existing to "
        "resume\n",
        signal_name(signal));
  }
  if (!failures.empty()) {
    if (progress.shown()) {
      // A long run: the failures scrolled by; list them again.
      for (const std::string& failure : failures) {
        std::fprintf(stderr, "guidedbp: failed: %s\n", failure.c_str());
      }
    }
    std::fprintf(
        stderr, "guidedbp: %zu of %zu images failed\n", failures.size(), done);
  }
  if (signal != 0) {
    return 128 + signal;
  }
  return failures.empty() ? 0 : 1;
}

} // namespace

std::vector<std::string> visual_choices() {
  return visual_method_names();
}

std::vector<std::string> sign_choices() {
  return visual_sign_names();
}

int run_explain(const ExplainArgs& args) {
  ExplainRun run(args);
  return run.run();
}

} // namespace cli
} // namespace guidedbp
