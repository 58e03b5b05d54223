#include "serve/batcher.h"

#include <vector>

namespace guidedbp {
namespace cli {
namespace serve {

Batcher::Batcher(
    std::string model,
    Backend& backend,
    BatcherOptions options,
    std::function<void(int64_t)> on_batch)
    : model_(std::move(model)),
      backend_(backend),
      options_(options),
      on_batch_(std::move(on_batch)),
      worker_([this] { loop(); }) {}

Batcher::~Batcher() {
  stop();
}

bool Batcher::submit(const std::shared_ptr<Job>& job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ ||
        static_cast<int64_t>(queue_.size()) >= options_.max_queue) {
      return false;
    }
    queue_.push_back(job);
  }
  cv_.notify_all();
  return true;
}

int64_t Batcher::depth() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int64_t>(queue_.size());
}

void Batcher::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) {
    worker_.join();
  }
}

void Batcher::loop() {
  using Clock = std::chrono::steady_clock;
  for (;;) {
    std::vector<std::shared_ptr<Job>> batch;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        return; // stopping, and everything queued has run
      }
      // Wait for the batch to fill, counted from the oldest request's
      // arrival at the head: a lone request waits at most max_delay.
      const Clock::time_point until = Clock::now() + options_.max_delay;
      auto queued_examples = [this] {
        int64_t n = 0;
        for (const auto& job : queue_) {
          n += job->examples();
        }
        return n;
      };
      while (!stopping_ && options_.max_batch > 1 &&
             queued_examples() < options_.max_batch &&
             cv_.wait_until(lock, until) != std::cv_status::timeout) {
      }
      int64_t examples = 0;
      while (!queue_.empty()) {
        const int64_t n = queue_.front()->examples();
        if (!batch.empty() && examples + n > options_.max_batch) {
          break;
        }
        examples += n;
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    std::vector<Job*> live;
    int64_t examples = 0;
    const Clock::time_point now = Clock::now();
    for (const auto& job : batch) {
      if (job->abandoned.load()) {
        continue;
      }
      if (now > job->deadline) {
        JobResult timed_out;
        timed_out.status = 503;
        timed_out.error =
            "the request waited in the queue past --request-timeout-ms; the "
            "server is overloaded, retry later";
        job->finish(std::move(timed_out));
        continue;
      }
      live.push_back(job.get());
      examples += job->examples();
    }
    if (live.empty()) {
      continue;
    }
    on_batch_(examples);
    try {
      backend_.run(model_, live);
    } catch (const std::exception& e) {
      for (Job* job : live) {
        if (!job->done()) {
          JobResult failed;
          failed.status = 500;
          failed.error = std::string("internal error: ") + e.what();
          job->finish(std::move(failed));
        }
      }
    }
    for (Job* job : live) {
      if (!job->done()) {
        JobResult failed;
        failed.status = 500;
        failed.error = "internal error: the request was not run";
        job->finish(std::move(failed));
      }
    }
  }
}

} // namespace serve
} // namespace cli
} // namespace guidedbp
