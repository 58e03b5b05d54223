#include <c10/util/Exception.h>
#include <guidedbp/model.h>
#include <torch/csrc/jit/api/module.h>

#include <memory>
#include <utility>

#include "detail/script_executor.h"

namespace guidedbp {

Model::Model(const torch::jit::Module& module)
    : function_([executor = detail::ScriptExecutor(module)](
                    const std::vector<c10::IValue>& args) {
        return std::move(executor.run(args).front());
      }),
      name_("TorchScript module " + module.type()->name()->qualifiedName()),
      torchscript_module_(std::make_shared<const torch::jit::Module>(module)) {}

Model::Model(Function function, std::string name)
    : function_(std::move(function)), name_(std::move(name)) {
  TORCH_CHECK_VALUE(
      function_, "guidedbp::Model: the forward function is empty");
}

Model Model::deep_copy() const {
  if (torchscript_module_) {
    return Model(torchscript_module_->deepcopy());
  }
  TORCH_CHECK_VALUE(
      nn_module_ && rebind_,
      "guidedbp::Model::deep_copy: the model (",
      name_,
      ") is a plain function, whose parameters guidedbp cannot copy; pass "
      "the TorchScript or torch::nn module itself");
  std::shared_ptr<torch::nn::Module> copy;
  try {
    copy = nn_module_->clone();
  } catch (const c10::Error& error) {
    TORCH_CHECK_VALUE(
        false,
        "guidedbp::Model::deep_copy: the torch::nn module ",
        name_,
        " cannot be cloned (",
        error.what_without_backtrace(),
        "); derive it from torch::nn::Cloneable and implement reset()");
  }
  return rebind_(copy);
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
