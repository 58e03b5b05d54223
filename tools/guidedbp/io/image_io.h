#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace guidedbp {
namespace cli {

/// An 8-bit image, rows top to bottom, channels interleaved (HWC).
struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;            ///< 1 (gray) or 3 (RGB).
  std::vector<uint8_t> pixels; ///< height * width * channels bytes.
  /// The file had transparency (a PNG alpha channel or tRNS chunk), which
  /// decoding composited over white: `channels` never counts it.
  bool had_alpha = false;
};

/// Largest width or height accepted when decoding.
constexpr int kMaxImageSide = 16384;
/// Largest pixel count accepted when decoding (64 megapixels).
constexpr uint64_t kMaxImagePixels = uint64_t(1) << 26;

/// Decodes a PNG or JPEG (told apart by their signatures) from memory.
/// Gray images stay 1 channel, colour images become RGB: palettes are
/// expanded, 16-bit samples reduced to 8 bits, and an alpha channel is
/// composited over white. `name` prefixes the messages. Throws CliError for a
/// corrupt or truncated file, an unknown format, or a size past the limits;
/// never aborts.
Image decode_image(const uint8_t* bytes, size_t size, const std::string& name);
/// PNG only (see `decode_image`).
Image decode_png(const uint8_t* bytes, size_t size, const std::string& name);
/// JPEG only (see `decode_image`); CMYK JPEGs are rejected.
Image decode_jpeg(const uint8_t* bytes, size_t size, const std::string& name);

/// Encodes an 8-bit RGB (3 channels) or gray (1 channel) image as PNG.
/// Throws CliError on bad sizes.
std::vector<uint8_t> encode_png(const Image& image);

} // namespace cli
} // namespace guidedbp
