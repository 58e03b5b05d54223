#include "cli/target_literal.h"

#include <cctype>
#include <limits>

#include "cli/cli_error.h"

namespace guidedbp {
namespace cli {
namespace {

// What a literal is for: the option it is given to and its forms, shown in
// every message.
struct LiteralKind {
  const char* option;
  const char* forms;
};
constexpr LiteralKind kTargetKind{
    "--target",
    "3, (1,2), [3,1,0], [(0,1),(2,3)]"};
constexpr LiteralKind kNeuronKind{"--neuron", "7, (5,1,2), (0:4,1,2)"};

class Parser {
 public:
  Parser(const std::string& text, LiteralKind kind)
      : text_(text), kind_(kind) {}

  TargetLiteral parse() {
    TargetLiteral literal;
    skip_space();
    if (pos_ == text_.size()) {
      fail("an integer, a tuple '(...)' or a list '[...]'");
    }
    if (text_.compare(pos_, 4, "None") == 0) {
      pos_ += 4;
      literal.kind = TargetLiteral::Kind::kNone;
    } else if (peek() == '[') {
      parse_list(literal);
    } else {
      std::vector<int64_t> tuple;
      if (parse_tuple_or_int(tuple)) {
        literal.kind = TargetLiteral::Kind::kTuple;
        literal.indices = std::move(tuple);
      } else {
        literal.kind = TargetLiteral::Kind::kIndex;
        literal.indices = std::move(tuple);
      }
    }
    skip_space();
    if (pos_ != text_.size()) {
      fail("the end of the target");
    }
    return literal;
  }

 private:
  char peek() {
    skip_space();
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }

  void skip_space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
            text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  [[noreturn]] void fail(const std::string& expected) {
    std::string found;
    if (pos_ >= text_.size()) {
      found = "the end";
    } else {
      unsigned char c = static_cast<unsigned char>(text_[pos_]);
      found = (c >= 32 && c < 127) ? "'" + std::string(1, char(c)) + "'"
                                   : "byte " + std::to_string(int(c));
    }
    std::string shown;
    for (char c : text_.substr(0, 80)) {
      shown += (c >= 32 && c < 127) ? c : '?';
    }
    if (text_.size() > 80) {
      shown += "...";
    }
    throw CliError(
        std::string("bad ") + kind_.option + " '" + shown + "': expected " +
        expected + " at column " + std::to_string(pos_ + 1) + ", found " +
        found + " (forms: " + kind_.forms + ")");
  }

  void count(size_t n = 1) {
    elements_ += n;
    if (elements_ > kMaxTargetElements) {
      throw CliError(
          std::string("bad ") + kind_.option + ": more than " +
          std::to_string(kMaxTargetElements) + " indices");
    }
  }

  int64_t parse_int() {
    skip_space();
    size_t start = pos_;
    bool negative = false;
    if (pos_ < text_.size() && (text_[pos_] == '-' || text_[pos_] == '+')) {
      negative = text_[pos_] == '-';
      ++pos_;
      skip_space();
    }
    size_t digits = pos_;
    uint64_t value = 0;
    const uint64_t limit = negative
        ? uint64_t(std::numeric_limits<int64_t>::max()) + 1
        : uint64_t(std::numeric_limits<int64_t>::max());
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      uint64_t digit = uint64_t(text_[pos_] - '0');
      if (value > (limit - digit) / 10) {
        pos_ = start;
        fail("an integer that fits in 64 bits");
      }
      value = value * 10 + digit;
      ++pos_;
    }
    if (pos_ == digits) {
      fail("an integer");
    }
    if (pos_ < text_.size() &&
        (text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E' ||
         std::isalpha(static_cast<unsigned char>(text_[pos_])))) {
      fail("an integer (no fractions or letters)");
    }
    count();
    if (negative) {
      return value == uint64_t(std::numeric_limits<int64_t>::max()) + 1
          ? std::numeric_limits<int64_t>::min()
          : -static_cast<int64_t>(value);
    }
    return static_cast<int64_t>(value);
  }

  // Reads `(a, b, ...)`, `(a,)` or a bare integer. Returns true for a tuple
  // (`(a)` is an integer in parentheses, as in Python).
  bool parse_tuple_or_int(std::vector<int64_t>& out) {
    out.clear();
    if (peek() != '(') {
      out.push_back(parse_int());
      return false;
    }
    ++pos_;
    if (peek() == ')') {
      fail("an integer (an empty tuple is not a target)");
    }
    out.push_back(parse_int());
    if (peek() == ')') {
      ++pos_;
      return false;
    }
    while (true) {
      if (peek() != ',') {
        fail("',' or ')'");
      }
      ++pos_;
      if (peek() == ')') {
        ++pos_;
        return true;
      }
      out.push_back(parse_int());
      if (peek() == ')') {
        ++pos_;
        return true;
      }
    }
  }

  void parse_list(TargetLiteral& literal) {
    ++pos_; // '['
    if (peek() == ']') {
      fail("an integer or a tuple (an empty list is not a target)");
    }
    bool tuples = peek() == '(';
    literal.kind = tuples ? TargetLiteral::Kind::kPerExampleTuples
                          : TargetLiteral::Kind::kPerExample;
    while (true) {
      if (tuples) {
        if (peek() != '(') {
          fail("a tuple '(...)' (a list holds all integers or all tuples)");
        }
        std::vector<int64_t> tuple;
        parse_tuple_or_int(tuple);
        literal.tuples.push_back(std::move(tuple));
      } else {
        if (peek() == '(') {
          fail("an integer (a list holds all integers or all tuples)");
        }
        literal.indices.push_back(parse_int());
      }
      char c = peek();
      if (c == ']') {
        ++pos_;
        return;
      }
      if (c != ',') {
        fail("',' or ']'");
      }
      ++pos_;
      if (peek() == ']') {
        ++pos_;
        return;
      }
    }
  }

  // Reads one element of a neuron tuple: an integer or a range
  // `start:stop` (either end may be left out, as in a Python slice).
  NeuronLiteral::Element parse_neuron_element() {
    NeuronLiteral::Element element;
    if (peek() != ':') {
      element.start = parse_int();
      if (peek() != ':') {
        return element;
      }
    } else {
      count();
    }
    ++pos_; // ':'
    element.is_range = true;
    const char c = peek();
    if (c != ',' && c != ')') {
      element.stop = parse_int();
    }
    return element;
  }

 public:
  NeuronLiteral parse_neuron() {
    NeuronLiteral literal;
    skip_space();
    if (peek() == '[') {
      fail(
          "an integer or a tuple (a neuron is an int or a tuple indexing the "
          "layer output, not a list)");
    }
    if (peek() != '(') {
      literal.is_int = true;
      literal.elements.push_back(parse_neuron_element());
      if (literal.elements[0].is_range) {
        pos_ = 0;
        fail("an integer or a tuple '(...)' (a range goes inside a tuple)");
      }
    } else {
      ++pos_;
      if (peek() == ')') {
        fail("an integer or a range (an empty tuple is not a neuron)");
      }
      literal.elements.push_back(parse_neuron_element());
      // `(a)` is the integer a, as in Python; `(a:b)` a one-element tuple.
      literal.is_int = peek() == ')' && !literal.elements[0].is_range;
      while (peek() != ')') {
        if (peek() != ',') {
          fail("',' or ')'");
        }
        ++pos_;
        if (peek() == ')') {
          break;
        }
        literal.elements.push_back(parse_neuron_element());
      }
      ++pos_; // ')'
    }
    skip_space();
    if (pos_ != text_.size()) {
      fail("the end of the neuron");
    }
    return literal;
  }

 private:
  const std::string& text_;
  LiteralKind kind_;
  size_t pos_ = 0;
  size_t elements_ = 0;
};

std::string join(const std::vector<int64_t>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    out += (i ? ", " : "") + std::to_string(values[i]);
  }
  return out;
}

std::string tuple_string(const std::vector<int64_t>& values) {
  return "(" + join(values) + (values.size() == 1 ? ",)" : ")");
}

} // namespace

TargetLiteral parse_target_literal(const std::string& text) {
  return Parser(text, kTargetKind).parse();
}

NeuronLiteral parse_neuron_literal(const std::string& text) {
  return Parser(text, kNeuronKind).parse_neuron();
}

std::string to_string(const NeuronLiteral& literal) {
  auto element = [](const NeuronLiteral::Element& e) {
    if (!e.is_range) {
      return std::to_string(e.start);
    }
    return (e.start == 0 ? std::string() : std::to_string(e.start)) + ":" +
        (e.stop == NeuronLiteral::kOpenStop ? std::string()
                                            : std::to_string(e.stop));
  };
  if (literal.is_int) {
    return element(literal.elements.at(0));
  }
  std::string out = "(";
  for (size_t i = 0; i < literal.elements.size(); ++i) {
    out += (i ? ", " : "") + element(literal.elements[i]);
  }
  return out + (literal.elements.size() == 1 ? ",)" : ")");
}

std::string to_string(const TargetLiteral& literal) {
  switch (literal.kind) {
    case TargetLiteral::Kind::kNone:
      return "None";
    case TargetLiteral::Kind::kIndex:
      return literal.indices.empty() ? "None"
                                     : std::to_string(literal.indices[0]);
    case TargetLiteral::Kind::kTuple:
      return tuple_string(literal.indices);
    case TargetLiteral::Kind::kPerExample:
      return "[" + join(literal.indices) + "]";
    case TargetLiteral::Kind::kPerExampleTuples: {
      std::string out = "[";
      for (size_t i = 0; i < literal.tuples.size(); ++i) {
        out += (i ? ", " : "") + tuple_string(literal.tuples[i]);
      }
      return out + "]";
    }
  }
  return "None";
}

} // namespace cli
} // namespace guidedbp
