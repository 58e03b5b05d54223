#pragma once

#include <guidedbp/attribution.h>
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
  /// "guided-backprop", "deconvolution" or "saliency".
  std::string method;
  /// Saliency's absolute value was compiled in (`--abs`).
  bool abs = false;
  /// The layer of a layer method; "" for the input methods.
  std::string layer;
  /// How many ReLU backward nodes were rewritten at export (0: the package
  /// computes the plain gradient).
  int64_t relu_count = 0;
  /// Each input's shape without the batch dimension, in order.
  std::vector<std::vector<int64_t>> input_shapes;
  /// The input (and attribution) dtype.
  torch::ScalarType dtype = torch::kFloat;
  /// The model output's shape without the batch dimension.
  std::vector<int64_t> output_shape;
  /// "cpu" or "cuda[:N]": where the package runs; inputs must be there.
  std::string device;
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
  /// wrong device, the other misuses of `Target::select`). Warns (TORCH_WARN)
  /// when the package rewrote no ReLU.
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

  /// The model's output for `inputs` (one package call with a zero
  /// grad_output), e.g. the class scores of a prediction. Same checks and
  /// errors as `attribute`.
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

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

} // namespace guidedbp
