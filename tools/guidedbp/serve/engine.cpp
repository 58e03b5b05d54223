// Runs the server's jobs on TorchScript models: requests queued together for
// one model become one forward (and one backward) pass, then are split back.

#include "serve/engine.h"

#include <guidedbp/visualization.h>

#include <cstring>
#include <map>
#include <mutex>
#include <regex>
#include <set>

#include "cli/cli_error.h"
#include "cli/report.h"
#include "commands/class_choice.h"
#include "commands/package_model.h"
#include "commands/target_convert.h"
#include "imaging/panel.h"
#include "imaging/preprocess.h"
#include "io/image_io.h"
#include "io/model_io.h"
#include "methods/methods.h"
#include "runtime/runtime.h"

namespace guidedbp {
namespace cli {
namespace serve {
namespace {

// One job's part of a batch: its examples as one tensor, N_i x instance.
struct Item {
  Job* job;
  torch::Tensor input;
  torch::Tensor pixels; // image jobs: C x H x W in [0, 1], for drawing
};

torch::Tensor to_tensor(const std::vector<NdArray>& instances) {
  std::vector<int64_t> sizes{static_cast<int64_t>(instances.size())};
  sizes.insert(
      sizes.end(), instances[0].shape.begin(), instances[0].shape.end());
  torch::Tensor t = torch::empty(sizes, torch::kFloat32);
  float* out = t.data_ptr<float>();
  for (const NdArray& a : instances) {
    std::memcpy(out, a.values.data(), a.values.size() * sizeof(float));
    out += a.values.size();
  }
  return t;
}

NdArray to_array(const torch::Tensor& tensor) {
  torch::Tensor t =
      tensor.detach().to(torch::kCPU).to(torch::kFloat32).contiguous();
  NdArray a;
  a.shape.assign(t.sizes().begin(), t.sizes().end());
  a.values.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
  return a;
}

JobResult failure(int status, const std::string& message) {
  JobResult r;
  r.status = status;
  r.error = message;
  return r;
}

bool is_image(const Job& job) {
  return job.kind == JobKind::kImagePredict ||
      job.kind == JobKind::kImageExplain;
}

bool is_explain(const Job& job) {
  return job.kind == JobKind::kExplain || job.kind == JobKind::kImageExplain;
}

// How a job's target joins a batch's: the family (targets of one family merge
// into one per-example target with the same meaning) and its tuple length.
// A per-example list whose length is not the job's example count runs alone,
// so that the library reports the mismatch for that request only.
std::string target_family(const Job& job, int64_t examples) {
  const TargetLiteral& t = job.target;
  switch (t.kind) {
    case TargetLiteral::Kind::kNone:
      return job.kind == JobKind::kImageExplain ? "predicted" : "none";
    case TargetLiteral::Kind::kIndex:
    case TargetLiteral::Kind::kTuple:
      return "tuple" + std::to_string(t.indices.size());
    case TargetLiteral::Kind::kPerExample:
      if (static_cast<int64_t>(t.indices.size()) == examples) {
        return "list";
      }
      break;
    case TargetLiteral::Kind::kPerExampleTuples:
      if (static_cast<int64_t>(t.tuples.size()) == examples) {
        return "tuple" + std::to_string(t.tuples[0].size());
      }
      break;
  }
  return "alone" + std::to_string(reinterpret_cast<uintptr_t>(&job));
}

class TorchBackend : public Backend {
 public:
  explicit TorchBackend(const ServeArgs& args) : device_(torch::kCPU) {
    device_ = apply_runtime(args.runtime);
    pre_ = preprocess_options(args.preprocess);
    static const std::regex name_syntax("[A-Za-z0-9_.-]{1,128}");
    for (const std::string& spec : args.models) {
      const size_t eq = spec.find('=');
      if (eq == std::string::npos) {
        throw UsageError(
            "--model " + spec +
            ": expected NAME=PATH (e.g. --model fashion=model.pt)");
      }
      std::string name = spec.substr(0, eq);
      std::string path = spec.substr(eq + 1);
      if (!std::regex_match(name, name_syntax)) {
        throw UsageError(
            "--model " + spec + ": the name '" + name +
            "' must be 1 to 128 letters, digits, '_', '.' or '-'");
      }
      if (path.empty()) {
        throw UsageError("--model " + spec + ": no path after '='");
      }
      if (models_.count(name) || packages_.count(name)) {
        throw UsageError(
            "--model " + spec + ": the name '" + name + "' is given twice");
      }
      if (is_package_path(path)) {
        // A package of guidedbp export: its method is compiled in.
        std::unique_ptr<CompiledAttribution> package = load_package(path);
        check_package_offered(*package, path, MethodCommand::kServe, "serve");
        const CompiledMetadata& meta = package->metadata();
        const bool image_like = meta.input_shapes.size() == 1 &&
            meta.input_shapes[0].size() == 3 &&
            (meta.input_shapes[0][0] == 1 || meta.input_shapes[0][0] == 3);
        channels_.emplace(name, image_like ? meta.input_shapes[0][0] : 0);
        packages_.emplace(name, std::move(package));
      } else {
        torch::jit::Module module = load_model(path);
        module.to(device_);
        models_.emplace(name, module);
        // Images are converted to the channel count each model takes, as
        // in explain (preprocess.h); --mean/--std must fit it.
        channels_.emplace(name, expected_input_channels(module).value_or(0));
      }
      PreprocessOptions pre = pre_;
      pre.channels = channels_.at(name);
      try {
        check_normalization(pre);
      } catch (const UsageError& e) {
        throw UsageError("--model " + name + ": " + e.what());
      }
      names_.push_back(name);
    }
  }

  std::vector<std::string> model_names() const override {
    return names_;
  }

  void run(const std::string& model, const std::vector<Job*>& jobs) override {
    PreprocessOptions pre = pre_;
    pre.channels = channels_.at(model);
    // Inputs first: an image that does not decode fails alone.
    std::map<std::string, std::vector<Item>> groups;
    for (Job* job : jobs) {
      Item item{job, {}, {}};
      try {
        if (is_image(*job)) {
          Image image =
              decode_image(job->image.data(), job->image.size(), "image");
          Preprocessed p = preprocess(image, pre);
          item.input = p.input;
          item.pixels = p.pixels;
        } else {
          item.input = to_tensor(job->instances);
        }
      } catch (...) {
        finish_with_error(*job);
        continue;
      }
      std::string key = std::to_string(static_cast<int>(job->kind)) + "|" +
          c10::str(item.input.sizes().slice(1));
      if (is_explain(*job)) {
        key += "|" + job->method + "|" + (job->abs ? "abs" : "") + "|" +
            target_family(*job, item.input.size(0));
      }
      if (job->kind == JobKind::kImageExplain) {
        key += "|" + job->sign + "|" + job->visual + "|" +
            std::to_string(job->outlier_perc) + "|" +
            std::to_string(job->scale);
      }
      groups[key].push_back(std::move(item));
    }
    for (auto& entry : groups) {
      std::vector<Item>& items = entry.second;
      try {
        run_group(model, items);
      } catch (...) {
        if (items.size() == 1) {
          finish_with_error(*items[0].job);
          continue;
        }
        // Someone's request broke the batch: run each alone, so that only
        // the bad ones fail, with their own messages.
        for (Item& item : items) {
          std::vector<Item> alone{item};
          try {
            run_group(model, alone);
          } catch (...) {
            finish_with_error(*item.job);
          }
        }
      }
    }
  }

 private:
  // Finishes `job` with the exception being handled.
  static void finish_with_error(Job& job) {
    try {
      throw;
    } catch (const std::bad_alloc&) {
      job.finish(failure(500, "out of memory"));
    } catch (const std::exception& e) {
      // The library's checks, the CLI's, or the TorchScript interpreter
      // refusing this input (a wrong shape): the request's fault.
      job.finish(failure(400, error_line(e)));
    }
  }

  torch::Tensor forward(torch::jit::Module& module, const torch::Tensor& x) {
    torch::NoGradGuard no_grad;
    c10::IValue out = module.forward({x.to(device_)});
    if (!out.isTensor()) {
      throw CliError(
          "the model returned a " + out.tagKind() +
          "; the server needs a tensor with one row per example");
    }
    torch::Tensor t = out.toTensor();
    if (t.dim() < 1 || t.size(0) != x.size(0)) {
      throw CliError(
          "the model's output has shape " + c10::str(t.sizes()) + " for " +
          std::to_string(x.size(0)) +
          " examples; the server needs one row per example");
    }
    return t.to(torch::kCPU);
  }

  // The input as a package takes it: its dtype, on its device.
  static torch::Tensor to_package(
      const CompiledAttribution& package,
      const torch::Tensor& x) {
    const CompiledMetadata& meta = package.metadata();
    return x.to(
        torch::Device(meta.device.empty() ? "cpu" : meta.device), meta.dtype);
  }

  // A package computes its own method: a request that names another one, or
  // asks for an absolute value the package lacks, is the request's fault
  // (the rule is package_mismatch's, as on the command line).
  static void check_package_job(
      const std::string& model,
      const CompiledAttribution& package,
      const Job& job) {
    PackageRequest request;
    request.has_method = job.method_given;
    request.method = job.method;
    request.abs = job.abs;
    const std::string why = package_mismatch(
        package.metadata(), "model " + model, request, /*prefix=*/"");
    if (!why.empty()) {
      throw CliError(why);
    }
  }

  // The method `name` (with `abs`) on `model`, built on first use and kept:
  // a method holds the model's graph executor, which is worth building once
  // per loaded model, not per batch. Only the model's worker thread calls
  // this (one Batcher per model), so the cache needs no lock per model; the
  // map itself is guarded because workers of other models share it.
  const ModifiedReluGradient& method_for(
      const std::string& model,
      const std::string& name,
      bool abs) {
    std::lock_guard<std::mutex> lock(methods_mutex_);
    std::unique_ptr<ModifiedReluGradient>& method =
        methods_[model + "|" + name + (abs ? "|abs" : "")];
    if (!method) {
      method = make_method(models_.at(model), name, abs);
    }
    return *method;
  }

  // forward() for preprocessed images: a failure names the preprocessed
  // shape and the options that make it (every image of that size fails).
  torch::Tensor forward_images(
      torch::jit::Module& module,
      const torch::Tensor& x) {
    try {
      return forward(module, x);
    } catch (const CliError&) {
      throw;
    } catch (const std::exception& e) {
      throw image_model_failure(e, x);
    }
  }

  // What a client needs to hear when the model fails on its image `x`.
  static CliError image_model_failure(
      const std::exception& e,
      const torch::Tensor& x) {
    return CliError(preprocessed_input_failure(
        e,
        "this image preprocessed to " + c10::str(x.slice(0, 0, 1).sizes()) +
            " (serve's --resize/--center-crop make that size)",
        "send images of the model's input size, or start serve with "
        "--resize/--center-crop for it"));
  }

  // The group's merged target; `items` agree on its family (see
  // target_family), `predicted` holds the argmax per example if needed.
  static Target merged_target(
      const std::vector<Item>& items,
      const std::vector<int64_t>& predicted) {
    const Job& first = *items[0].job;
    if (first.kind == JobKind::kImageExplain &&
        first.target.kind == TargetLiteral::Kind::kNone) {
      return Target::per_example(predicted);
    }
    if (items.size() == 1) {
      return to_target(first.target);
    }
    switch (first.target.kind) {
      case TargetLiteral::Kind::kNone:
        return Target::none();
      case TargetLiteral::Kind::kPerExample: {
        std::vector<int64_t> all;
        for (const Item& item : items) {
          all.insert(
              all.end(),
              item.job->target.indices.begin(),
              item.job->target.indices.end());
        }
        return Target::per_example(all);
      }
      default: {
        std::vector<std::vector<int64_t>> all;
        for (const Item& item : items) {
          const TargetLiteral& t = item.job->target;
          for (int64_t e = 0; e < item.input.size(0); ++e) {
            all.push_back(
                t.kind == TargetLiteral::Kind::kPerExampleTuples
                    ? t.tuples[static_cast<size_t>(e)]
                    : t.indices);
          }
        }
        return Target::per_example_tuples(all);
      }
    }
  }

  // One model call for `items`; finishes every job or throws (and finishes
  // none).
  void run_group(const std::string& model, std::vector<Item>& items) {
    std::vector<torch::Tensor> parts;
    for (const Item& item : items) {
      parts.push_back(item.input);
    }
    torch::Tensor x = parts.size() == 1 ? parts[0] : torch::cat(parts);
    std::vector<JobResult> results(items.size());
    if (is_explain(*items[0].job)) {
      explain_group(model, items, x, results);
    } else {
      predict_group(model, items, x, results);
    }
    finish_all(items, results);
  }

  // :predict, on tensors or images: the model's output per example, and
  // for images the predicted class and its probability.
  void predict_group(
      const std::string& model,
      const std::vector<Item>& items,
      const torch::Tensor& x,
      std::vector<JobResult>& results) {
    const bool images = is_image(*items[0].job);
    torch::Tensor out;
    if (packages_.count(model)) {
      const CompiledAttribution& package = *packages_.at(model);
      out = package.forward({to_package(package, x)}).to(torch::kCPU);
    } else {
      torch::jit::Module& module = models_.at(model);
      out = images ? forward_images(module, x) : forward(module, x);
    }
    ClassChoice choice;
    if (images) {
      choice = choose_image_classes(out);
    }
    int64_t offset = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      const int64_t n = items[i].input.size(0);
      for (int64_t e = 0; e < n; ++e) {
        results[i].outputs.push_back(to_array(out[offset + e]));
      }
      if (images) {
        results[i].predicted = choice.predicted[i];
        results[i].score =
            choice.probs[static_cast<int64_t>(i)][choice.predicted[i]]
                .item<double>();
      }
      offset += n;
    }
  }

  // The classes of an image batch from the model's scores (one image per
  // job): probabilities and the predicted class of each.
  static ClassChoice choose_image_classes(const torch::Tensor& scores) {
    if (scores.dim() != 2 || scores.size(1) < 1) {
      throw CliError(
          "the model's output for one image has shape " +
          c10::str(scores.slice(0, 0, 1).sizes()) +
          "; image requests need 1 x classes scores");
    }
    return choose_classes(scores, ClassRequest());
  }

  // :explain, on tensors or images: one forward and one backward pass; for
  // images the classes come from that forward pass's scores.
  void explain_group(
      const std::string& model,
      const std::vector<Item>& items,
      const torch::Tensor& x,
      std::vector<JobResult>& results) {
    const Job& first = *items[0].job;
    const bool images = first.kind == JobKind::kImageExplain;
    const bool is_package = packages_.count(model) > 0;
    const ModifiedReluGradient* method =
        is_package ? nullptr : &method_for(model, first.method, first.abs);
    ClassChoice choice;
    torch::Tensor attribution;
    auto chooser = [&](const torch::Tensor& scores) {
      if (images) {
        choice = choose_image_classes(scores);
      }
      return std::vector<Target>{merged_target(items, choice.predicted)};
    };
    try {
      if (is_package) {
        const CompiledAttribution& package = *packages_.at(model);
        check_package_job(model, package, first);
        AttributionResult result =
            package.attribute_chosen_targets({to_package(package, x)}, chooser);
        attribution =
            result.attributions.at(0).at(0).to(torch::kCPU).to(x.scalar_type());
      } else {
        AttributionResult result = method->attribute_chosen_targets(
            std::vector<torch::Tensor>{x.to(device_)}, chooser);
        attribution = result.attributions.at(0).at(0).to(torch::kCPU);
      }
    } catch (const CliError&) {
      throw;
    } catch (const std::exception& e) {
      if (images && !choice.probs.defined()) { // the model's forward pass
        throw image_model_failure(e, x);
      }
      throw;
    }
    int64_t offset = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      const int64_t n = items[i].input.size(0);
      if (images) {
        results[i] = draw_image_explain(
            *items[i].job, items[i].pixels, attribution[offset], choice, i);
      } else {
        for (int64_t e = 0; e < n; ++e) {
          results[i].outputs.push_back(to_array(attribution[offset + e]));
        }
      }
      offset += n;
    }
  }

  // An :explain image job's result: the class explained, its prediction
  // and the heat map as a PNG.
  static JobResult draw_image_explain(
      const Job& job,
      const torch::Tensor& pixels,
      const torch::Tensor& attribution,
      const ClassChoice& choice,
      size_t row) {
    JobResult result;
    result.predicted = choice.predicted[row];
    result.score = choice.probs[static_cast<int64_t>(row)][result.predicted]
                       .item<double>();
    // The class explained, as the library resolved it (negative indices
    // count from the end).
    const int64_t classes = choice.probs.size(1);
    int64_t t = result.predicted;
    if (job.target.kind == TargetLiteral::Kind::kIndex ||
        job.target.kind == TargetLiteral::Kind::kTuple ||
        job.target.kind == TargetLiteral::Kind::kPerExample) {
      t = job.target.indices.at(0);
    } else if (job.target.kind == TargetLiteral::Kind::kPerExampleTuples) {
      t = job.target.tuples.at(0).at(0);
    }
    result.target = t < 0 ? t + classes : t;
    const VisualizeOptions options =
        VisualizeOptions()
            .method(parse_visual_method(job.visual))
            .sign(parse_visual_sign(job.sign))
            .outlier_perc(job.outlier_perc);
    const int64_t h = pixels.size(1);
    const int64_t w = pixels.size(2);
    const int64_t scale =
        job.scale > 0 ? job.scale : std::max<int64_t>(1, 224 / std::max(h, w));
    result.png = encode_png(enlarge_nearest(
        to_image(visualize_image_attr(attribution, pixels, options)),
        static_cast<int>(scale)));
    return result;
  }

  static void finish_all(
      std::vector<Item>& items,
      std::vector<JobResult>& results) {
    for (size_t i = 0; i < items.size(); ++i) {
      items[i].job->finish(std::move(results[i]));
    }
  }

  torch::Device device_;
  PreprocessOptions pre_;
  std::map<std::string, torch::jit::Module> models_;
  /// Packages of guidedbp export (PKG.pt2), by model name.
  std::map<std::string, std::unique_ptr<CompiledAttribution>> packages_;
  std::map<std::string, int64_t> channels_; ///< 0: unknown, as decoded
  std::vector<std::string> names_;
  std::mutex methods_mutex_;
  std::map<std::string, std::unique_ptr<ModifiedReluGradient>> methods_;
};

} // namespace

std::unique_ptr<Backend> make_torch_backend(const ServeArgs& args) {
  return std::make_unique<TorchBackend>(args);
}

} // namespace serve
} // namespace cli
} // namespace guidedbp
