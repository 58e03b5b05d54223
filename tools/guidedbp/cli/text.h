#pragma once

// Small text helpers of the command line's parsers (torch-free).

#include <string>
#include <vector>

namespace guidedbp {
namespace cli {

/// `text` split at every `separator`, empty parts kept: "a,,b" gives
/// {"a", "", "b"}, "" gives {""}.
inline std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(
        start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) {
      return parts;
    }
    start = end + 1;
  }
}

/// A list as a sentence says it: "a", "a and b", "a, b and c".
inline std::string spoken_list(const std::vector<std::string>& items) {
  std::string text;
  for (size_t i = 0; i < items.size(); ++i) {
    text += (i == 0 ? "" : (i + 1 == items.size() ? " and " : ", ")) + items[i];
  }
  return text;
}

} // namespace cli
} // namespace guidedbp
