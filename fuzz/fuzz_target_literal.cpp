// libFuzzer target: the `--target SPEC` literal parser.
//
// Invariants checked beyond "no crash, no sanitizer report":
// - only CliError escapes;
// - an accepted literal printed back with to_string() parses to the same
//   literal, and printing is stable (to_string(parse(to_string(x))) is
//   to_string(x));
// - the error message is one line of printable text (it is shown as
//   `guidedbp: <message>`).

#include <cstdint>
#include <cstdlib>
#include <string>

#include "cli_error.h"
#include "target_literal.h"

using guidedbp::cli::CliError;
using guidedbp::cli::TargetLiteral;

namespace {

bool same(const TargetLiteral& a, const TargetLiteral& b) {
  return a.kind == b.kind && a.indices == b.indices && a.tuples == b.tuples;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Command-line arguments are C strings: no embedded NUL can reach the
  // parser from argv, but the parser takes std::string, so allow them too.
  const std::string text(reinterpret_cast<const char*>(data), size);
  TargetLiteral literal;
  try {
    literal = guidedbp::cli::parse_target_literal(text);
  } catch (const CliError& e) {
    for (const char* p = e.what(); *p; ++p) {
      unsigned char c = static_cast<unsigned char>(*p);
      if (c < 32 || c == 127) {
        std::abort(); // a control byte or newline in a one-line message
      }
    }
    return 0;
  }
  const std::string printed = guidedbp::cli::to_string(literal);
  TargetLiteral again;
  try {
    again = guidedbp::cli::parse_target_literal(printed);
  } catch (const CliError&) {
    std::abort(); // the printer wrote something the parser rejects
  }
  if (!same(literal, again) || guidedbp::cli::to_string(again) != printed) {
    std::abort();
  }
  return 0;
}
