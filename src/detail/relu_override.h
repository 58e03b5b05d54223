#pragma once

#include <guidedbp/attribution.h>
#include <guidedbp/model.h>
#include <torch/csrc/autograd/function.h>

#include <cstdint>
#include <unordered_set>
#include <vector>

namespace guidedbp {
namespace detail {

/// Graph nodes already visited by `override_relus` in one attribution call.
using VisitedNodes = std::unordered_set<const torch::autograd::Node*>;

/// What `override_relus` found on its walk.
struct ReluOverrideCount {
  int64_t relus = 0; ///< ReLU nodes hooked.
  /// Fused TorchScript nodes (`DifferentiableGraphBackward`) that may hide
  /// ReLUs out of reach.
  int64_t fused_graphs = 0;
};

/// Walks the autograd graph backwards from `root`'s grad_fn and puts a hook
/// applying `rule` on every ReLU node (`ReluBackward0`: relu and relu_, module
/// or functional, C++ or TorchScript) not yet in `visited`.
/// Adds to `count` what it hooked and found.
///
/// NOTE: The hooks live on nodes of this call's graph, which the call owns:
/// they vanish with it, and they never touch the model.
void override_relus(
    const torch::Tensor& root,
    ReluRule rule,
    VisitedNodes& visited,
    ReluOverrideCount& count);

/// What `relu_rule_gradients` computed.
struct RuleGradients {
  /// `grads[k][i]`: the gradient of `selected[k]` with respect to leaf i.
  std::vector<std::vector<torch::Tensor>> grads;
  int64_t relu_count = 0; ///< ReLU nodes overridden, over all passes.
};

/// The backward pass of every method, one per tensor of `selected` (values
/// of one forward pass, e.g. one per target): the gradient of its sum with
/// respect to `leaves`, every ReLU between them answering by `rule` (none is
/// overridden for `kPlain`). The graph is kept between the passes and freed
/// by the last one.
///
/// Throws c10::ValueError when a leaf gets no gradient (`check_gradients`).
/// Unless `rule` is kPlain, warns when no ReLU was overridden or fused
/// TorchScript graphs may hide some (`warn_relu_count`), once for all passes.
RuleGradients relu_rule_gradients(
    const std::vector<torch::Tensor>& selected,
    const std::vector<torch::Tensor>& leaves,
    ReluRule rule,
    const Model& model,
    const char* who);

} // namespace detail
} // namespace guidedbp
