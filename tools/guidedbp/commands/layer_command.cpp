// The layer and neuron methods on the command line: guidedbp attribute
// --method guided-gradcam | neuron-guided-backprop | neuron-deconvolution,
// and guidedbp layers.

#include "commands/layer_command.h"

#include <guidedbp/grad_cam.h>
#include <guidedbp/layer.h>
#include <guidedbp/neuron.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli_error.h"
#include "cli/target_literal.h"
#include "io/model_io.h"
#include "io/npy_format.h"
#include "io/tensor_io.h"
#include "methods/method_catalogue.h"

namespace guidedbp {
namespace cli {

NeuronSelector to_neuron(const std::string& text) {
  const NeuronLiteral literal = parse_neuron_literal(text);
  if (literal.is_int) {
    return NeuronSelector(literal.elements.at(0).start);
  }
  std::vector<NeuronIndex> indices;
  for (const NeuronLiteral::Element& e : literal.elements) {
    if (e.is_range) {
      indices.emplace_back(NeuronRange{e.start, e.stop});
    } else {
      indices.emplace_back(e.start);
    }
  }
  return NeuronSelector(std::move(indices));
}

// The modes the command line offers (the library has linear and trilinear
// too, for 3-D and 5-D maps).
constexpr InterpolateMode kCliModes[] = {
    InterpolateMode::kNearest,
    InterpolateMode::kBilinear,
    InterpolateMode::kBicubic,
    InterpolateMode::kArea};

std::vector<std::string> interpolate_choices() {
  std::vector<std::string> names;
  for (InterpolateMode mode : kCliModes) {
    names.emplace_back(interpolate_mode_name(mode));
  }
  return names;
}

InterpolateMode parse_interpolate(const std::string& name) {
  for (InterpolateMode mode : kCliModes) {
    if (name == interpolate_mode_name(mode)) {
      return mode;
    }
  }
  throw UsageError(
      "--interpolate '" + name +
      "': expected nearest, bilinear, bicubic or area");
}

void check_layer_literals(const AttributeArgs& args) {
  if (args.has_neuron) {
    to_neuron(args.neuron); // a bad literal is an error before loading
  }
  parse_interpolate(args.interpolate);
}

std::vector<torch::Tensor> layer_attributions(
    const torch::jit::Module& module,
    const AttributeArgs& args,
    const std::vector<torch::Tensor>& inputs,
    const std::vector<Target>& targets,
    bool stacked,
    const ForwardArgs& extra) {
  std::vector<torch::Tensor> result;
  if (find_method(args.method, MethodCommand::kAttribute).kind ==
      MethodKind::kNeuron) {
    const NeuronSelector neuron = to_neuron(args.neuron);
    const NeuronAttributionOptions options =
        NeuronAttributionOptions().attribute_to_neuron_input(
            args.attribute_to_neuron_input);
    if (args.method == "neuron-guided-backprop") {
      return NeuronGuidedBackprop(module, args.layer)
          .attribute(inputs, neuron, extra, options);
    }
    return NeuronDeconvolution(module, args.layer)
        .attribute(inputs, neuron, extra, options);
  }
  GuidedGradCam method(module, args.layer);
  const GuidedGradCamOptions options =
      GuidedGradCamOptions()
          .interpolate_mode(parse_interpolate(args.interpolate))
          .attribute_to_layer_input(args.attribute_to_layer_input);
  std::vector<std::vector<torch::Tensor>> per_target;
  for (const Target& target : targets) {
    GuidedGradCamResult r =
        method.attribute_with_map(inputs, target, extra, options);
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (r.attributions[i].numel() == 0 && inputs[i].numel() > 0) {
        throw CliError(
            args.inputs[i] + ": the Grad-CAM map of layer " + args.layer +
            " (shape " + c10::str(r.grad_cam.sizes()) +
            ") cannot be upsampled to this input (shape " +
            c10::str(inputs[i].sizes()) + ") with --interpolate " +
            args.interpolate +
            "; the input needs as many dimensions as the map (Captum returns "
            "an empty tensor here)");
      }
    }
    per_target.push_back(std::move(r.attributions));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::vector<torch::Tensor> maps;
    for (const auto& attribution : per_target) {
      maps.push_back(attribution.at(i));
    }
    result.push_back(stacked ? torch::stack(maps) : maps.front());
  }
  return result;
}

int run_layers(const LayersArgs& args) {
  if (!args.input_size.empty() && !args.input.empty()) {
    throw UsageError("--input-size and --input exclude each other");
  }
  for (int64_t d : args.input_size) {
    if (d < 1) {
      throw UsageError(
          "--input-size: every size must be at least 1, got " +
          std::to_string(d));
    }
  }
  torch::jit::Module module = load_model(args.model);
  std::vector<LayerInfo> layers;
  if (args.input_size.empty() && args.input.empty()) {
    for (const auto& named : module.named_modules()) {
      if (!named.name.empty()) {
        std::printf("%s\n", named.name.c_str());
      }
    }
    return 0;
  }
  torch::Tensor x;
  if (!args.input.empty()) {
    x = read_tensor(args.input);
  } else {
    torch::manual_seed(0);
    x = torch::rand(args.input_size);
  }
  layers = layer_shapes(module, {x});
  size_t width = 0;
  for (const auto& l : layers) {
    width = std::max(width, l.path.size());
  }
  for (const auto& l : layers) {
    std::string shape = l.output_shape.empty() ? "-  (" + l.note + ")"
                                               : shape_string(l.output_shape);
    std::printf(
        "%-*s  %s\n", static_cast<int>(width), l.path.c_str(), shape.c_str());
  }
  return 0;
}

} // namespace cli
} // namespace guidedbp
