#pragma once

#include <cstddef>
#include <string>

namespace guidedbp {
namespace cli {

/// A one-line progress bar on stderr, drawn only when stderr is a terminal
/// and there is more than one item; otherwise every call does nothing.
class Progress {
 public:
  explicit Progress(size_t total);
  ~Progress();
  /// Shows that item `done` (0-based count of finished items) of `total` is
  /// next, with a short label.
  void update(size_t done, const std::string& label);
  /// Erases the bar (call before printing other lines), redrawn by `update`.
  void clear();
  bool enabled() const {
    return enabled_;
  }

 private:
  size_t total_;
  bool enabled_;
  bool drawn_ = false;
};

} // namespace cli
} // namespace guidedbp
