#pragma once

#include <stdexcept>
#include <string>

namespace guidedbp {
namespace cli {

/// An error in the user's input (a file, a literal, an option value) that the
/// command line reports as `guidedbp: <message>` and exit status 1. Every
/// torch-free part of the CLI (file formats, literals, images) throws only
/// this type (or std::bad_alloc), never aborts, so it can be fuzzed alone.
class CliError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A misuse of the command line itself (wrong number of `--output`, unknown
/// extension): reported like CLI11's own usage errors, exit status 2.
class UsageError : public CliError {
 public:
  using CliError::CliError;
};

/// Longest message the CLI prints or serve answers: a message quoting input
/// (a shape, a literal) stays readable whatever the input.
constexpr size_t kMaxMessageLength = 1000;

/// `text` cut to at most `max` bytes, ending in "..." when cut; never in the
/// middle of a UTF-8 sequence.
inline std::string limit_length(std::string text, size_t max) {
  if (text.size() <= max) {
    return text;
  }
  size_t end = max > 3 ? max - 3 : 0;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
    --end; // a continuation byte: back to the sequence's start
  }
  text.resize(end);
  return text + "...";
}

/// The first line of an exception's message, except for TorchScript
/// interpreter errors, whose first line is "The following operation failed
/// in the TorchScript interpreter." and whose cause ("RuntimeError: ...") is
/// the last line.
inline std::string summarize_error_line(const std::string& message) {
  auto trim = [](std::string line) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) {
      line.pop_back();
    }
    return line;
  };
  std::string first = trim(message.substr(0, message.find('\n')));
  if (first.find(
          "The following operation failed in the TorchScript interpreter") !=
      std::string::npos) {
    size_t end = message.size();
    while (end > 0) {
      size_t start = message.rfind('\n', end - 1);
      start = start == std::string::npos ? 0 : start + 1;
      std::string line = trim(message.substr(start, end - start));
      if (!line.empty()) {
        return line;
      }
      if (start == 0) {
        break;
      }
      end = start - 1;
    }
  }
  return first;
}

/// One line for `guidedbp: <message>`: summarize_error_line, at most
/// kMaxMessageLength bytes.
inline std::string summarize_error(const std::string& message) {
  return limit_length(summarize_error_line(message), kMaxMessageLength);
}

} // namespace cli
} // namespace guidedbp
