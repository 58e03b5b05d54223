// guidedbp attribute: tensors in, attributions out.

#include <guidedbp/compiled.h>
#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <set>

#include "cli/cli_error.h"
#include "cli/commands.h"
#include "cli/report.h"
#include "cli/target_literal.h"
#include "commands/forward_arg.h"
#include "commands/layer_command.h"
#include "commands/package_model.h"
#include "commands/target_convert.h"
#include "io/file_util.h"
#include "io/model_io.h"
#include "io/npy_format.h"
#include "io/tensor_io.h"
#include "methods/method_catalogue.h"
#include "methods/methods.h"
#include "runtime/runtime.h"

namespace guidedbp {
namespace cli {
namespace {

// The folder's real path (when it exists) and the file name.
std::string same_file_key(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string folder = slash == std::string::npos
      ? "."
      : (slash == 0 ? "/" : path.substr(0, slash));
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  char* real = ::realpath(folder.c_str(), nullptr);
  if (real == nullptr) {
    return path;
  }
  std::string key = std::string(real) + "/" + base;
  std::free(real);
  return key;
}

// NaN and infinite values: attributions are computed (NaN propagates where
// the gradient depends on them), with one warning line naming the file.
void warn_non_finite(
    const torch::Tensor& t,
    const std::string& name,
    const char* what) {
  if (!t.is_floating_point()) {
    return;
  }
  const int64_t bad = (~torch::isfinite(t)).sum().item<int64_t>();
  if (bad > 0) {
    std::fprintf(
        stderr,
        "guidedbp: warning: %s: %lld of %lld values of the %s are NaN or "
        "infinite\n",
        name.c_str(),
        static_cast<long long>(bad),
        static_cast<long long>(t.numel()),
        what);
  }
}

std::string describe(const torch::Tensor& t) {
  std::vector<int64_t> shape(t.sizes().begin(), t.sizes().end());
  return shape_string(shape) + " " +
      std::string(c10::toString(t.scalar_type()));
}

// A package of `guidedbp export` (.pt2): the method (and its layer) is
// compiled in, so the options that choose one only have to agree with it; a
// neuron package takes --neuron, the others --target.
std::vector<torch::Tensor> package_attributions(
    const AttributeArgs& args,
    const MethodOptions& given,
    const std::vector<torch::Tensor>& inputs,
    const std::vector<Target>& targets,
    bool stacked) {
  if (!args.forward_args.empty()) {
    throw UsageError(
        "--forward-arg does not apply to a package (" + args.model +
        "): it takes tensor inputs only");
  }
  std::unique_ptr<CompiledAttribution> package = load_package(args.model);
  check_package_request(*package, args.model, package_request(args));
  const MethodInfo& info =
      find_method(package->method(), MethodCommand::kAttribute);
  MethodOptions options = given;
  options.layer = info.needs_layer(); // the package's own
  check_method_options(info, options, MethodCommand::kAttribute);
  check_layer_literals(args);
  // (check_method_options left these to the method that takes them.)
  const std::string fixed = args.attribute_to_layer_input
      ? "--attribute-to-layer-input"
      : args.attribute_to_neuron_input ? "--attribute-to-neuron-input"
      : args.has_interpolate && args.interpolate != "nearest"
      ? "--interpolate " + args.interpolate
      : "";
  if (!fixed.empty()) {
    throw UsageError(
        fixed + ": " + args.model + " computes " + package->method() +
        " from the output of layer " + package->metadata().layer +
        (package->is_neuron() ? "" : ", upsampled with nearest") +
        " (compiled in by guidedbp export); use a TorchScript model for " +
        fixed);
  }
  const CompiledMetadata& meta = package->metadata();
  const torch::Device device(meta.device.empty() ? "cpu" : meta.device);
  if (args.runtime.device != "cpu" &&
      torch::Device(args.runtime.device) != device) {
    throw UsageError(
        "--device " + args.runtime.device + ": " + args.model + " runs on " +
        device.str() + " (chosen at export with --device)");
  }
  std::vector<torch::Tensor> on_device;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].scalar_type() != meta.dtype) {
      throw CliError(
          args.inputs[i] + ": the input is " + describe(inputs[i]) + " but " +
          args.model + " was exported for " + c10::toString(meta.dtype) +
          "; convert the input");
    }
    on_device.push_back(inputs[i].to(device));
  }
  if (package->is_neuron()) {
    std::vector<torch::Tensor> attributions;
    for (const torch::Tensor& a :
         package->attribute_neuron(on_device, to_neuron(args.neuron))) {
      attributions.push_back(a.to(torch::kCPU));
    }
    return attributions;
  }
  std::vector<std::vector<torch::Tensor>> per_target =
      package->attribute_targets(on_device, targets).attributions;
  std::vector<torch::Tensor> attributions;
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::vector<torch::Tensor> maps;
    for (const auto& attribution : per_target) {
      maps.push_back(attribution.at(i).to(torch::kCPU));
    }
    attributions.push_back(stacked ? torch::stack(maps) : maps.front());
  }
  return attributions;
}

} // namespace

int run_attribute(const AttributeArgs& args) {
  // Argument checks first: nothing is loaded for a misuse.
  if (args.outputs.size() != args.inputs.size()) {
    throw UsageError(
        std::to_string(args.inputs.size()) + " --input but " +
        std::to_string(args.outputs.size()) +
        " --output given: give one --output per --input, in the same order");
  }
  std::set<std::string> seen;
  for (const std::string& output : args.outputs) {
    if (!is_tensor_file(output)) {
      throw UsageError(
          "--output " + output + ": unknown extension (expected .npy or .pt)");
    }
    // Compared by folder (resolved) and name, so that `a.npy` and `./a.npy`
    // count as the same file: the second would silently replace the first.
    if (!seen.insert(same_file_key(output)).second) {
      throw UsageError("--output " + output + " is given twice");
    }
  }
  const bool package = is_package_path(args.model);
  const MethodInfo& method_info =
      find_method(args.method, MethodCommand::kAttribute);
  MethodOptions given;
  given.abs = args.abs;
  given.layer = !args.layer.empty();
  given.interpolate = args.has_interpolate;
  given.layer_input = args.attribute_to_layer_input;
  given.neuron = args.has_neuron;
  given.neuron_input = args.attribute_to_neuron_input;
  given.target = !args.targets.empty();
  if (!package) {
    check_method_options(method_info, given, MethodCommand::kAttribute);
    check_layer_literals(args);
  }
  std::vector<Target> targets;
  for (const std::string& text : args.targets) {
    targets.push_back(to_target(parse_target_literal(text)));
  }
  const bool stacked = targets.size() > 1;
  if (targets.empty()) {
    targets.push_back(Target());
  }

  const torch::Device device = apply_runtime(args.runtime);
  torch::jit::Module module;
  if (!package) {
    module = load_model(args.model);
    module.to(device);
  }
  std::vector<torch::Tensor> inputs;
  for (const std::string& path : args.inputs) {
    inputs.push_back(read_tensor(path));
  }
  ForwardArgs extra;
  for (const std::string& text : args.forward_args) {
    extra.push_back(forward_arg(text));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].is_floating_point()) {
      throw CliError(
          args.inputs[i] + ": the input is " + describe(inputs[i]) +
          "; attributions need a floating-point input (float32 or float64)");
    }
    if (inputs[i].dim() == 0) {
      throw CliError(
          args.inputs[i] +
          ": the input is a scalar; it needs a batch dimension first");
    }
  }

  for (size_t i = 0; i < inputs.size(); ++i) {
    warn_non_finite(inputs[i], args.inputs[i], "input");
  }

  // The tensors go where the model is; the attributions come back.
  std::vector<torch::Tensor> on_device;
  for (const torch::Tensor& x : inputs) {
    on_device.push_back(x.to(device));
  }
  for (c10::IValue& arg : extra) {
    if (arg.isTensor()) {
      arg = arg.toTensor().to(device);
    }
  }
  std::vector<torch::Tensor> attributions;
  if (package) {
    attributions = package_attributions(args, given, inputs, targets, stacked);
  } else if (method_info.needs_layer()) {
    for (const torch::Tensor& a :
         layer_attributions(module, args, on_device, targets, stacked, extra)) {
      attributions.push_back(a.to(torch::kCPU));
    }
  }
  std::unique_ptr<ModifiedReluGradient> method =
      attributions.empty() && !package
      ? make_method(module, args.method, args.abs)
      : nullptr;
  // One forward pass for all targets; K > 1 stacks each input's K maps.
  std::vector<std::vector<torch::Tensor>> per_target = method
      ? method->attribute_targets(on_device, targets, extra).attributions
      : std::vector<std::vector<torch::Tensor>>();
  for (size_t i = 0; method && i < inputs.size(); ++i) {
    std::vector<torch::Tensor> maps;
    for (const auto& attribution : per_target) {
      maps.push_back(attribution.at(i).to(torch::kCPU));
    }
    attributions.push_back(stacked ? torch::stack(maps) : maps.front());
  }

  StagedFiles files;
  for (size_t i = 0; i < inputs.size(); ++i) {
    torch::Tensor a = attributions[i];
    const torch::Tensor one = stacked ? a[0] : a;
    if (one.sizes() != inputs[i].sizes() ||
        a.scalar_type() != inputs[i].scalar_type()) {
      throw CliError(
          "internal error: the attribution of " + args.inputs[i] + " is " +
          describe(a) + " but the input is " + describe(inputs[i]));
    }
    files.stage(args.outputs[i], encode_tensor(a, args.outputs[i]));
  }
  files.commit();
  for (size_t i = 0; i < inputs.size(); ++i) {
    warn_non_finite(attributions[i], args.outputs[i], "attribution");
  }
  return 0;
}

} // namespace cli
} // namespace guidedbp
