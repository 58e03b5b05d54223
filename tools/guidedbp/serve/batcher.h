#pragma once

// Dynamic batching: one queue and one worker thread per model. The worker
// takes the oldest request, waits up to max_delay for more until max_batch
// examples are there, and hands the group to the backend in one call.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "serve/job.h"

namespace guidedbp {
namespace cli {
namespace serve {

struct BatcherOptions {
  int64_t max_batch = 16; ///< Examples per call (a larger request runs alone).
  std::chrono::microseconds max_delay{5000};
  int64_t max_queue = 256; ///< Requests waiting; more are refused.
};

class Batcher {
 public:
  /// `on_batch(examples)` is told the size of every batch run (metrics).
  Batcher(
      std::string model,
      Backend& backend,
      BatcherOptions options,
      std::function<void(int64_t)> on_batch);
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  /// Queues `job`; false when the queue is full or the batcher is stopping
  /// (the caller answers 503).
  bool submit(const std::shared_ptr<Job>& job);
  /// Requests waiting (not yet in a running batch).
  int64_t depth() const;
  /// Runs what is queued, then ends the worker.
  void stop();

 private:
  void loop();

  const std::string model_;
  Backend& backend_;
  const BatcherOptions options_;
  std::function<void(int64_t)> on_batch_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

} // namespace serve
} // namespace cli
} // namespace guidedbp
