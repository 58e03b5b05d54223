#pragma once

// One request's work as the HTTP layer hands it to a model's batcher, and the
// result it waits for. Torch-free: the HTTP, JSON and batching code never
// sees a tensor; only engine.cpp converts.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "cli/target_literal.h"

namespace guidedbp {
namespace cli {
namespace serve {

/// A dense float32 array, row-major: one instance or one result.
struct NdArray {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

enum class JobKind {
  kPredict,      ///< JSON instances -> model outputs.
  kExplain,      ///< JSON instances -> attributions.
  kImagePredict, ///< One PNG/JPEG -> the model's output for it.
  kImageExplain, ///< One PNG/JPEG -> the heat map as PNG.
};

/// What a job produced, or why it failed (an HTTP status and a message).
struct JobResult {
  int status = 200;
  std::string error;
  std::vector<NdArray>
      outputs;              ///< One per instance (JSON jobs, image predict).
  std::vector<uint8_t> png; ///< kImageExplain.
  int64_t predicted = -1;   ///< Image jobs: the argmax class.
  double score = 0;         ///< Image jobs: its softmax probability.
  int64_t target = -1;      ///< kImageExplain: the class explained.
};

/// One request. The HTTP thread fills the inputs, queues it and waits; a
/// model's worker thread runs it (batched with others) and calls finish().
struct Job {
  JobKind kind = JobKind::kPredict;
  std::vector<NdArray> instances; ///< JSON jobs.
  std::vector<uint8_t> image;     ///< Image jobs: the encoded file.
  // :explain parameters.
  std::string method;
  bool method_given = false; ///< the request named it (a package has its own)
  bool abs = false;
  TargetLiteral target; ///< kNone: no target (image jobs: the predicted class).
  // Image drawing (kImageExplain).
  std::string sign;
  std::string visual;
  double outlier_perc = 2.0;
  int64_t scale = 0; ///< 0: automatic (about 224 pixels on the longer side).

  std::chrono::steady_clock::time_point deadline;
  std::atomic<bool> abandoned{false}; ///< The client gave up: skip it.

  /// Examples this job adds to a batch.
  int64_t examples() const {
    return kind == JobKind::kImagePredict || kind == JobKind::kImageExplain
        ? 1
        : static_cast<int64_t>(instances.size());
  }

  void finish(JobResult r) {
    std::lock_guard<std::mutex> lock(mutex_);
    result_ = std::move(r);
    done_ = true;
    cv_.notify_all();
  }
  /// Waits until finished or `until`; false on time-out.
  bool wait_until(std::chrono::steady_clock::time_point until) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_until(lock, until, [this] { return done_; });
  }
  bool done() {
    std::lock_guard<std::mutex> lock(mutex_);
    return done_;
  }
  JobResult& result() {
    return result_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  JobResult result_;
};

/// Runs batches of jobs for the models it has loaded (engine.cpp).
class Backend {
 public:
  virtual ~Backend() = default;
  /// The models, in --model order.
  virtual std::vector<std::string> model_names() const = 0;
  /// Runs `jobs` (all for `model`) as few model calls as possible and
  /// finishes every one of them, successfully or with its own error: a bad
  /// job never fails the others.
  virtual void run(const std::string& model, const std::vector<Job*>& jobs) = 0;
};

} // namespace serve
} // namespace cli
} // namespace guidedbp
