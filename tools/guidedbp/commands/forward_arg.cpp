#include "commands/forward_arg.h"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "cli/cli_error.h"
#include "io/tensor_io.h"

namespace guidedbp {
namespace cli {
namespace {

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

} // namespace

c10::IValue forward_arg(const std::string& text) {
  if (text == "true" || text == "True") {
    return c10::IValue(true);
  }
  if (text == "false" || text == "False") {
    return c10::IValue(false);
  }
  if (!text.empty() && !is_tensor_file(text)) {
    const char* begin = text.c_str();
    char* end = nullptr;
    errno = 0;
    long long integer = std::strtoll(begin, &end, 10);
    if (*end == '\0' && end != begin &&
        !std::isspace(static_cast<unsigned char>(text[0]))) {
      if (errno == ERANGE) {
        throw CliError(
            "--forward-arg '" + text + "': integer out of the 64-bit range");
      }
      return c10::IValue(static_cast<int64_t>(integer));
    }
    errno = 0;
    double real = std::strtod(begin, &end);
    if (*end == '\0' && end != begin &&
        !std::isspace(static_cast<unsigned char>(text[0]))) {
      return c10::IValue(real);
    }
  }
  if (is_tensor_file(text) || file_exists(text)) {
    return c10::IValue(read_tensor(text));
  }
  throw CliError(
      "--forward-arg '" + text +
      "': neither a number, true/false, nor a .npy/.pt file");
}

} // namespace cli
} // namespace guidedbp
