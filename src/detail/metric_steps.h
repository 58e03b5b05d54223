#pragma once

// Steps the metrics share (infidelity, sensitivity, pixel curves): Captum's
// expansion of targets and additional arguments to n samples per example,
// row i*n+j being example i's sample j (`repeat_interleave`), and a forward
// pass that returns the selected output.

#include <guidedbp/attribution.h>
#include <guidedbp/model.h>
#include <guidedbp/target.h>
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace guidedbp {
namespace detail {

/// `target` for n copies of each example (Captum's `_expand_target` with
/// `repeat_interleave`): per-example targets repeat each entry n times.
Target expand_target(const Target& target, int64_t n);

/// Every tensor argument repeated n times along dim 0 (Captum's
/// `_expand_additional_forward_args`); other values as they are.
ForwardArgs expand_args(const ForwardArgs& args, int64_t n);

/// Each tensor repeated n times along dim 0.
std::vector<torch::Tensor> repeat_rows(
    const std::vector<torch::Tensor>& tensors,
    int64_t n);

/// The model's output for `inputs` then `args`, which must be one tensor;
/// otherwise throws c10::TypeError naming `who` and the type returned.
torch::Tensor output_scores(
    const Model& model,
    const std::vector<torch::Tensor>& inputs,
    const ForwardArgs& args,
    const char* who);

/// The model's selected outputs, one per example, without grad (Captum's
/// `_run_forward` then `_select_targets`).
torch::Tensor selected_output(
    const Model& model,
    const std::vector<torch::Tensor>& inputs,
    const Target& target,
    const ForwardArgs& args,
    const char* who);

/// Throws c10::ValueError unless `given` has one tensor per input, each with
/// `rows` rows and the input's other dimensions; `what` names them.
void check_rows(
    const std::vector<torch::Tensor>& inputs,
    const std::vector<torch::Tensor>& given,
    int64_t rows,
    const char* who,
    const char* what);

/// The number of samples per example of given rows: rows / N, or throws
/// c10::ValueError when the rows are not a positive multiple of N.
int64_t samples_of(
    const std::vector<torch::Tensor>& inputs,
    const std::vector<torch::Tensor>& given,
    const char* who,
    const char* what);

} // namespace detail
} // namespace guidedbp
