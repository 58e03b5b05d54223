#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace guidedbp {

// clang-format off
/// Which output of the model an attribution explains: every form of Captum's
/// `target` argument (`captum.attr` `TargetType`).
///
/// | Captum (Python)              | guidedbp (C++)                              |
/// | ---------------------------- | ------------------------------------------- |
/// | `None`                       | `Target()` or `Target::none()`              |
/// | `3`                          | `3` (implicit) or `Target::index(3)`        |
/// | `(1, 2)`                     | `Target::tuple({1, 2})`                     |
/// | `[3, 1, 0]`                  | `Target::per_example({3, 1, 0})`            |
/// | `[(0, 1), (2, 3)]`           | `Target::per_example_tuples({{0,1},{2,3}})` |
/// | `torch.tensor(3)` / `[3, 1]` | a `torch::Tensor` (implicit)                |
///
/// Selection follows Captum's `_select_targets`: an index or tuple indexes
/// dimensions 1..k of every example (negative values count from the end, as
/// Python indexing does); a per-example list selects one entry of a 2-D output
/// per example; per-example tuples index each example's own dims. The gradient
/// is taken of the per-example selections, summed over the batch.
///
/// Example:
/// ```
/// gbp.attribute(x, /*target=*/3);
/// gbp.attribute(x, guidedbp::Target::per_example({3, 1, 0}));
/// ```
// clang-format on
class Target {
 public:
  /// The form of a target, one per Captum form.
  enum class Kind {
    kNone,       ///< No target: the output holds one scalar per example.
    kIndex,      ///< One index into dim 1, the same for every example.
    kTuple,      ///< An index tuple into dims 1..k, the same for every example.
    kPerExample, ///< One index into dim 1 per example (2-D outputs).
    kPerExampleTuples, ///< One index tuple per example.
  };

  /// No target (Captum's `None`).
  Target() = default;
  /// One class index for every example (Captum's `int`).
  /* implicit */ Target(int64_t index);
  /* implicit */ Target(int index) : Target(static_cast<int64_t>(index)) {}
  /// An integer tensor: one element acts as an index for every example, a
  /// 1-D tensor with one element per example as a per-example list.
  /// REQUIRES: an integer dtype.
  /* implicit */ Target(const torch::Tensor& tensor);

  static Target none();
  static Target index(int64_t index);
  static Target tuple(std::vector<int64_t> indices);
  static Target per_example(std::vector<int64_t> indices);
  static Target per_example_tuples(std::vector<std::vector<int64_t>> indices);

  Kind kind() const {
    return kind_;
  }
  /// The indices: one entry for kIndex, the tuple for kTuple, one per example
  /// for kPerExample, one vector per example for kPerExampleTuples (flattened
  /// in `tuples()`).
  const std::vector<int64_t>& indices() const {
    return indices_;
  }
  const std::vector<std::vector<int64_t>>& tuples() const {
    return tuples_;
  }

  /// A Python-like literal of this target, e.g. `None`, `3`, `(1, 2)`,
  /// `[3, 1]`, `[(0, 1), (2, 3)]`, used in messages.
  std::string to_string() const;

  /// Selects the target entries of `output` (batch first) as Captum's
  /// `_select_targets` does, and checks that each example then holds a single
  /// value (Captum's `compute_gradients` rule). Returns a tensor with one
  /// element per example, still attached to the autograd graph.
  /// Throws c10::IndexError for an index past the output's shape, and
  /// c10::ValueError for a wrong number of per-example targets, a tuple longer
  /// than the output allows, or no target where one is needed.
  [[nodiscard]] torch::Tensor select(const torch::Tensor& output) const;

 private:
  Kind kind_ = Kind::kNone;
  std::vector<int64_t> indices_;
  std::vector<std::vector<int64_t>> tuples_;
};

} // namespace guidedbp
