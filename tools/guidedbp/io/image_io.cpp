#include "io/image_io.h"

#include <png.h>

#include "cli/cli_error.h"
// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>

#include <algorithm>
#include <climits>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>

namespace guidedbp {
namespace cli {
namespace {

void check_size(uint64_t width, uint64_t height, const std::string& name) {
  if (width == 0 || height == 0 || width > kMaxImageSide ||
      height > kMaxImageSide || width * height > kMaxImagePixels) {
    throw CliError(
        name + ": image of " + std::to_string(width) + "x" +
        std::to_string(height) + " pixels is empty or larger than the limit (" +
        std::to_string(kMaxImageSide) + " per side, " +
        std::to_string(kMaxImagePixels) + " pixels)");
  }
}

// --- JPEG: libjpeg reports errors through error_exit, which must not return;
// it longjmps back to decode_jpeg_raw. Everything with a destructor lives in
// the caller, outside the setjmp frame.
struct JpegError {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

extern "C" void jpeg_error_exit(j_common_ptr info) {
  JpegError* error = reinterpret_cast<JpegError*>(info->err);
  (*info->err->format_message)(info, error->message);
  std::longjmp(error->jump, 1);
}

extern "C" void jpeg_quiet(j_common_ptr, int) {}
extern "C" void jpeg_quiet_output(j_common_ptr) {}

struct JpegState {
  jpeg_decompress_struct info;
  JpegError error;
  bool created = false;
};

// Returns 0 on success, 1 on a libjpeg error (message in state.error),
// 2 for CMYK/unknown colour spaces, 3 for a size past the limits.
int decode_jpeg_raw(
    JpegState& state,
    const uint8_t* bytes,
    size_t size,
    std::vector<uint8_t>* pixels,
    int* width,
    int* height,
    int* channels) {
  state.info.err = jpeg_std_error(&state.error.manager);
  state.error.manager.error_exit = jpeg_error_exit;
  state.error.manager.emit_message = jpeg_quiet;
  state.error.manager.output_message = jpeg_quiet_output;
  state.error.message[0] = '\0';
  if (setjmp(state.error.jump)) {
    return 1;
  }
  jpeg_create_decompress(&state.info);
  state.created = true;
  jpeg_mem_src(&state.info, bytes, static_cast<unsigned long>(size));
  jpeg_read_header(&state.info, TRUE);
  // Check the size the header claims before jpeg_start_decompress allocates
  // for it: a 302-byte file claiming 63761 x 32777 pixels cost 1 GB (fuzzing).
  *width =
      static_cast<int>(std::min<JDIMENSION>(state.info.image_width, INT32_MAX));
  *height = static_cast<int>(
      std::min<JDIMENSION>(state.info.image_height, INT32_MAX));
  *channels = state.info.num_components;
  if (state.info.image_width == 0 || state.info.image_height == 0 ||
      state.info.image_width > kMaxImageSide ||
      state.info.image_height > kMaxImageSide ||
      uint64_t(state.info.image_width) * state.info.image_height >
          kMaxImagePixels) {
    return 3;
  }
  J_COLOR_SPACE space = state.info.jpeg_color_space;
  if (space == JCS_CMYK || space == JCS_YCCK) {
    return 2;
  }
  state.info.out_color_space =
      state.info.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&state.info);
  *width = static_cast<int>(state.info.output_width);
  *height = static_cast<int>(state.info.output_height);
  *channels = state.info.output_components;
  if (state.info.output_width == 0 || state.info.output_height == 0 ||
      state.info.output_width > kMaxImageSide ||
      state.info.output_height > kMaxImageSide ||
      uint64_t(state.info.output_width) * state.info.output_height >
          kMaxImagePixels ||
      (*channels != 1 && *channels != 3)) {
    return 3;
  }
  // The caller reserved nothing yet; resizing a vector owned by the caller is
  // safe here (a bad_alloc is thrown before libjpeg is re-entered).
  pixels->resize(size_t(*width) * size_t(*height) * size_t(*channels));
  const size_t stride = size_t(*width) * size_t(*channels);
  while (state.info.output_scanline < state.info.output_height) {
    JSAMPROW row = pixels->data() + size_t(state.info.output_scanline) * stride;
    jpeg_read_scanlines(&state.info, &row, 1);
  }
  jpeg_finish_decompress(&state.info);
  return 0;
}

} // namespace

Image decode_jpeg(const uint8_t* bytes, size_t size, const std::string& name) {
  Image image;
  auto state = std::make_unique<JpegState>();
  int result = decode_jpeg_raw(
      *state,
      bytes,
      size,
      &image.pixels,
      &image.width,
      &image.height,
      &image.channels);
  if (state->created) {
    jpeg_destroy_decompress(&state->info);
  }
  if (result == 1) {
    throw CliError(name + ": corrupt JPEG: " + state->error.message);
  }
  if (result == 2) {
    throw CliError(name + ": CMYK JPEGs are not supported; convert it to RGB");
  }
  if (result == 3) {
    check_size(uint64_t(image.width), uint64_t(image.height), name);
    throw CliError(
        name + ": JPEG with " + std::to_string(image.channels) +
        " channels is not supported");
  }
  return image;
}

Image decode_png(const uint8_t* bytes, size_t size, const std::string& name) {
  // libpng's simplified API: it does its own setjmp/longjmp internally and
  // reports every error through the return value and image.message.
  png_image png;
  std::memset(&png, 0, sizeof(png));
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, bytes, size)) {
    std::string message = png.message;
    png_image_free(&png);
    throw CliError(name + ": corrupt PNG: " + message);
  }
  try {
    check_size(png.width, png.height, name);
  } catch (...) {
    png_image_free(&png);
    throw;
  }
  const bool color = (png.format & PNG_FORMAT_FLAG_COLOR) != 0;
  const bool alpha = (png.format & PNG_FORMAT_FLAG_ALPHA) != 0;
  png.format = color ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  Image image;
  image.width = static_cast<int>(png.width);
  image.height = static_cast<int>(png.height);
  image.channels = color ? 3 : 1;
  image.had_alpha = alpha;
  try {
    image.pixels.resize(PNG_IMAGE_SIZE(png));
  } catch (...) {
    png_image_free(&png);
    throw;
  }
  // Transparent pixels are composited over white.
  png_color background = {255, 255, 255};
  if (!png_image_finish_read(
          &png, &background, image.pixels.data(), 0, nullptr)) {
    std::string message = png.message;
    png_image_free(&png);
    throw CliError(name + ": corrupt PNG: " + message);
  }
  png_image_free(&png);
  return image;
}

Image decode_image(const uint8_t* bytes, size_t size, const std::string& name) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size >= 8 && std::memcmp(bytes, kPng, 8) == 0) {
    return decode_png(bytes, size, name);
  }
  if (size >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff) {
    return decode_jpeg(bytes, size, name);
  }
  throw CliError(name + ": not a PNG or JPEG image (unknown signature)");
}

std::vector<uint8_t> encode_png(const Image& image) {
  if (image.channels != 1 && image.channels != 3) {
    throw CliError(
        "encode_png: expected 1 or 3 channels, got " +
        std::to_string(image.channels));
  }
  check_size(uint64_t(image.width), uint64_t(image.height), "encode_png");
  if (image.pixels.size() !=
      size_t(image.width) * size_t(image.height) * size_t(image.channels)) {
    throw CliError(
        "encode_png: pixel buffer size does not match the image size");
  }
  png_image png;
  std::memset(&png, 0, sizeof(png));
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(image.width);
  png.height = static_cast<png_uint_32>(image.height);
  png.format = image.channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(
          &png, nullptr, &size, 0, image.pixels.data(), 0, nullptr)) {
    std::string message = png.message;
    png_image_free(&png);
    throw CliError("cannot encode PNG: " + message);
  }
  std::vector<uint8_t> out(size);
  if (!png_image_write_to_memory(
          &png, out.data(), &size, 0, image.pixels.data(), 0, nullptr)) {
    std::string message = png.message;
    png_image_free(&png);
    throw CliError("cannot encode PNG: " + message);
  }
  out.resize(size);
  png_image_free(&png);
  return out;
}

} // namespace cli
} // namespace guidedbp
