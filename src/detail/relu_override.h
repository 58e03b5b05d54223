#pragma once

#include <guidedbp/attribution.h>
#include <torch/csrc/autograd/function.h>

#include <cstdint>
#include <unordered_set>

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

} // namespace detail
} // namespace guidedbp
