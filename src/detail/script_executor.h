#pragma once

#include <ATen/core/ivalue.h>

#include <memory>
#include <string>
#include <vector>

namespace c10 {
struct FunctionSchema;
} // namespace c10

namespace torch {
namespace jit {
struct Graph;
struct GraphExecutor;
struct Module;
} // namespace jit
} // namespace torch

namespace guidedbp {
namespace detail {

/// A TorchScript module's forward graph (its own, or an edited copy of it)
/// run by a graph executor of our own. The one way guidedbp runs TorchScript:
/// the model's forward, its layer graphs and `layer_shapes` all go through it.
///
/// Why not module.forward(): once the module's own executor has built an
/// optimised plan (the caller ran it a few times with the optimizer on), it
/// returns that plan whatever the optimizer flag says, and that plan hides
/// ReLUs inside DifferentiableGraph nodes. Our executor only ever runs with
/// the optimizer off (the caller sets it: AttributionModeGuard, layer_shapes),
/// so it always takes the unoptimised plan. It reads weights and attributes
/// from the module on every call, so it sees the module exactly as the caller
/// has it (eval(), new weights). Copies share the executor; safe to run from
/// several threads.
class ScriptExecutor {
 public:
  /// Runs `graph`, a copy of `module`'s forward graph (see
  /// `forward_graph_copy`) that may return more values; null: the forward
  /// graph itself. `name` is appended to the executor's function name.
  explicit ScriptExecutor(
      const torch::jit::Module& module,
      std::shared_ptr<torch::jit::Graph> graph = nullptr,
      const std::string& name = "");

  /// The graph's outputs for `args` (the module goes first, as self). Checks
  /// the arguments' types and fills in defaults, with TorchScript's messages.
  std::vector<c10::IValue> run(const std::vector<c10::IValue>& args) const;

 private:
  c10::IValue self_; // the module's object: shares the caller's module
  const c10::FunctionSchema* schema_;
  std::shared_ptr<torch::jit::GraphExecutor> executor_;
};

/// A copy of `module`'s inlined forward graph, to edit and run with a
/// `ScriptExecutor`.
std::shared_ptr<torch::jit::Graph> forward_graph_copy(
    const torch::jit::Module& module);

} // namespace detail
} // namespace guidedbp
