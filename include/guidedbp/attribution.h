#pragma once

#include <ATen/core/ivalue.h>
#include <guidedbp/model.h>
#include <guidedbp/target.h>
#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <vector>

namespace guidedbp {

/// The gradient each ReLU sends back, for a ReLU `y = relu(x)` that receives
/// `grad_y` (see the table in the README):
enum class ReluRule {
  kPlain,         ///< `grad_y * (x > 0)`: the ordinary gradient (Saliency).
  kGuided,        ///< `relu(grad_y * (x > 0))` (Guided Backpropagation).
  kDeconvolution, ///< `relu(grad_y)`, ignoring the forward mask.
};

/// Extra arguments of `attribute()`: the model's additional forward
/// arguments (Captum's `additional_forward_args`), passed after the inputs in
/// order and given no attribution, e.g. `{mask, /*scale=*/2.0}`.
using ForwardArgs = std::vector<c10::IValue>;

/// What one `attribute_targets` call computed, all from its one forward pass.
/// Returned with the attributions (not kept in the method object), so that
/// calls from several threads never see each other's results.
struct AttributionResult {
  /// `attributions[k][i]`: the attribution of input i for target k, same
  /// shape and dtype as input i.
  std::vector<std::vector<torch::Tensor>> attributions;
  /// The model's output for the inputs, detached from the graph (e.g. the
  /// class scores, to report the predicted class without a second pass).
  torch::Tensor output;
  /// How many ReLU applications were overridden. 0 means the attributions are
  /// plain gradients (the call then also warns).
  int64_t relu_count = 0;
};

/// Chooses the targets from the model's output (see
/// `attribute_chosen_targets`), e.g. the predicted class of each example:
/// `std::vector<Target>{output.argmax(1)}`.
using ChooseTargets =
    std::function<std::vector<Target>(const torch::Tensor& output)>;

/// The gradient of the selected outputs with respect to the inputs, with every
/// ReLU of the computation answering by `rule()`. The base of
/// `GuidedBackprop`, `Deconvolution` and `Saliency` (Captum's
/// `ModifiedReluGradientAttribution`).
///
/// How: the forward pass runs with grad mode on; every `ReluBackward0` node of
/// the autograd graph that leads from the selected output back to the inputs
/// gets a hook that rewrites its gradient. So every ReLU is overridden:
/// `nn::ReLU` modules, functional and in-place ReLUs, a module applied several
/// times, inside TorchScript (scripted or traced) as well. Captum overrides
/// only `nn.ReLU` modules.
///
/// NOTE: Nothing is left behind, also when a call throws: the hooks live on
/// this call's graph nodes only; the inputs' `requires_grad` and `.grad` and
/// the parameters' `.grad` are untouched; grad mode and the TorchScript graph
/// optimizer flag (thread-local, switched off during the call so that ReLUs
/// stay visible on every call) are restored. Several threads may attribute
/// with one object and one model at the same time.
class ModifiedReluGradient {
 public:
  /// `abs`: return the absolute value of each attribution.
  ModifiedReluGradient(Model model, ReluRule rule, bool abs = false);
  /// Virtual: the CLI and users hold the methods by base pointer.
  virtual ~ModifiedReluGradient() = default;
  ModifiedReluGradient(const ModifiedReluGradient&) = default;
  ModifiedReluGradient(ModifiedReluGradient&&) = default;
  ModifiedReluGradient& operator=(const ModifiedReluGradient&) = default;
  ModifiedReluGradient& operator=(ModifiedReluGradient&&) = default;

  /// Attribution of one input tensor (batch first), same shape and dtype.
  ///
  /// REQUIRES: `input` is floating point with a batch dimension.
  /// Throws c10::TypeError (non-floating input, non-tensor output),
  /// c10::IndexError (target out of range), c10::ValueError (the other misuses,
  /// see `Target::select`). Warns (TORCH_WARN) when no ReLU was overridden,
  /// since the result is then a plain gradient.
  ///
  /// Example:
  /// ```
  /// guidedbp::GuidedBackprop gbp(torch::jit::load("model.pt"));
  /// torch::Tensor a = gbp.attribute(images, /*target=*/3);
  /// ```
  [[nodiscard]] torch::Tensor attribute(
      const torch::Tensor& input,
      const Target& target = Target(),
      const ForwardArgs& additional_forward_args = {}) const;

  /// Attributions of several inputs (Captum's tuple of inputs): one tensor
  /// per input, in order. Dim 0 is the batch and must agree across inputs.
  ///
  /// Example:
  /// ```
  /// std::vector<torch::Tensor> as = gbp.attribute({x, y}, /*target=*/3);
  /// std::vector<torch::Tensor> one = gbp.attribute({x}, 3); // a list of 1
  /// ```
  [[nodiscard]] std::vector<torch::Tensor> attribute(
      const std::vector<torch::Tensor>& inputs,
      const Target& target = Target(),
      const ForwardArgs& additional_forward_args = {}) const;
  /// A braced list of inputs: `attribute({x}, t)` is a list of one input and
  /// returns a vector (C++ would otherwise pick the single-tensor overload).
  [[nodiscard]] std::vector<torch::Tensor> attribute(
      std::initializer_list<torch::Tensor> inputs,
      const Target& target = Target(),
      const ForwardArgs& additional_forward_args = {}) const;

  /// Attributions of the same inputs for K targets from ONE forward pass (one
  /// backward pass per target, the graph kept in between), with the model's
  /// output and the number of ReLUs overridden. `attributions[k]` equals
  /// `attribute(inputs, targets[k], ...)`. Much faster than K calls when the
  /// forward pass is a large share of the cost.
  ///
  /// Example:
  /// ```
  /// auto r = gbp.attribute_targets({x}, {0, 1, 2}); // r.attributions[k][0]
  /// ```
  [[nodiscard]] AttributionResult attribute_targets(
      const std::vector<torch::Tensor>& inputs,
      const std::vector<Target>& targets,
      const ForwardArgs& additional_forward_args = {}) const;

  /// As `attribute_targets`, with the targets chosen by `choose` from the
  /// model's output of the same forward pass (e.g. the predicted class, or
  /// the top k). Errors thrown by `choose` propagate; nothing is left behind.
  ///
  /// Example:
  /// ```
  /// auto r = gbp.attribute_chosen_targets({x}, [](const torch::Tensor& out) {
  ///   return std::vector<guidedbp::Target>{out.argmax(1)}; // predicted
  /// });
  /// ```
  [[nodiscard]] AttributionResult attribute_chosen_targets(
      const std::vector<torch::Tensor>& inputs,
      const ChooseTargets& choose,
      const ForwardArgs& additional_forward_args = {}) const;

  ReluRule rule() const {
    return rule_;
  }
  bool abs() const {
    return abs_;
  }
  const Model& model() const {
    return model_;
  }

 private:
  Model model_;
  ReluRule rule_;
  bool abs_;
};

/// Guided Backpropagation (Springenberg et al., 2014, arXiv:1412.6806):
/// ReLUs pass back only positive gradients where their input was positive.
/// Captum: `captum.attr.GuidedBackprop(model).attribute(inputs, target,
/// additional_forward_args)`.
///
/// Example:
/// ```
/// guidedbp::GuidedBackprop gbp(model);
/// torch::Tensor a = gbp.attribute(x, /*target=*/3);
/// ```
class GuidedBackprop : public ModifiedReluGradient {
 public:
  explicit GuidedBackprop(Model model)
      : ModifiedReluGradient(std::move(model), ReluRule::kGuided) {}
};

/// Deconvolution (Zeiler & Fergus, 2014): ReLUs pass back the positive part
/// of the incoming gradient, whatever their input was.
/// Captum: `captum.attr.Deconvolution`.
class Deconvolution : public ModifiedReluGradient {
 public:
  explicit Deconvolution(Model model)
      : ModifiedReluGradient(std::move(model), ReluRule::kDeconvolution) {}
};

/// Options of `Saliency`.
struct SaliencyOptions {
  /// Return the absolute value of the gradient, as Captum's `Saliency` does
  /// by default. Default: false (the signed gradient, Captum's `abs=False`).
  TORCH_ARG(bool, abs) = false;
};

/// Saliency (Simonyan et al., 2013): the plain input gradient.
/// Captum: `captum.attr.Saliency(model).attribute(inputs, target,
/// abs=False)`; with `SaliencyOptions().abs(true)`, Captum's default
/// `abs=True`.
class Saliency : public ModifiedReluGradient {
 public:
  explicit Saliency(Model model, SaliencyOptions options = {})
      : ModifiedReluGradient(
            std::move(model),
            ReluRule::kPlain,
            options.abs()) {}
};

} // namespace guidedbp
