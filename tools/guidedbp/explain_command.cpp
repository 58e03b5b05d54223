// guidedbp explain: images in, heat maps out.

#include <guidedbp/visualization.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "cli_error.h"
#include "commands.h"
#include "file_util.h"
#include "image_io.h"
#include "layer_command.h"
#include "methods.h"
#include "model_io.h"
#include "panel.h"
#include "preprocess.h"
#include "progress.h"
#include "report.h"
#include "runtime.h"
#include "tensor_io.h"

namespace guidedbp {
namespace cli {
namespace {

std::vector<std::string> read_labels(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  std::vector<std::string> labels;
  std::string line;
  for (uint8_t byte : bytes) {
    if (byte == '\n') {
      labels.push_back(line);
      line.clear();
    } else if (byte != '\r') {
      line += static_cast<char>(byte);
    }
  }
  if (!line.empty()) {
    labels.push_back(line);
  }
  return labels;
}

void make_directories(const std::string& path) {
  std::string partial;
  std::stringstream stream(path);
  std::string part;
  if (!path.empty() && path[0] == '/') {
    partial = "/";
  }
  while (std::getline(stream, part, '/')) {
    if (part.empty()) {
      continue;
    }
    partial += part;
    if (::mkdir(partial.c_str(), 0777) != 0 && errno != EEXIST) {
      throw CliError(
          "--out-dir " + path + ": cannot create " + partial + ": " +
          std::strerror(errno));
    }
    partial += "/";
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw CliError("--out-dir " + path + ": not a directory");
  }
}

std::string stem(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = base.find_last_of('.');
  if (dot != std::string::npos && dot > 0) {
    base = base.substr(0, dot);
  }
  return base.empty() ? "image" : base;
}

std::string format_score(double p) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.4f", p);
  return buffer;
}

struct Job {
  std::string image;
  std::string stem; // unique among the jobs
};

// "IMAGE: message", unless the message already starts with the image's name.
std::string name_failure(const std::string& image, const std::string& message) {
  if (message.compare(0, image.size() + 1, image + ":") == 0) {
    return message;
  }
  return image + ": " + message;
}

} // namespace

std::vector<std::string> visual_choices() {
  return visual_method_names();
}

std::vector<std::string> sign_choices() {
  return visual_sign_names();
}

int run_explain(const ExplainArgs& args) {
  // (--grayscale with --rgb, --target with --top-k: CLI11 rejects them.)
  const bool grad_cam = args.method == "guided-gradcam";
  if (!grad_cam) {
    check_method_options(args.method, args.abs);
  } else if (args.abs) {
    throw UsageError("--abs applies to --method saliency only");
  }
  if (grad_cam && args.layer.empty()) {
    throw UsageError(
        "--method guided-gradcam needs --layer PATH (`guidedbp layers --model "
        "M.pt` lists them)");
  }
  if (!grad_cam &&
      (!args.layer.empty() || args.has_interpolate || args.gradcam_map)) {
    throw UsageError(
        "--layer, --interpolate and --gradcam-map apply to --method "
        "guided-gradcam only");
  }
  const InterpolateMode interpolate = parse_interpolate(args.interpolate);
  const VisualMethod visual = parse_visual_method(args.visual);
  const VisualSign sign = parse_visual_sign(args.sign);
  const PreprocessOptions pre = preprocess_options(args.preprocess);
  std::vector<std::string> labels;
  if (!args.labels.empty()) {
    labels = read_labels(args.labels);
  }
  const torch::Device device = apply_runtime(args.runtime);
  torch::jit::Module module = load_model(args.model);
  module.to(device);
  std::unique_ptr<ModifiedReluGradient> method =
      grad_cam ? nullptr : make_method(module, args.method, args.abs);
  std::unique_ptr<GuidedGradCam> guided_grad_cam =
      grad_cam ? std::make_unique<GuidedGradCam>(module, args.layer) : nullptr;
  make_directories(args.out_dir);
  const std::string dir =
      args.out_dir.back() == '/' ? args.out_dir : args.out_dir + "/";

  // Unique output names, also for images with the same file name.
  std::vector<Job> jobs;
  std::map<std::string, int> used;
  for (const std::string& image : args.images) {
    std::string name = stem(image);
    int count = ++used[name];
    jobs.push_back(
        {image, count == 1 ? name : name + "-" + std::to_string(count)});
  }

  auto class_name = [&](int64_t index) {
    std::string text = std::to_string(index);
    if (index >= 0 && index < static_cast<int64_t>(labels.size())) {
      text += " (" + labels[static_cast<size_t>(index)] + ")";
    }
    return text;
  };

  std::vector<std::string> failures;
  bool warned_labels = false;
  Progress progress(jobs.size());
  for (size_t j = 0; j < jobs.size(); ++j) {
    const Job& job = jobs[j];
    progress.update(j, job.image);
    std::vector<std::string> lines;
    // The library's warnings (TORCH_WARN) for this image, each once, reported
    // with the image's name after it.
    std::vector<std::string> warnings;
    try {
      WarningLines collect([&warnings](const std::string& line) {
        if (std::find(warnings.begin(), warnings.end(), line) ==
            warnings.end()) {
          warnings.push_back(line);
        }
      });
      std::vector<uint8_t> bytes = read_file(job.image);
      Image image = decode_image(bytes.data(), bytes.size(), job.image);
      Preprocessed input = preprocess(image, pre);

      // The classes to explain are chosen from the output of the same
      // forward pass that the attributions use.
      torch::Tensor probs;
      int64_t predicted = 0;
      std::vector<int64_t> targets;
      auto choose = [&](const torch::Tensor& logits) {
        if (logits.dim() != 2 || logits.size(0) != 1 || logits.size(1) < 1) {
          throw CliError(
              "the model's output for one image has shape " +
              c10::str(logits.sizes()) +
              "; explain needs 1 x classes scores (use `guidedbp attribute` for other models)");
        }
        const int64_t classes = logits.size(1);
        if (!labels.empty() && static_cast<int64_t>(labels.size()) != classes &&
            !warned_labels) {
          warned_labels = true;
          progress.clear();
          std::fprintf(
              stderr,
              "guidedbp: warning: %s has %zu labels but the model has %lld classes\n",
              args.labels.c_str(),
              labels.size(),
              static_cast<long long>(classes));
        }
        probs = torch::softmax(logits[0].to(torch::kCPU, torch::kFloat64), 0);
        predicted = probs.argmax().item<int64_t>();
        if (args.top_k > 0) {
          if (args.top_k > classes) {
            throw CliError(
                "--top-k " + std::to_string(args.top_k) +
                " but the model has only " + std::to_string(classes) +
                " classes");
          }
          torch::Tensor top = std::get<1>(probs.topk(args.top_k));
          for (int64_t k = 0; k < args.top_k; ++k) {
            targets.push_back(top[k].item<int64_t>());
          }
        } else if (args.has_target) {
          int64_t t = args.target < 0 ? args.target + classes : args.target;
          if (t < 0 || t >= classes) {
            throw CliError(
                "--target " + std::to_string(args.target) +
                " is out of range for a model with " + std::to_string(classes) +
                " classes (valid: 0.." + std::to_string(classes - 1) +
                ", or negative from the end)");
          }
          targets.push_back(t);
        } else {
          targets.push_back(predicted);
        }
        return std::vector<Target>(targets.begin(), targets.end());
      };
      AttributionResult result;
      std::vector<torch::Tensor> cams; // guided-gradcam: the layer's maps
      if (guided_grad_cam) {
        // Targets from a forward pass of their own, then one pass per target.
        torch::Tensor logits;
        {
          torch::NoGradGuard no_grad;
          c10::IValue out = module.forward({input.input.to(device)});
          if (!out.isTensor()) {
            throw CliError(
                "the model returned a " + out.tagKind() +
                "; explain needs a tensor of N x classes scores");
          }
          logits = out.toTensor();
        }
        for (const Target& target : choose(logits)) {
          GuidedGradCamResult r = guided_grad_cam->attribute_with_map(
              {input.input.to(device)},
              target,
              {},
              GuidedGradCamOptions().interpolate_mode(interpolate));
          if (r.attributions[0].numel() == 0) {
            throw CliError(
                "the Grad-CAM map of layer " + args.layer + " (shape " +
                c10::str(r.grad_cam.sizes()) +
                ") cannot be upsampled to the image; choose a convolutional "
                "layer");
          }
          result.attributions.push_back(std::move(r.attributions));
          cams.push_back(r.grad_cam.to(torch::kCPU));
        }
      } else {
        result =
            method->attribute_chosen_targets({input.input.to(device)}, choose);
      }

      int64_t h = input.pixels.size(1);
      int64_t w = input.pixels.size(2);
      // --scale is at most 64; the automatic scale at most 224.
      const int scale = static_cast<int>(
          args.scale > 0 ? args.scale
                         : std::max<int64_t>(1, 224 / std::max(h, w)));
      VisualizeOptions options =
          VisualizeOptions().method(visual).sign(sign).outlier_perc(
              args.outlier_perc);

      StagedFiles files;
      std::vector<Image> panel{
          enlarge_nearest(to_image(image_to_rgb(input.pixels)), scale)};
      std::vector<std::string> written;
      for (size_t k = 0; k < targets.size(); ++k) {
        torch::Tensor attribution =
            result.attributions.at(k).at(0).to(torch::kCPU);
        std::string base = dir + job.stem;
        if (args.top_k > 0) {
          base += "_top" + std::to_string(k + 1);
        }
        base += "_class" + std::to_string(targets[k]);
        Image rgb = enlarge_nearest(
            to_image(
                visualize_image_attr(attribution[0], input.pixels, options)),
            scale);
        std::string png;
        if (args.panel) {
          panel.push_back(rgb);
          png = dir + job.stem + "_panel.png";
        } else {
          png = base + ".png";
          files.stage(png, encode_png(rgb));
        }
        if (args.save_raw) {
          files.stage(base + ".npy", encode_tensor(attribution, base + ".npy"));
        }
        if (args.gradcam_map) {
          // The map over the image, upsampled as the attribution was.
          torch::Tensor cam = guidedbp::interpolate(
              cams.at(k), input.input.sizes().slice(2), interpolate)[0];
          Image cam_rgb = enlarge_nearest(
              to_image(visualize_image_attr(
                  cam,
                  input.pixels,
                  VisualizeOptions()
                      .method(VisualMethod::kBlendedHeatMap)
                      .sign(VisualSign::kPositive)
                      .outlier_perc(args.outlier_perc))),
              scale);
          if (args.panel) {
            panel.push_back(cam_rgb);
          } else {
            files.stage(base + "_gradcam.png", encode_png(cam_rgb));
          }
        }
        std::string what = args.top_k > 0
            ? "top " + std::to_string(k + 1) + ": " + class_name(targets[k])
            : (args.has_target ? "target " + class_name(targets[k]) + ", "
                               : "") +
                std::string("predicted ") + class_name(predicted);
        double score =
            probs[args.has_target && args.top_k == 0 ? predicted : targets[k]]
                .item<double>();
        std::string line =
            job.image + ": " + what + " score " + format_score(score);
        if (args.has_target && args.top_k == 0) {
          line += ", target score " +
              format_score(probs[targets[k]].item<double>());
        }
        lines.push_back(line + " -> " + png);
      }
      if (args.panel) {
        files.stage(
            dir + job.stem + "_panel.png", encode_png(side_by_side(panel)));
      }
      files.commit();
    } catch (const std::exception& e) { // c10::Error, CliError, ...
      failures.push_back(name_failure(job.image, error_line(e)));
      lines.clear();
    }
    progress.clear();
    for (const std::string& message : warnings) {
      std::fprintf(
          stderr,
          "guidedbp: warning: %s: %s\n",
          job.image.c_str(),
          message.c_str());
    }
    for (const std::string& line : lines) {
      std::fprintf(stdout, "%s\n", line.c_str());
    }
    std::fflush(stdout);
  }
  progress.clear();
  if (!failures.empty()) {
    for (const std::string& failure : failures) {
      std::fprintf(stderr, "guidedbp: %s\n", failure.c_str());
    }
    std::fprintf(
        stderr,
        "guidedbp: %zu of %zu images failed\n",
        failures.size(),
        jobs.size());
    return 1;
  }
  return 0;
}

} // namespace cli
} // namespace guidedbp
