#pragma once

// Every LibTorch API difference guidedbp meets between LibTorch 1.13 and 2.x,
// in one place, chosen by version macros. Header-only; used by the library,
// its tests and the CLI (never installed).

#include <c10/util/Exception.h>
#include <torch/version.h>

#include <functional>
#include <string>
#include <utility>

// LibTorch 2.0 made c10::Warning a class (with warning categories): the
// handler receives the whole warning, and the handler functions and guard
// moved from the namespace c10::Warning to c10::WarningUtils. 1.13 has the
// old API, 2.0 and later (checked on 2.6) the new one.
namespace guidedbp {
namespace detail {

#if TORCH_VERSION_MAJOR >= 2
namespace warning_utils = c10::WarningUtils;
#else
namespace warning_utils = c10::Warning;
#endif

/// Sends each warning (TORCH_WARN) raised on this thread to `on_warning`,
/// with its message, while alive; restores the previous handler on
/// destruction. Not copyable or movable (the handler is installed by address).
///
/// Example:
/// ```
/// std::vector<std::string> seen;
/// ScopedWarningHandler capture([&](const std::string& m) { seen.push_back(m);
/// });
/// ```
class ScopedWarningHandler : public c10::WarningHandler {
 public:
  using Callback = std::function<void(const std::string& message)>;

  explicit ScopedWarningHandler(Callback on_warning)
      : on_warning_(std::move(on_warning)),
        previous_(warning_utils::get_warning_handler()) {
    warning_utils::set_warning_handler(this);
  }
  ~ScopedWarningHandler() override {
    warning_utils::set_warning_handler(previous_);
  }
  ScopedWarningHandler(const ScopedWarningHandler&) = delete;
  ScopedWarningHandler& operator=(const ScopedWarningHandler&) = delete;

#if TORCH_VERSION_MAJOR >= 2
  void process(const c10::Warning& warning) override {
    on_warning_(warning.msg());
  }
#else
  void process(const c10::SourceLocation&, const std::string& msg, const bool)
      override {
    on_warning_(msg);
  }
#endif

 private:
  Callback on_warning_;
  c10::WarningHandler* previous_;
};

/// Restores LibTorch's default warning handler (printing to stderr) on this
/// thread.
inline void reset_warning_handler() {
  warning_utils::set_warning_handler(nullptr);
}

} // namespace detail
} // namespace guidedbp
