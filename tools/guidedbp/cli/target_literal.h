#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace guidedbp {
namespace cli {

/// A `--target SPEC` literal, parsed but not yet a `guidedbp::Target` (this
/// part of the CLI does not depend on LibTorch).
struct TargetLiteral {
  enum class Kind {
    kNone,             ///< `None` (or no `--target` at all).
    kIndex,            ///< `3`, `-1`: one index into dim 1 for every example.
    kTuple,            ///< `(1, 2)`, `(1,)`: an index tuple for every example.
    kPerExample,       ///< `[3, 1, 0]`: one index per example.
    kPerExampleTuples, ///< `[(0, 1), (2, 3)]`: one tuple per example.
  };
  Kind kind = Kind::kNone;
  /// The index (kIndex), the tuple (kTuple) or the list (kPerExample).
  std::vector<int64_t> indices;
  /// The tuples (kPerExampleTuples).
  std::vector<std::vector<int64_t>> tuples;
};

/// Most elements a literal may hold in total (a guard against absurd input).
constexpr size_t kMaxTargetElements = size_t(1) << 24;

/// Parses a Python-like target literal: an integer (`3`, `-1`, `+2`), a tuple
/// of integers (`(1, 2)`, `(1,)`; `(3)` is the integer 3, as in Python), a
/// non-empty list of integers (`[3, 1, 0]`) or of tuples (`[(0, 1), (2, 3)]`),
/// or `None`. Whitespace is allowed between tokens, a trailing comma inside
/// brackets too. Throws CliError saying what was expected at which column
/// (1-based), e.g. "bad --target '[1,,2]': expected an integer at column 4,
/// found ','".
TargetLiteral parse_target_literal(const std::string& text);

/// The literal back in Python syntax, e.g. "[(0, 1), (2, 3)]".
std::string to_string(const TargetLiteral& literal);

/// A `--neuron SPEC` literal, parsed but not yet a `guidedbp::NeuronSelector`.
struct NeuronLiteral {
  /// A range's `stop` when the literal leaves it out (`2:`): to the end.
  static constexpr int64_t kOpenStop = std::numeric_limits<int64_t>::max();
  /// One index (`5`) or one range (`0:4`, `:4`, `2:`; Python's slice).
  struct Element {
    int64_t start = 0;
    int64_t stop = kOpenStop;
    bool is_range = false;
  };
  /// `7` (or `(7)`): an int, for 2-D layer outputs; else a tuple.
  bool is_int = false;
  std::vector<Element> elements;
};

/// Parses a `--neuron` literal: an integer (`7`) or a tuple of integers and
/// ranges (`(5, 1, 2)`, `(0:4, 1, 2)`, `(:, 3)`), as the library's
/// NeuronSelector takes. Throws CliError saying what was expected at which
/// column, with the --neuron forms.
NeuronLiteral parse_neuron_literal(const std::string& text);

/// The neuron literal back in Python syntax, e.g. "(0:4, 1, 2)".
std::string to_string(const NeuronLiteral& literal);

} // namespace cli
} // namespace guidedbp
