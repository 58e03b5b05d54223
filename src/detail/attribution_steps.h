#pragma once

#include <ATen/core/ivalue.h>
#include <c10/core/InferenceMode.h>
#include <guidedbp/model.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace guidedbp {
namespace detail {

/// The thread-local state every attribution runs under, restored on exit:
/// inference mode off, grad mode on, and the TorchScript graph optimizer off
/// (the profiling executor would hide ReLUs inside fused graphs from the
/// second call on; the flag is thread-local, so other threads keep theirs).
struct AttributionModeGuard {
  c10::InferenceMode not_inference{false};
  torch::AutoGradMode grad_on{true};
  torch::jit::GraphOptimizerEnabledGuard unoptimized{false};
};

/// Throws c10::ValueError / c10::TypeError unless `inputs` are defined
/// floating-point tensors with one batch size.
void check_inputs(const std::vector<torch::Tensor>& inputs, const char* who);

/// attribute_targets' chooser: the `given` list (targets or neurons) as it
/// is, checked not empty before the forward pass, which may be expensive.
/// Throws c10::ValueError "WHO.attribute_targets: no WHAT given; ...".
template <class Choice>
std::function<std::vector<Choice>(const torch::Tensor&)> given_choices(
    const std::vector<Choice>& given,
    const char* who,
    const char* what) {
  TORCH_CHECK_VALUE(
      !given.empty(),
      who,
      ".attribute_targets: no ",
      what,
      " given; pass at least one");
  return [&given](const torch::Tensor&) { return given; };
}

/// Our own leaf for each input: it shares the caller's storage but not its
/// autograd state, so the caller's requires_grad and .grad stay as they were.
std::vector<torch::Tensor> make_leaves(
    const std::vector<torch::Tensor>& inputs);

/// The leaves, then the additional forward arguments, in order.
std::vector<c10::IValue> forward_arguments(
    const std::vector<torch::Tensor>& leaves,
    const std::vector<c10::IValue>& additional_forward_args);

/// The model's output as a tensor that depends on the inputs, or throws
/// c10::TypeError / c10::ValueError.
torch::Tensor output_tensor(
    const c10::IValue& result,
    const Model& model,
    const char* who);

/// The one tensor a layer yields (its output, or its input when
/// `layer_input`), or throws c10::ValueError naming the count; `needs` says
/// who needs one, e.g. "neuron methods need a layer with one".
const torch::Tensor& single_layer_tensor(
    const std::vector<torch::Tensor>& tensors,
    const std::string& layer,
    bool layer_input,
    const char* who,
    const char* needs);

/// Throws c10::ValueError for an undefined gradient (an input that does not
/// influence the selected output).
void check_gradients(
    const std::vector<torch::Tensor>& grads,
    const std::vector<torch::Tensor>& inputs,
    const char* who);

/// Warns that the result is a plain gradient when no ReLU was overridden, and
/// that fused TorchScript graphs may hide ReLUs.
void warn_relu_count(
    int64_t relus,
    int64_t fused_graphs,
    const Model& model,
    const char* who);

} // namespace detail
} // namespace guidedbp
