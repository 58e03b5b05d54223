// guidedbp: the command-line tool. Parses arguments (CLI11) and reports
// errors; the subcommands live in attribute_command.cpp and
// explain_command.cpp.

#include <c10/util/Exception.h>
#include <guidedbp/version.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <thread>

#include "cli_error.h"
#include "commands.h"
#include "method_catalogue.h"
#include "report.h"
#include "serve/serve_args.h"

namespace {

using guidedbp::cli::AttributeArgs;
using guidedbp::cli::ExplainArgs;
using guidedbp::cli::LayersArgs;

const char* kTargetHelp =
    "Which output to explain, a Python-like literal as Captum's `target`: "
    "3 (index 3 of dim 1 for every example; -1 counts from the end), "
    "(1,2) (an index tuple into dims 1..k for every example; (1,) is a tuple of one), "
    "[3,1,0] (one index per example, for N x C outputs), "
    "[(0,1),(2,3)] (one tuple per example). Quote it for the shell; spaces "
    "are allowed. Default: none (the model must return one value per example).";

const char* kAttributeFooter = R"(
Files:
  MODEL.pt     TorchScript (torch.jit.script or torch.jit.trace, then .save());
               loaded with torch::jit::load and put in eval mode.
  IN.npy       numpy array, little-endian, C order: float32 or float64 for inputs
               (float16/int/uint8/bool are read too, e.g. for --forward-arg).
  IN.pt        one tensor saved by Python's torch.save(tensor, path).
  OUT.npy/.pt  the attribution: same shape and dtype as its input; the format
               follows the extension. Written to a temporary name and renamed
               at the end: on any error no output file is left.

Examples:
  guidedbp attribute --model model.pt --input x.npy --target 3 --output a.npy
  guidedbp attribute --model model.pt --input x.pt --target '[3, 1, 0]' --output a.pt
  guidedbp attribute --model model.pt --input x.npy --target 0 --target 1 --target 2 \
      --output a.npy            # a.npy: 3 x input shape, one forward pass
  guidedbp attribute --model m.pt --input a.npy --input b.npy --forward-arg mask.npy \
      --forward-arg 2.0 --method deconvolution --output ga.npy --output gb.npy

Exit status: 0 success, 1 error (one line on stderr: "guidedbp: <cause>"),
2 usage error.)";

const char* kExplainFooter = R"(
Pipeline per image (PNG or JPEG; gray files give 1 channel, colour 3,
transparency is composited over white):
  decode -> [--grayscale | --rgb | the model's channels] -> to float in [0,1]
  -> [--resize N | H,W] -> [--center-crop N] -> [--mean/--std |
  --normalize imagenet] -> model.
  Channels: without --grayscale/--rgb, images are converted to the in-channel
  count (1 or 3) of the model's first 4-D weight (its first convolution); a
  note says so once.
  --resize N: shorter side to N (torchvision Resize(N)); --resize H,W: exactly
  H x W (Resize((H, W))). Bilinear, align_corners False, no antialiasing
  (torchvision's tensor Resize with antialias=False); --antialias: with it
  (Resize(..., antialias=True), PIL's bilinear up to uint8 rounding).
  --center-crop: torchvision CenterCrop (zero padding if the image is smaller).
  --grayscale: 0.2989 R + 0.587 G + 0.114 B (torchvision rgb_to_grayscale).
  --normalize imagenet = --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225.
The model must return N x classes scores; scores printed are softmax values.

Maps follow Captum's visualize_image_attr: channel sum, --sign selection, the
value at which the sorted cumulative sum reaches (100 - outlier-perc)% of the
total is the threshold, values / threshold clipped to [-1,1] (all) or [0,1],
colour maps red-white-green (all), Greens (positive), Reds (negative), Blues
(absolute_value). blended_heat_map: 0.5 x map over the gray image;
masked_image: image x map; alpha_scaling: map as alpha over white.
An all-zero attribution gives a blank map and a warning.

Inputs: image files, folders (searched recursively for .png/.jpg/.jpeg, in
sorted order) and --files-from lists. Outputs mirror each image's path below
its folder (or below the common folder of the files given), so equal names
in different folders never collide (STEM = that path without extension):
  STEM_classC.png          the map for class C (predicted, or --target)
  STEM_topR_classC.png     with --top-k: rank R
  STEM_panel.png           with --panel: image | map(s) side by side
  STEM_..._classC.npy      with --save-raw: the raw 1xCxHxW attribution
One line per map on stdout: image, class (name from --labels), score, file.
Every image's files are written all or nothing. A failing image is reported
as it happens and the run goes on (exit 1 at the end); a mistake that would
fail every image (--target past the classes, an unwritable --out-dir) stops
the run before the first. SIGINT/SIGTERM: the images in flight are finished,
a summary is printed, exit 130/143; --skip-existing then resumes.
Dataset runs, shards for Slurm and Kubernetes, the manifest: docs/datasets.md.

Examples:
  guidedbp explain --model model.pt --labels labels.txt --out-dir maps images/*.png
  guidedbp explain --model resnet.pt --resize 256 --center-crop 224 \
      --normalize imagenet --top-k 3 --panel --out-dir maps cat.jpg
  guidedbp explain --model resnet.pt --resize 256 --center-crop 224 \
      --normalize imagenet --batch-size 32 --skip-existing \
      --manifest maps/manifest.jsonl --out-dir maps imagenet/val/)";

} // namespace

namespace guidedbp {
namespace cli {

void add_runtime_options(CLI::App* command, RuntimeArgs& args) {
  command
      ->add_option(
          "--device",
          args.device,
          "where the model runs: cpu, cuda (device 0) or cuda:N")
      ->check(CLI::Validator(
          [](std::string& value) {
            return is_device_spelling(value)
                ? std::string()
                : "'" + value + "' is not a device; use cpu, cuda or cuda:N";
          },
          "cpu|cuda|cuda:N"))
      ->capture_default_str();
  command
      ->add_option(
          "--threads",
          args.threads,
          "intra-op CPU threads (default: LibTorch's, one per physical core, or "
          "OMP_NUM_THREADS)")
      ->check(CLI::Range(1, 1024));
  command->add_flag(
      "--allow-tf32",
      args.allow_tf32,
      "CUDA: let cuDNN convolutions and cuBLAS matmuls use TF32: faster on "
      "Ampere and later, but maps then differ from CPU ones by up to several "
      "percent (default: off, full float32)");
}

namespace {

// "0.485,0.456,0.406" as numbers; a CLI11 validation error (exit 2) else.
std::vector<double> number_list(
    const std::string& option,
    const std::string& text) {
  std::vector<double> values;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string part = text.substr(
        start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t used = 0;
    double value = 0;
    try {
      value = std::stod(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (part.empty() || used != part.size()) {
      throw CLI::ValidationError(
          option,
          "'" + text + "' is not a number or comma-separated numbers (e.g. " +
              option + " 0.5 or " + option + " 0.485,0.456,0.406)");
    }
    values.push_back(value);
    if (comma == std::string::npos) {
      return values;
    }
    start = comma + 1;
  }
}

} // namespace

void add_preprocess_options(CLI::App* app, PreprocessArgs& args) {
  app->add_option(
      "--resize",
      args.resize,
      "N: resize the shorter side to N pixels (torchvision Resize(N)); H,W: "
      "resize to exactly H x W (Resize((H, W)))");
  app->add_flag(
      "--antialias",
      args.antialias,
      "resize with antialiasing, as torchvision Resize(..., antialias=True) "
      "and PIL (default: without, as torchvision's tensor Resize with "
      "antialias=False)");
  app->add_option(
         "--center-crop",
         args.center_crop,
         "crop an N x N square from the centre")
      ->check(CLI::Range(int64_t(1), int64_t(16384)));
  // One token each ("0.5,0.5,0.5"): never a following image, and --help
  // shows one value, not a list.
  CLI::Option* mean = app->add_option_function<std::string>(
                             "--mean",
                             [&args](const std::string& text) {
                               args.mean = number_list("--mean", text);
                             },
                             "per-channel mean R,G,B (or one value)")
                          ->type_name("M[,M,M]");
  CLI::Option* std = app->add_option_function<std::string>(
                            "--std",
                            [&args](const std::string& text) {
                              args.std = number_list("--std", text);
                            },
                            "per-channel std R,G,B (or one value)")
                         ->type_name("S[,S,S]");
  CLI::Option* normalize =
      app->add_option(
             "--normalize",
             args.normalize,
             "normalisation preset: imagenet (mean 0.485,0.456,0.406, std 0.229,0.224,0.225)")
          ->check(CLI::IsMember({"imagenet"}));
  normalize->excludes(mean);
  normalize->excludes(std);
  CLI::Option* gray = app->add_flag(
      "--grayscale",
      args.grayscale,
      "convert colour images to 1 channel (default: to what the model's "
      "first convolution takes)");
  CLI::Option* rgb = app->add_flag(
      "--rgb",
      args.rgb,
      "repeat gray images into 3 channels (default: to what the model's "
      "first convolution takes)");
  gray->excludes(rgb);
}

} // namespace cli
} // namespace guidedbp

int main(int argc, char** argv) {
  // Library warnings (TORCH_WARN) outside explain's per-image handler: one
  // line each on stderr.
  guidedbp::cli::WarningLines warnings([](const std::string& line) {
    std::fprintf(stderr, "guidedbp: warning: %s\n", line.c_str());
  });

  CLI::App app{
      "guidedbp: Guided Backpropagation, Deconvolution and Saliency attributions "
      "of TorchScript models (Captum's semantics)",
      "guidedbp"};
  app.require_subcommand(1);
  app.set_version_flag(
      "--version", std::string("guidedbp ") + guidedbp::kVersion);
  using guidedbp::cli::MethodCommand;
  const std::vector<std::string> kAttributeMethods =
      guidedbp::cli::method_names(MethodCommand::kAttribute);
  const std::vector<std::string> kExplainMethods =
      guidedbp::cli::method_names(MethodCommand::kExplain);
  const std::vector<std::string> kInterpolate =
      guidedbp::cli::interpolate_choices();

  AttributeArgs attribute;
  CLI::App* a = app.add_subcommand(
      "attribute",
      "Attributions of input tensors (.npy/.pt) for a TorchScript model");
  a->add_option("--model", attribute.model, "TorchScript model file (MODEL.pt)")
      ->required();
  a->add_option(
       "--input",
       attribute.inputs,
       "input tensor (.npy or .pt), batch first; repeat for several inputs")
      ->required()
      ->take_all();
  a->add_option(
       "--forward-arg",
       attribute.forward_args,
       "extra forward argument after the inputs, in order: a tensor file (.npy/.pt), an "
       "integer, a float, or true/false; repeat for several")
      ->take_all();
  // A function option triggered per occurrence: bound to a vector, CLI11
  // would split a literal like [3,1,0] into three values.
  a->add_option_function<std::string>(
       "--target",
       [&attribute](const std::string& literal) {
         attribute.targets.push_back(literal);
       },
       std::string(kTargetHelp) +
           " Repeat --target for K targets: one forward pass, and each output "
           "then holds the K attributions stacked on a new first dimension "
           "(K x input shape), in --target order.")
      ->trigger_on_parse()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  a->add_option("--method", attribute.method, "attribution method")
      ->check(CLI::IsMember(kAttributeMethods))
      ->capture_default_str();
  a->add_option(
      "--layer",
      attribute.layer,
      "guided-gradcam and neuron methods: the layer, its named_modules() path "
      "(layer4, layer3.1.conv2, features.18; `guidedbp layers` lists them)");
  a->add_option_function<std::string>(
       "--interpolate",
       [&attribute](const std::string& mode) {
         attribute.interpolate = mode;
         attribute.has_interpolate = true;
       },
       "guided-gradcam: how the Grad-CAM map is upsampled to the input "
       "(default nearest, as Captum)")
      ->check(CLI::IsMember(kInterpolate));
  a->add_flag(
      "--attribute-to-layer-input",
      attribute.attribute_to_layer_input,
      "guided-gradcam: Grad-CAM of the layer's input instead of its output");
  a->add_option_function<std::string>(
      "--neuron",
      [&attribute](const std::string& spec) {
        attribute.neuron = spec;
        attribute.has_neuron = true;
      },
      "neuron methods: the neuron of the layer output (without the batch "
      "dimension): an int for 2-D layer outputs (7) or a tuple ('(5, 1, 2)'); "
      "a range start:stop in the tuple sums over it ('(0:4, 1, 2)')");
  a->add_flag(
      "--attribute-to-neuron-input",
      attribute.attribute_to_neuron_input,
      "neuron methods: select the neuron from the layer's input");
  a->add_flag(
      "--abs",
      attribute.abs,
      "saliency only: absolute value of the gradient (Captum's Saliency default abs=True); "
      "without it the signed gradient");
  a->add_option(
       "--output",
       attribute.outputs,
       "output file (.npy or .pt), one per --input in the same order")
      ->required()
      ->take_all();
  add_runtime_options(a, attribute.runtime);
  a->footer(kAttributeFooter);

  ExplainArgs explain;
  CLI::App* e = app.add_subcommand(
      "explain",
      "Heat maps (PNG) of images (PNG/JPEG) for a classifier's classes");
  e->add_option(
       "--model", explain.model, "TorchScript classifier (returns N x classes)")
      ->required();
  e->add_option(
      "images",
      explain.images,
      "PNG or JPEG images, or folders of them (searched recursively)");
  e->add_option(
      "--files-from",
      explain.files_from,
      "also the images listed in this file, one path per line (- : stdin)");
  CLI::Option* target = e->add_option(
      "--target",
      explain.target,
      "class to explain (default: the predicted class, the argmax of the output)");
  CLI::Option* top_k =
      e->add_option(
           "--top-k",
           explain.top_k,
           "explain the K best-scoring classes, one map each (one forward pass)")
          ->check(CLI::Range(int64_t(1), int64_t(1000000)));
  target->excludes(top_k);
  e->add_option(
      "--labels",
      explain.labels,
      "class names, one per line (line i = class i)");
  guidedbp::cli::add_preprocess_options(e, explain.preprocess);
  e->add_option("--method", explain.method, "attribution method")
      ->check(CLI::IsMember(kExplainMethods))
      ->capture_default_str();
  e->add_option(
      "--layer",
      explain.layer,
      "guided-gradcam: the layer, its named_modules() path (e.g. layer4)");
  e->add_option_function<std::string>(
       "--interpolate",
       [&explain](const std::string& mode) {
         explain.interpolate = mode;
         explain.has_interpolate = true;
       },
       "guided-gradcam: how the Grad-CAM map is upsampled (default nearest)")
      ->check(CLI::IsMember(kInterpolate));
  e->add_flag(
      "--gradcam-map",
      explain.gradcam_map,
      "guided-gradcam: also draw the Grad-CAM map itself over the image "
      "(STEM_classC_gradcam.png, or one more panel entry)");
  e->add_flag(
      "--abs", explain.abs, "saliency only: absolute value of the gradient");
  e->add_option(
       "--visual", explain.visual, "how to draw the map (Captum's method)")
      ->check(CLI::IsMember(guidedbp::cli::visual_choices()))
      ->capture_default_str();
  e->add_option(
       "--sign",
       explain.sign,
       "which attribution values to show (Captum's sign)")
      ->check(CLI::IsMember(guidedbp::cli::sign_choices()))
      ->capture_default_str();
  e->add_option(
       "--outlier-perc",
       explain.outlier_perc,
       "percent of the attribution mass clipped to the extreme colour")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
  e->add_option(
       "--out-dir", explain.out_dir, "output folder (created if missing)")
      ->required();
  e->add_flag(
      "--panel",
      explain.panel,
      "one PNG per image: the image and its map(s) side by side");
  e->add_flag(
      "--save-raw",
      explain.save_raw,
      "also write each raw attribution as .npy");
  e->add_option(
       "--scale",
       explain.scale,
       "enlarge maps by this integer factor, nearest neighbour (default: 224 / the longer "
       "side, at least 1; 8 for 28x28)")
      ->check(CLI::Range(int64_t(1), int64_t(64)));
  e->add_option(
       "--batch-size",
       explain.batch_size,
       "images of one size per forward/backward pass (maps do not depend on it)")
      ->check(CLI::Range(int64_t(1), int64_t(4096)))
      ->capture_default_str();
  explain.io_threads = std::clamp<int64_t>(
      static_cast<int64_t>(std::thread::hardware_concurrency()), 2, 8);
  e->add_option(
       "--io-threads",
       explain.io_threads,
       "threads decoding, drawing and writing images while the model runs "
       "(default: the CPU count, 2 to 8)")
      ->check(CLI::Range(int64_t(1), int64_t(64)));
  e->add_option(
      "--shard",
      explain.shard,
      "I/N: only the images at positions I, I+N, I+2N... of the sorted list "
      "(default: from SLURM_ARRAY_TASK_ID, or JOB_COMPLETION_INDEX with "
      "--shard-count)");
  e->add_option(
       "--shard-count",
       explain.shard_count,
       "N shards, for a Kubernetes Indexed Job (JOB_COMPLETION_INDEX)")
      ->check(CLI::Range(int64_t(1), int64_t(1000000)));
  e->add_flag(
      "--skip-existing",
      explain.skip_existing,
      "skip images whose outputs are all present (resume a stopped run)");
  e->add_option(
      "--manifest",
      explain.manifest,
      "append one JSON line per image to this file (JSON Lines)");
  e->add_flag("--quiet", explain.quiet, "no progress and no summary");
  e->add_option(
       "--progress-every",
       explain.progress_every,
       "seconds between progress lines when stderr is not a terminal")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  add_runtime_options(e, explain.runtime);
  e->footer(kExplainFooter);

  LayersArgs layers;
  CLI::App* l = app.add_subcommand(
      "layers",
      "The layer paths of a TorchScript model (for --layer), with output shapes "
      "for a given input");
  l->add_option("--model", layers.model, "TorchScript model file (MODEL.pt)")
      ->required();
  l->add_option(
       "--input-size",
       layers.input_size,
       "input shape, batch first, e.g. 1,3,224,224: print each layer's output "
       "shape for a random input of this shape")
      ->delimiter(',');
  l->add_option(
      "--input",
      layers.input,
      "input tensor (.npy or .pt) instead of --input-size");
  guidedbp::cli::ServeArgs serve;
  CLI::App* s = guidedbp::cli::add_serve_command(app, serve);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& success) { // also --help and --version
    return app.exit(success);
  } catch (const CLI::ParseError& error) {
    std::string command = a->parsed()
        ? " attribute"
        : (e->parsed()
               ? " explain"
               : (l->parsed() ? " layers" : (s->parsed() ? " serve" : "")));
    std::fprintf(
        stderr,
        "guidedbp: %s (see guidedbp%s --help)\n",
        guidedbp::cli::summarize_error(error.what()).c_str(),
        command.c_str());
    return 2;
  }

  try {
    explain.has_target = target->count() > 0;
    if (a->parsed()) {
      return guidedbp::cli::run_attribute(attribute);
    }
    if (l->parsed()) {
      return guidedbp::cli::run_layers(layers);
    }
    if (s->parsed()) {
      return guidedbp::cli::run_serve(serve);
    }
    return guidedbp::cli::run_explain(explain);
  } catch (const guidedbp::cli::UsageError& error) {
    std::fprintf(
        stderr, "guidedbp: %s\n", guidedbp::cli::error_line(error).c_str());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "guidedbp: out of memory\n");
    return 1;
  } catch (const std::exception& error) { // c10::Error, CliError, ...
    std::fprintf(
        stderr, "guidedbp: %s\n", guidedbp::cli::error_line(error).c_str());
    return 1;
  } catch (...) {
    std::fprintf(stderr, "guidedbp: unknown error\n");
    return 1;
  }
}
