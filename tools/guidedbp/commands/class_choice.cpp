#include "commands/class_choice.h"

#include "cli/cli_error.h"

namespace guidedbp {
namespace cli {

ClassChoice choose_classes(
    const torch::Tensor& scores,
    const ClassRequest& request) {
  const int64_t n = scores.size(0);
  const int64_t classes = scores.size(1);
  if (request.top_k > classes) {
    throw CliError(
        request.top_k_name + " " + std::to_string(request.top_k) +
        " but the model has only " + std::to_string(classes) + " classes");
  }
  int64_t fixed = -1;
  if (request.fixed) {
    fixed = *request.fixed < 0 ? *request.fixed + classes : *request.fixed;
    if (fixed < 0 || fixed >= classes) {
      throw CliError(
          request.fixed_name + " " + std::to_string(*request.fixed) +
          " is out of range for a model with " + std::to_string(classes) +
          " classes (valid: 0.." + std::to_string(classes - 1) +
          ", or negative from the end)");
    }
  }
  ClassChoice choice;
  // float64: scores of confident models round to 1.0 in float32.
  choice.probs = torch::softmax(scores.to(torch::kCPU, torch::kFloat64), 1);
  torch::Tensor best = choice.probs.argmax(1);
  torch::Tensor top;
  if (request.top_k > 0) {
    top = std::get<1>(choice.probs.topk(request.top_k, 1));
  }
  choice.classes.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    choice.predicted.push_back(best[i].item<int64_t>());
    std::vector<int64_t>& chosen = choice.classes[static_cast<size_t>(i)];
    if (request.top_k > 0) {
      for (int64_t k = 0; k < request.top_k; ++k) {
        chosen.push_back(top[i][k].item<int64_t>());
      }
    } else {
      chosen.push_back(fixed >= 0 ? fixed : choice.predicted.back());
    }
  }
  return choice;
}

} // namespace cli
} // namespace guidedbp
