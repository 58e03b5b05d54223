#include "detail/metric_steps.h"

#include <c10/util/Exception.h>
#include <torch/torch.h>

#include "detail/attribution_steps.h"

namespace guidedbp {
namespace detail {
namespace {

template <class T>
std::vector<T> repeat_each(const std::vector<T>& values, int64_t n) {
  std::vector<T> out;
  out.reserve(values.size() * static_cast<size_t>(n));
  for (const T& v : values) {
    for (int64_t j = 0; j < n; ++j) {
      out.push_back(v);
    }
  }
  return out;
}

} // namespace

Target expand_target(const Target& target, int64_t n) {
  switch (target.kind()) {
    case Target::Kind::kPerExample:
      return Target::per_example(repeat_each(target.indices(), n));
    case Target::Kind::kPerExampleTuples:
      return Target::per_example_tuples(repeat_each(target.tuples(), n));
    default:
      return target;
  }
}

ForwardArgs expand_args(const ForwardArgs& args, int64_t n) {
  ForwardArgs out;
  for (const c10::IValue& arg : args) {
    out.push_back(
        arg.isTensor() ? c10::IValue(arg.toTensor().repeat_interleave(n, 0))
                       : arg);
  }
  return out;
}

std::vector<torch::Tensor> repeat_rows(
    const std::vector<torch::Tensor>& tensors,
    int64_t n) {
  std::vector<torch::Tensor> out;
  for (const torch::Tensor& t : tensors) {
    out.push_back(t.repeat_interleave(n, 0));
  }
  return out;
}

torch::Tensor output_scores(
    const Model& model,
    const std::vector<torch::Tensor>& inputs,
    const ForwardArgs& args,
    const char* who) {
  c10::IValue result = model.forward(forward_arguments(inputs, args));
  TORCH_CHECK_TYPE(
      result.isTensor(),
      who,
      ": the model (",
      model.name(),
      ") returned a ",
      result.tagKind(),
      ", but the metric needs one output tensor of scores");
  return result.toTensor();
}

torch::Tensor selected_output(
    const Model& model,
    const std::vector<torch::Tensor>& inputs,
    const Target& target,
    const ForwardArgs& args,
    const char* who) {
  torch::NoGradGuard no_grad;
  return target.select(output_scores(model, inputs, args, who)).reshape({-1});
}

void check_rows(
    const std::vector<torch::Tensor>& inputs,
    const std::vector<torch::Tensor>& given,
    int64_t rows,
    const char* who,
    const char* what) {
  TORCH_CHECK_VALUE(
      given.size() == inputs.size(),
      who,
      ": ",
      given.size(),
      " ",
      what,
      " tensors for ",
      inputs.size(),
      " inputs; give one per input, in order");
  for (size_t k = 0; k < inputs.size(); ++k) {
    TORCH_CHECK_VALUE(
        given[k].dim() == inputs[k].dim() && given[k].size(0) == rows &&
            given[k].sizes().slice(1) == inputs[k].sizes().slice(1),
        who,
        ": the ",
        what,
        " of input ",
        k,
        " have shape ",
        given[k].sizes(),
        ", expected ",
        rows,
        " rows of the input's shape ",
        inputs[k].sizes().slice(1),
        " (row i*n+j: example i, sample j)");
  }
}

int64_t samples_of(
    const std::vector<torch::Tensor>& inputs,
    const std::vector<torch::Tensor>& given,
    const char* who,
    const char* what) {
  TORCH_CHECK_VALUE(
      !inputs.empty() && !given.empty(),
      who,
      ": no inputs or no ",
      what,
      " given");
  const int64_t n_examples = inputs[0].size(0);
  const int64_t rows = given[0].dim() > 0 ? given[0].size(0) : 0;
  TORCH_CHECK_VALUE(
      n_examples > 0 && rows > 0 && rows % n_examples == 0,
      who,
      ": the ",
      what,
      " have ",
      rows,
      " rows for ",
      n_examples,
      " examples; expected n rows per example (row i*n+j: example i, "
      "sample j)");
  return rows / n_examples;
}

} // namespace detail
} // namespace guidedbp
