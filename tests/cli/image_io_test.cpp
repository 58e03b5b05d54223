// Unit tests of PNG/JPEG decoding and PNG encoding (torch-free).

#include "image_io.h"

#include <gtest/gtest.h>

#include "cli_error.h"

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
