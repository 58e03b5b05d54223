#include <c10/util/Exception.h>
#include <guidedbp/visualization.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>
#include <vector>

namespace guidedbp {
namespace {

using Rgb = std::array<double, 3>;

// Colour map anchors, equally spaced over [0, 1]. Greens, Reds and Blues are
// the 9-class sequential ColorBrewer palettes (colorbrewer2.org, Cynthia
// Brewer, Apache-2.0 licence) that matplotlib ships as `_Greens_data`,
// `_Reds_data`, `_Blues_data` in `matplotlib/_cm.py` and turns into colour
// maps with `LinearSegmentedColormap.from_list(name, data, 256)`; matplotlib
// writes each entry as a float equal to the byte value / 255, as here.
// RdWhGn is Captum's `from_list("RdWhGn", ["red", "white", "green"])` with
// matplotlib's named colours red = #ff0000, white = #ffffff,
// green = #008000. "gray" is matplotlib's `_gray_data`: black to white.
constexpr unsigned char kGreens[9][3] = {
    {0xf7, 0xfc, 0xf5},
    {0xe5, 0xf5, 0xe0},
    {0xc7, 0xe9, 0xc0},
    {0xa1, 0xd9, 0x9b},
    {0x74, 0xc4, 0x76},
    {0x41, 0xab, 0x5d},
    {0x23, 0x8b, 0x45},
    {0x00, 0x6d, 0x2c},
    {0x00, 0x44, 0x1b}};
constexpr unsigned char kReds[9][3] = {
    {0xff, 0xf5, 0xf0},
    {0xfe, 0xe0, 0xd2},
    {0xfc, 0xbb, 0xa1},
    {0xfc, 0x92, 0x72},
    {0xfb, 0x6a, 0x4a},
    {0xef, 0x3b, 0x2c},
    {0xcb, 0x18, 0x1d},
    {0xa5, 0x0f, 0x15},
    {0x67, 0x00, 0x0d}};
constexpr unsigned char kBlues[9][3] = {
    {0xf7, 0xfb, 0xff},
    {0xde, 0xeb, 0xf7},
    {0xc6, 0xdb, 0xef},
    {0x9e, 0xca, 0xe1},
    {0x6b, 0xae, 0xd6},
    {0x42, 0x92, 0xc6},
    {0x21, 0x71, 0xb5},
    {0x08, 0x51, 0x9c},
    {0x08, 0x30, 0x6b}};
constexpr unsigned char kRdWhGn[3][3] = {
    {0xff, 0x00, 0x00},
    {0xff, 0xff, 0xff},
    {0x00, 0x80, 0x00}};
constexpr unsigned char kGrayAnchors[2][3] = {{0, 0, 0}, {0xff, 0xff, 0xff}};

constexpr int kLutSize = 256; // matplotlib's default N (rcParams image.lut)

using Lut = std::array<Rgb, kLutSize>;

// numpy.linspace(0, 1, n)[i]: i * (1 / (n - 1)), the last one exactly 1.
double linspace01(size_t i, size_t n) {
  return i + 1 == n
      ? 1.0
      : static_cast<double>(i) * (1.0 / static_cast<double>(n - 1));
}

// matplotlib's `_create_lookup_table(N, data)` for `from_list` anchors,
// written with the same floating-point operations so the tables agree.
template <size_t K>
Lut make_lut(const unsigned char (&anchors)[K][3]) {
  Lut lut{};
  std::array<double, K> x{};
  for (size_t k = 0; k < K; ++k) {
    x[k] = linspace01(k, K) * (kLutSize - 1); // x = x * (N - 1)
  }
  for (int i = 0; i < kLutSize; ++i) {
    const double xi =
        (kLutSize - 1) * linspace01(static_cast<size_t>(i), kLutSize);
    for (int c = 0; c < 3; ++c) {
      double value;
      if (i == 0) {
        value = anchors[0][c] / 255.0;
      } else if (i == kLutSize - 1) {
        value = anchors[K - 1][c] / 255.0;
      } else {
        // ind = searchsorted(x, xind): the first x[ind] >= xi.
        size_t ind = 0;
        while (ind < K - 1 && x[ind] < xi) {
          ++ind;
        }
        ind = std::max<size_t>(ind, 1);
        const double distance = (xi - x[ind - 1]) / (x[ind] - x[ind - 1]);
        const double y0 = anchors[ind][c] / 255.0;
        const double y1 = anchors[ind - 1][c] / 255.0;
        value = distance * (y0 - y1) + y1;
      }
      lut[i][c] = std::min(1.0, std::max(0.0, value));
    }
  }
  return lut;
}

const Lut& lut_of(Colormap colormap) {
  static const Lut greens = make_lut(kGreens);
  static const Lut reds = make_lut(kReds);
  static const Lut blues = make_lut(kBlues);
  static const Lut rdwhgn = make_lut(kRdWhGn);
  static const Lut gray = make_lut(kGrayAnchors);
  switch (colormap) {
    case Colormap::kGreens:
      return greens;
    case Colormap::kReds:
      return reds;
    case Colormap::kBlues:
      return blues;
    case Colormap::kRdWhGn:
      return rdwhgn;
    case Colormap::kGray:
      return gray;
  }
  return gray;
}

// matplotlib's Colormap.__call__ for a float already normalised to [0, 1].
int lut_index(double x) {
  if (std::isnan(x)) {
    return 0; // matplotlib draws NaN as "bad" (transparent); first entry here
  }
  double xa = x * kLutSize;
  if (xa == kLutSize) {
    xa = kLutSize - 1;
  }
  xa = std::min<double>(kLutSize - 1, std::max<double>(0.0, xa));
  return static_cast<int>(xa);
}

uint8_t to_byte(double value) {
  // numpy's astype(uint8) of values in [0, 255]: truncation.
  return static_cast<uint8_t>(std::min(255.0, std::max(0.0, value)));
}

uint8_t round_byte(double value) {
  // numpy's round(): half to even (std::nearbyint in the default mode).
  return static_cast<uint8_t>(
      std::nearbyint(std::min(255.0, std::max(0.0, value))));
}

// C x H x W (C = 1 or 3) in [0, 1] as H x W x 3 int as Captum prepares it.
torch::Tensor prepared_image(const torch::Tensor& image, const char* who) {
  TORCH_CHECK_VALUE(
      image.defined(), who, ": this visual method needs the original image");
  TORCH_CHECK_VALUE(
      image.dim() == 3 && (image.size(0) == 1 || image.size(0) == 3),
      who,
      ": expected an image of shape C x H x W with C = 1 or 3, got ",
      image.sizes());
  torch::Tensor hwc = image.detach()
                          .to(torch::kCPU, torch::kFloat64)
                          .permute({1, 2, 0})
                          .contiguous();
  if (hwc.size(2) == 1) {
    hwc = hwc.expand({hwc.size(0), hwc.size(1), 3}).contiguous();
  }
  // Captum: if max(image) <= 1: image = clip(int(image * 255), 0, 255).
  if (hwc.numel() > 0 && hwc.max().item<double>() <= 1.0) {
    hwc = hwc.mul(255.0).trunc();
  } else {
    hwc = hwc.trunc();
  }
  return hwc.clamp(0, 255);
}

} // namespace

namespace {

// Captum's names, the one table that parsing, printing and the lists use.
constexpr std::pair<VisualSign, const char*> kSignNames[] = {
    {VisualSign::kAll, "all"},
    {VisualSign::kPositive, "positive"},
    {VisualSign::kNegative, "negative"},
    {VisualSign::kAbsoluteValue, "absolute_value"},
};
constexpr std::pair<VisualMethod, const char*> kMethodNames[] = {
    {VisualMethod::kHeatMap, "heat_map"},
    {VisualMethod::kBlendedHeatMap, "blended_heat_map"},
    {VisualMethod::kMaskedImage, "masked_image"},
    {VisualMethod::kAlphaScaling, "alpha_scaling"},
};

template <typename Table>
std::vector<std::string> names_of(const Table& table) {
  std::vector<std::string> names;
  for (const auto& entry : table) {
    names.emplace_back(entry.second);
  }
  return names;
}

// "a, b, c or d"
template <typename Table>
std::string list_of(const Table& table) {
  std::vector<std::string> names = names_of(table);
  std::string text;
  for (size_t i = 0; i < names.size(); ++i) {
    text += (i == 0 ? "" : (i + 1 == names.size() ? " or " : ", ")) + names[i];
  }
  return text;
}

} // namespace

VisualSign parse_visual_sign(const std::string& name) {
  for (const auto& [sign, sign_name] : kSignNames) {
    if (name == sign_name) {
      return sign;
    }
  }
  TORCH_CHECK_VALUE(
      false,
      "unknown visualization sign '",
      name,
      "' (expected ",
      list_of(kSignNames),
      ")");
}

VisualMethod parse_visual_method(const std::string& name) {
  for (const auto& [method, method_name] : kMethodNames) {
    if (name == method_name) {
      return method;
    }
  }
  TORCH_CHECK_VALUE(
      false,
      "unknown visualization method '",
      name,
      "' (expected ",
      list_of(kMethodNames),
      ")");
}

std::string to_string(VisualSign sign) {
  for (const auto& [value, name] : kSignNames) {
    if (value == sign) {
      return name;
    }
  }
  return "?";
}

std::string to_string(VisualMethod method) {
  for (const auto& [value, name] : kMethodNames) {
    if (value == method) {
      return name;
    }
  }
  return "?";
}

std::vector<std::string> visual_sign_names() {
  return names_of(kSignNames);
}

std::vector<std::string> visual_method_names() {
  return names_of(kMethodNames);
}

Colormap default_colormap(VisualSign sign) {
  switch (sign) {
    case VisualSign::kAll:
      return Colormap::kRdWhGn;
    case VisualSign::kPositive:
      return Colormap::kGreens;
    case VisualSign::kNegative:
      return Colormap::kReds;
    case VisualSign::kAbsoluteValue:
      return Colormap::kBlues;
  }
  return Colormap::kBlues;
}

double cumulative_sum_threshold(
    const torch::Tensor& values,
    double percentile) {
  TORCH_CHECK_VALUE(
      values.defined() && values.numel() > 0,
      "cumulative_sum_threshold: expected a non-empty tensor");
  TORCH_CHECK_VALUE(
      percentile >= 0 && percentile <= 100,
      "cumulative_sum_threshold: percentile must be in [0, 100], got ",
      percentile);
  torch::Tensor flat =
      values.detach().to(torch::kCPU, torch::kFloat64).reshape(-1).contiguous();
  std::vector<double> sorted(
      flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
  for (double& v : sorted) {
    if (!std::isfinite(v)) {
      v = 0.0;
    }
  }
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> cumulative(sorted.size());
  double sum = 0.0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    sum += sorted[i];
    cumulative[i] = sum;
  }
  // Captum: np.where(cum_sums >= cum_sums[-1] * 0.01 * percentile)[0][0]
  const double goal = cumulative.back() * 0.01 * percentile;
  for (size_t i = 0; i < cumulative.size(); ++i) {
    if (cumulative[i] >= goal) {
      return sorted[i];
    }
  }
  return sorted.back(); // rounding left the goal unreached: the largest value
}

torch::Tensor normalize_attr(
    const torch::Tensor& attribution,
    VisualSign sign,
    double outlier_perc) {
  TORCH_CHECK_VALUE(
      attribution.defined() &&
          (attribution.dim() == 2 || attribution.dim() == 3),
      "normalize_attr: expected an attribution of shape C x H x W or H x W, got ",
      attribution.defined() ? attribution.sizes() : c10::IntArrayRef{});
  TORCH_CHECK_VALUE(
      attribution.numel() > 0,
      "normalize_attr: the attribution is empty (shape ",
      attribution.sizes(),
      ")");
  TORCH_CHECK_VALUE(
      outlier_perc >= 0 && outlier_perc <= 100,
      "normalize_attr: outlier_perc must be in [0, 100], got ",
      outlier_perc);
  torch::Tensor combined =
      attribution.detach().to(torch::kCPU, torch::kFloat64);
  combined = torch::nan_to_num(combined, 0.0, 0.0, 0.0);
  if (combined.dim() == 3) {
    combined = combined.sum(0);
  }
  double threshold = 0.0;
  const double percentile = 100.0 - outlier_perc;
  switch (sign) {
    case VisualSign::kAll:
      threshold = cumulative_sum_threshold(combined.abs(), percentile);
      break;
    case VisualSign::kPositive:
      combined = combined.clamp_min(0.0);
      threshold = cumulative_sum_threshold(combined, percentile);
      break;
    case VisualSign::kNegative:
      combined = combined.clamp_max(0.0);
      threshold = -cumulative_sum_threshold(combined.abs(), percentile);
      break;
    case VisualSign::kAbsoluteValue:
      combined = combined.abs();
      threshold = cumulative_sum_threshold(combined, percentile);
      break;
  }
  if (threshold == 0.0) {
    TORCH_WARN(
        "the attribution has no ",
        to_string(sign),
        " values (all are zero): the heat map is blank");
    return torch::zeros_like(combined);
  }
  if (std::abs(threshold) < 1e-5) {
    TORCH_WARN(
        "normalizing by a threshold of ",
        threshold,
        ", approximately 0: the attribution values are likely all close to 0 "
        "and the map may be misleading");
  }
  return (combined / threshold).clamp(-1.0, 1.0);
}

std::vector<double> colormap_rgb(Colormap colormap, double x) {
  const Rgb& rgb = lut_of(colormap)[lut_index(x)];
  return {rgb[0], rgb[1], rgb[2]};
}

torch::Tensor apply_colormap(
    const torch::Tensor& values,
    Colormap colormap,
    double vmin,
    double vmax) {
  TORCH_CHECK_VALUE(
      vmax > vmin,
      "apply_colormap: expected vmax > vmin, got vmin=",
      vmin,
      " vmax=",
      vmax);
  torch::Tensor flat =
      values.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  std::vector<int64_t> shape(flat.sizes().begin(), flat.sizes().end());
  shape.push_back(3);
  torch::Tensor out = torch::empty(shape, torch::kUInt8);
  const double* in = flat.data_ptr<double>();
  uint8_t* px = out.data_ptr<uint8_t>();
  const Lut& lut = lut_of(colormap);
  for (int64_t i = 0; i < flat.numel(); ++i) {
    const Rgb& rgb = lut[lut_index((in[i] - vmin) / (vmax - vmin))];
    for (int c = 0; c < 3; ++c) {
      px[3 * i + c] = to_byte(rgb[c] * 255);
    }
  }
  return out;
}

torch::Tensor image_to_rgb(const torch::Tensor& image) {
  return prepared_image(image, "image_to_rgb").to(torch::kUInt8);
}

torch::Tensor visualize_image_attr(
    const torch::Tensor& attribution,
    const torch::Tensor& image,
    const VisualizeOptions& options) {
  torch::Tensor norm =
      normalize_attr(attribution, options.sign(), options.outlier_perc());
  const int64_t h = norm.size(0);
  const int64_t w = norm.size(1);
  const bool all = options.sign() == VisualSign::kAll;
  const Colormap cmap = default_colormap(options.sign());
  const double vmin = all ? -1.0 : 0.0;

  if (options.method() == VisualMethod::kHeatMap) {
    return apply_colormap(norm, cmap, vmin, 1.0);
  }
  torch::Tensor rgb = prepared_image(image, "visualize_image_attr");
  TORCH_CHECK_VALUE(
      rgb.size(0) == h && rgb.size(1) == w,
      "visualize_image_attr: the image is ",
      rgb.size(0),
      "x",
      rgb.size(1),
      " pixels but the attribution map is ",
      h,
      "x",
      w);
  torch::Tensor out = torch::empty({h, w, 3}, torch::kUInt8);
  uint8_t* px = out.data_ptr<uint8_t>();
  const double* img = rgb.data_ptr<double>();
  torch::Tensor norm_c = norm.contiguous();
  const double* m = norm_c.data_ptr<double>();

  switch (options.method()) {
    case VisualMethod::kBlendedHeatMap: {
      const double alpha = options.alpha_overlay();
      TORCH_CHECK_VALUE(
          alpha >= 0 && alpha <= 1,
          "visualize_image_attr: alpha_overlay must be in [0, 1], got ",
          alpha);
      // imshow(np.mean(image, axis=2), cmap="gray"): autoscaled to min..max.
      torch::Tensor gray =
          torch::from_blob(const_cast<double*>(img), {h, w, 3}, torch::kFloat64)
              .mean(2)
              .contiguous();
      double lo = gray.min().item<double>();
      double hi = gray.max().item<double>();
      torch::Tensor scaled =
          hi > lo ? (gray - lo) / (hi - lo) : torch::zeros_like(gray);
      torch::Tensor back = apply_colormap(scaled, Colormap::kGray, 0.0, 1.0);
      torch::Tensor front = apply_colormap(norm, cmap, vmin, 1.0);
      const uint8_t* b = back.data_ptr<uint8_t>();
      const uint8_t* f = front.data_ptr<uint8_t>();
      for (int64_t i = 0; i < h * w * 3; ++i) {
        px[i] = round_byte(alpha * f[i] + (1.0 - alpha) * b[i]);
      }
      break;
    }
    case VisualMethod::kMaskedImage:
      for (int64_t i = 0; i < h * w; ++i) {
        for (int c = 0; c < 3; ++c) {
          double v = std::trunc(img[3 * i + c] * m[i]);
          px[3 * i + c] = to_byte(v);
        }
      }
      break;
    case VisualMethod::kAlphaScaling:
      for (int64_t i = 0; i < h * w; ++i) {
        double a = std::min(255.0, std::max(0.0, std::trunc(m[i] * 255.0)));
        for (int c = 0; c < 3; ++c) {
          px[3 * i + c] =
              round_byte((img[3 * i + c] * a + 255.0 * (255.0 - a)) / 255.0);
        }
      }
      break;
    case VisualMethod::kHeatMap:
      break;
  }
  return out;
}

} // namespace guidedbp
