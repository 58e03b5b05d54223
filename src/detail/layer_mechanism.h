#pragma once

// The three ways guidedbp reaches a model's layers, each in its own file, and
// the one place that chooses between them (layer.cpp). Private to the
// layer_*.cpp files.

#include <ATen/core/ivalue.h>
#include <guidedbp/layer.h>
#include <guidedbp/model.h>

#include <memory>
#include <string>
#include <vector>

#include "detail/layer_forward.h"

namespace guidedbp {
namespace detail {

/// One layer of one model, ready to capture: runs the forward pass and
/// returns the layer's tensors with the output. Built once per method object;
/// `run` is safe to call from several threads.
class LayerCapture {
 public:
  virtual ~LayerCapture() = default;
  /// Throws c10::ValueError when the forward pass did not reach the layer.
  virtual LayerRun run(const std::vector<c10::IValue>& args) const = 0;
};

/// A way of reaching a model's layers.
struct LayerMechanism {
  /// Whether it reaches layer `path` of `model` ("": whether it lists the
  /// model's layers).
  bool (*reaches)(const Model& model, const std::string& path);
  /// The capture of layer `path` (its input when `layer_input`); throws
  /// c10::ValueError, starting with `who`, for a layer it cannot capture.
  std::shared_ptr<const LayerCapture> (*capture)(
      const Model& model,
      const std::string& path,
      bool layer_input,
      const std::string& who);
  /// Every layer it can name in `model`, with its output shape for `args`
  /// (one forward pass, in the caller's grad mode).
  std::vector<LayerInfo> (
      *shapes)(const Model& model, const std::vector<c10::IValue>& args);
};

/// TorchScript modules: layers found in the inlined graph (layer_graph.cpp).
const LayerMechanism& graph_layers();
/// `torch::nn::Sequential` paths from the root, run child by child
/// (layer_sequential.cpp).
const LayerMechanism& sequential_layers();
/// `guidedbp::layer_output` marks, for every other model (layer_marker.cpp).
const LayerMechanism& marked_layers();

/// The mechanism for layer `path` of `model` ("": for listing its layers):
/// the first of graph, Sequential and marks that reaches it.
const LayerMechanism& layer_mechanism(
    const Model& model,
    const std::string& path);

} // namespace detail
} // namespace guidedbp
