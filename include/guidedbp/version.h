#pragma once

/// guidedbp's version, as MAJOR * 10000 + MINOR * 100 + PATCH.
#define GUIDEDBP_VERSION 100 // 0.1.0

namespace guidedbp {
/// The version as "MAJOR.MINOR.PATCH".
constexpr const char* kVersion = "0.1.0";
} // namespace guidedbp
