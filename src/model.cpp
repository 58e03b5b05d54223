#include <c10/util/Exception.h>
#include <guidedbp/model.h>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

#include <memory>
#include <utility>

namespace guidedbp {
namespace {

// Runs a TorchScript module's forward through a graph executor of our own.
//
// Why not module.forward(): once the module's own executor has built an
// optimised plan (the caller ran it a few times with the optimizer on), it
// returns that plan whatever the optimizer flag says, and that plan hides
// ReLUs inside DifferentiableGraph nodes. Our executor only ever runs with the
// optimizer off (see attribution.cpp), so it always takes the unoptimised
// plan. It reads weights and attributes from the module on every call, so it
// sees the module exactly as the caller has it (eval(), new weights).
class TorchScriptForward {
 public:
  explicit TorchScriptForward(const torch::jit::Module& module)
      : module_(module) {
    torch::jit::Method method = module_.get_method("forward");
    torch::jit::GraphFunction& function =
        torch::jit::toGraphFunction(method.function());
    schema_ = &function.getSchema();
    executor_ = std::make_shared<torch::jit::GraphExecutor>(
        function.optimized_graph(), function.qualname().qualifiedName());
  }

  c10::IValue operator()(const std::vector<c10::IValue>& args) const {
    torch::jit::Stack stack;
    stack.reserve(args.size() + 1);
    stack.emplace_back(module_._ivalue());
    stack.insert(stack.end(), args.begin(), args.end());
    // Checks argument types and fills in defaults, with TorchScript's messages.
    schema_->checkAndNormalizeInputs(stack);
    executor_->run(stack);
    return stack.front();
  }

 private:
  torch::jit::Module module_; // a handle: shares the caller's module
  const c10::FunctionSchema* schema_;
  std::shared_ptr<torch::jit::GraphExecutor> executor_;
};

} // namespace

Model::Model(const torch::jit::Module& module)
    : function_(TorchScriptForward(module)),
      name_("TorchScript module " + module.type()->name()->qualifiedName()),
      torchscript_module_(std::make_shared<const torch::jit::Module>(module)) {}

Model::Model(Function function, std::string name)
    : function_(std::move(function)), name_(std::move(name)) {
  TORCH_CHECK_VALUE(
      function_, "guidedbp::Model: the forward function is empty");
}

c10::IValue Model::forward(const std::vector<c10::IValue>& args) const {
  return function_(args);
}

namespace detail {

void check_arity(
    const std::vector<c10::IValue>& args,
    size_t expected,
    const std::string& who) {
  TORCH_CHECK_VALUE(
      args.size() == expected,
      who,
      " takes ",
      expected,
      " argument(s) (inputs, then additional forward "
      "arguments), but ",
      args.size(),
      " were given");
}

torch::Tensor tensor_argument(const c10::IValue& value, size_t position) {
  TORCH_CHECK_TYPE(
      value.isTensor(),
      "forward argument ",
      position,
      " must be a tensor, got ",
      value.tagKind());
  return value.toTensor();
}

int64_t int_argument(const c10::IValue& value, size_t position) {
  TORCH_CHECK_TYPE(
      value.isInt(),
      "forward argument ",
      position,
      " must be an integer, got ",
      value.tagKind());
  return value.toInt();
}

double double_argument(const c10::IValue& value, size_t position) {
  TORCH_CHECK_TYPE(
      value.isDouble() || value.isInt(),
      "forward argument ",
      position,
      " must be a number, got ",
      value.tagKind());
  return value.isDouble() ? value.toDouble()
                          : static_cast<double>(value.toInt());
}

bool bool_argument(const c10::IValue& value, size_t position) {
  TORCH_CHECK_TYPE(
      value.isBool(),
      "forward argument ",
      position,
      " must be a bool, got ",
      value.tagKind());
  return value.toBool();
}

} // namespace detail

} // namespace guidedbp
