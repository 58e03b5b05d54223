#pragma once

#include <string>
#include <vector>

namespace guidedbp {
namespace detail {

/// The names closest to `name` among `candidates`, for error messages:
/// "nearby names: a, b, c" (or the first few when none is close).
std::string nearby_names(
    const std::string& name,
    const std::vector<std::string>& candidates);

} // namespace detail
} // namespace guidedbp
