#pragma once

#include <ATen/core/ivalue.h>
#include <guidedbp/model.h>
#include <torch/types.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace guidedbp {
namespace detail {

/// The model's output together with one layer's tensors from the same
/// forward pass.
struct LayerRun {
  c10::IValue output;
  /// The layer's output tensor(s), or its input tensor(s); attached to the
  /// autograd graph, so gradients can be taken with respect to them.
  std::vector<torch::Tensor> layer;
};

class LayerCapture; // layer_mechanism.h

/// Runs a model's forward pass and captures one layer, by the mechanism the
/// model allows (chosen once, by `layer_mechanism`): TorchScript modules
/// through a copy of their inlined graph that also returns the layer's
/// tensors (layer_graph.cpp; built once here, shared by copies, safe to run
/// from several threads); `torch::nn::Sequential` paths child by child
/// (layer_sequential.cpp); anything else through `guidedbp::layer_output`
/// marks (layer_marker.cpp).
///
/// Throws c10::ValueError for an unknown path (listing nearby names), and at
/// `run` for a layer the forward pass did not reach.
class LayerForward {
 public:
  LayerForward(
      const Model& model,
      std::string path,
      bool layer_input,
      std::string who);

  /// Runs the forward pass (the caller sets grad mode and the optimizer flag).
  LayerRun run(const std::vector<c10::IValue>& args) const;

  const std::string& path() const {
    return path_;
  }
  const Model& model() const {
    return model_;
  }
  const std::string& who() const {
    return who_;
  }

 private:
  Model model_;
  std::string path_;
  std::string who_;
  std::shared_ptr<const LayerCapture> capture_;
};

/// A layer's `LayerForward` for its output, built at once (so that an unknown
/// path fails early), and for its input, built on first use; shared by copies
/// and safe to use from several threads.
class LayerForwards {
 public:
  LayerForwards(const Model& model, std::string path, std::string who);
  const LayerForward& get(bool layer_input) const;

 private:
  LayerForward output_;
  mutable std::once_flag input_once_;
  mutable std::unique_ptr<LayerForward> input_;
};

} // namespace detail
} // namespace guidedbp
