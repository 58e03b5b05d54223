// libFuzzer target: check_zip_archive, the check a model file passes before
// LibTorch reads it (zip_check.cpp parses the untrusted archive directory and
// inflates deflated entries to check their CRC-32).
//
// Invariants checked beyond "no crash, no sanitizer report":
// - only CliError escapes;
// - its message is one line of printable text that names the file (it is
//   shown as `guidedbp: <message>`).

#include <cstdint>
#include <cstdlib>
#include <string>

#include "cli/cli_error.h"
#include "io/zip_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    guidedbp::cli::check_zip_archive(data, size, "model.pt");
  } catch (const guidedbp::cli::CliError& e) {
    const std::string message = e.what();
    if (message.find("model.pt") == std::string::npos) {
      std::abort(); // the file is not named
    }
    for (char c : message) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 32 || u == 127) {
        std::abort(); // a control byte or newline in a one-line message
      }
    }
  }
  return 0;
}
