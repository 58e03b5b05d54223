#pragma once

// Prometheus text-format metrics of the server: requests by route and
// status code, request latency and batch size histograms, queue depths.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace guidedbp {
namespace cli {
namespace serve {

class Metrics {
 public:
  /// One finished request: `route` is "predict", "explain", "health",
  /// "models", "metrics", "page" or "other".
  void record_request(const std::string& route, int status, double seconds);
  /// One batch of `examples` examples run for `model`.
  void record_batch(const std::string& model, int64_t examples);
  /// The exposition text; `queue_depths` gives each model's current depth.
  std::string render(
      const std::vector<std::pair<std::string, int64_t>>& queue_depths) const;

 private:
  struct Histogram {
    std::vector<double> bounds;
    std::vector<uint64_t> counts; ///< Per bound, not cumulative; +1 for +Inf.
    double sum = 0;
    uint64_t count = 0;
    void observe(double value);
  };
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, Histogram> latency_; ///< By route.
  std::map<std::string, Histogram> batches_; ///< By model.
};

} // namespace serve
} // namespace cli
} // namespace guidedbp
