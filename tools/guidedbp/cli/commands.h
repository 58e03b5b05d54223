#pragma once

// The subcommands' arguments as their add_X_command parses them, and the
// run_X functions that take them (torch-free, so that the command-line
// definitions compile without LibTorch headers).

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
} // namespace CLI

namespace guidedbp {
namespace cli {

/// Where and how a subcommand computes: --device, --threads, --allow-tf32
/// (applied by runtime.h's apply_runtime).
struct RuntimeArgs {
  std::string device = "cpu"; ///< "cpu", "cuda" or "cuda:N".
  int threads = 0;            ///< Intra-op CPU threads; 0: LibTorch's default.
  bool allow_tf32 = false;    ///< Let cuDNN and cuBLAS use TF32 on CUDA.
};

/// True for the spellings --device takes: cpu, cuda, cuda:N.
bool is_device_spelling(const std::string& text);

/// Adds --device, --threads and --allow-tf32 to `app` (common_options.cpp),
/// parsing into `args`: the same options for every subcommand.
void add_runtime_options(CLI::App* app, RuntimeArgs& args);

/// `guidedbp attribute`.
struct AttributeArgs {
  std::string model;
  std::vector<std::string> inputs;
  std::vector<std::string> forward_args;
  /// --target literals; none: no target. Several: K targets from one
  /// forward pass, each output then holds K attributions stacked on dim 0.
  std::vector<std::string> targets;
  std::string method = "guided-backprop";
  bool has_method = false; ///< --method given (a package has its own)
  bool abs = false; ///< Saliency only: absolute value (Captum's default).
  std::vector<std::string> outputs;
  RuntimeArgs runtime;
  // Layer and neuron methods (layer_command.cpp).
  std::string layer; ///< --layer PATH; "" when not given
  std::string interpolate = "nearest";
  bool has_interpolate = false;
  bool attribute_to_layer_input = false;
  std::string neuron; ///< --neuron SPEC
  bool has_neuron = false;
  bool attribute_to_neuron_input = false;
};

/// `guidedbp export`: a torch.export model (ExportedProgram, .pt2) compiled
/// with a method into an AOTInductor package (export_command.cpp).
struct ExportArgs {
  std::string model;  ///< --model EP.pt2 (torch.export.save)
  std::string method; ///< --method, a method the catalogue offers kExport
  bool abs = false;   ///< saliency: absolute value, compiled in
  std::string layer;  ///< --layer PATH: guided-gradcam and neuron methods
  std::string device = "cpu";
  std::string output;      ///< --output PKG.pt2
  int64_t trace_batch = 0; ///< --trace-batch; 0: the exporter chooses
  int64_t threads = 0; ///< --threads compiled into the package; 0: all cores
};

/// `guidedbp layers`.
struct LayersArgs {
  std::string model;
  std::vector<int64_t> input_size; ///< --input-size N,C,H,W; empty: none
  std::string input;               ///< --input FILE instead
};

/// The image preprocessing flags of `explain` and `serve` (preprocess.h
/// turns them into PreprocessOptions).
struct PreprocessArgs {
  std::string resize; ///< "" (none), "N" or "H,W" (preprocess.h parses it).
  bool antialias = false;
  int64_t center_crop = 0;
  std::vector<double> mean;
  std::vector<double> std;
  std::string normalize; ///< "" or "imagenet".
  bool grayscale = false;
  bool rgb = false;
};

/// Adds --resize, --antialias, --center-crop, --mean, --std, --normalize,
/// --grayscale and --rgb to `app` (common_options.cpp), parsing into `args`.
/// `preset_option` spells --normalize (evaluate: --image-normalize, since
/// its --normalize is infidelity's).
void add_preprocess_options(
    CLI::App* app,
    PreprocessArgs& args,
    const std::string& preset_option = "--normalize");

/// `guidedbp explain`.
struct ExplainArgs {
  std::string model;
  std::vector<std::string> images;
  bool has_target = false;
  int64_t target = 0;
  int64_t top_k = 0; ///< 0: one map (the predicted class or --target).
  std::string labels;
  PreprocessArgs preprocess; ///< --resize ... --rgb.
  std::string method = "guided-backprop";
  bool has_method = false; ///< --method given (a package has its own)
  bool abs = false;
  std::string visual = "heat_map";
  std::string sign = "absolute_value";
  double outlier_perc = 2.0;
  std::string out_dir;
  bool panel = false;
  bool save_raw = false;
  int64_t scale = 0; ///< 0: automatic (about 224 pixels on the longer side).
  RuntimeArgs runtime;
  std::string layer; ///< --layer PATH (guided-gradcam)
  std::string interpolate = "nearest";
  bool has_interpolate = false;
  bool gradcam_map = false; ///< --gradcam-map: also draw the Grad-CAM map
  // Dataset runs (docs/datasets.md).
  std::string files_from;  ///< --files-from LIST ("-": stdin)
  std::string shard;       ///< --shard I/N ("": environment, or whole run)
  int64_t shard_count = 0; ///< --shard-count N, with JOB_COMPLETION_INDEX
  bool skip_existing = false;
  std::string manifest;         ///< --manifest FILE.jsonl
  int64_t batch_size = 1;       ///< images of one size per forward pass
  int64_t io_threads = 2;       ///< decode/draw/write workers
  bool quiet = false;           ///< no progress, no summary
  double progress_every = 30.0; ///< seconds between progress lines in logs
};

/// `guidedbp evaluate`: one metric of attributions (docs/evaluate.md).
struct EvaluateArgs {
  /// infidelity, sensitivity-max, mprt, deletion or insertion.
  std::string metric;
  std::string method = "guided-backprop";
  bool has_method = false;
  bool abs = false;
  std::string model;
  std::vector<std::string> inputs;
  /// --image: files or folders, read and preprocessed as `explain` does,
  /// stacked into the one input instead of --input.
  std::vector<std::string> images;
  std::string files_from; ///< --files-from LIST ("-": stdin), as `explain`'s
  PreprocessArgs preprocess;
  std::string shard; ///< --shard I/N ("": environment, or all images)
  /// --image: images per forward/backward pass (docs/evaluate.md).
  int64_t batch_size = 16;
  bool has_batch_size = false;
  std::string manifest; ///< --image: --manifest FILE.jsonl, as `explain`'s
  std::vector<std::string> forward_args;
  std::string target; ///< --target literal
  bool has_target = false;
  std::vector<std::string> attributions;     ///< infidelity
  std::vector<std::string> perturbations;    ///< infidelity
  std::vector<std::string> perturbed_inputs; ///< infidelity, sensitivity-max
  int64_t samples = 10;
  bool has_samples = false;
  double noise_std = 0.003;
  bool has_noise_std = false;
  double radius = 0.02;
  bool has_radius = false;
  uint64_t seed = 0;
  bool has_seed = false;
  bool normalize = false;
  std::string norm = "fro";
  bool has_norm = false;
  std::string order = "cascading";
  bool has_order = false;
  int64_t step = 0; ///< deletion/insertion: pixels per step; 0: one row (W)
  std::string output;
  std::string plot;  ///< mprt, deletion, insertion
  std::string strip; ///< mprt
  RuntimeArgs runtime;
};

/// The accepted values of `--visual` and `--sign`, from the library's
/// visualization names, so that the parser's checks and help never drift
/// from them. (`--method`: method_catalogue.h.)
std::vector<std::string> visual_choices();
std::vector<std::string> sign_choices();

/// `--interpolate` values, from the library's InterpolateMode names.
std::vector<std::string> interpolate_choices();

/// `--metric` values of `evaluate`, as spelled on the command line.
std::vector<std::string> evaluate_metrics();

/// Adds each subcommand with its options, help and footer to `app`, parsing
/// into `args` (attribute_options.cpp, explain_options.cpp,
/// layers_options.cpp; serve: serve/serve_args.h). Torch-free.
CLI::App* add_attribute_command(CLI::App& app, AttributeArgs& args);
CLI::App* add_explain_command(CLI::App& app, ExplainArgs& args);
CLI::App* add_layers_command(CLI::App& app, LayersArgs& args);
CLI::App* add_export_command(CLI::App& app, ExportArgs& args);
CLI::App* add_evaluate_command(CLI::App& app, EvaluateArgs& args);

/// Runs a subcommand; returns the exit status. Throws CliError (exit 1),
/// UsageError (exit 2) or c10::Error (exit 1); main.cpp reports them.
int run_attribute(const AttributeArgs& args);
int run_explain(const ExplainArgs& args);
int run_layers(const LayersArgs& args);
int run_export(const ExportArgs& args);
int run_evaluate(const EvaluateArgs& args);

} // namespace cli
} // namespace guidedbp
