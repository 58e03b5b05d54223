#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace guidedbp {
namespace cli {

/// Progress of a run over many items, on stderr. On a terminal: a one-line
/// bar with the rate (items/s) and the time left, redrawn in place at most
/// kRedrawsPerSecond times a second. Not on a terminal (a log file, a batch
/// job): a plain line every `log_every` seconds. Nothing when `quiet`, or
/// for a run of one item. The rate and the time left are timed from the
/// first item done and shown from the kFirstEstimateAfter-th on.
class Progress {
 public:
  static constexpr double kRedrawsPerSecond = 10;
  static constexpr size_t kFirstEstimateAfter = 3;

  Progress(size_t total, bool quiet, double log_every_seconds = 30.0);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// Shows that `done` of `total` items are finished; `label` names the
  /// item being worked on (shown on a terminal only).
  void update(size_t done, const std::string& label);
  /// Erases the bar (call before printing other lines); `update` redraws it.
  void clear();
  /// Seconds since construction.
  double elapsed() const;
  /// Whether anything was shown (the run then ends with a summary line).
  bool shown() const {
    return shown_;
  }

 private:
  enum class Mode { kOff, kTerminal, kLog };
  std::string rate_and_eta(size_t done) const;

  size_t total_;
  Mode mode_;
  double log_every_;
  std::chrono::steady_clock::time_point start_;
  double last_log_ = 0.0;
  double last_draw_ = -1.0;  ///< When the bar was drawn last (terminal).
  double first_done_ = -1.0; ///< When the first item was done.
  bool drawn_ = false;
  bool shown_ = false;
};

/// "42 s", "3 min 05 s", "2 h 07 min".
std::string format_duration(double seconds);

} // namespace cli
} // namespace guidedbp
