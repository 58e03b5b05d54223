#include <c10/util/Exception.h>
#include <guidedbp/layer.h>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/script.h>

#include <algorithm>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "detail/layer_forward.h"
#include "detail/script_executor.h"

namespace guidedbp {
namespace detail {

// ---------------------------------------------------------------------------
// TorchScript: layers in the inlined graph.
// ---------------------------------------------------------------------------
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

// The tensors of the last call of `layer`: its outputs (defined in the call,
// used after it) or its inputs (used in the call, defined before it).
// Returns an empty vector and sets `why` when there are none.
std::vector<Value*> layer_values(
    Graph& graph,
    const std::string& layer,
    bool layer_input,
    std::string& why) {
  std::vector<Node*> top(graph.nodes().begin(), graph.nodes().end());
  // The last top-level node of the layer ...
  int64_t end = -1;
  bool nested_only = false;
  for (int64_t i = static_cast<int64_t>(top.size()) - 1; i >= 0 && end < 0;
       --i) {
    if (top[i]->kind() == c10::prim::Constant) {
      continue;
    }
    std::string path;
    if (node_path(top[i], path) && within(path, layer)) {
      end = i;
    }
  }
  if (end < 0) {
    // Called only inside an if or a loop of the forward?
    std::vector<const Block*> blocks;
    for (const Node* n : top) {
      for (const Block* b : n->blocks()) {
        blocks.push_back(b);
      }
    }
    while (!blocks.empty() && !nested_only) {
      const Block* block = blocks.back();
      blocks.pop_back();
      for (const Node* n : block->nodes()) {
        std::string path;
        if (node_path(n, path) && within(path, layer)) {
          nested_only = true;
        }
        for (const Block* b : n->blocks()) {
          blocks.push_back(b);
        }
      }
    }
    why = nested_only
        ? "it runs only inside control flow (an if or a loop) of the forward, "
          "where no tensor of it can be returned"
        : "it is never called by forward";
    return {};
  }
  // ... and the first of the same call: a node of other code ends the call;
  // nodes without a callstack (some inlined ifs) do not.
  int64_t begin = end;
  for (int64_t i = end - 1; i >= 0; --i) {
    if (top[i]->kind() == c10::prim::Constant) {
      continue;
    }
    std::string path;
    if (node_path(top[i], path)) {
      if (!within(path, layer)) {
        break;
      }
      begin = i;
    }
  }
  std::unordered_set<const Node*> call(
      top.begin() + begin, top.begin() + end + 1);

  std::vector<Value*> values;
  std::unordered_set<const Value*> seen;
  if (!layer_input) {
    for (int64_t i = begin; i <= end; ++i) {
      for (Value* v : top[i]->outputs()) {
        bool used_after = false;
        for (const auto& use : v->uses()) {
          used_after |= call.count(top_level(use.user)) == 0;
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
  std::vector<const Block*> blocks;
  auto visit = [&](const Node* node) {
    for (const Value* input : node->inputs()) {
      Value* v = const_cast<Value*>(input); // NOLINT: graph is ours to change
      const Node* def = v->node();
      if (!is_tensor(v) || def->kind() == c10::prim::Constant ||
          call.count(top_level(def)) > 0 || !seen.insert(v).second) {
        continue;
      }
      values.push_back(v);
    }
    for (const Block* b : node->blocks()) {
      blocks.push_back(b);
    }
  };
  for (int64_t i = begin; i <= end; ++i) {
    visit(top[i]);
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

} // namespace

// A copy of a module's inlined forward graph that also returns one layer's
// tensors, with an executor of its own (only ever run unoptimised).
struct TorchScriptLayerGraph {
  ScriptExecutor executor;
  size_t layer_count = 0;
};

namespace {

std::shared_ptr<const TorchScriptLayerGraph> build_layer_graph(
    const torch::jit::Module& module,
    const std::string& layer,
    bool layer_input,
    const std::string& who) {
  std::shared_ptr<Graph> graph = forward_graph_copy(module);
  std::vector<std::string> paths = all_paths(*graph);
  if (!std::binary_search(paths.begin(), paths.end(), layer)) {
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
  std::string why;
  std::vector<Value*> values = layer_values(*graph, layer, layer_input, why);
  TORCH_CHECK_VALUE(
      !values.empty(),
      who,
      ": layer '",
      layer,
      "' has no ",
      layer_input ? "input" : "output",
      " tensor in the TorchScript forward: ",
      why);
  for (Value* v : values) {
    expose(*graph, v);
  }
  return std::make_shared<TorchScriptLayerGraph>(TorchScriptLayerGraph{
      ScriptExecutor(module, graph, "$" + layer), values.size()});
}

// ---------------------------------------------------------------------------
// torch::nn::Sequential paths and layer_output marks.
// ---------------------------------------------------------------------------

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::stringstream stream(path);
  std::string part;
  while (std::getline(stream, part, '.')) {
    parts.push_back(part);
  }
  return parts;
}

// Whether every module on `path` but the last is a Sequential, from the root.
bool sequential_path(
    const std::shared_ptr<torch::nn::Module>& root,
    const std::string& path) {
  std::shared_ptr<torch::nn::Module> module = root;
  for (const std::string& part : split_path(path)) {
    if (!std::dynamic_pointer_cast<torch::nn::SequentialImpl>(module)) {
      return false;
    }
    auto children = module->named_children();
    if (!children.contains(part)) {
      return false;
    }
    module = children[part];
  }
  return true;
}

// Runs `seq` child by child; captures the tensor entering or leaving the
// module at `parts` and passes a copy on (as Captum's hooks do). Every
// child's output goes to `all` when it is not null (with its path).
torch::Tensor run_sequential(
    torch::nn::SequentialImpl& seq,
    const std::vector<std::string>& parts,
    size_t depth,
    torch::Tensor x,
    bool layer_input,
    std::vector<torch::Tensor>& captured,
    const std::string& prefix = "",
    std::vector<LayerInfo>* all = nullptr) {
  auto children = seq.named_children();
  size_t i = 0;
  for (auto it = seq.begin(); it != seq.end(); ++it, ++i) {
    const std::string& name = children[i].key();
    const std::string path = prefix.empty() ? name : prefix + "." + name;
    const bool on_path = depth < parts.size() && name == parts[depth];
    auto child =
        std::dynamic_pointer_cast<torch::nn::SequentialImpl>(it->ptr());
    if (on_path && depth + 1 < parts.size()) {
      x = run_sequential(
          *child, parts, depth + 1, x, layer_input, captured, path, all);
    } else if (all != nullptr && child) {
      x = run_sequential(
          *child, parts, parts.size(), x, false, captured, path, all);
    } else {
      const bool target = on_path && depth + 1 == parts.size();
      if (target && layer_input) {
        captured = {x};
        x = x.clone();
      }
      x = it->forward(x);
      if (target && !layer_input) {
        captured = {x};
        x = x.clone();
      }
    }
    if (all != nullptr) {
      all->push_back({path, x.sizes().vec(), ""});
    }
  }
  return x;
}

// What layer_output records on this thread while an attribution runs.
struct MarkState {
  const std::string* name = nullptr; ///< the layer wanted (null: all)
  std::vector<torch::Tensor> captured;
  std::vector<std::string> seen; ///< every name marked, in order
  std::vector<torch::Tensor> seen_tensors;
};

thread_local MarkState* active_marks = nullptr;

class MarkGuard {
 public:
  explicit MarkGuard(MarkState* state) : previous_(active_marks) {
    active_marks = state;
  }
  ~MarkGuard() {
    active_marks = previous_;
  }
  MarkGuard(const MarkGuard&) = delete;
  MarkGuard& operator=(const MarkGuard&) = delete;

 private:
  MarkState* previous_;
};

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min(
          {row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

} // namespace

std::string nearby_names(
    const std::string& name,
    const std::vector<std::string>& candidates) {
  if (candidates.empty()) {
    return "it has no named layers";
  }
  std::vector<std::pair<size_t, std::string>> ranked;
  for (const auto& c : candidates) {
    ranked.emplace_back(edit_distance(name, c), c);
  }
  std::stable_sort(
      ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
        return a.first < b.first;
      });
  std::string result = "nearby names: ";
  const size_t shown = std::min<size_t>(ranked.size(), 6);
  for (size_t i = 0; i < shown; ++i) {
    result += (i ? ", " : "") + ranked[i].second;
  }
  if (ranked.size() > shown) {
    result += ", ... (" + std::to_string(ranked.size()) + " in all)";
  }
  return result;
}

LayerForward::LayerForward(
    const Model& model,
    std::string path,
    bool layer_input,
    std::string who)
    : model_(model),
      path_(std::move(path)),
      layer_input_(layer_input),
      who_(std::move(who)) {
  TORCH_CHECK_VALUE(
      !path_.empty(),
      who_,
      ": the layer path is empty; name a layer as named_modules() does, e.g. "
      "'layer4' or 'features.18'");
  if (model_.torchscript_module()) {
    kind_ = Kind::kTorchScript;
    graph_ = build_layer_graph(
        *model_.torchscript_module(), path_, layer_input_, who_);
    return;
  }
  const auto& nn = model_.nn_module();
  if (nn && sequential_path(nn, path_)) {
    kind_ = Kind::kSequential;
    return;
  }
  kind_ = Kind::kMark;
  TORCH_CHECK_VALUE(
      !layer_input_,
      who_,
      ": the input of layer '",
      path_,
      "' of ",
      model_.name(),
      " cannot be reached: layer inputs are found in TorchScript modules and "
      "torch::nn::Sequential paths only; mark the tensor entering the layer "
      "with guidedbp::layer_output(name, x) and name that instead");
}

LayerForwards::LayerForwards(
    const Model& model,
    std::string path,
    std::string who)
    : output_(model, std::move(path), /*layer_input=*/false, std::move(who)) {}

const LayerForward& LayerForwards::get(bool layer_input) const {
  if (!layer_input) {
    return output_;
  }
  std::call_once(input_once_, [this] {
    input_ = std::make_unique<LayerForward>(
        output_.model(), output_.path(), /*layer_input=*/true, output_.who());
  });
  return *input_;
}

LayerRun LayerForward::run(const std::vector<c10::IValue>& args) const {
  LayerRun result;
  if (kind_ == Kind::kTorchScript) {
    std::vector<c10::IValue> stack = graph_->executor.run(args);
    TORCH_INTERNAL_ASSERT(stack.size() == 1 + graph_->layer_count);
    result.output = std::move(stack[0]);
    for (size_t i = 1; i < stack.size(); ++i) {
      result.layer.push_back(stack[i].toTensor());
    }
    return result;
  }
  if (kind_ == Kind::kSequential) {
    detail::check_arity(args, 1, "torch::nn::Sequential");
    auto& seq = dynamic_cast<torch::nn::SequentialImpl&>(*model_.nn_module());
    result.output = run_sequential(
        seq,
        split_path(path_),
        0,
        detail::tensor_argument(args[0], 0),
        layer_input_,
        result.layer);
    TORCH_INTERNAL_ASSERT(!result.layer.empty());
    return result;
  }
  MarkState marks;
  marks.name = &path_;
  {
    MarkGuard guard(&marks);
    result.output = model_.forward(args);
  }
  if (marks.captured.empty()) {
    std::vector<std::string> modules;
    if (const auto& nn = model_.nn_module()) {
      for (const auto& named : nn->named_modules("", false)) {
        modules.push_back(named.key());
      }
    }
    std::string seen;
    for (const auto& s : marks.seen) {
      seen += (seen.empty() ? "" : ", ") + s;
    }
    TORCH_CHECK_VALUE(
        false,
        who_,
        ": the forward pass of ",
        model_.name(),
        " never marked layer '",
        path_,
        "' with guidedbp::layer_output(\"",
        path_,
        "\", x) (C++ modules outside torch::nn::Sequential and functions must "
        "mark their layers); marked: ",
        seen.empty() ? "none" : seen,
        modules.empty() ? "" : "; " + nearby_names(path_, modules));
  }
  result.layer = std::move(marks.captured);
  return result;
}

} // namespace detail

torch::Tensor layer_output(const std::string& name, const torch::Tensor& x) {
  detail::MarkState* marks = detail::active_marks;
  if (marks == nullptr) {
    return x;
  }
  marks->seen.push_back(name);
  if (marks->name == nullptr) {
    marks->seen_tensors.push_back(x.detach());
    return x;
  }
  if (*marks->name != name) {
    return x;
  }
  marks->captured = {x};
  return x.clone();
}

std::vector<LayerInfo> layer_shapes(
    const Model& model,
    const std::vector<torch::Tensor>& inputs,
    const std::vector<c10::IValue>& additional_forward_args) {
  torch::NoGradGuard no_grad;
  std::vector<c10::IValue> args(inputs.begin(), inputs.end());
  args.insert(
      args.end(),
      additional_forward_args.begin(),
      additional_forward_args.end());
  std::vector<LayerInfo> result;
  if (const auto& module = model.torchscript_module()) {
    std::shared_ptr<torch::jit::Graph> graph =
        detail::forward_graph_copy(*module);
    std::vector<std::pair<size_t, size_t>> ranges; // per layer: outputs
    for (const auto& named : module->named_modules()) {
      if (named.name.empty()) {
        continue;
      }
      std::string why;
      auto values = detail::layer_values(*graph, named.name, false, why);
      const size_t first = graph->outputs().size();
      for (torch::jit::Value* v : values) {
        graph->registerOutput(v);
      }
      ranges.emplace_back(first, graph->outputs().size());
      result.push_back({named.name, {}, why});
    }
    torch::jit::GraphOptimizerEnabledGuard unoptimized(false);
    const std::vector<c10::IValue> stack =
        detail::ScriptExecutor(*module, graph, "$layer_shapes").run(args);
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
  const auto& nn = model.nn_module();
  if (nn && std::dynamic_pointer_cast<torch::nn::SequentialImpl>(nn)) {
    detail::check_arity(args, 1, "torch::nn::Sequential");
    std::vector<torch::Tensor> captured;
    detail::run_sequential(
        dynamic_cast<torch::nn::SequentialImpl&>(*nn),
        {},
        0,
        detail::tensor_argument(args[0], 0),
        false,
        captured,
        "",
        &result);
    return result;
  }
  detail::MarkState marks;
  {
    detail::MarkGuard guard(&marks);
    model.forward(args);
  }
  for (size_t i = 0; i < marks.seen.size(); ++i) {
    result.push_back({marks.seen[i], marks.seen_tensors[i].sizes().vec(), ""});
  }
  return result;
}

} // namespace guidedbp
