#include "serve/metrics.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace guidedbp {
namespace cli {
namespace serve {
namespace {

const std::vector<double> kLatencyBounds =
    {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
const std::vector<double> kBatchBounds = {1, 2, 4, 8, 16, 32, 64, 128, 256};

std::string number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.15g", v);
  return buffer;
}

// Label values escaped as the exposition format asks.
std::string label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

} // namespace

void Metrics::Histogram::observe(double value) {
  if (counts.empty()) {
    counts.assign(bounds.size() + 1, 0);
  }
  size_t i =
      std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin();
  ++counts[i];
  sum += value;
  ++count;
}

void Metrics::record_request(
    const std::string& route,
    int status,
    double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{route, status}];
  Histogram& h = latency_[route];
  h.bounds = kLatencyBounds;
  h.observe(seconds);
}

void Metrics::record_batch(const std::string& model, int64_t examples) {
  std::lock_guard<std::mutex> lock(mutex_);
  Histogram& h = batches_[model];
  h.bounds = kBatchBounds;
  h.observe(static_cast<double>(examples));
}

std::string Metrics::render(
    const std::vector<std::pair<std::string, int64_t>>& queue_depths) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::ostringstream out;
  out << "# HELP guidedbp_requests_total HTTP requests answered, by route and "
         "status code.\n# TYPE guidedbp_requests_total counter\n";
  for (const auto& entry : requests_) {
    out << "guidedbp_requests_total{route=\"" << label(entry.first.first)
        << "\",code=\"" << entry.first.second << "\"} " << entry.second << "\n";
  }
  auto histogram = [&out](
                       const std::string& name,
                       const std::string& key,
                       const std::map<std::string, Histogram>& histograms) {
    for (const auto& entry : histograms) {
      const Histogram& h = entry.second;
      uint64_t cumulative = 0;
      const std::string labels = key + "=\"" + label(entry.first) + "\"";
      for (size_t i = 0; i < h.bounds.size(); ++i) {
        cumulative += h.counts[i];
        out << name << "_bucket{" << labels << ",le=\"" << number(h.bounds[i])
            << "\"} " << cumulative << "\n";
      }
      out << name << "_bucket{" << labels << ",le=\"+Inf\"} " << h.count
          << "\n";
      out << name << "_sum{" << labels << "} " << number(h.sum) << "\n";
      out << name << "_count{" << labels << "} " << h.count << "\n";
    }
  };
  out << "# HELP guidedbp_request_duration_seconds Time from the request's "
         "headers to its response, by route.\n"
         "# TYPE guidedbp_request_duration_seconds histogram\n";
  histogram("guidedbp_request_duration_seconds", "route", latency_);
  out << "# HELP guidedbp_batch_size Examples per model call (dynamic "
         "batching), by model.\n# TYPE guidedbp_batch_size histogram\n";
  histogram("guidedbp_batch_size", "model", batches_);
  out << "# HELP guidedbp_queue_depth Requests waiting for a model call, by "
         "model.\n# TYPE guidedbp_queue_depth gauge\n";
  for (const auto& entry : queue_depths) {
    out << "guidedbp_queue_depth{model=\"" << label(entry.first) << "\"} "
        << entry.second << "\n";
  }
  return out.str();
}

} // namespace serve
} // namespace cli
} // namespace guidedbp
