#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace guidedbp {
namespace cli {

/// The element types of a `.npy` file the CLI reads (all) and writes
/// (float16/32/64 and the integer/bool types, for `--save-raw` and outputs).
enum class NpyDType {
  kFloat16, ///< `<f2`
  kFloat32, ///< `<f4`
  kFloat64, ///< `<f8`
  kInt8,    ///< `|i1`
  kInt16,   ///< `<i2`
  kInt32,   ///< `<i4`
  kInt64,   ///< `<i8`
  kUInt8,   ///< `|u1`
  kBool,    ///< `|b1`
};

/// Bytes per element of `dtype`.
size_t npy_dtype_size(NpyDType dtype);
/// numpy's name of `dtype`: "float32", "int64", ...
const char* npy_dtype_name(NpyDType dtype);
/// The `descr` string numpy writes for `dtype`: "<f4", "|u1", ...
const char* npy_dtype_descr(NpyDType dtype);

/// What a `.npy` header says, checked against the file it came from.
struct NpyHeader {
  int major_version = 1; ///< 1, 2 or 3.
  NpyDType dtype = NpyDType::kFloat32;
  std::vector<int64_t> shape; ///< Empty for a 0-d array.
  size_t data_offset = 0;     ///< Where the data starts in the file.
  size_t data_bytes = 0;      ///< Element count times element size.
  size_t numel = 0;
};

/// Largest number of dimensions accepted (numpy's own limit is 32).
constexpr size_t kNpyMaxDims = 32;

/// Parses and validates the header of the `.npy` file `bytes[0, size)`: magic,
/// version 1.0/2.0/3.0, the header dict (`descr`, `fortran_order`, `shape`,
/// in any order), a little-endian or byte-order-free dtype, C order, a shape
/// whose element count and byte count do not overflow, and a data length
/// that matches the rest of the file exactly. `name` prefixes the messages,
/// e.g. "IN.npy: header says 1x3x28x28 float32 (9408 bytes) but the file
/// holds 100 bytes of data". Throws CliError; never reads past `size`.
NpyHeader parse_npy_header(
    const uint8_t* bytes,
    size_t size,
    const std::string& name);

/// A version 1.0 `.npy` header (magic through the padded dict and newline,
/// 64-byte aligned; version 2.0 if the dict needs it) for a C-order array of
/// `dtype` and `shape`. Throws CliError for a negative dimension.
std::vector<uint8_t> make_npy_header(
    NpyDType dtype,
    const std::vector<int64_t>& shape);

/// "1x3x28x28" ("scalar" for an empty shape).
std::string shape_string(const std::vector<int64_t>& shape);

} // namespace cli
} // namespace guidedbp
