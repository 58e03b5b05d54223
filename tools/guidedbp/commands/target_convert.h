#pragma once

#include <guidedbp/target.h>

#include "cli/target_literal.h"

namespace guidedbp {
namespace cli {

/// The library's target for a parsed `--target` literal.
Target to_target(const TargetLiteral& literal);

} // namespace cli
} // namespace guidedbp
