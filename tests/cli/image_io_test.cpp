// Unit tests of PNG/JPEG decoding and PNG encoding (torch-free).

#include "io/image_io.h"

#include <gtest/gtest.h>
#include <png.h>

#include <cstring>

#include "cli/cli_error.h"

using guidedbp::cli::CliError;
using guidedbp::cli::decode_image;
using guidedbp::cli::encode_png;
using guidedbp::cli::Image;

TEST(ImageIoTest, PngRoundTrip) {
  for (int channels : {1, 3}) {
    Image image;
    image.width = 5;
    image.height = 3;
    image.channels = channels;
    for (int i = 0; i < 5 * 3 * channels; ++i) {
      image.pixels.push_back(static_cast<uint8_t>(i * 17));
    }
    std::vector<uint8_t> png = encode_png(image);
    Image back = decode_image(png.data(), png.size(), "x.png");
    EXPECT_EQ(back.width, 5);
    EXPECT_EQ(back.height, 3);
    EXPECT_EQ(back.channels, channels);
    EXPECT_EQ(back.pixels, image.pixels);
  }
}

TEST(ImageIoTest, CorruptFilesGiveErrorsNotCrashes) {
  Image image;
  image.width = 8;
  image.height = 8;
  image.channels = 3;
  image.pixels.assign(8 * 8 * 3, 128);
  std::vector<uint8_t> png = encode_png(image);
  for (size_t cut : {size_t(8), size_t(20), png.size() / 2}) {
    std::vector<uint8_t> part(png.begin(), png.begin() + cut);
    EXPECT_THROW(decode_image(part.data(), part.size(), "x.png"), CliError)
        << cut;
  }
  std::vector<uint8_t> jpeg = {
      0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0};
  EXPECT_THROW(decode_image(jpeg.data(), jpeg.size(), "x.jpg"), CliError);
  std::vector<uint8_t> text = {'h', 'e', 'l', 'l', 'o'};
  try {
    decode_image(text.data(), text.size(), "x.txt");
    FAIL();
  } catch (const CliError& e) {
    EXPECT_NE(
        std::string(e.what()).find("not a PNG or JPEG"), std::string::npos);
  }
}

// RGBA and gray+alpha PNGs (written with libpng here) decode to 3 and 1
// channels composited over white, and say they had transparency. Only fully
// opaque and fully transparent pixels: libpng composites the others in
// linear light.
TEST(ImageIoTest, AlphaIsCompositedOverWhiteAndReported) {
  for (bool color : {true, false}) {
    const int channels = color ? 3 : 1;
    const std::vector<uint8_t> rgba = color
        ? std::vector<uint8_t>{10, 20, 30, 255, 40, 50, 60, 0}
        : std::vector<uint8_t>{10, 255, 40, 0};
    png_image png;
    std::memset(&png, 0, sizeof(png));
    png.version = PNG_IMAGE_VERSION;
    png.width = 2;
    png.height = 1;
    png.format = color ? PNG_FORMAT_RGBA : PNG_FORMAT_GA;
    png_alloc_size_t size = 0;
    ASSERT_TRUE(png_image_write_to_memory(
        &png, nullptr, &size, 0, rgba.data(), 0, nullptr));
    std::vector<uint8_t> bytes(size);
    ASSERT_TRUE(png_image_write_to_memory(
        &png, bytes.data(), &size, 0, rgba.data(), 0, nullptr));
    Image image = decode_image(bytes.data(), size, "a.png");
    EXPECT_EQ(image.channels, channels);
    EXPECT_TRUE(image.had_alpha);
    const std::vector<uint8_t> expected = color
        ? std::vector<uint8_t>{10, 20, 30, 255, 255, 255}
        : std::vector<uint8_t>{10, 255};
    EXPECT_EQ(image.pixels, expected);
  }
  Image opaque;
  opaque.width = 1;
  opaque.height = 1;
  opaque.channels = 3;
  opaque.pixels = {1, 2, 3};
  std::vector<uint8_t> png = encode_png(opaque);
  EXPECT_FALSE(decode_image(png.data(), png.size(), "o.png").had_alpha);
}
