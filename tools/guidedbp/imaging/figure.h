#pragma once

// The figures of `guidedbp evaluate`, drawn with the heat-map code of the
// library and written as PNG: the randomization test's similarity against
// layer (Adebayo et al.'s Fig. 4) and its strip of maps (their Fig. 2).

#include <guidedbp/randomization.h>

#include <cstdint>
#include <string>
#include <vector>

namespace guidedbp {
namespace cli {

/// Mean similarity (spearman_abs, spearman, ssim) against randomized layer,
/// "original" first, as PNG bytes.
std::vector<uint8_t> similarity_plot(
    const RandomizationResult& result,
    const std::string& method);

/// The first example's map, original then per randomized state, as heat
/// maps side by side, PNG bytes.
std::vector<uint8_t> map_strip(const RandomizationResult& result);

/// Deletion or insertion curves (N x (S + 1), values in [0, 1]) against
/// the fraction of pixels changed, one line per example, as PNG bytes.
std::vector<uint8_t> curve_plot(
    const torch::Tensor& curves,
    const std::string& title);

} // namespace cli
} // namespace guidedbp
