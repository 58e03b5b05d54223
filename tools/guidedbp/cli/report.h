#pragma once

// How the CLI turns the library's errors and warnings into its one-line
// `guidedbp: ...` reports.

#include <c10/util/Exception.h>

#include <exception>
#include <functional>
#include <string>
#include <utility>

#include "cli/cli_error.h"
#include "detail/torch_compat.h"

namespace guidedbp {
namespace cli {

/// The one line reported for `error`: `summarize_error` of its message,
/// without the C++ backtrace of a c10::Error.
inline std::string error_line(const std::exception& error) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&error);
  return summarize_error(
      c10_error ? c10_error->what_without_backtrace() : error.what());
}

/// Whether `error` was raised inside a TorchScript model's own code (the
/// interpreter's "The following operation failed" report), e.g. a layer
/// refusing the input's shape, rather than by a check around the model.
inline bool failed_inside_model(const std::exception& error) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&error);
  const std::string message =
      c10_error ? c10_error->what_without_backtrace() : error.what();
  return message.find(
             "The following operation failed in the TorchScript "
             "interpreter") != std::string::npos;
}

/// Sends each warning (TORCH_WARN) raised while alive to `on_line`, as one
/// line (`summarize_error`).
class WarningLines {
 public:
  explicit WarningLines(std::function<void(const std::string&)> on_line)
      : handler_([on_line = std::move(on_line)](const std::string& message) {
          on_line(summarize_error(message));
        }) {}

 private:
  detail::ScopedWarningHandler handler_;
};

} // namespace cli
} // namespace guidedbp
