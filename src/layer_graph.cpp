// Layers of TorchScript modules (scripted or traced), found in the inlined
// forward graph by the module path each node's callstack records; a copy of
// the graph returns the layer's tensors as extra outputs.

#include <c10/util/Exception.h>
#include <guidedbp/layer.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "detail/layer_mechanism.h"
#include "detail/nearby_names.h"
#include "detail/script_executor.h"

namespace guidedbp {
namespace detail {
namespace {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

bool within(const std::string& path, const std::string& layer) {
  return path == layer ||
      (path.size() > layer.size() &&
       path.compare(0, layer.size(), layer) == 0 && path[layer.size()] == '.');
}

// The module instance path of the code a node came from, dotted as
// named_modules() writes it. Scripted graphs name the root and calls of a
// module's own methods "SELF"; traced graphs leave root nodes without a
// callstack. Both read as "" (the root) here.
bool node_path(const Node* node, std::string& path) {
  auto callstack = node->callstack();
  if (!callstack) {
    return false;
  }
  path.clear();
  for (const auto& entry : (*callstack)->vec()) {
    const auto& instance = std::get<2>(entry);
    if (instance && instance->instance_name() != "SELF") {
      if (!path.empty()) {
        path += '.';
      }
      path += instance->instance_name();
    }
  }
  return true;
}

// The top-level node a (possibly nested) node lies in.
const Node* top_level(const Node* node) {
  while (node->owningBlock() && node->owningBlock()->owningNode()) {
    node = node->owningBlock()->owningNode();
  }
  return node;
}

bool is_tensor(const Value* v) {
  return v->type()->kind() == c10::TypeKind::TensorType;
}

std::vector<std::string> all_paths(const Graph& graph) {
  std::set<std::string> paths;
  std::vector<const Block*> blocks{graph.block()};
  while (!blocks.empty()) {
    const Block* block = blocks.back();
    blocks.pop_back();
    for (const Node* node : block->nodes()) {
      std::string path;
      if (node_path(node, path) && !path.empty()) {
        for (size_t dot = path.find('.'); dot != std::string::npos;
             dot = path.find('.', dot + 1)) {
          paths.insert(path.substr(0, dot));
        }
        paths.insert(path);
      }
      for (const Block* b : node->blocks()) {
        blocks.push_back(b);
      }
    }
  }
  return {paths.begin(), paths.end()};
}

// The top-level nodes of the last call of a layer: top[begin..end].
struct LayerCall {
  std::vector<Node*> top;
  int64_t begin = -1;
  int64_t end = -1;
  std::unordered_set<const Node*> nodes; // top[begin..end]
};

// Whether `layer` runs somewhere inside an if or a loop of the forward.
bool called_in_control_flow(const LayerCall& call, const std::string& layer) {
  std::vector<const Block*> blocks;
  for (const Node* n : call.top) {
    for (const Block* b : n->blocks()) {
      blocks.push_back(b);
    }
  }
  while (!blocks.empty()) {
    const Block* block = blocks.back();
    blocks.pop_back();
    for (const Node* n : block->nodes()) {
      std::string path;
      if (node_path(n, path) && within(path, layer)) {
        return true;
      }
      for (const Block* b : n->blocks()) {
        blocks.push_back(b);
      }
    }
  }
  return false;
}

// The last call of `layer` at the top level of `graph`, or false with `why`.
bool last_call(
    Graph& graph,
    const std::string& layer,
    LayerCall& call,
    std::string& why) {
  call.top.assign(graph.nodes().begin(), graph.nodes().end());
  const std::vector<Node*>& top = call.top;
  // The last top-level node of the layer ...
  for (int64_t i = static_cast<int64_t>(top.size()) - 1; i >= 0 && call.end < 0;
       --i) {
    if (top[i]->kind() == c10::prim::Constant) {
      continue;
    }
    std::string path;
    if (node_path(top[i], path) && within(path, layer)) {
      call.end = i;
    }
  }
  if (call.end < 0) {
    why = called_in_control_flow(call, layer)
        ? "it runs only inside control flow (an if or a loop) of the forward, "
          "where no tensor of it can be returned"
        : "it is never called by forward";
    return false;
  }
  // ... and the first of the same call: a node of other code ends the call;
  // nodes without a callstack (some inlined ifs) do not.
  call.begin = call.end;
  for (int64_t i = call.end - 1; i >= 0; --i) {
    if (top[i]->kind() == c10::prim::Constant) {
      continue;
    }
    std::string path;
    if (node_path(top[i], path)) {
      if (!within(path, layer)) {
        break;
      }
      call.begin = i;
    }
  }
  call.nodes.insert(top.begin() + call.begin, top.begin() + call.end + 1);
  return true;
}

// The call's outputs: values defined in it and used after it.
std::vector<Value*> call_outputs(const LayerCall& call, std::string& why) {
  std::vector<Value*> values;
  for (int64_t i = call.begin; i <= call.end; ++i) {
    for (Value* v : call.top[i]->outputs()) {
      bool used_after = false;
      for (const auto& use : v->uses()) {
        used_after |= call.nodes.count(top_level(use.user)) == 0;
      }
      if (!used_after) {
        continue;
      }
      if (!is_tensor(v)) {
        why = "it returns a " + v->type()->repr_str() + ", not tensors";
        return {};
      }
      values.push_back(v);
    }
  }
  if (values.empty()) {
    why =
        "it computes no tensor of its own (it returns its input?); try "
        "attribute_to_layer_input or the layer after it";
  }
  return values;
}

// The call's tensor inputs: values used in it (nested blocks too) and
// defined before it.
std::vector<Value*> call_inputs(const LayerCall& call, std::string& why) {
  std::vector<Value*> values;
  std::unordered_set<const Value*> seen;
  std::vector<const Block*> blocks;
  auto visit = [&](const Node* node) {
    for (const Value* input : node->inputs()) {
      Value* v = const_cast<Value*>(input); // NOLINT: graph is ours to change
      const Node* def = v->node();
      if (!is_tensor(v) || def->kind() == c10::prim::Constant ||
          call.nodes.count(top_level(def)) > 0 || !seen.insert(v).second) {
        continue;
      }
      values.push_back(v);
    }
    for (const Block* b : node->blocks()) {
      blocks.push_back(b);
    }
  };
  for (int64_t i = call.begin; i <= call.end; ++i) {
    visit(call.top[i]);
    while (!blocks.empty()) {
      const Block* block = blocks.back();
      blocks.pop_back();
      for (const Node* n : block->nodes()) {
        visit(n);
      }
    }
  }
  if (values.empty()) {
    why = "it takes no tensor input";
  }
  return values;
}

// The tensors of the last call of `layer`: its outputs (defined in the call,
// used after it) or its inputs (used in the call, defined before it).
// Returns an empty vector and sets `why` when there are none.
std::vector<Value*> layer_values(
    Graph& graph,
    const std::string& layer,
    bool layer_input,
    std::string& why) {
  LayerCall call;
  if (!last_call(graph, layer, call, why)) {
    return {};
  }
  return layer_input ? call_inputs(call, why) : call_outputs(call, why);
}

// Makes `v` a graph output that nothing else touches: its users get a copy,
// so in-place operations after the layer (nn.ReLU(inplace=True)) change the
// copy, and the gradient with respect to `v` collects every use (Captum's
// hooks return such a copy too).
void expose(Graph& graph, Value* v) {
  Node* clone = graph.create(c10::aten::clone, {v}, 1);
  clone->addInput(graph.insertConstant(c10::IValue()));
  clone->output()->setType(v->type());
  if (v->node()->kind() == c10::prim::Param) {
    clone->insertBefore(graph.nodes().front());
  } else {
    clone->insertAfter(v->node());
  }
  // The None constant may have been placed after the clone: move it first.
  clone->input(1)->node()->moveBefore(clone);
  v->replaceAllUsesWith(clone->output());
  clone->replaceInput(0, v);
  graph.registerOutput(v);
}

bool reaches(const Model& model, const std::string& /*path*/) {
  return model.torchscript_module() != nullptr;
}

// Throws c10::ValueError, with nearby names, unless `layer` is one of the
// graph's `paths` or at least a module of `module` (one that forward never
// calls: layer_values then says so).
void check_known_layer(
    const torch::jit::Module& module,
    const std::vector<std::string>& paths,
    const std::string& layer,
    const std::string& who) {
  if (std::binary_search(paths.begin(), paths.end(), layer)) {
    return;
  }
  std::vector<std::string> modules;
  for (const auto& named : module.named_modules()) {
    if (!named.name.empty()) {
      modules.push_back(named.name);
    }
  }
  const bool is_module =
      std::find(modules.begin(), modules.end(), layer) != modules.end();
  TORCH_CHECK_VALUE(
      is_module,
      who,
      ": the model has no layer '",
      layer,
      "'; ",
      nearby_names(layer, modules),
      " (guidedbp layers --model M.pt lists them all)");
}

// A copy of the module's forward graph that also returns one layer's
// tensors, with an executor of its own (only ever run unoptimised).
class GraphCapture : public LayerCapture {
 public:
  GraphCapture(ScriptExecutor executor, size_t layer_count)
      : executor_(std::move(executor)), layer_count_(layer_count) {}

  LayerRun run(const std::vector<c10::IValue>& args) const override {
    std::vector<c10::IValue> stack = executor_.run(args);
    TORCH_INTERNAL_ASSERT(stack.size() == 1 + layer_count_);
    LayerRun result;
    result.output = std::move(stack[0]);
    for (size_t i = 1; i < stack.size(); ++i) {
      result.layer.push_back(stack[i].toTensor());
    }
    return result;
  }

 private:
  ScriptExecutor executor_;
  size_t layer_count_;
};

std::shared_ptr<const LayerCapture> capture(
    const Model& model,
    const std::string& path,
    bool layer_input,
    const std::string& who) {
  const torch::jit::Module& module = *model.torchscript_module();
  std::shared_ptr<Graph> graph = forward_graph_copy(module);
  check_known_layer(module, all_paths(*graph), path, who);
  std::string why;
  std::vector<Value*> values = layer_values(*graph, path, layer_input, why);
  TORCH_CHECK_VALUE(
      !values.empty(),
      who,
      ": layer '",
      path,
      "' has no ",
      layer_input ? "input" : "output",
      " tensor in the TorchScript forward: ",
      why);
  for (Value* v : values) {
    expose(*graph, v);
  }
  return std::make_shared<GraphCapture>(
      ScriptExecutor(module, graph, "$" + path), values.size());
}

// Every module's output shape from one run of a graph that returns them all.
std::vector<LayerInfo> shapes(
    const Model& model,
    const std::vector<c10::IValue>& args) {
  const torch::jit::Module& module = *model.torchscript_module();
  std::shared_ptr<Graph> graph = forward_graph_copy(module);
  std::vector<LayerInfo> result;
  std::vector<std::pair<size_t, size_t>> ranges; // per layer: outputs
  for (const auto& named : module.named_modules()) {
    if (named.name.empty()) {
      continue;
    }
    std::string why;
    auto values = layer_values(*graph, named.name, false, why);
    const size_t first = graph->outputs().size();
    for (Value* v : values) {
      graph->registerOutput(v);
    }
    ranges.emplace_back(first, graph->outputs().size());
    result.push_back({named.name, {}, why});
  }
  torch::jit::GraphOptimizerEnabledGuard unoptimized(false);
  const std::vector<c10::IValue> stack =
      ScriptExecutor(module, graph, "$layer_shapes").run(args);
  for (size_t i = 0; i < result.size(); ++i) {
    const auto [first, last] = ranges[i];
    if (last == first + 1) {
      result[i].output_shape = stack[first].toTensor().sizes().vec();
    } else if (last > first + 1) {
      result[i].note = std::to_string(last - first) + " output tensors";
    }
  }
  return result;
}

} // namespace

const LayerMechanism& graph_layers() {
  static const LayerMechanism mechanism{&reaches, &capture, &shapes};
  return mechanism;
}

} // namespace detail
} // namespace guidedbp
