#pragma once

// Which classes an image classifier's run explains, from its scores: shared
// by explain and serve, so that both read an output the same way.

#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace guidedbp {
namespace cli {

/// What to explain of each example: the `top_k` best classes when it is
/// positive, else class `fixed` when set (negative counts from the end),
/// else the predicted class.
struct ClassRequest {
  int64_t top_k = 0;
  std::optional<int64_t> fixed;
  /// How the caller's user spells the two, for the messages ("--top-k",
  /// "--target").
  std::string top_k_name = "top_k";
  std::string fixed_name = "target";
};

/// The classes chosen, with what the stdout lines and reports show.
struct ClassChoice {
  torch::Tensor probs;            ///< N x classes softmax, float64, CPU
  std::vector<int64_t> predicted; ///< the argmax of each example
  /// Each example's classes to explain: top_k of them, or one.
  std::vector<std::vector<int64_t>> classes;
};

/// Chooses the classes from `scores` (N x classes, any device and float
/// type). REQUIRES: scores is 2-D with at least one class (the caller checks
/// it, with a message of its own). Throws CliError when `top_k` exceeds
/// the classes or `fixed` is out of range.
ClassChoice choose_classes(
    const torch::Tensor& scores,
    const ClassRequest& request);

} // namespace cli
} // namespace guidedbp
