// Layers of a torch::nn::Sequential (nested ones too), reached by running the
// containers child by child: the C++ frontend has no forward hooks.

#include <c10/util/Exception.h>
#include <guidedbp/layer.h>
#include <torch/nn/modules/container/sequential.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "detail/layer_mechanism.h"

namespace guidedbp {
namespace detail {
namespace {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::stringstream stream(path);
  std::string part;
  while (std::getline(stream, part, '.')) {
    parts.push_back(part);
  }
  return parts;
}

// Whether the model is a Sequential and every module on `path` but the last
// is one too, from the root.
bool reaches(const Model& model, const std::string& path) {
  std::shared_ptr<torch::nn::Module> module = model.nn_module();
  if (!std::dynamic_pointer_cast<torch::nn::SequentialImpl>(module)) {
    return false;
  }
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

torch::nn::SequentialImpl& sequential(const Model& model) {
  return dynamic_cast<torch::nn::SequentialImpl&>(*model.nn_module());
}

class SequentialCapture : public LayerCapture {
 public:
  SequentialCapture(const Model& model, const std::string& path, bool input)
      : model_(model), parts_(split_path(path)), layer_input_(input) {}

  LayerRun run(const std::vector<c10::IValue>& args) const override {
    check_arity(args, 1, "torch::nn::Sequential");
    LayerRun result;
    result.output = run_sequential(
        sequential(model_),
        parts_,
        0,
        tensor_argument(args[0], 0),
        layer_input_,
        result.layer);
    TORCH_INTERNAL_ASSERT(!result.layer.empty());
    return result;
  }

 private:
  Model model_;
  std::vector<std::string> parts_;
  bool layer_input_;
};

std::shared_ptr<const LayerCapture> capture(
    const Model& model,
    const std::string& path,
    bool layer_input,
    const std::string& /*who*/) {
  return std::make_shared<SequentialCapture>(model, path, layer_input);
}

std::vector<LayerInfo> shapes(
    const Model& model,
    const std::vector<c10::IValue>& args) {
  check_arity(args, 1, "torch::nn::Sequential");
  std::vector<LayerInfo> result;
  std::vector<torch::Tensor> captured;
  run_sequential(
      sequential(model),
      {},
      0,
      tensor_argument(args[0], 0),
      false,
      captured,
      "",
      &result);
  return result;
}

} // namespace

const LayerMechanism& sequential_layers() {
  static const LayerMechanism mechanism{&reaches, &capture, &shapes};
  return mechanism;
}

} // namespace detail
} // namespace guidedbp
