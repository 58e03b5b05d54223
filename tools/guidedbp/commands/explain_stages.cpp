// explain's image stages (explain_stages.h): what happens to one image, or
// one batch of images, whatever thread runs it.

#include "commands/explain_stages.h"

#include <guidedbp/visualization.h>

#include <algorithm>
#include <cstdio>

#include "cli/cli_error.h"
#include "cli/report.h"
#include "commands/layer_command.h"
#include "commands/package_model.h"
#include "dataset/output_names.h"
#include "imaging/panel.h"
#include "io/file_util.h"
#include "io/model_io.h"
#include "io/tensor_io.h"
#include "methods/methods.h"
#include "runtime/runtime.h"

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

} // namespace

FinishedImage failed_image(
    const DatasetImage* item,
    const std::string& message) {
  FinishedImage finished;
  finished.item = item;
  finished.error = name_failure(item->path, message);
  finished.record.input = item->path;
  finished.record.ok = false;
  finished.record.error = finished.error;
  return finished;
}

ExplainStages::ExplainStages(const ExplainArgs& args, const ExplainPlan& plan)
    : args_(args), plan_(plan) {
  device_ = apply_runtime(args.runtime);
  if (is_package_path(args.model)) {
    // A package of guidedbp export: its method, device, dtype and input
    // shape are fixed at export.
    compiled_ = load_package(args.model);
    check_package_offered(
        *compiled_, args.model, MethodCommand::kExplain, "explain");
    check_package_request(*compiled_, args.model, package_request(args));
    const CompiledMetadata& meta = compiled_->metadata();
    plan_.grad_cam = meta.method == "guided-gradcam";
    if (args.gradcam_map && !plan_.grad_cam) {
      throw UsageError(
          "--gradcam-map: " + args.model + " computes " + meta.method +
          ", which has no Grad-CAM map (export --method guided-gradcam "
          "--layer PATH)");
    }
    device_ = torch::Device(meta.device.empty() ? "cpu" : meta.device);
    if (!args.preprocess.grayscale && !args.preprocess.rgb &&
        meta.input_shapes.size() == 1 && meta.input_shapes[0].size() == 3 &&
        (meta.input_shapes[0][0] == 1 || meta.input_shapes[0][0] == 3)) {
      plan_.preprocess.channels = meta.input_shapes[0][0];
    }
    check_normalization(plan_.preprocess);
    return;
  }
  module_ = load_model(args.model);
  module_.to(device_);
  if (!args.preprocess.grayscale && !args.preprocess.rgb) {
    if (std::optional<int64_t> channels = expected_input_channels(module_)) {
      plan_.preprocess.channels = *channels;
    }
  }
  check_normalization(plan_.preprocess);
  if (plan_.grad_cam) {
    guided_grad_cam_ = std::make_unique<GuidedGradCam>(module_, args.layer);
  } else {
    method_ = make_method(module_, args.method, args.abs);
  }
}

std::string ExplainStages::class_name(int64_t index) const {
  std::string text = std::to_string(index);
  if (index >= 0 && index < static_cast<int64_t>(plan_.labels.size())) {
    text += " (" + plan_.labels[static_cast<size_t>(index)] + ")";
  }
  return text;
}

LoadedImage ExplainStages::load(const DatasetImage* item) const {
  LoadedImage loaded;
  loaded.item = item;
  try {
    WarningLines collect([&loaded](const std::string& line) {
      loaded.warnings.push_back(line);
    });
    std::vector<uint8_t> bytes = read_file(item->path);
    Image image = decode_image(bytes.data(), bytes.size(), item->path);
    loaded.input = preprocess(image, plan_.preprocess);
    for (const std::string& note : loaded.input.notes) {
      loaded.warnings.push_back(note);
    }
  } catch (const std::exception& e) { // CliError, c10::Error
    loaded.error = error_line(e);
  }
  return loaded;
}

// The classes of each image from the batch's scores (N x classes): the
// options' class, the K best, or the predicted one.
ClassChoice ExplainStages::choose(const torch::Tensor& scores, size_t images) {
  const auto n = static_cast<int64_t>(images);
  if (scores.dim() != 2 || scores.size(0) != n || scores.size(1) < 1) {
    throw RunWideError(
        "the model's output for " + std::to_string(n) + " image" +
        (n == 1 ? "" : "s") + " has shape " + c10::str(scores.sizes()) +
        "; explain needs N x classes scores (use `guidedbp attribute` for "
        "other models)");
  }
  const int64_t classes = scores.size(1);
  if (!options_fit_output_ && !plan_.labels.empty() &&
      static_cast<int64_t>(plan_.labels.size()) != classes) {
    std::fprintf(
        stderr,
        "guidedbp: warning: %s has %zu labels but the model has %lld classes\n",
        args_.labels.c_str(),
        plan_.labels.size(),
        static_cast<long long>(classes));
  }
  ClassChoice choice;
  try {
    choice = choose_classes(scores, plan_.classes);
  } catch (const CliError& e) {
    throw RunWideError(e.what());
  }
  // Past this point the options fit the output (a misfit is run-wide, so
  // this is the first and only output they are checked against).
  options_fit_output_ = true;
  return choice;
}

// One forward and backward pass (per class) for images of one size.
std::vector<ModelResult> ExplainStages::explain_together(
    std::vector<LoadedImage>& batch) {
  std::vector<torch::Tensor> inputs;
  for (const LoadedImage& loaded : batch) {
    inputs.push_back(loaded.input.input);
  }
  torch::Tensor x = torch::cat(inputs).to(device_);
  ClassChoice choice;
  // per_class[k]: the batch's attribution for each image's k-th class
  std::vector<torch::Tensor> per_class;
  std::vector<torch::Tensor> cams;
  auto per_example = [&](size_t k) {
    std::vector<int64_t> column;
    for (const std::vector<int64_t>& c : choice.classes) {
      column.push_back(c[k]);
    }
    return Target::per_example(column);
  };
  // The classes come from the forward pass that the attribution runs.
  auto chooser = [&](const torch::Tensor& scores) {
    choice = choose(scores, batch.size());
    std::vector<Target> chosen;
    for (size_t k = 0; k < choice.classes[0].size(); ++k) {
      chosen.push_back(per_example(k));
    }
    return chosen;
  };
  if (guided_grad_cam_) {
    GuidedGradCamTargetsResult result =
        guided_grad_cam_->attribute_chosen_targets(
            {x},
            chooser,
            {},
            GuidedGradCamOptions().interpolate_mode(plan_.interpolate));
    for (size_t k = 0; k < result.attributions.size(); ++k) {
      if (result.attributions[k][0].numel() == 0) {
        throw RunWideError(
            "the Grad-CAM map of layer " + args_.layer + " (shape " +
            c10::str(result.grad_cams[k].sizes()) +
            ") cannot be upsampled to the image; choose a convolutional layer");
      }
      per_class.push_back(result.attributions[k][0].to(torch::kCPU));
      cams.push_back(result.grad_cams[k].to(torch::kCPU));
    }
  } else if (compiled_) {
    const torch::ScalarType dtype = compiled_->metadata().dtype;
    GuidedGradCamTargetsResult result =
        compiled_->attribute_targets_with_maps({x.to(dtype)}, chooser);
    for (const std::vector<torch::Tensor>& a : result.attributions) {
      per_class.push_back(a.at(0).to(torch::kCPU).to(x.scalar_type()));
    }
    for (const torch::Tensor& map : result.grad_cams) {
      cams.push_back(map.to(torch::kCPU).to(x.scalar_type()));
    }
  } else {
    AttributionResult result = method_->attribute_chosen_targets({x}, chooser);
    for (const std::vector<torch::Tensor>& a : result.attributions) {
      per_class.push_back(a.at(0).to(torch::kCPU));
    }
  }
  std::vector<ModelResult> results(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    ModelResult& r = results[i];
    const auto row = static_cast<int64_t>(i);
    r.item = batch[i].item;
    r.pixels = batch[i].input.pixels;
    for (size_t k = 0; k < per_class.size(); ++k) {
      r.attributions.push_back(per_class[k][row]);
      if (!cams.empty()) {
        r.cams.push_back(cams[k][row]);
      }
    }
    r.classes = choice.classes[i];
    r.predicted = choice.predicted[i];
    r.probs = choice.probs[row];
  }
  return results;
}

std::vector<std::variant<ModelResult, FinishedImage>> ExplainStages::explain(
    std::vector<LoadedImage>& batch) {
  std::vector<std::variant<ModelResult, FinishedImage>> outcomes;
  if (batch.size() > 1) {
    try {
      for (ModelResult& r : explain_together(batch)) {
        outcomes.emplace_back(std::move(r));
      }
      return outcomes;
    } catch (const RunWideError&) {
      throw;
    } catch (const std::exception&) {
      // redone image by image below
    }
  }
  size_t failures = 0;
  for (LoadedImage& loaded : batch) {
    std::vector<LoadedImage> one{loaded};
    try {
      outcomes.emplace_back(std::move(explain_together(one).at(0)));
    } catch (const RunWideError&) {
      throw;
    } catch (const std::exception& e) {
      if (!options_fit_output_ && ++failures == batch.size()) {
        // The model has run on no image yet, and every image of the first
        // batch fails alone: the preprocessed input does not fit the model
        // (a size, a channel count), so every image would. Say it once.
        throw RunWideError(first_batch_failure(loaded, e));
      }
      outcomes.emplace_back(failed_image(loaded.item, model_error_line(e)));
    }
  }
  return outcomes;
}

std::string ExplainStages::first_batch_failure(
    const LoadedImage& loaded,
    const std::exception& e) const {
  if (!failed_inside_model(e) &&
      channel_mismatch_message(error_line(e)).empty()) {
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
  return preprocessed_input_failure(
      e,
      "the preprocessed images: " + loaded.item->path + " becomes input " +
          c10::str(loaded.input.input.sizes()) + " (" + made_by + ")",
      "set --resize/--center-crop to the input size the model was made for");
}

// Draws, encodes and writes one image's outputs, all or nothing (on a
// worker thread).
FinishedImage ExplainStages::draw(ModelResult result) const {
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
        image_outputs(result.item->out_stem, plan_.naming, result.classes);
    StagedFiles files;
    auto write = [&](const std::string& relative, const auto& bytes) {
      const std::string path = output_path(args_.out_dir, relative);
      files.stage(path, bytes);
      finished.record.outputs.push_back(path);
    };
    std::vector<Image> panel{
        enlarge_nearest(to_image(image_to_rgb(pixels)), scale)};
    for (size_t k = 0; k < result.classes.size(); ++k) {
      const ImageOutputs::Map& map = names.maps[k];
      Image rgb = enlarge_nearest(
          to_image(visualize_image_attr(
              result.attributions[k], pixels, plan_.visualize)),
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
    finished.record.targets = result.classes;
  } catch (const std::exception& e) { // c10::Error, CliError, ...
    FinishedImage failure = failed_image(result.item, error_line(e));
    failure.warnings = std::move(finished.warnings);
    return failure;
  }
  return finished;
}

// The Grad-CAM map over the image, upsampled as the attribution was.
Image ExplainStages::draw_grad_cam(
    const torch::Tensor& cam,
    const torch::Tensor& pixels,
    int scale) const {
  torch::Tensor upsampled = guidedbp::interpolate(
      cam.unsqueeze(0), pixels.sizes().slice(1), plan_.interpolate)[0];
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
std::string ExplainStages::map_line(const ModelResult& result, size_t k) const {
  const int64_t target = result.classes[k];
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

} // namespace cli
} // namespace guidedbp
