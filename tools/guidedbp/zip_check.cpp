#include "zip_check.h"

#include <zlib.h>

#include "cli_error.h"

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
    const size_t name_size = u16(data + at + 28);
    const size_t skip = name_size + u16(data + at + 30) + u16(data + at + 32);
    const uint32_t local = u32(data + at + 42);
    if (at + kCentralEntrySize + name_size > end) {
      fail(path, "a damaged zip archive: its directory is corrupt");
    }
    const std::string name(
        reinterpret_cast<const char*>(data + at + kCentralEntrySize),
        name_size);
    at += kCentralEntrySize + skip;
    if (method != 0 || stored_size == 0xffffffff || local == 0xffffffff) {
      continue; // compressed or ZIP64: left to LibTorch
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
    const uLong actual = crc32(
        crc32(0L, Z_NULL, 0), data + begin, static_cast<uInt>(stored_size));
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
