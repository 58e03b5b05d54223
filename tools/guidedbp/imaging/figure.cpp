#include "imaging/figure.h"

#include <guidedbp/visualization.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "imaging/panel.h"
#include "imaging/preprocess.h"
#include "io/image_io.h"

namespace guidedbp {
namespace cli {
namespace {

struct Rgb {
  uint8_t r, g, b;
};

const Rgb kBlack{0, 0, 0};
const Rgb kGray{200, 200, 200};
// matplotlib's first three tab10 colours.
const Rgb kSeries[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}};

Image blank(int width, int height) {
  Image image;
  image.width = width;
  image.height = height;
  image.channels = 3;
  image.pixels.assign(static_cast<size_t>(width) * height * 3, 255);
  return image;
}

void put(Image& image, int x, int y, Rgb c) {
  if (x < 0 || y < 0 || x >= image.width || y >= image.height) {
    return;
  }
  uint8_t* p = &image.pixels[(static_cast<size_t>(y) * image.width + x) * 3];
  p[0] = c.r;
  p[1] = c.g;
  p[2] = c.b;
}

void fill(Image& image, int x0, int y0, int w, int h, Rgb c) {
  for (int y = y0; y < y0 + h; ++y) {
    for (int x = x0; x < x0 + w; ++x) {
      put(image, x, y, c);
    }
  }
}

// A line `width` pixels thick (a square pen stepped along it).
void line(Image& image, int x0, int y0, int x1, int y1, Rgb c, int width) {
  const int steps = std::max(std::abs(x1 - x0), std::abs(y1 - y0));
  for (int s = 0; s <= steps; ++s) {
    const double t = steps == 0 ? 0.0 : static_cast<double>(s) / steps;
    const int x = static_cast<int>(std::lround(x0 + t * (x1 - x0)));
    const int y = static_cast<int>(std::lround(y0 + t * (y1 - y0)));
    fill(image, x - width / 2, y - width / 2, width, width, c);
  }
}

// A 3 x 5 pixel font, rows top to bottom, '#' set; unknown characters are
// drawn as '?'.
const std::map<char, const char*>& glyphs() {
  static const std::map<char, const char*> font = {
      {'a', ".#.#.#####.##.#"}, {'b', "##.#.###.#.###."},
      {'c', ".###..#..#...##"}, {'d', "##.#.##.##.###."},
      {'e', "####..##.#..###"}, {'f', "####..##.#..#.."},
      {'g', ".###..#.##.#.##"}, {'h', "#.##.#####.##.#"},
      {'i', "###.#..#..#.###"}, {'j', "..#..#..##.#.#."},
      {'k', "#.##.###.#.##.#"}, {'l', "#..#..#..#..###"},
      {'m', "#.########.##.#"}, {'n', "##.#.##.##.##.#"},
      {'o', ".#.#.##.##.#.#."}, {'p', "##.#.###.#..#.."},
      {'q', ".#.#.##.###..##"}, {'r', "##.#.###.#.##.#"},
      {'s', ".###...#...###."}, {'t', "###.#..#..#..#."},
      {'u', "#.##.##.##.####"}, {'v', "#.##.##.##.#.#."},
      {'w', "#.##.########.#"}, {'x', "#.##.#.#.#.##.#"},
      {'y', "#.##.#.#..#..#."}, {'z', "###..#.#.#..###"},
      {'0', "####.##.##.####"}, {'1', ".#.##..#..#.###"},
      {'2', "##...#.#.#..###"}, {'3', "##...#.#...###."},
      {'4', "#.##.####..#..#"}, {'5', "####..##...###."},
      {'6', ".###..####.####"}, {'7', "###..#.#..#..#."},
      {'8', "####.#####.####"}, {'9', "####.####..###."},
      {'.', ".............#."}, {'_', "............###"},
      {'-', "......###......"}, {':', "....#.....#...."},
      {' ', "..............."}, {'?', "##...#.#.....#."},
      {'/', "..#..#.#.#..#.."}, {'(', ".#.#..#..#...#."},
      {')', ".#...#..#..#.#."}, {'|', ".#..#..#..#..#."},
  };
  return font;
}

// Text at (x, y), each font pixel `scale` x `scale`; returns the width.
int text(Image& image, int x, int y, const std::string& s, Rgb c, int scale) {
  const auto& font = glyphs();
  int cx = x;
  for (char ch : s) {
    const char lower =
        static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    auto it = font.find(lower);
    const char* g = it == font.end() ? font.at('?') : it->second;
    for (int row = 0; row < 5; ++row) {
      for (int col = 0; col < 3; ++col) {
        if (g[row * 3 + col] == '#') {
          fill(image, cx + col * scale, y + row * scale, scale, scale, c);
        }
      }
    }
    cx += 4 * scale;
  }
  return cx - x;
}

std::string shorten(const std::string& s, size_t max) {
  return s.size() <= max ? s : s.substr(0, max - 1) + "-";
}

// A horizontal grid line from `left` to `right` at height y, labelled on the
// left; the axis itself (`axis`) in black, the others in gray.
void grid_line(
    Image& image,
    int left,
    int right,
    int y,
    bool axis,
    const char* label) {
  line(image, left, y, right, y, axis ? kBlack : kGray, 1);
  text(image, 8, y - 4, label, kBlack, 2);
}

// The mean of the finite values, NaN when there is none.
double finite_mean(const torch::Tensor& values) {
  torch::Tensor v = values.to(torch::kFloat64);
  torch::Tensor finite = v.masked_select(torch::isfinite(v));
  return finite.numel() == 0 ? std::nan("") : finite.mean().item<double>();
}

} // namespace

std::vector<uint8_t> similarity_plot(
    const RandomizationResult& result,
    const std::string& method) {
  const int points = static_cast<int>(result.layers.size()) + 1;
  const int left = 60, right = 30, top = 50, plot_h = 240, bottom = 40;
  const int step = 100;
  const int width = left + step * (points - 1) + right + 40;
  const int height = top + plot_h + bottom;
  Image image = blank(std::max(width, 420), height);
  // y from -1 to 1, grid every 0.5.
  auto y_of = [&](double v) {
    return top + static_cast<int>(std::lround((1.0 - v) / 2.0 * plot_h));
  };
  for (int k = -2; k <= 2; ++k) {
    const double v = k * 0.5;
    char label[16];
    std::snprintf(label, sizeof(label), "%.1f", v);
    grid_line(
        image, left, left + step * (points - 1) + 20, y_of(v), k == 0, label);
  }
  const char* names[] = {"spearman_abs", "spearman", "ssim"};
  int lx = left;
  for (int s = 0; s < 3; ++s) {
    fill(image, lx, 12, 14, 8, kSeries[s]);
    lx += 20 + text(image, lx + 18, 11, names[s], kBlack, 2) + 12;
  }
  text(image, left, 28, shorten(method, 30), kBlack, 2);
  for (int p = 0; p < points; ++p) {
    const int x = left + 10 + step * p;
    line(image, x, top + plot_h, x, top + plot_h + 4, kBlack, 1);
    const std::string label =
        p == 0 ? "original" : shorten(result.layers[p - 1], 12);
    text(image, x - 12, top + plot_h + 10 + (p % 2) * 12, label, kBlack, 2);
  }
  for (int s = 0; s < 3; ++s) {
    int px = -1, py = -1;
    for (int p = 0; p < points; ++p) {
      double v = 1.0; // the original map is identical to itself
      if (p > 0) {
        const MapSimilarity& m = result.similarity[p - 1];
        v = finite_mean(
            s == 0 ? m.spearman_abs : (s == 1 ? m.spearman : m.ssim));
      }
      if (!std::isfinite(v)) {
        px = -1;
        continue;
      }
      const int x = left + 10 + step * p;
      const int y = y_of(std::max(-1.0, std::min(1.0, v)));
      if (px >= 0) {
        line(image, px, py, x, y, kSeries[s], 3);
      }
      fill(image, x - 4, y - 4, 9, 9, kSeries[s]);
      px = x;
      py = y;
    }
  }
  return encode_png(image);
}

std::vector<uint8_t> curve_plot(
    const torch::Tensor& curves,
    const std::string& title) {
  torch::Tensor c = curves.detach().to(torch::kCPU, torch::kFloat64);
  const int left = 60, top = 40, plot_w = 400, plot_h = 240, bottom = 36;
  Image image = blank(left + plot_w + 30, top + plot_h + bottom);
  auto y_of = [&](double v) {
    return top + static_cast<int>(std::lround((1.0 - v) * plot_h));
  };
  for (int k = 0; k <= 4; ++k) {
    const double v = k * 0.25;
    char label[16];
    std::snprintf(label, sizeof(label), "%.2f", v);
    grid_line(image, left, left + plot_w, y_of(v), k == 0, label);
    const int x = left + static_cast<int>(std::lround(v * plot_w));
    line(image, x, top + plot_h, x, top + plot_h + 4, kBlack, 1);
    text(image, x - 12, top + plot_h + 10, label, kBlack, 2);
  }
  text(image, left, 12, shorten(title, 40), kBlack, 2);
  const int64_t steps = c.size(1) - 1;
  for (int64_t i = 0; i < c.size(0); ++i) {
    const Rgb color = kSeries[i % 3];
    int px = -1, py = -1;
    for (int64_t k = 0; k <= steps; ++k) {
      const double v = c[i][k].item<double>();
      const int x = left +
          static_cast<int>(std::lround(
              static_cast<double>(k) / std::max<int64_t>(1, steps) * plot_w));
      const int y =
          y_of(std::isfinite(v) ? std::max(0.0, std::min(1.0, v)) : 0.0);
      if (px >= 0) {
        line(image, px, py, x, y, color, 2);
      }
      px = x;
      py = y;
    }
  }
  return encode_png(image);
}

std::vector<uint8_t> map_strip(const RandomizationResult& result) {
  std::vector<torch::Tensor> maps{result.original[0]};
  std::vector<std::string> labels{"original"};
  for (size_t k = 0; k < result.maps.size(); ++k) {
    maps.push_back(result.maps[k][0]);
    labels.push_back(result.layers[k]);
  }
  std::vector<Image> tiles;
  for (const torch::Tensor& m : maps) {
    torch::Tensor map = m.detach().to(torch::kCPU);
    const int64_t h = map.size(-2), w = map.size(-1);
    const int scale =
        static_cast<int>(std::max<int64_t>(1, 96 / std::max(h, w)));
    Image tile = (map != 0).any().item<bool>()
        ? to_image(visualize_image_attr(map, torch::Tensor()))
        : blank(static_cast<int>(w), static_cast<int>(h));
    tiles.push_back(enlarge_nearest(tile, scale));
  }
  const int gap = 8, label_h = 16;
  int width = 0, tile_h = 0;
  for (const Image& t : tiles) {
    width += t.width + gap;
    tile_h = std::max(tile_h, t.height);
  }
  Image strip = blank(std::max(1, width - gap), tile_h + label_h);
  int x = 0;
  for (size_t k = 0; k < tiles.size(); ++k) {
    const Image& t = tiles[k];
    text(
        strip,
        x,
        2,
        shorten(labels[k], static_cast<size_t>(std::max(3, t.width / 4))),
        kBlack,
        1);
    for (int y = 0; y < t.height; ++y) {
      std::copy_n(
          &t.pixels[static_cast<size_t>(y) * t.width * 3],
          static_cast<size_t>(t.width) * 3,
          &strip.pixels
               [(static_cast<size_t>(y + label_h) * strip.width + x) * 3]);
    }
    x += t.width + gap;
  }
  return encode_png(strip);
}

} // namespace cli
} // namespace guidedbp
