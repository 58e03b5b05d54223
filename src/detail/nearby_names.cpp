#include "detail/nearby_names.h"

#include <algorithm>
#include <cstddef>
#include <utility>

namespace guidedbp {
namespace detail {
namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min(
          {row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

} // namespace

std::string nearby_names(
    const std::string& name,
    const std::vector<std::string>& candidates) {
  if (candidates.empty()) {
    return "it has no named layers";
  }
  std::vector<std::pair<size_t, std::string>> ranked;
  for (const auto& c : candidates) {
    ranked.emplace_back(edit_distance(name, c), c);
  }
  std::stable_sort(
      ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
        return a.first < b.first;
      });
  std::string result = "nearby names: ";
  const size_t shown = std::min<size_t>(ranked.size(), 6);
  for (size_t i = 0; i < shown; ++i) {
    result += (i ? ", " : "") + ranked[i].second;
  }
  if (ranked.size() > shown) {
    result += ", ... (" + std::to_string(ranked.size()) + " in all)";
  }
  return result;
}

} // namespace detail
} // namespace guidedbp
