#pragma once

#include <guidedbp/attribution.h>
#include <guidedbp/grad_cam.h>
#include <guidedbp/neuron.h>
#include <guidedbp/target.h>
#include <torch/types.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace guidedbp {

/// True when this guidedbp was built with LibTorch's AOTInductor package
/// loader (LibTorch >= 2.6), so that `CompiledAttribution` can load packages.
bool compiled_packages_supported();

/// What `guidedbp export` recorded in a package (its AOTInductor metadata).
struct CompiledMetadata {
  /// "guided-backprop", "deconvolution", "saliency", "guided-gradcam",
  /// "neuron-guided-backprop" or "neuron-deconvolution".
  std::string method;
  /// Saliency's absolute value was compiled in (`--abs`).
  bool abs = false;
  /// The layer (a named_modules() path) of guided-gradcam and the neuron
  /// methods; "" for the input methods.
  std::string layer;
  /// The layer output's shape without the batch dimension (guided-gradcam and
  /// the neuron methods): what a `NeuronSelector` addresses.
  std::vector<int64_t> layer_shape;
  /// How many ReLU backward nodes were rewritten at export (0: the package
  /// computes the plain gradient).
  int64_t relu_count = 0;
  /// Each input's shape without the batch dimension, in order.
  std::vector<std::vector<int64_t>> input_shapes;
  /// The input (and attribution) dtype.
  torch::ScalarType dtype = torch::kFloat;
  /// The model output's shape without the batch dimension (empty for a
  /// neuron package whose model returns no single tensor).
  std::vector<int64_t> output_shape;
  /// "cpu" or "cuda[:N]": where the package runs; inputs must be there.
  std::string device;
  /// The threads of the package's parallel CPU loops, fixed at export
  /// (`guidedbp export --threads`; `torch::set_num_threads` does not change
  /// them); 0 for packages that do not record it.
  int64_t threads = 0;
  /// The versions that made the package.
  std::string guidedbp_version;
  std::string torch_version;
};

/// An attribution compiled ahead of time by `guidedbp export` from a
/// `torch.export` model: an AOTInductor package (`.pt2`) that computes
/// `(inputs, grad_output) -> (output, attributions)` with the method's ReLU
/// rule built in. The same `attribute` API and `Target` forms as
/// `GuidedBackprop`, `Deconvolution` and `Saliency`, with results equal to
/// theirs on the eager model (docs/export.md).
///
/// A Guided Grad-CAM package (`--method guided-gradcam --layer PATH`) takes
/// the same `attribute` calls and equals `GuidedGradCam(model, PATH)` with
/// the default options (nearest upsampling, the layer's output); its maps
/// come from `attribute_targets_with_maps`. A neuron package
/// (`--method neuron-guided-backprop|neuron-deconvolution --layer PATH`)
/// takes the neuron calls instead (`attribute_neuron`, ...), which equal
/// `NeuronGuidedBackprop(model, PATH)` / `NeuronDeconvolution`: the package
/// takes the gradient at the layer's output, built here from the
/// `NeuronSelector`, so the neuron is chosen at run time.
///
/// AOTInductor runs without autograd, so the method is fixed by the package:
/// one package per method. The package's batch dimension is dynamic; its
/// other dimensions and dtype are those it was exported with.
///
/// NOTE: Inputs are made contiguous (packages do not check strides). Each
/// call runs under `c10::InferenceMode`; K targets run as one package call on
/// K stacked copies of the batch. Several threads may share one object (and
/// its copies, which share the loaded package): calls are serialised on the
/// package. Needs LibTorch >= 2.6; elsewhere the constructor throws.
///
/// Captum: `GuidedBackprop(model).attribute(x, target)` (and
/// `Deconvolution`, `Saliency(model).attribute(x, target, abs=...)`) on the
/// model before `torch.export`.
///
/// Example:
/// ```
/// // guidedbp export --model ep.pt2 --method guided-backprop --output gbp.pt2
/// guidedbp::CompiledAttribution gbp("gbp.pt2");
/// torch::Tensor a = gbp.attribute(images, /*target=*/3);
/// ```
class CompiledAttribution {
 public:
  /// Loads the package. Throws c10::Error naming the file when it cannot be
  /// loaded or was not made by `guidedbp export`, and c10::NotImplementedError
  /// on LibTorch < 2.6.
  explicit CompiledAttribution(const std::string& package_path);

  /// Attribution of one input tensor (batch first), same shape and dtype.
  ///
  /// Throws c10::TypeError (dtype other than the package's), c10::IndexError
  /// (target out of range), c10::ValueError (shape other than the package's,
  /// wrong device, the other misuses of `Target::select`, a neuron package:
  /// use `attribute_neuron`). Warns (TORCH_WARN) when the package rewrote no
  /// ReLU.
  ///
  /// Example:
  /// ```
  /// torch::Tensor a = gbp.attribute(x, guidedbp::Target::per_example({3, 1}));
  /// ```
  [[nodiscard]] torch::Tensor attribute(
      const torch::Tensor& input,
      const Target& target = Target()) const;
  /// Attributions of several inputs (a package exported with several),
  /// one tensor per input.
  [[nodiscard]] std::vector<torch::Tensor> attribute(
      const std::vector<torch::Tensor>& inputs,
      const Target& target = Target()) const;
  [[nodiscard]] std::vector<torch::Tensor> attribute(
      std::initializer_list<torch::Tensor> inputs,
      const Target& target = Target()) const;

  /// Attributions for K targets from one package call, with the model's
  /// output; `attributions[k]` equals `attribute(inputs, targets[k])`.
  ///
  /// Example:
  /// ```
  /// auto r = gbp.attribute_targets({x}, {0, 1, 2}); // r.attributions[k][0]
  /// ```
  [[nodiscard]] AttributionResult attribute_targets(
      const std::vector<torch::Tensor>& inputs,
      const std::vector<Target>& targets) const;

  /// As `attribute_targets`, with the targets chosen by `choose` from the
  /// model's output (one more package call, for the output).
  ///
  /// Example:
  /// ```
  /// auto r = gbp.attribute_chosen_targets({x}, [](const torch::Tensor& out) {
  ///   return std::vector<guidedbp::Target>{out.argmax(1)};
  /// });
  /// ```
  [[nodiscard]] AttributionResult attribute_chosen_targets(
      const std::vector<torch::Tensor>& inputs,
      const ChooseTargets& choose) const;

  /// As `attribute_chosen_targets`; on a Guided Grad-CAM package with each
  /// target's Grad-CAM map of the layer (with ReLU, before upsampling), as
  /// `GuidedGradCam::attribute_chosen_targets` returns them (`grad_cams`,
  /// empty for the input methods' packages). Throws
  /// c10::ValueError on a neuron package, and what `attribute_targets`
  /// throws.
  ///
  /// Example:
  /// ```
  /// guidedbp::CompiledAttribution ggc("ggc.pt2"); // --method guided-gradcam
  /// auto r = ggc.attribute_targets_with_maps({x}, [](const torch::Tensor& o) {
  ///   return std::vector<guidedbp::Target>{o.argmax(1)};
  /// }); // r.attributions[0][0], r.grad_cams[0]
  /// ```
  [[nodiscard]] GuidedGradCamTargetsResult attribute_targets_with_maps(
      const std::vector<torch::Tensor>& inputs,
      const ChooseTargets& choose) const;

  /// Attribution of the neuron(s) `neuron_selector` picks in the layer's
  /// output, on a neuron package: equals
  /// `NeuronGuidedBackprop(model, layer).attribute(input, neuron_selector)`
  /// (`NeuronDeconvolution` for a neuron-deconvolution package). Every
  /// `NeuronSelector` form; a callable one costs one more package call (it
  /// needs the layer's values).
  ///
  /// Throws c10::ValueError on a package that is not a neuron one (use
  /// `attribute`), c10::NotImplementedError for
  /// `attribute_to_neuron_input` (a package takes the gradient at the layer's
  /// output; see docs/export.md, Limits), what `NeuronSelector::select`
  /// throws for a selector that does not fit the layer, and the input errors
  /// of `attribute`.
  ///
  /// Example:
  /// ```
  /// // guidedbp export --model ep.pt2 --method neuron-guided-backprop
  /// //     --layer features.3 --output ngbp.pt2
  /// guidedbp::CompiledAttribution ngbp("ngbp.pt2");
  /// torch::Tensor a = ngbp.attribute_neuron(x, {/*channel=*/5, 1, 2});
  /// ```
  [[nodiscard]] torch::Tensor attribute_neuron(
      const torch::Tensor& input,
      const NeuronSelector& neuron_selector,
      const NeuronAttributionOptions& options = {}) const;
  /// Attributions of several inputs, one per input.
  [[nodiscard]] std::vector<torch::Tensor> attribute_neuron(
      const std::vector<torch::Tensor>& inputs,
      const NeuronSelector& neuron_selector,
      const NeuronAttributionOptions& options = {}) const;

  /// Attributions for K neurons from one package call (two when a selector is
  /// callable): `attributions[k]` equals `attribute_neuron(inputs,
  /// neurons[k])`; `output` is the layer's output (not the model's: a neuron
  /// package does not return that).
  ///
  /// Example:
  /// ```
  /// auto r = ngbp.attribute_neuron_targets({x}, {{0, 1, 1}, {1, 1, 1}});
  /// ```
  [[nodiscard]] AttributionResult attribute_neuron_targets(
      const std::vector<torch::Tensor>& inputs,
      const std::vector<NeuronSelector>& neurons,
      const NeuronAttributionOptions& options = {}) const;

  /// As `attribute_neuron_targets`, with the neurons chosen by `choose` from
  /// the layer's output (one more package call, for that output).
  ///
  /// Example:
  /// ```
  /// auto r = ngbp.attribute_chosen_neurons({x}, [](const torch::Tensor& l) {
  ///   return std::vector<guidedbp::NeuronSelector>{
  ///       {l[0].sum({1, 2}).argmax().item<int64_t>(),
  ///        guidedbp::NeuronRange{0, l.size(2)},
  ///        guidedbp::NeuronRange{0, l.size(3)}}};
  /// });
  /// ```
  [[nodiscard]] AttributionResult attribute_chosen_neurons(
      const std::vector<torch::Tensor>& inputs,
      const ChooseNeurons& choose,
      const NeuronAttributionOptions& options = {}) const;

  /// The model's output for `inputs` (one package call with a zero
  /// grad_output), e.g. the class scores of a prediction; for a neuron
  /// package, the layer's output. Same checks and errors as `attribute`.
  ///
  /// Example:
  /// ```
  /// torch::Tensor scores = gbp.forward({x});
  /// ```
  [[nodiscard]] torch::Tensor forward(
      const std::vector<torch::Tensor>& inputs) const;

  /// What the package records (method, ReLU count, shapes, versions).
  const CompiledMetadata& metadata() const;
  /// The package's method, e.g. "guided-backprop".
  const std::string& method() const {
    return metadata().method;
  }
  /// True for the neuron methods (`attribute_neuron`, ...).
  bool is_neuron() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

} // namespace guidedbp
