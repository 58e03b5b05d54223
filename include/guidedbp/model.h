#pragma once

#include <ATen/core/ivalue.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace torch {
namespace jit {
struct Module;
} // namespace jit
} // namespace torch

namespace guidedbp {

namespace detail {
/// True for callables that `Model` accepts as plain forward functions.
template <typename F>
using is_plain_function = std::conjunction<
    std::negation<std::is_same<std::decay_t<F>, torch::jit::Module>>,
    std::negation<torch::detail::is_module_holder<std::decay_t<F>>>,
    std::negation<std::is_base_of<torch::nn::Module, std::decay_t<F>>>,
    std::negation<std::is_same<
        std::decay_t<F>,
        std::function<c10::IValue(const std::vector<c10::IValue>&)>>>,
    std::disjunction<
        std::is_invocable_r<c10::IValue, F&, const std::vector<c10::IValue>&>,
        std::is_invocable_r<torch::Tensor, F&, torch::Tensor>>>;

// Argument conversions of the forward functions that `Model` builds; each
// throws a typed c10 error naming the argument.

/// Throws c10::ValueError unless `args` holds exactly `expected` values.
void check_arity(
    const std::vector<c10::IValue>& args,
    size_t expected,
    const std::string& who);
/// Argument `position` as a tensor, or throws c10::TypeError.
torch::Tensor tensor_argument(const c10::IValue& value, size_t position);
int64_t int_argument(const c10::IValue& value, size_t position);
double double_argument(const c10::IValue& value, size_t position);
bool bool_argument(const c10::IValue& value, size_t position);
} // namespace detail

/// The forward pass of a model as the attribution methods call it: the inputs,
/// then the additional forward arguments, in order, in one argument list.
/// Any kind of model converts to it implicitly:
/// - a TorchScript module (`torch::jit::load`, scripted or traced); a
///   `Model` keeps a shallow copy of the handle, so it shares the weights;
/// - a C++ `torch::nn` module: a `ModuleHolder` such as `torch::nn::Sequential`
///   or `torch::nn::Linear`, or a `std::shared_ptr` to a module whose
///   (non-template, non-overloaded) `forward` takes tensors, `int64_t`,
///   `double` or `bool` and returns a tensor. `torch::nn::Sequential` takes
///   exactly one tensor;
/// - a plain function, either `torch::Tensor(torch::Tensor)` for a one-input
///   model, or `c10::IValue(const std::vector<c10::IValue>&)` for anything
///   else.
///
/// Captum's equivalent is its `forward_func` argument.
///
/// Example:
/// ```
/// guidedbp::Model m1 = torch::jit::load("model.pt");
/// guidedbp::Model m2 = torch::nn::Sequential(torch::nn::Linear(4, 2));
/// guidedbp::Model m3 = [](torch::Tensor x) { return torch::relu(x).sum(1); };
/// ```
class Model {
 public:
  /// The general form: all arguments in, the output out (a tensor, or an
  /// IValue holding one).
  using Function = std::function<c10::IValue(const std::vector<c10::IValue>&)>;

  /* implicit */ Model(const torch::jit::Module& module);

  /* implicit */ Model(Function function, std::string name = "function");

  /// A plain function: `c10::IValue(const std::vector<c10::IValue>&)` gets
  /// all arguments; `torch::Tensor(torch::Tensor)` is a one-input model.
  template <
      typename F,
      typename std::enable_if<detail::is_plain_function<F>::value, int>::type =
          0>
  /* implicit */ Model(F function, std::string name = "function")
      : Model(wrap_function(std::move(function)), std::move(name)) {}

  /// A C++ `torch::nn` module held by `std::shared_ptr`.
  template <
      typename M,
      typename std::enable_if<
          std::is_base_of<torch::nn::Module, M>::value,
          int>::type = 0>
  /* implicit */ Model(std::shared_ptr<M> module)
      : Model(nn_function(module), module->name()) {
    // clone() gives a std::shared_ptr<torch::nn::Module> of the same class.
    rebind_ = [](const std::shared_ptr<torch::nn::Module>& copy) {
      return Model(std::dynamic_pointer_cast<M>(copy));
    };
    nn_module_ = std::move(module);
  }

  /// A C++ `torch::nn` module holder such as `torch::nn::Sequential`.
  template <typename M>
  /* implicit */ Model(const torch::nn::ModuleHolder<M>& holder)
      : Model(holder.ptr()) {}

  /// Runs the forward pass on `args` (inputs, then additional arguments).
  c10::IValue forward(const std::vector<c10::IValue>& args) const;

  /// A short name for messages: "TorchScript module", the nn module's name,
  /// or "function".
  const std::string& name() const {
    return name_;
  }

  /// The C++ nn module, when the model is one (nullptr otherwise): layer
  /// methods run `torch::nn::Sequential` paths child by child.
  const std::shared_ptr<torch::nn::Module>& nn_module() const {
    return nn_module_;
  }

  /// The TorchScript module, when the model is one (nullptr otherwise): layer
  /// methods read its graph.
  const std::shared_ptr<const torch::jit::Module>& torchscript_module() const {
    return torchscript_module_;
  }

  /// A model with its own copy of every parameter and buffer, so that
  /// changing them (e.g. model_parameter_randomization) leaves this model as
  /// it is: a TorchScript module's `deepcopy()`, or a `torch::nn` module's
  /// `clone()`.
  /// REQUIRES: a TorchScript module, or a `torch::nn` module that is
  /// `torch::nn::Cloneable` (every built-in module and `Sequential` are).
  /// Throws c10::ValueError for a plain function, or a module that cannot
  /// be cloned.
  ///
  /// Example:
  /// ```
  /// guidedbp::Model copy =
  /// guidedbp::Model(torch::jit::load("m.pt")).deep_copy();
  /// ```
  Model deep_copy() const;

 private:
  template <typename F>
  static Function wrap_function(F function) {
    if constexpr (std::is_invocable_r<
                      c10::IValue,
                      F&,
                      const std::vector<c10::IValue>&>::value) {
      return Function(std::move(function));
    } else {
      return [function = std::move(function)](
                 const std::vector<c10::IValue>& args) mutable {
        detail::check_arity(args, 1, "function");
        return c10::IValue(function(detail::tensor_argument(args[0], 0)));
      };
    }
  }

  // By value: for a `const torch::Tensor&` parameter, returning T would bind
  // a reference to the temporary that tensor_argument returns.
  template <typename T>
  static std::decay_t<T> argument(const c10::IValue& value, size_t position) {
    using U = std::decay_t<T>;
    if constexpr (std::is_same<U, torch::Tensor>::value) {
      return detail::tensor_argument(value, position);
    } else if constexpr (std::is_same<U, bool>::value) {
      return detail::bool_argument(value, position);
    } else if constexpr (std::is_integral<U>::value) {
      return static_cast<U>(detail::int_argument(value, position));
    } else if constexpr (std::is_floating_point<U>::value) {
      return static_cast<U>(detail::double_argument(value, position));
    } else {
      static_assert(
          std::is_same<U, torch::Tensor>::value,
          "guidedbp::Model: a forward parameter must be a tensor, an integer, "
          "a floating-point number or bool");
    }
  }

  template <typename R>
  static c10::IValue to_output(R&& result) {
    if constexpr (std::is_convertible<R, torch::Tensor>::value) {
      return c10::IValue(torch::Tensor(std::forward<R>(result)));
    } else {
      return c10::IValue(); // not a tensor: rejected by the attribution
    }
  }

  template <typename M, typename R, typename... Args, size_t... I>
  static c10::IValue call_forward(
      M& module,
      const std::vector<c10::IValue>& args,
      std::index_sequence<I...>) {
    detail::check_arity(args, sizeof...(Args), module.name() + ".forward");
    return to_output(module.forward(argument<Args>(args[I], I)...));
  }

  template <typename M, typename R, typename... Args>
  static Function bind_forward(std::shared_ptr<M> module, R (M::*)(Args...)) {
    return [module](const std::vector<c10::IValue>& args) {
      return call_forward<M, R, Args...>(
          *module, args, std::index_sequence_for<Args...>{});
    };
  }

  template <typename M, typename R, typename... Args>
  static Function bind_forward(
      std::shared_ptr<M> module,
      R (M::*)(Args...) const) {
    return [module](const std::vector<c10::IValue>& args) {
      return call_forward<const M, R, Args...>(
          *module, args, std::index_sequence_for<Args...>{});
    };
  }

  template <typename M>
  static Function nn_function(const std::shared_ptr<M>& module) {
    if constexpr (std::is_same<M, torch::nn::SequentialImpl>::value) {
      // Sequential's forward is a template: it takes one tensor here.
      return [module](const std::vector<c10::IValue>& args) {
        detail::check_arity(args, 1, "torch::nn::Sequential");
        return c10::IValue(module->template forward<torch::Tensor>(
            detail::tensor_argument(args[0], 0)));
      };
    } else {
      return bind_forward(module, &M::forward);
    }
  }

  Function function_;
  std::string name_;
  /// nn modules: the same forward on a clone of the module.
  std::function<Model(const std::shared_ptr<torch::nn::Module>&)> rebind_;
  std::shared_ptr<torch::nn::Module> nn_module_;
  std::shared_ptr<const torch::jit::Module> torchscript_module_;
};

} // namespace guidedbp
