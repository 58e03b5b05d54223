// Unit tests of explain's layout: enlarged maps and side-by-side panels.

#include "imaging/panel.h"

#include <gtest/gtest.h>

#include "cli/cli_error.h"

using guidedbp::cli::CliError;
using guidedbp::cli::enlarge_nearest;
using guidedbp::cli::Image;
using guidedbp::cli::side_by_side;

namespace {

// A 2 x 2 RGB image whose bytes are 0..11.
Image two_by_two() {
  Image image;
  image.width = 2;
  image.height = 2;
  image.channels = 3;
  for (int i = 0; i < 12; ++i) {
    image.pixels.push_back(static_cast<uint8_t>(i));
  }
  return image;
}

std::vector<uint8_t> pixel(const Image& image, int y, int x) {
  auto at = image.pixels.begin() + (size_t(y) * image.width + x) * 3;
  return std::vector<uint8_t>(at, at + 3);
}

} // namespace

TEST(PanelTest, EnlargeRepeatsEachPixelIntoABlock) {
  Image rgb = two_by_two();
  Image big = enlarge_nearest(rgb, 3);
  EXPECT_EQ(big.height, 6);
  EXPECT_EQ(big.width, 6);
  EXPECT_EQ(big.channels, 3);
  EXPECT_EQ(pixel(big, 5, 5), pixel(rgb, 1, 1));
  EXPECT_EQ(pixel(big, 2, 3), pixel(rgb, 0, 1));
  EXPECT_EQ(pixel(big, 3, 2), (std::vector<uint8_t>{6, 7, 8}));
  EXPECT_THROW(enlarge_nearest(rgb, 0), CliError);
  EXPECT_THROW(enlarge_nearest(rgb, 40000), CliError);
}

TEST(PanelTest, SideBySideSeparatesByWhiteAndPadsTheBottom) {
  Image rgb = two_by_two();
  Image big = enlarge_nearest(rgb, 3);
  Image panel = side_by_side({rgb, big}, /*gap=*/2);
  EXPECT_EQ(panel.height, 6);
  EXPECT_EQ(panel.width, 2 + 2 + 6);
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 2; ++x) {
      EXPECT_EQ(pixel(panel, y, x), pixel(rgb, y, x));
    }
  }
  const std::vector<uint8_t> white = {255, 255, 255};
  for (int y = 2; y < 6; ++y) {
    for (int x = 0; x < 4; ++x) {
      EXPECT_EQ(pixel(panel, y, x), white) << y << "," << x;
    }
  }
  EXPECT_EQ(pixel(panel, 5, 9), pixel(rgb, 1, 1));
  EXPECT_THROW(side_by_side({}), CliError);
  Image gray;
  gray.width = gray.height = gray.channels = 1;
  gray.pixels = {0};
  EXPECT_THROW(side_by_side({rgb, gray}), CliError);
}
