// `guidedbp explain`: its command line (CLI11), torch-free; the command
// itself is explain_command.cpp.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <thread>

#include "cli/commands.h"
#include "cli/noted_option.h"
#include "methods/method_catalogue.h"

namespace guidedbp {
namespace cli {
namespace {

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

// The method and its layer options.
void add_method_options(CLI::App* e, ExplainArgs& args) {
  e->add_option(
       "--method",
       args.method,
       "attribution method (a package's own method by default)")
      ->check(CLI::IsMember(method_names(MethodCommand::kExplain)))
      ->each([&args](const std::string&) { args.has_method = true; })
      ->capture_default_str();
  e->add_option(
      "--layer",
      args.layer,
      "guided-gradcam: the layer, its named_modules() path (e.g. layer4)");
  add_noted_option(
      e,
      "--interpolate",
      args.interpolate,
      args.has_interpolate,
      "guided-gradcam: how the Grad-CAM map is upsampled (default nearest)")
      ->check(CLI::IsMember(interpolate_choices()));
  e->add_flag(
      "--gradcam-map",
      args.gradcam_map,
      "guided-gradcam: also draw the Grad-CAM map itself over the image "
      "(STEM_classC_gradcam.png, or one more panel entry)");
  e->add_flag(
      "--abs", args.abs, "saliency only: absolute value of the gradient");
}

// How the maps are drawn and written.
void add_drawing_options(CLI::App* e, ExplainArgs& args) {
  e->add_option(
       "--visual", args.visual, "how to draw the map (Captum's method)")
      ->check(CLI::IsMember(visual_choices()))
      ->capture_default_str();
  e->add_option(
       "--sign", args.sign, "which attribution values to show (Captum's sign)")
      ->check(CLI::IsMember(sign_choices()))
      ->capture_default_str();
  e->add_option(
       "--outlier-perc",
       args.outlier_perc,
       "percent of the attribution mass clipped to the extreme colour")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
  e->add_option("--out-dir", args.out_dir, "output folder (created if missing)")
      ->required();
  e->add_flag(
      "--panel",
      args.panel,
      "one PNG per image: the image and its map(s) side by side");
  e->add_flag(
      "--save-raw", args.save_raw, "also write each raw attribution as .npy");
  e->add_option(
       "--scale",
       args.scale,
       "enlarge maps by this integer factor, nearest neighbour (default: 224 / the longer "
       "side, at least 1; 8 for 28x28)")
      ->check(CLI::Range(int64_t(1), int64_t(64)));
}

// Dataset runs: batches, I/O threads, shards, resume, records.
void add_dataset_options(CLI::App* e, ExplainArgs& args) {
  e->add_option(
       "--batch-size",
       args.batch_size,
       "images of one size per forward/backward pass (maps do not depend on it)")
      ->check(CLI::Range(int64_t(1), int64_t(4096)))
      ->capture_default_str();
  args.io_threads = std::clamp<int64_t>(
      static_cast<int64_t>(std::thread::hardware_concurrency()), 2, 8);
  e->add_option(
       "--io-threads",
       args.io_threads,
       "threads decoding, drawing and writing images while the model runs "
       "(default: the CPU count, 2 to 8)")
      ->check(CLI::Range(int64_t(1), int64_t(64)));
  e->add_option(
      "--shard",
      args.shard,
      "I/N: only the images at positions I, I+N, I+2N... of the sorted list "
      "(default: from SLURM_ARRAY_TASK_ID, or JOB_COMPLETION_INDEX with "
      "--shard-count)");
  e->add_option(
       "--shard-count",
       args.shard_count,
       "N shards, for a Kubernetes Indexed Job (JOB_COMPLETION_INDEX)")
      ->check(CLI::Range(int64_t(1), int64_t(1000000)));
  e->add_flag(
      "--skip-existing",
      args.skip_existing,
      "skip images whose outputs are all present (resume a stopped run)");
  e->add_option(
      "--manifest",
      args.manifest,
      "append one JSON line per image to this file (JSON Lines)");
  e->add_flag("--quiet", args.quiet, "no progress and no summary");
  e->add_option(
       "--progress-every",
       args.progress_every,
       "seconds between progress lines when stderr is not a terminal")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
}

} // namespace

CLI::App* add_explain_command(CLI::App& app, ExplainArgs& args) {
  CLI::App* e = app.add_subcommand(
      "explain",
      "Heat maps (PNG) of images (PNG/JPEG) for a classifier's classes");
  e->add_option(
       "--model",
       args.model,
       "TorchScript classifier (returns N x classes), or a package of `guidedbp export` (PKG.pt2)")
      ->required();
  e->add_option(
      "images",
      args.images,
      "PNG or JPEG images, or folders of them (searched recursively)");
  e->add_option(
      "--files-from",
      args.files_from,
      "also the images listed in this file, one path per line (- : stdin)");
  CLI::Option* target = add_noted_option(
      e,
      "--target",
      args.target,
      args.has_target,
      "class to explain (default: the predicted class, the argmax of the output)");
  CLI::Option* top_k =
      e->add_option(
           "--top-k",
           args.top_k,
           "explain the K best-scoring classes, one map each (one forward pass)")
          ->check(CLI::Range(int64_t(1), int64_t(1000000)));
  target->excludes(top_k);
  e->add_option(
      "--labels", args.labels, "class names, one per line (line i = class i)");
  add_preprocess_options(e, args.preprocess);
  add_method_options(e, args);
  add_drawing_options(e, args);
  add_dataset_options(e, args);
  add_runtime_options(e, args.runtime);
  e->footer(kExplainFooter);

  return e;
}

} // namespace cli
} // namespace guidedbp
