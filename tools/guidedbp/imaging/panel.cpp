#include "imaging/panel.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "cli/cli_error.h"

namespace guidedbp {
namespace cli {

Image enlarge_nearest(const Image& image, int scale) {
  if (scale < 1) {
    throw CliError(
        "enlarge_nearest: scale must be >= 1, got " + std::to_string(scale));
  }
  // 64-bit products: a large image times a large scale overflows int.
  if (int64_t(image.height) * scale > kMaxPanelSide ||
      int64_t(image.width) * scale > kMaxPanelSide) {
    throw CliError(
        "enlarge_nearest: " + std::to_string(image.height) + "x" +
        std::to_string(image.width) + " times " + std::to_string(scale) +
        " is larger than " + std::to_string(kMaxPanelSide) +
        " pixels per side");
  }
  Image out;
  out.height = image.height * scale;
  out.width = image.width * scale;
  out.channels = image.channels;
  out.pixels.resize(size_t(out.height) * out.width * out.channels);
  const size_t pixel = size_t(image.channels);
  for (int y = 0; y < out.height; ++y) {
    const uint8_t* row =
        image.pixels.data() + size_t(y / scale) * image.width * pixel;
    uint8_t* dst = out.pixels.data() + size_t(y) * out.width * pixel;
    for (int x = 0; x < out.width; ++x) {
      std::memcpy(dst + x * pixel, row + (x / scale) * pixel, pixel);
    }
  }
  return out;
}

Image side_by_side(const std::vector<Image>& images, int gap) {
  if (images.empty()) {
    throw CliError("side_by_side: no images");
  }
  if (gap < 0) {
    throw CliError(
        "side_by_side: gap must be >= 0, got " + std::to_string(gap));
  }
  int64_t height = 0;
  int64_t width = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    if (images[i].channels != 3) {
      throw CliError(
          "side_by_side: image " + std::to_string(i) + " must be RGB, got " +
          std::to_string(images[i].channels) + " channel(s)");
    }
    height = std::max<int64_t>(height, images[i].height);
    width += images[i].width + (i ? gap : 0);
  }
  if (height > kMaxPanelSide || width > kMaxPanelSide) {
    throw CliError(
        "side_by_side: a " + std::to_string(height) + "x" +
        std::to_string(width) + " panel is larger than " +
        std::to_string(kMaxPanelSide) + " pixels per side");
  }
  Image panel;
  panel.height = static_cast<int>(height);
  panel.width = static_cast<int>(width);
  panel.channels = 3;
  panel.pixels.assign(size_t(height) * width * 3, 255);
  size_t left = 0;
  for (const Image& image : images) {
    const size_t row_bytes = size_t(image.width) * 3;
    for (int y = 0; y < image.height; ++y) {
      std::memcpy(
          panel.pixels.data() + (size_t(y) * width + left) * 3,
          image.pixels.data() + size_t(y) * row_bytes,
          row_bytes);
    }
    left += size_t(image.width) + gap;
  }
  return panel;
}

} // namespace cli
} // namespace guidedbp
