#include "progress.h"

#include <unistd.h>

#include <cstdio>

namespace guidedbp {
namespace cli {

Progress::Progress(size_t total)
    : total_(total), enabled_(total > 1 && ::isatty(STDERR_FILENO) == 1) {}

Progress::~Progress() {
  clear();
}

void Progress::update(size_t done, const std::string& label) {
  if (!enabled_) {
    return;
  }
  constexpr int kWidth = 30;
  int filled = total_ ? static_cast<int>(kWidth * done / total_) : kWidth;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kWidth - filled), '.');
  std::string shown =
      label.size() > 40 ? "..." + label.substr(label.size() - 37) : label;
  std::fprintf(
      stderr,
      "\r\033[K[%s] %zu/%zu %s",
      bar.c_str(),
      done,
      total_,
      shown.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::clear() {
  if (enabled_ && drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
  }
}

} // namespace cli
} // namespace guidedbp
