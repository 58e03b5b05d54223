// libFuzzer target: the `--target SPEC` and `--neuron SPEC` literal parsers.
//
// Invariants checked beyond "no crash, no sanitizer report":
// - only CliError escapes;
// - an accepted literal printed back with to_string() parses to the same
//   literal, and printing is stable (to_string(parse(to_string(x))) is
//   to_string(x));
// - the error message is one line of printable text (it is shown as
//   `guidedbp: <message>`);
// - the same for the same bytes read as a neuron literal.

#include <cstdint>
#include <cstdlib>
#include <string>

#include "cli/cli_error.h"
#include "cli/target_literal.h"

using guidedbp::cli::CliError;
using guidedbp::cli::NeuronLiteral;
using guidedbp::cli::TargetLiteral;

namespace {

bool same(const TargetLiteral& a, const TargetLiteral& b) {
  return a.kind == b.kind && a.indices == b.indices && a.tuples == b.tuples;
}

bool same(const NeuronLiteral& a, const NeuronLiteral& b) {
  if (a.is_int != b.is_int || a.elements.size() != b.elements.size()) {
    return false;
  }
  for (size_t i = 0; i < a.elements.size(); ++i) {
    const auto& x = a.elements[i];
    const auto& y = b.elements[i];
    if (x.is_range != y.is_range || x.start != y.start || x.stop != y.stop) {
      return false;
    }
  }
  return true;
}

void check_message(const CliError& e) {
  for (const char* p = e.what(); *p; ++p) {
    unsigned char c = static_cast<unsigned char>(*p);
    if (c < 32 || c == 127) {
      std::abort(); // a control byte or newline in a one-line message
    }
  }
}

// parse -> print -> parse gives the same literal and the same text.
template <typename Literal, typename Parse>
void round_trip(const std::string& text, Parse parse) {
  Literal literal;
  try {
    literal = parse(text);
  } catch (const CliError& e) {
    check_message(e);
    return;
  }
  const std::string printed = guidedbp::cli::to_string(literal);
  Literal again;
  try {
    again = parse(printed);
  } catch (const CliError&) {
    std::abort(); // the printer wrote something the parser rejects
  }
  if (!same(literal, again) || guidedbp::cli::to_string(again) != printed) {
    std::abort();
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Command-line arguments are C strings: no embedded NUL can reach the
  // parser from argv, but the parser takes std::string, so allow them too.
  const std::string text(reinterpret_cast<const char*>(data), size);
  round_trip<TargetLiteral>(text, guidedbp::cli::parse_target_literal);
  round_trip<NeuronLiteral>(text, guidedbp::cli::parse_neuron_literal);
  return 0;
}
