#include "runtime/interrupt.h"

#include <csignal>
#include <cstdio>

namespace guidedbp {
namespace cli {
namespace {

volatile std::sig_atomic_t g_signal = 0;
struct sigaction g_previous_int;
struct sigaction g_previous_term;

extern "C" void on_stop_signal(int signal) {
  g_signal = signal;
  // A second signal of either kind takes its default action (SA_RESETHAND
  // alone resets only the one received: SIGINT then SIGTERM was caught).
  // sigaction is async-signal-safe.
  struct sigaction fallback {};
  fallback.sa_handler = SIG_DFL;
  sigaction(SIGINT, &fallback, nullptr);
  sigaction(SIGTERM, &fallback, nullptr);
}

} // namespace

InterruptGuard::InterruptGuard() {
  g_signal = 0;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  // SA_RESETHAND: the first signal is ours, a second one has its default
  // action. No SA_RESTART needed: the run's blocking calls are futex waits
  // and file I/O on regular files, which signals do not interrupt.
  action.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

int InterruptGuard::signal() const {
  return g_signal;
}

const char* signal_name(int signal) {
  switch (signal) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    default:
      return "a signal";
  }
}

} // namespace cli
} // namespace guidedbp
