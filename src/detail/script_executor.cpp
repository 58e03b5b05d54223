#include "detail/script_executor.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <utility>

namespace guidedbp {
namespace detail {
namespace {

torch::jit::GraphFunction& forward_function(const torch::jit::Module& module) {
  return torch::jit::toGraphFunction(module.get_method("forward").function());
}

} // namespace

ScriptExecutor::ScriptExecutor(
    const torch::jit::Module& module,
    std::shared_ptr<torch::jit::Graph> graph,
    const std::string& name)
    : self_(module._ivalue()) {
  torch::jit::GraphFunction& function = forward_function(module);
  schema_ = &function.getSchema();
  executor_ = std::make_shared<torch::jit::GraphExecutor>(
      graph ? std::move(graph) : function.optimized_graph(),
      function.qualname().qualifiedName() + name);
}

std::vector<c10::IValue> ScriptExecutor::run(
    const std::vector<c10::IValue>& args) const {
  torch::jit::Stack stack;
  stack.reserve(args.size() + 1);
  stack.push_back(self_);
  stack.insert(stack.end(), args.begin(), args.end());
  schema_->checkAndNormalizeInputs(stack);
  executor_->run(stack);
  return stack;
}

std::shared_ptr<torch::jit::Graph> forward_graph_copy(
    const torch::jit::Module& module) {
  return forward_function(module).optimized_graph()->copy();
}

} // namespace detail
} // namespace guidedbp
