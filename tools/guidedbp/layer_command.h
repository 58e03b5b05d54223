#pragma once

// The layer and neuron methods of `guidedbp attribute`, and `guidedbp layers`.

#include <guidedbp/grad_cam.h>
#include <guidedbp/target.h>
#include <torch/script.h>

#include <string>
#include <vector>

#include "commands.h"

namespace guidedbp {
namespace cli {

/// guided-gradcam, neuron-guided-backprop or neuron-deconvolution.
bool is_layer_method(const std::string& method);

/// --interpolate: nearest, bilinear, bicubic or area; else UsageError.
InterpolateMode parse_interpolate(const std::string& name);

/// Throws UsageError for a layer option without a layer method, a layer
/// method without --layer (or --neuron), or --target with a neuron method.
void check_layer_usage(const AttributeArgs& args);

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
