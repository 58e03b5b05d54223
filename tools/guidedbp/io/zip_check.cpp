#include "io/zip_check.h"

#include <zlib.h>

#include "cli/cli_error.h"

namespace guidedbp {
namespace cli {
namespace {

constexpr uint32_t kEndRecord = 0x06054b50;
constexpr uint32_t kCentralEntry = 0x02014b50;
constexpr uint32_t kLocalEntry = 0x04034b50;
constexpr size_t kEndRecordSize = 22;
constexpr size_t kCentralEntrySize = 46;
constexpr size_t kLocalEntrySize = 30;

uint32_t u16(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8;
}
uint32_t u32(const uint8_t* p) {
  return u16(p) | u16(p + 2) << 16;
}

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw CliError(
      path + ": not a TorchScript model (" + why +
      "); save one with torch.jit.script(model).save(path)");
}

// The CRC-32 of a deflated entry's inflated bytes, or false when the bytes
// do not inflate to exactly `expected_size`.
bool inflated_crc(
    const uint8_t* data,
    uint32_t size,
    uint32_t expected_size,
    uLong& crc) {
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) { // raw deflate, as in zip
    return false;
  }
  stream.next_in = const_cast<Bytef*>(data);
  stream.avail_in = size;
  crc = crc32(0L, Z_NULL, 0);
  unsigned char chunk[16384];
  int status = Z_OK;
  while (status == Z_OK) {
    stream.next_out = chunk;
    stream.avail_out = sizeof(chunk);
    status = inflate(&stream, Z_NO_FLUSH);
    crc =
        crc32(crc, chunk, static_cast<uInt>(sizeof(chunk) - stream.avail_out));
    if (status == Z_BUF_ERROR && stream.avail_in == 0) {
      break; // input ended before the stream did
    }
  }
  const bool complete =
      status == Z_STREAM_END && stream.total_out == expected_size;
  inflateEnd(&stream);
  return complete;
}

} // namespace

void check_zip_archive(
    const uint8_t* data,
    size_t size,
    const std::string& path) {
  // The end record is the last 22 bytes plus a comment of up to 64 KiB.
  size_t end = SIZE_MAX;
  if (size >= kEndRecordSize) {
    const size_t lowest = size - kEndRecordSize > 0xffff + 0u
        ? size - kEndRecordSize - 0xffff
        : 0;
    for (size_t at = size - kEndRecordSize + 1; at-- > lowest;) {
      if (u32(data + at) == kEndRecord) {
        end = at;
        break;
      }
    }
  }
  if (end == SIZE_MAX) {
    fail(
        path,
        "not a complete zip archive: its end record is missing, "
        "the file may be truncated");
  }
  const uint32_t entries = u16(data + end + 10);
  const uint32_t directory_size = u32(data + end + 12);
  const uint32_t directory = u32(data + end + 16);
  if (entries == 0xffff || directory == 0xffffffff) {
    return; // ZIP64: LibTorch's reader checks those itself
  }
  if (static_cast<uint64_t>(directory) + directory_size > end) {
    fail(path, "a damaged zip archive: its directory lies outside the file");
  }
  size_t at = directory;
  for (uint32_t i = 0; i < entries; ++i) {
    if (at + kCentralEntrySize > end || u32(data + at) != kCentralEntry) {
      fail(path, "a damaged zip archive: its directory is corrupt");
    }
    const uint32_t method = u16(data + at + 10);
    const uint32_t crc = u32(data + at + 16);
    const uint32_t stored_size = u32(data + at + 20);
    const uint32_t inflated_size = u32(data + at + 24);
    const size_t name_size = u16(data + at + 28);
    const size_t skip = name_size + u16(data + at + 30) + u16(data + at + 32);
    const uint32_t local = u32(data + at + 42);
    if (at + kCentralEntrySize + name_size > end) {
      fail(path, "a damaged zip archive: its directory is corrupt");
    }
    // The entry's name as messages quote it: the archive's bytes are
    // untrusted, so non-printable ones become '?' and long names are cut
    // (found by fuzz_zip_check: a name with control bytes and a newline
    // broke the one-line message).
    std::string name;
    for (size_t i = 0; i < name_size && i < 80; ++i) {
      const uint8_t c = data[at + kCentralEntrySize + i];
      name += (c >= 32 && c < 127) ? static_cast<char>(c) : '?';
    }
    if (name_size > 80) {
      name += "...";
    }
    at += kCentralEntrySize + skip;
    if ((method != 0 && method != 8) || stored_size == 0xffffffff ||
        inflated_size == 0xffffffff || local == 0xffffffff) {
      continue; // other compression or ZIP64: left to LibTorch
    }
    if (static_cast<uint64_t>(local) + kLocalEntrySize > size ||
        u32(data + local) != kLocalEntry) {
      fail(path, "a damaged zip archive: entry " + name + " is missing");
    }
    const uint64_t begin = static_cast<uint64_t>(local) + kLocalEntrySize +
        u16(data + local + 26) + u16(data + local + 28);
    if (begin + stored_size > size) {
      fail(path, "a damaged zip archive: entry " + name + " is cut short");
    }
    // zlib's crc32 takes at most 4 GiB at a time; stored_size fits.
    uLong actual = 0;
    if (method == 0) {
      actual = crc32(
          crc32(0L, Z_NULL, 0), data + begin, static_cast<uInt>(stored_size));
    } else if (!inflated_crc(
                   data + begin, stored_size, inflated_size, actual)) {
      fail(path, "a damaged zip archive: entry " + name + " does not inflate");
    }
    if (actual != crc) {
      fail(
          path,
          "a damaged zip archive: the bytes of entry " + name +
              " do not match its CRC-32");
    }
  }
}

} // namespace cli
} // namespace guidedbp
