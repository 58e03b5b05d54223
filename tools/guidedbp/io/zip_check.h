#pragma once

// A TorchScript file is a zip archive. LibTorch 1.13's reader checks each
// entry's CRC-32; 2.x's does not, so a file damaged inside a weight tensor
// loads "fine" and explains with garbage weights. The CLI checks first.

#include <cstddef>
#include <cstdint>
#include <string>

namespace guidedbp {
namespace cli {

/// Throws CliError naming `path` when `data` is not a complete zip archive
/// (no end record: truncated) or when an entry's bytes (stored, or deflated
/// and then inflated) do not match its CRC-32. ZIP64 archives (over 4 GiB)
/// are left to LibTorch's own reader.
void check_zip_archive(
    const uint8_t* data,
    size_t size,
    const std::string& path);

} // namespace cli
} // namespace guidedbp
