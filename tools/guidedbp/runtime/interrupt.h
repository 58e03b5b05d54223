#pragma once

// SIGINT / SIGTERM during a dataset run: a flag the run polls, so that it
// stops taking images, finishes what is in flight and reports, instead of
// dying with temporary files and no summary.

namespace guidedbp {
namespace cli {

/// While alive, SIGINT and SIGTERM set a flag instead of ending the process.
/// A second signal of either kind ends it at once (the default action), for a
/// user who does not want to wait. The destructor restores the previous
/// handlers. One at a time per process.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  /// The signal received (SIGINT or SIGTERM), or 0.
  int signal() const;
  bool interrupted() const {
    return signal() != 0;
  }
};

/// "SIGINT", "SIGTERM", or "signal N".
const char* signal_name(int signal);

} // namespace cli
} // namespace guidedbp
