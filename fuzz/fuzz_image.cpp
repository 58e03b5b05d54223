// libFuzzer target: image decoding (PNG through libpng's simplified API,
// JPEG through libjpeg with its longjmp error handler), dispatched by
// signature exactly as the CLI does.
//
// Invariants checked beyond "no crash, no sanitizer report":
// - only CliError (or std::bad_alloc) escapes;
// - a decoded image has 1 or 3 channels, a size within the limits and
//   exactly height * width * channels bytes of pixels;
// - small decoded images survive encode_png -> decode_image unchanged.
//
// NOTE: libpng and libjpeg are the system's (not instrumented): ASan checks
// every access our code makes and the buffers we hand them (heap redzones),
// not their internal reads.

#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

#include "cli/cli_error.h"
#include "io/image_io.h"

using guidedbp::cli::CliError;
using guidedbp::cli::Image;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  Image image;
  try {
    image = guidedbp::cli::decode_image(bytes.data(), bytes.size(), "fuzz.img");
  } catch (const CliError&) {
    return 0;
  } catch (const std::bad_alloc&) {
    return 0;
  }
  if ((image.channels != 1 && image.channels != 3) || image.width <= 0 ||
      image.height <= 0 || image.width > guidedbp::cli::kMaxImageSide ||
      image.height > guidedbp::cli::kMaxImageSide ||
      uint64_t(image.width) * uint64_t(image.height) >
          guidedbp::cli::kMaxImagePixels ||
      image.pixels.size() !=
          size_t(image.width) * size_t(image.height) * size_t(image.channels)) {
    std::abort();
  }
  // Round trip (bounded, so large images do not slow the search down).
  if (size_t(image.width) * size_t(image.height) <= 4096) {
    Image again;
    try {
      std::vector<uint8_t> png = guidedbp::cli::encode_png(image);
      again =
          guidedbp::cli::decode_image(png.data(), png.size(), "reencoded.png");
    } catch (const CliError&) {
      std::abort();
    }
    if (again.width != image.width || again.height != image.height ||
        again.channels != image.channels || again.pixels != image.pixels) {
      std::abort();
    }
  }
  return 0;
}
