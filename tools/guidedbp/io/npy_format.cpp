#include "io/npy_format.h"

#include <cstring>
#include <limits>

#include "cli/cli_error.h"

namespace guidedbp {
namespace cli {
namespace {

struct DTypeInfo {
  NpyDType dtype;
  const char* descr;
  const char* name;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {NpyDType::kFloat16, "<f2", "float16", 2},
    {NpyDType::kFloat32, "<f4", "float32", 4},
    {NpyDType::kFloat64, "<f8", "float64", 8},
    {NpyDType::kInt8, "|i1", "int8", 1},
    {NpyDType::kInt16, "<i2", "int16", 2},
    {NpyDType::kInt32, "<i4", "int32", 4},
    {NpyDType::kInt64, "<i8", "int64", 8},
    {NpyDType::kUInt8, "|u1", "uint8", 1},
    {NpyDType::kBool, "|b1", "bool", 1},
};

const DTypeInfo& info(NpyDType dtype) {
  for (const DTypeInfo& entry : kDTypes) {
    if (entry.dtype == dtype) {
      return entry;
    }
  }
  return kDTypes[1];
}

// A printable excerpt of header text for messages.
std::string excerpt(const std::string& text, size_t pos) {
  std::string out;
  for (size_t i = pos; i < text.size() && out.size() < 20; ++i) {
    char c = text[i];
    out += (c >= 32 && c < 127) ? c : '?';
  }
  return out.empty() ? "the end" : "'" + out + "'";
}

// A recursive-descent reader of the Python dict literal numpy writes.
class DictParser {
 public:
  DictParser(const std::string& text, const std::string& name)
      : text_(text), name_(name) {}

  void skip_space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
            text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  [[noreturn]] void fail(const std::string& expected) const {
    throw CliError(
        name_ + ": malformed .npy header: expected " + expected +
        " at offset " + std::to_string(pos_) + " of the header dict, found " +
        excerpt(text_, pos_));
  }

  bool accept(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  void expect(char c) {
    if (!accept(c)) {
      fail(std::string("'") + c + "'");
    }
  }

  std::string string_literal() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
      fail("a quoted string");
    }
    char quote = text_[pos_++];
    size_t end = text_.find(quote, pos_);
    if (end == std::string::npos || end - pos_ > 64) {
      fail("a short quoted string");
    }
    std::string value = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return value;
  }

  bool bool_literal() {
    skip_space();
    if (text_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (text_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail("True or False");
  }

  int64_t int_literal() {
    skip_space();
    size_t start = pos_;
    uint64_t value = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      uint64_t digit = static_cast<uint64_t>(text_[pos_] - '0');
      if (value >
          (uint64_t(std::numeric_limits<int64_t>::max()) - digit) / 10) {
        pos_ = start;
        fail("a dimension that fits in 64 bits");
      }
      value = value * 10 + digit;
      ++pos_;
    }
    if (pos_ == start) {
      fail("a non-negative integer");
    }
    // Python 2 era files may carry an 'L' suffix.
    if (pos_ < text_.size() && text_[pos_] == 'L') {
      ++pos_;
    }
    return static_cast<int64_t>(value);
  }

  std::vector<int64_t> shape_literal() {
    std::vector<int64_t> shape;
    expect('(');
    if (accept(')')) {
      return shape;
    }
    while (true) {
      shape.push_back(int_literal());
      if (shape.size() > kNpyMaxDims) {
        throw CliError(
            name_ + ": .npy header has more than " +
            std::to_string(kNpyMaxDims) + " dimensions");
      }
      if (accept(')')) {
        break;
      }
      expect(',');
      if (accept(')')) {
        break;
      }
    }
    return shape;
  }

  bool at_end() {
    skip_space();
    return pos_ == text_.size();
  }

 private:
  const std::string& text_;
  const std::string& name_;
  size_t pos_ = 0;
};

NpyDType dtype_from_descr(const std::string& descr, const std::string& name) {
  if (descr.size() == 3) {
    char order = descr[0];
    std::string code = descr.substr(1);
    for (const DTypeInfo& entry : kDTypes) {
      if (code == entry.descr + 1) {
        bool one_byte = entry.size == 1;
        // '|' (no byte order) is what numpy writes for 1-byte types; '<' and
        // '=' (native: this tool runs on little-endian machines) for the rest.
        if (order == '<' || order == '=' ||
            (one_byte && (order == '|' || order == '>'))) {
          return entry.dtype;
        }
        if (order == '>') {
          throw CliError(
              name + ": .npy data is big-endian ('" + descr +
              "'); save it little-endian, e.g. with arr.astype('<" + code +
              "')");
        }
      }
    }
  }
  throw CliError(
      name + ": unsupported .npy dtype '" + descr +
      "' (supported: float16/32/64, int8/16/32/64, uint8, bool)");
}

} // namespace

size_t npy_dtype_size(NpyDType dtype) {
  return info(dtype).size;
}

const char* npy_dtype_name(NpyDType dtype) {
  return info(dtype).name;
}

const char* npy_dtype_descr(NpyDType dtype) {
  return info(dtype).descr;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  if (shape.empty()) {
    return "scalar";
  }
  std::string out;
  for (size_t i = 0; i < shape.size(); ++i) {
    out += (i ? "x" : "") + std::to_string(shape[i]);
  }
  return out;
}

NpyHeader parse_npy_header(
    const uint8_t* bytes,
    size_t size,
    const std::string& name) {
  static const uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (size < 10 || std::memcmp(bytes, kMagic, 6) != 0) {
    throw CliError(
        name + ": not a .npy file (no \\x93NUMPY magic at the start)");
  }
  NpyHeader header;
  header.major_version = bytes[6];
  size_t length = 0;
  size_t prefix = 0;
  if (header.major_version == 1) {
    length = size_t(bytes[8]) | size_t(bytes[9]) << 8;
    prefix = 10;
  } else if (header.major_version == 2 || header.major_version == 3) {
    if (size < 12) {
      throw CliError(name + ": truncated .npy header");
    }
    length = size_t(bytes[8]) | size_t(bytes[9]) << 8 |
        size_t(bytes[10]) << 16 | size_t(bytes[11]) << 24;
    prefix = 12;
  } else {
    throw CliError(
        name + ": unsupported .npy format version " +
        std::to_string(header.major_version) + "." + std::to_string(bytes[7]) +
        " (supported: 1.0, 2.0, 3.0)");
  }
  if (length > size - prefix) {
    throw CliError(
        name + ": truncated .npy file: the header claims " +
        std::to_string(length) + " bytes but only " +
        std::to_string(size - prefix) + " follow");
  }
  if (length > (size_t(1) << 20)) {
    throw CliError(
        name + ": .npy header of " + std::to_string(length) +
        " bytes is too long");
  }
  std::string text(reinterpret_cast<const char*>(bytes + prefix), length);
  if (text.find('\0') != std::string::npos) {
    throw CliError(name + ": malformed .npy header: it contains a NUL byte");
  }

  DictParser parser(text, name);
  bool have_descr = false, have_order = false, have_shape = false;
  std::string descr;
  bool fortran_order = false;
  parser.expect('{');
  while (!parser.accept('}')) {
    std::string key = parser.string_literal();
    parser.expect(':');
    if (key == "descr" && !have_descr) {
      descr = parser.string_literal();
      have_descr = true;
    } else if (key == "fortran_order" && !have_order) {
      fortran_order = parser.bool_literal();
      have_order = true;
    } else if (key == "shape" && !have_shape) {
      header.shape = parser.shape_literal();
      have_shape = true;
    } else {
      throw CliError(
          name + ": malformed .npy header: unexpected or repeated key '" + key +
          "'");
    }
    if (!parser.accept(',')) {
      parser.expect('}');
      break;
    }
  }
  if (!parser.at_end()) {
    parser.fail("the end of the header after '}'");
  }
  if (!have_descr || !have_order || !have_shape) {
    throw CliError(
        name +
        ": malformed .npy header: it needs the keys 'descr', 'fortran_order' and 'shape'");
  }
  header.dtype = dtype_from_descr(descr, name);
  if (fortran_order) {
    throw CliError(
        name +
        ": .npy array is in Fortran order; save it in C order "
        "(numpy.ascontiguousarray) first");
  }

  // Element and byte counts, with overflow checks, before anything is
  // allocated.
  const size_t element = npy_dtype_size(header.dtype);
  const size_t limit = std::numeric_limits<size_t>::max() / 2;
  size_t numel = 1;
  bool overflow = false;
  for (int64_t dim : header.shape) {
    if (dim != 0 && numel > limit / static_cast<size_t>(dim)) {
      overflow = true;
    }
    numel = overflow ? numel : numel * static_cast<size_t>(dim);
  }
  // A zero dimension makes the array empty whatever the others are.
  for (int64_t dim : header.shape) {
    if (dim == 0) {
      numel = 0;
      overflow = false;
    }
  }
  const size_t available = size - prefix - length;
  const std::string what =
      shape_string(header.shape) + " " + npy_dtype_name(header.dtype);
  if (overflow || numel > limit / element) {
    throw CliError(
        name + ": header says " + what +
        ", more elements than can be addressed, but the file holds " +
        std::to_string(available) + " bytes of data");
  }
  header.numel = numel;
  header.data_bytes = numel * element;
  header.data_offset = prefix + length;
  if (header.data_bytes != available) {
    throw CliError(
        name + ": header says " + what + " (" +
        std::to_string(header.data_bytes) + " bytes) but the file holds " +
        std::to_string(available) + " bytes of data" +
        (available < header.data_bytes ? " (truncated?)" : ""));
  }
  return header;
}

std::vector<uint8_t> make_npy_header(
    NpyDType dtype,
    const std::vector<int64_t>& shape) {
  std::string dict = std::string("{'descr': '") + npy_dtype_descr(dtype) +
      "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) {
      throw CliError("cannot write a .npy array with a negative dimension");
    }
    dict += std::to_string(shape[i]);
    dict += (shape.size() == 1 || i + 1 < shape.size()) ? ", " : "";
  }
  if (shape.size() == 1) {
    dict.pop_back(); // "(5, " -> "(5,"
  }
  dict += "), }";
  // Pad with spaces and end with '\n' so that the data starts on a multiple
  // of 64 bytes, as numpy does.
  size_t prefix = 10;
  size_t total = prefix + dict.size() + 1;
  if (((total + 63) / 64) * 64 - prefix > 0xffff) {
    prefix = 12;
    total = prefix + dict.size() + 1;
  }
  size_t padded = ((total + 63) / 64) * 64;
  dict.append(padded - total, ' ');
  dict += '\n';
  std::vector<uint8_t> out = {
      0x93, 'N', 'U', 'M', 'P', 'Y', uint8_t(prefix == 10 ? 1 : 2), 0};
  size_t length = dict.size();
  out.push_back(uint8_t(length & 0xff));
  out.push_back(uint8_t((length >> 8) & 0xff));
  if (prefix == 12) {
    out.push_back(uint8_t((length >> 16) & 0xff));
    out.push_back(uint8_t((length >> 24) & 0xff));
  }
  out.insert(out.end(), dict.begin(), dict.end());
  return out;
}

} // namespace cli
} // namespace guidedbp
