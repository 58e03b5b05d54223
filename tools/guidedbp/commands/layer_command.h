#pragma once

// The layer and neuron methods of `guidedbp attribute`, and `guidedbp layers`.

#include <guidedbp/grad_cam.h>
#include <guidedbp/neuron.h>
#include <guidedbp/target.h>
#include <torch/script.h>

#include <string>
#include <vector>

#include "cli/commands.h"

namespace guidedbp {
namespace cli {

/// --neuron SPEC as a NeuronSelector; throws CliError for a bad literal.
NeuronSelector to_neuron(const std::string& text);

/// --interpolate: nearest, bilinear, bicubic or area; else UsageError.
InterpolateMode parse_interpolate(const std::string& name);

/// Parses --neuron and --interpolate once before the model is loaded; throws
/// CliError/UsageError for a bad literal or mode. (Which method takes which
/// option: check_method_options, method_catalogue.h.)
void check_layer_literals(const AttributeArgs& args);

/// One attribution per input (K targets stacked on a new dim 0 when
/// `stacked`). Throws CliError for an input that cannot take the Grad-CAM map.
std::vector<torch::Tensor> layer_attributions(
    const torch::jit::Module& module,
    const AttributeArgs& args,
    const std::vector<torch::Tensor>& inputs,
    const std::vector<Target>& targets,
    bool stacked,
    const ForwardArgs& extra);

} // namespace cli
} // namespace guidedbp
