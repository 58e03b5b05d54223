#include "runtime/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace guidedbp {
namespace cli {

std::string format_duration(double seconds) {
  char buffer[48];
  const long long s = std::llround(std::max(0.0, seconds));
  if (s < 60) {
    std::snprintf(buffer, sizeof(buffer), "%lld s", s);
  } else if (s < 3600) {
    std::snprintf(buffer, sizeof(buffer), "%lld min %02lld s", s / 60, s % 60);
  } else {
    std::snprintf(
        buffer, sizeof(buffer), "%lld h %02lld min", s / 3600, s / 60 % 60);
  }
  return buffer;
}

Progress::Progress(size_t total, bool quiet, double log_every_seconds)
    : total_(total),
      mode_(
          quiet || total <= 1                ? Mode::kOff
              : ::isatty(STDERR_FILENO) == 1 ? Mode::kTerminal
                                             : Mode::kLog),
      log_every_(log_every_seconds),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() {
  clear();
}

double Progress::elapsed() const {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now() - start_)
      .count();
}

std::string Progress::rate_and_eta(size_t done) const {
  // Timed from the first item done, not from the start: the first one pays
  // for loading and warming up, and one item says nothing of the rate.
  if (done < kFirstEstimateAfter || first_done_ < 0.0) {
    return "";
  }
  const double seconds = elapsed() - first_done_;
  if (seconds <= 0.0) {
    return "";
  }
  const double rate = static_cast<double>(done - 1) / seconds;
  char buffer[96];
  std::snprintf(buffer, sizeof(buffer), ", %.1f images/s", rate);
  std::string text = buffer;
  if (done < total_) {
    text += ", " + format_duration(static_cast<double>(total_ - done) / rate) +
        " left";
  }
  return text;
}

void Progress::update(size_t done, const std::string& label) {
  if (done > 0 && first_done_ < 0.0) {
    first_done_ = elapsed();
  }
  if (mode_ == Mode::kLog) {
    const double now = elapsed();
    if (now - last_log_ < log_every_) {
      return;
    }
    last_log_ = now;
    std::fprintf(
        stderr,
        "guidedbp: %zu/%zu images%s\n",
        done,
        total_,
        rate_and_eta(done).c_str());
    std::fflush(stderr);
    shown_ = true;
  } else if (mode_ == Mode::kTerminal) {
    // At most kRedrawsPerSecond redraws (and the last one): a fast run
    // must not write a bar per item.
    const double now = elapsed();
    if (done < total_ && now - last_draw_ < 1.0 / kRedrawsPerSecond) {
      return;
    }
    last_draw_ = now;
    constexpr int kWidth = 24;
    int filled = total_ ? static_cast<int>(kWidth * done / total_) : kWidth;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(kWidth - filled), '.');
    std::string shown =
        label.size() > 30 ? "..." + label.substr(label.size() - 27) : label;
    std::fprintf(
        stderr,
        "\r\033[K[%s] %zu/%zu%s %s",
        bar.c_str(),
        done,
        total_,
        rate_and_eta(done).c_str(),
        shown.c_str());
    std::fflush(stderr);
    drawn_ = true;
    shown_ = true;
  }
}

void Progress::clear() {
  if (mode_ == Mode::kTerminal && drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
  }
}

} // namespace cli
} // namespace guidedbp
