// The options several subcommands share: --device/--threads/--allow-tf32
// and the image preprocessing flags (CLI11, torch-free).

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/text.h"

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
  for (const std::string& part : split(text, ',')) {
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
  }
  return values;
}

} // namespace

void add_preprocess_options(
    CLI::App* app,
    PreprocessArgs& args,
    const std::string& preset_option) {
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
             preset_option,
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
