#pragma once

// The layout of `guidedbp explain`'s PNGs: maps enlarged for viewing and an
// image with its maps side by side (torch-free, like the other image code).

#include <vector>

#include "io/image_io.h"

namespace guidedbp {
namespace cli {

/// Largest width or height of an enlarged map or a panel (PNG viewers and
/// libpng handle this comfortably).
constexpr int kMaxPanelSide = 65535;

/// Enlarges `image` by the integer `scale`: each pixel becomes a `scale` x
/// `scale` block (nearest neighbour). Throws CliError for `scale < 1` or a
/// result wider or taller than `kMaxPanelSide`.
Image enlarge_nearest(const Image& image, int scale);

/// Places RGB images side by side, left to right, separated by `gap` columns
/// of white and padded with white at the bottom when heights differ (like
/// Captum's `visualize_image_attr_multiple` row, without titles). Throws
/// CliError for an empty list, a gray image or a panel past `kMaxPanelSide`.
Image side_by_side(const std::vector<Image>& images, int gap = 8);

} // namespace cli
} // namespace guidedbp
