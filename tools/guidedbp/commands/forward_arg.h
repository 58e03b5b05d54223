#pragma once

// --forward-arg of `attribute` and `evaluate`: one additional forward
// argument from its command-line text.

#include <ATen/core/ivalue.h>

#include <string>

namespace guidedbp {
namespace cli {

/// A tensor file (.npy/.pt, or any existing file), a literal integer, a
/// float, or true/false. Throws CliError naming the text otherwise.
c10::IValue forward_arg(const std::string& text);

} // namespace cli
} // namespace guidedbp
