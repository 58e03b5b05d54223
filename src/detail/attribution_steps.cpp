#include "detail/attribution_steps.h"

#include <c10/util/Exception.h>

namespace guidedbp {
namespace detail {

void check_inputs(const std::vector<torch::Tensor>& inputs, const char* who) {
  TORCH_CHECK_VALUE(
      !inputs.empty(),
      who,
      ".attribute: no inputs given; pass at least one tensor");
  for (size_t i = 0; i < inputs.size(); ++i) {
    const torch::Tensor& x = inputs[i];
    TORCH_CHECK_VALUE(
        x.defined(), who, ".attribute: input ", i, " is an undefined tensor");
    TORCH_CHECK_TYPE(
        x.is_floating_point(),
        who,
        ".attribute: input ",
        i,
        " has dtype ",
        x.scalar_type(),
        ", but gradients need a floating-point input; convert it, e.g. with "
        ".to(torch::kFloat)");
    TORCH_CHECK_VALUE(
        x.dim() >= 1,
        who,
        ".attribute: input ",
        i,
        " is a scalar, but inputs need a batch dimension (dim 0)");
    TORCH_CHECK_VALUE(
        x.size(0) == inputs[0].size(0),
        who,
        ".attribute: inputs have different batch sizes: input 0 has ",
        inputs[0].size(0),
        " examples (shape ",
        inputs[0].sizes(),
        ") but input ",
        i,
        " has ",
        x.size(0),
        " (shape ",
        x.sizes(),
        ")");
  }
}

std::vector<torch::Tensor> make_leaves(
    const std::vector<torch::Tensor>& inputs) {
  std::vector<torch::Tensor> leaves;
  leaves.reserve(inputs.size());
  for (const auto& x : inputs) {
    // Inference tensors cannot require grad: copy them out.
    torch::Tensor base = x.is_inference() ? x.clone() : x.detach();
    leaves.push_back(base.detach().requires_grad_(true));
  }
  return leaves;
}

std::vector<c10::IValue> forward_arguments(
    const std::vector<torch::Tensor>& leaves,
    const std::vector<c10::IValue>& additional_forward_args) {
  std::vector<c10::IValue> args;
  args.reserve(leaves.size() + additional_forward_args.size());
  args.insert(args.end(), leaves.begin(), leaves.end());
  args.insert(
      args.end(),
      additional_forward_args.begin(),
      additional_forward_args.end());
  return args;
}

torch::Tensor output_tensor(
    const c10::IValue& result,
    const Model& model,
    const char* who) {
  TORCH_CHECK_TYPE(
      result.isTensor(),
      who,
      ".attribute: the model (",
      model.name(),
      ") returned a ",
      result.tagKind(),
      ", but attribution needs one output tensor of scores; "
      "wrap the model so that its forward returns a tensor");
  torch::Tensor output = result.toTensor();
  TORCH_CHECK_VALUE(
      output.requires_grad(),
      who,
      ".attribute: the model's output (shape ",
      output.sizes(),
      ") does not depend differentiably on the inputs (was it computed under "
      "no_grad, detached, or integer-valued?)");
  return output;
}

const torch::Tensor& single_layer_tensor(
    const std::vector<torch::Tensor>& tensors,
    const std::string& layer,
    bool layer_input,
    const char* who,
    const char* needs) {
  TORCH_CHECK_VALUE(
      tensors.size() == 1,
      who,
      ": layer '",
      layer,
      "' has ",
      tensors.size(),
      layer_input ? " input" : " output",
      " tensors, but ",
      needs,
      "; choose a layer with one tensor");
  return tensors[0];
}

void check_gradients(
    const std::vector<torch::Tensor>& grads,
    const std::vector<torch::Tensor>& inputs,
    const char* who) {
  for (size_t i = 0; i < grads.size(); ++i) {
    TORCH_CHECK_VALUE(
        grads[i].defined(),
        who,
        ".attribute: input ",
        i,
        " (shape ",
        inputs[i].sizes(),
        ") does not influence the selected output, so it has no gradient "
        "(Captum raises here too); leave it out of the inputs or pass it as an "
        "additional forward argument");
  }
}

void warn_relu_count(
    int64_t relus,
    int64_t fused_graphs,
    const Model& model,
    const char* who) {
  if (fused_graphs > 0) {
    TORCH_WARN(
        who,
        ": ",
        fused_graphs,
        " fused TorchScript graph(s) in the computation of ",
        model.name(),
        " may hide ReLUs that were not overridden; pass the torch::jit::Module "
        "itself rather than a function that calls it");
  }
  if (relus == 0) {
    TORCH_WARN(
        who,
        ": no ReLU lies between the inputs and the selected output of ",
        model.name(),
        ", so the result is a plain gradient (ReLU6, LeakyReLU, "
        "GELU and ReLUs fused into other kernels are not ReLUs here)");
  }
}

} // namespace detail
} // namespace guidedbp
