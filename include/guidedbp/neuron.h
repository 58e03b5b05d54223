#pragma once

#include <guidedbp/attribution.h>
#include <guidedbp/model.h>
#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace guidedbp {

namespace detail {
class LayerForwards;
} // namespace detail

/// A range of indices `start:stop` (Python's slice, step 1) in a
/// `NeuronSelector` tuple. Negative values count from the end, bounds are
/// clamped to the dimension as Python does.
struct NeuronRange {
  int64_t start;
  int64_t stop;
};

/// One element of a `NeuronSelector` tuple: an index or a range.
class NeuronIndex {
 public:
  /* implicit */ NeuronIndex(int64_t index) : start_(index) {}
  /* implicit */ NeuronIndex(int index) : start_(index) {}
  /* implicit */ NeuronIndex(NeuronRange range)
      : start_(range.start), stop_(range.stop), is_range_(true) {}

  bool is_range() const {
    return is_range_;
  }
  int64_t index() const {
    return start_;
  }
  NeuronRange range() const {
    return {start_, stop_};
  }

 private:
  int64_t start_;
  int64_t stop_ = 0;
  bool is_range_ = false;
};

/// Which neuron(s) of a layer's output a neuron attribution explains: every
/// form of Captum's `neuron_selector`.
///
// clang-format off
/// | Captum (Python)         | guidedbp (C++)                               |
/// | ----------------------- | -------------------------------------------- |
/// | `7` (2-D layer outputs) | `7`                                          |
/// | `(5, 1, 2)`             | `{5, 1, 2}`                                  |
/// | `(slice(0, 4), 1, 2)`   | `{guidedbp::NeuronRange{0, 4}, 1, 2}`        |
/// | a callable              | `[](const torch::Tensor& layer) { ... }`     |
// clang-format on
///
/// Indices address the layer output without its batch dimension. A tuple of
/// ints must address one value per example; with a range, the selected
/// values of each example are summed (as Captum does). A callable gets the
/// layer output and returns one value per example. The gradient is taken of
/// the selected values summed over the batch.
///
/// Throws (at `select`): c10::IndexError for an index past the layer's shape
/// or a range that selects nothing (Captum would give a zero attribution for
/// the empty range), c10::ValueError for an int on a layer output that is not
/// 2-D, a tuple longer than the layer allows, a tuple of ints that leaves
/// several values per example, or a callable that returns other than one
/// value per example.
///
/// Example:
/// ```
/// ngbp.attribute(x, /*neuron_selector=*/{12, 3, 3});
/// ngbp.attribute(x, {guidedbp::NeuronRange{0, 8}});  // channels 0..7, summed
/// ```
class NeuronSelector {
 public:
  using Function = std::function<torch::Tensor(const torch::Tensor&)>;

  /* implicit */ NeuronSelector(int64_t index);
  /* implicit */ NeuronSelector(int index)
      : NeuronSelector(static_cast<int64_t>(index)) {}
  /* implicit */ NeuronSelector(std::initializer_list<NeuronIndex> indices);
  /* implicit */ NeuronSelector(std::vector<NeuronIndex> indices);
  /* implicit */ NeuronSelector(Function function);
  /// Any callable `torch::Tensor(const torch::Tensor&)`, e.g. a lambda.
  template <
      typename F,
      typename std::enable_if<
          std::is_invocable_r<torch::Tensor, F&, const torch::Tensor&>::value &&
              !std::is_same<std::decay_t<F>, Function>::value,
          int>::type = 0>
  /* implicit */ NeuronSelector(F function)
      : NeuronSelector(Function(std::move(function))) {}

  /// The selected values of `layer_output` (batch first), one per example.
  [[nodiscard]] torch::Tensor select(const torch::Tensor& layer_output) const;

  /// A Python-like literal: `7`, `(5, 1, 2)`, `(0:4, 1)`, `<callable>`.
  std::string to_string() const;

  /// True for a callable selector, whose selection depends on the layer's
  /// values (the index forms select the same entries whatever the values).
  bool is_function() const {
    return static_cast<bool>(function_);
  }

 private:
  bool is_int_ = false;
  std::vector<NeuronIndex> indices_;
  Function function_;
};

/// Options of the neuron methods' `attribute` and their other entry points,
/// as `LayerGradCamOptions` are for Grad-CAM.
struct NeuronAttributionOptions {
  /// Select the neuron from the layer's input instead of its output (Captum's
  /// `attribute_to_neuron_input`). Default: false.
  TORCH_ARG(bool, attribute_to_neuron_input) = false;
};

/// Chooses the neurons to explain from the layer's output (its input with
/// `attribute_to_neuron_input`) of the same forward pass, e.g. each
/// example's most active channel (see
/// `NeuronModifiedReluGradient::attribute_chosen_targets`).
using ChooseNeurons =
    std::function<std::vector<NeuronSelector>(const torch::Tensor& layer)>;

/// The gradient of one neuron (or a sum of neurons) of an internal layer with
/// respect to the inputs, every ReLU between them answering by `rule`. The
/// base of `NeuronGuidedBackprop` and `NeuronDeconvolution` (Captum's
/// `NeuronGuidedBackprop`, `NeuronDeconvolution`).
///
/// The layer is named as for `LayerGradCam` (see guidedbp/grad_cam.h). The
/// forward pass runs in full (Captum stops at the layer where it can; the
/// values are the same). ReLUs inside the layer count when they lie between
/// the inputs and the neuron; ReLUs after the layer play no part.
///
/// NOTE: Nothing is left on the model; threads may share an object.
class NeuronModifiedReluGradient {
 public:
  NeuronModifiedReluGradient(Model model, std::string layer, ReluRule rule);
  virtual ~NeuronModifiedReluGradient() = default;
  NeuronModifiedReluGradient(const NeuronModifiedReluGradient&) = default;
  NeuronModifiedReluGradient(NeuronModifiedReluGradient&&) = default;
  NeuronModifiedReluGradient& operator=(const NeuronModifiedReluGradient&) =
      default;
  NeuronModifiedReluGradient& operator=(NeuronModifiedReluGradient&&) = default;

  /// Attribution of one input tensor, same shape and dtype.
  ///
  /// Example:
  /// ```
  /// // The neuron taken from the layer's input instead of its output.
  /// torch::Tensor a = ngbp.attribute(x, {0, 1, 1}, {},
  ///     guidedbp::NeuronAttributionOptions().attribute_to_neuron_input(true));
  /// ```
  [[nodiscard]] torch::Tensor attribute(
      const torch::Tensor& input,
      const NeuronSelector& neuron_selector,
      const ForwardArgs& additional_forward_args = {},
      const NeuronAttributionOptions& options = {}) const;

  /// Attributions of several inputs, one per input.
  [[nodiscard]] std::vector<torch::Tensor> attribute(
      const std::vector<torch::Tensor>& inputs,
      const NeuronSelector& neuron_selector,
      const ForwardArgs& additional_forward_args = {},
      const NeuronAttributionOptions& options = {}) const;
  /// A braced list of inputs: `attribute({x}, n)` is a list of one input and
  /// returns a vector, as for `GuidedBackprop`.
  [[nodiscard]] std::vector<torch::Tensor> attribute(
      std::initializer_list<torch::Tensor> inputs,
      const NeuronSelector& neuron_selector,
      const ForwardArgs& additional_forward_args = {},
      const NeuronAttributionOptions& options = {}) const {
    return attribute(
        std::vector<torch::Tensor>(inputs),
        neuron_selector,
        additional_forward_args,
        options);
  }

  /// Attributions of the same inputs for K neurons from ONE forward pass (one
  /// backward pass per neuron, the graph kept in between), as
  /// `GuidedBackprop::attribute_targets` does for K targets:
  /// `attributions[k]` equals `attribute(inputs, neurons[k], ...)`; `output`
  /// is the model's output when it is a tensor (undefined otherwise: neuron
  /// methods do not need one), `relu_count` the ReLUs overridden.
  ///
  /// Throws c10::ValueError for an empty `neurons`, and what `attribute`
  /// throws.
  ///
  /// Example:
  /// ```
  /// auto r = ngbp.attribute_targets({x}, {{0, 1, 1}, {1, 1, 1}});
  /// torch::Tensor second = r.attributions[1][0];
  /// ```
  [[nodiscard]] AttributionResult attribute_targets(
      const std::vector<torch::Tensor>& inputs,
      const std::vector<NeuronSelector>& neurons,
      const ForwardArgs& additional_forward_args = {},
      const NeuronAttributionOptions& options = {}) const;

  /// As `attribute_targets`, with the neurons chosen by `choose` from the
  /// layer's tensor (detached) of the same forward pass. Errors thrown by
  /// `choose` propagate; nothing is left behind.
  ///
  /// Example:
  /// ```
  /// // The channel of layer (N, C, H, W) most active in example 0.
  /// auto r = ngbp.attribute_chosen_targets({x}, [](const torch::Tensor& l) {
  ///   const int64_t c = l[0].sum({1, 2}).argmax().item<int64_t>();
  ///   return std::vector<guidedbp::NeuronSelector>{
  ///       {c, guidedbp::NeuronRange{0, l.size(2)},
  ///        guidedbp::NeuronRange{0, l.size(3)}}};
  /// });
  /// ```
  [[nodiscard]] AttributionResult attribute_chosen_targets(
      const std::vector<torch::Tensor>& inputs,
      const ChooseNeurons& choose,
      const ForwardArgs& additional_forward_args = {},
      const NeuronAttributionOptions& options = {}) const;

  const Model& model() const {
    return model_;
  }
  const std::string& layer() const {
    return layer_;
  }
  ReluRule rule() const {
    return rule_;
  }

 private:
  Model model_;
  std::string layer_;
  ReluRule rule_;
  std::shared_ptr<const detail::LayerForwards> forwards_;
};

/// Guided Backpropagation of an internal neuron.
/// Captum: `captum.attr.NeuronGuidedBackprop(model, layer).attribute(inputs,
/// neuron_selector, additional_forward_args, attribute_to_neuron_input)`.
///
/// Example:
/// ```
/// guidedbp::NeuronGuidedBackprop ngbp(model, "features.18");
/// torch::Tensor a = ngbp.attribute(images, {/*channel=*/5, 1, 2});
/// ```
class NeuronGuidedBackprop : public NeuronModifiedReluGradient {
 public:
  NeuronGuidedBackprop(Model model, std::string layer)
      : NeuronModifiedReluGradient(
            std::move(model),
            std::move(layer),
            ReluRule::kGuided) {}
};

/// Deconvolution of an internal neuron.
/// Captum: `captum.attr.NeuronDeconvolution`.
class NeuronDeconvolution : public NeuronModifiedReluGradient {
 public:
  NeuronDeconvolution(Model model, std::string layer)
      : NeuronModifiedReluGradient(
            std::move(model),
            std::move(layer),
            ReluRule::kDeconvolution) {}
};

} // namespace guidedbp
