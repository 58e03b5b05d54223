// Unit tests of the .npy header reader/writer (torch-free).

#include "io/npy_format.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/cli_error.h"

using guidedbp::cli::CliError;
using guidedbp::cli::make_npy_header;
using guidedbp::cli::NpyDType;
using guidedbp::cli::parse_npy_header;

namespace {

std::vector<uint8_t> file_with(
    const std::string& dict,
    size_t data_bytes,
    int version = 1) {
  std::vector<uint8_t> out = {
      0x93, 'N', 'U', 'M', 'P', 'Y', uint8_t(version), 0};
  size_t length = dict.size();
  out.push_back(uint8_t(length & 0xff));
  out.push_back(uint8_t(length >> 8));
  if (version >= 2) {
    out.push_back(0);
    out.push_back(0);
  }
  out.insert(out.end(), dict.begin(), dict.end());
  out.resize(out.size() + data_bytes, 0);
  return out;
}

std::string message_of(const std::vector<uint8_t>& bytes) {
  try {
    parse_npy_header(bytes.data(), bytes.size(), "IN.npy");
  } catch (const CliError& e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST(NpyFormatTest, ParsesNumpyHeader) {
  auto bytes = file_with(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 28, 28), }          \n",
      9408);
  auto header = parse_npy_header(bytes.data(), bytes.size(), "IN.npy");
  EXPECT_EQ(header.dtype, NpyDType::kFloat32);
  EXPECT_EQ(header.shape, (std::vector<int64_t>{1, 3, 28, 28}));
  EXPECT_EQ(header.data_bytes, 9408u);
  EXPECT_EQ(header.data_offset, bytes.size() - 9408);
}

TEST(NpyFormatTest, ParsesKeysInAnyOrderAndVersions2And3) {
  for (int version : {2, 3}) {
    auto bytes = file_with(
        "{\"shape\": (5,), \"fortran_order\": False, \"descr\": \"<f8\"}",
        40,
        version);
    auto header = parse_npy_header(bytes.data(), bytes.size(), "IN.npy");
    EXPECT_EQ(header.dtype, NpyDType::kFloat64);
    EXPECT_EQ(header.shape, (std::vector<int64_t>{5}));
    EXPECT_EQ(header.major_version, version);
  }
}

TEST(NpyFormatTest, ParsesScalarAndEmptyArrays) {
  auto scalar =
      file_with("{'descr': '<i8', 'fortran_order': False, 'shape': ()}", 8);
  EXPECT_TRUE(
      parse_npy_header(scalar.data(), scalar.size(), "x").shape.empty());
  auto empty = file_with(
      "{'descr': '|u1', 'fortran_order': False, 'shape': (0, 99999999999)}", 0);
  EXPECT_EQ(parse_npy_header(empty.data(), empty.size(), "x").data_bytes, 0u);
}

TEST(NpyFormatTest, RejectsTruncatedDataWithSizes) {
  auto bytes = file_with(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 28, 28), }",
      100);
  EXPECT_NE(
      message_of(bytes).find(
          "IN.npy: header says 1x3x28x28 float32 (9408 bytes) but the file holds 100 bytes of data"),
      std::string::npos)
      << message_of(bytes);
}

TEST(NpyFormatTest, RejectsFortranOrderBigEndianAndUnknownTypes) {
  EXPECT_NE(
      message_of(
          file_with(
              "{'descr': '<f4', 'fortran_order': True, 'shape': (2,)}", 8))
          .find("Fortran order"),
      std::string::npos);
  EXPECT_NE(
      message_of(
          file_with(
              "{'descr': '>f4', 'fortran_order': False, 'shape': (2,)}", 8))
          .find("big-endian"),
      std::string::npos);
  EXPECT_NE(
      message_of(
          file_with(
              "{'descr': '<c8', 'fortran_order': False, 'shape': (2,)}", 16))
          .find("unsupported .npy dtype"),
      std::string::npos);
}

TEST(NpyFormatTest, RejectsOverflowingShapeBeforeAllocating) {
  auto bytes = file_with(
      "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16)}",
      8);
  EXPECT_NE(
      message_of(bytes).find("more elements than can be addressed"),
      std::string::npos)
      << message_of(bytes);
  auto huge = file_with(
      "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,)}",
      8);
  EXPECT_NE(message_of(huge).find("64 bits"), std::string::npos)
      << message_of(huge);
}

TEST(NpyFormatTest, RejectsMalformedHeaders) {
  for (const char* dict :
       {"",
        "{",
        "{'descr': '<f4'}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,,)}",
        "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} trailing"}) {
    EXPECT_NE(message_of(file_with(dict, 4)), "") << dict;
  }
  std::vector<uint8_t> short_file = {0x93, 'N', 'U'};
  EXPECT_NE(message_of(short_file).find("not a .npy file"), std::string::npos);
  auto long_header = file_with("{}", 0);
  long_header[8] = 0xff; // header length past the end of the file
  EXPECT_NE(message_of(long_header).find("truncated"), std::string::npos);
}

TEST(NpyFormatTest, WritesHeadersItReadsBack) {
  for (auto shape : {std::vector<int64_t>{}, {7}, {2, 3, 4}}) {
    auto header = make_npy_header(NpyDType::kFloat64, shape);
    EXPECT_EQ(header.size() % 64, 0u);
    EXPECT_EQ(header.back(), '\n');
    size_t numel = 1;
    for (auto d : shape)
      numel *= d;
    header.resize(header.size() + numel * 8);
    auto parsed = parse_npy_header(header.data(), header.size(), "x");
    EXPECT_EQ(parsed.shape, shape);
    EXPECT_EQ(parsed.dtype, NpyDType::kFloat64);
  }
}
