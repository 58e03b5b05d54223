#pragma once

#include <ATen/core/ivalue.h>
#include <guidedbp/model.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace guidedbp {

/// Marks `x` as the output of the layer named `name` inside a forward
/// function that guidedbp cannot look into: a C++ `torch::nn` module (the C++
/// frontend has no forward hooks) or a plain function. Returns `x` itself,
/// unless a layer or neuron attribution of layer `name` runs on this thread:
/// then it records `x` as the layer's output and returns a copy of it, so that
/// in-place operations after the layer leave the recorded values intact (as
/// Captum's forward hooks do).
///
/// NOTE: Not needed for TorchScript modules (scripted or traced), whose layers
/// are found by their `named_modules()` path, nor for paths through
/// `torch::nn::Sequential` containers from the model's root, which guidedbp
/// runs child by child. A name called several times keeps the last call's
/// tensor (as Captum does). The cost outside an attribution is one
/// thread-local read.
///
/// Example:
/// ```
/// struct NetImpl : torch::nn::Module {
///   torch::Tensor forward(torch::Tensor x) {
///     x = guidedbp::layer_output("features", torch::relu(conv(x)));
///     return fc(x.flatten(1));
///   }
///   ...
/// };
/// guidedbp::GuidedGradCam gc(net, "features");
/// ```
[[nodiscard]] torch::Tensor layer_output(
    const std::string& name,
    const torch::Tensor& x);

/// One layer of a model as `layer_shapes` reports it.
struct LayerInfo {
  /// The name to pass as `layer`, e.g. "layer4" or "features.18".
  std::string path;
  /// The shape of the layer's output for the given inputs; empty when the
  /// layer yields no tensor of its own (a module never called, one that
  /// returns its input, or one called only inside TorchScript control flow).
  std::vector<int64_t> output_shape;
  std::string note; ///< why output_shape is empty, or ""
};

/// The layers a layer or neuron attribution can name, with their output shapes
/// for `inputs`: every `named_modules()` path of a TorchScript module, the
/// children (recursively) of a `torch::nn::Sequential`, and the
/// `layer_output` names a forward function marks. Runs the forward pass once,
/// without gradients.
///
/// Example:
/// ```
/// torch::Tensor x = torch::rand({1, 3, 224, 224});
/// for (const auto& l : guidedbp::layer_shapes(model, {x}))
///   std::cout << l.path << " " << l.output_shape << "\n";
/// ```
[[nodiscard]] std::vector<LayerInfo> layer_shapes(
    const Model& model,
    const std::vector<torch::Tensor>& inputs,
    const std::vector<c10::IValue>& additional_forward_args = {});

} // namespace guidedbp
