#include "runtime/thread_pool.h"

namespace guidedbp {
namespace cli {

ThreadPool::ThreadPool(size_t threads) {
  for (size_t i = 0; i < (threads == 0 ? 1 : threads); ++i) {
    workers_.emplace_back([this] { work(); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (std::thread& worker : workers_) {
    worker.join();
  }
}

void ThreadPool::enqueue(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  ready_.notify_one();
}

void ThreadPool::work() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) {
        return; // stopping, and nothing left
      }
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job(); // a packaged_task: exceptions go to its future
  }
}

} // namespace cli
} // namespace guidedbp
