#include "commands/target_convert.h"

namespace guidedbp {
namespace cli {

Target to_target(const TargetLiteral& literal) {
  switch (literal.kind) {
    case TargetLiteral::Kind::kNone:
      return Target::none();
    case TargetLiteral::Kind::kIndex:
      return Target::index(literal.indices.at(0));
    case TargetLiteral::Kind::kTuple:
      return Target::tuple(literal.indices);
    case TargetLiteral::Kind::kPerExample:
      return Target::per_example(literal.indices);
    case TargetLiteral::Kind::kPerExampleTuples:
      return Target::per_example_tuples(literal.tuples);
  }
  return Target::none();
}

} // namespace cli
} // namespace guidedbp
