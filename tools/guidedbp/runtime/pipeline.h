#pragma once

// explain's scheduler, torch-free: items are loaded ahead on worker threads
// (bounded), grouped into batches on the main thread, run there, finished on
// the workers again, and reported on the main thread in input order. What a
// stage does is the caller's (explain_stages.h); when and where it runs, and
// how the pipeline stops (an interrupt, an error), is this file's.

#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <optional>
#include <utility>
#include <variant>
#include <vector>

#include "runtime/thread_pool.h"

namespace guidedbp {
namespace cli {

/// How much the pipeline holds at once, whatever the number of items.
struct PipelineLimits {
  /// Items per run_batch call, at most.
  size_t batch_size = 1;
  /// Items loaded ahead of run_batch, and items run but not yet reported, at
  /// most (each).
  size_t ahead = 4;
};

/// The stages, and the thread each runs on. `Loaded` is an item after its
/// load, `Result` what run_batch made of one item, `Finished` an item's end.
template <class Loaded, class Result, class Finished>
struct PipelineStages {
  /// Worker: loads item `index`. Must not throw: a failure goes in Loaded.
  std::function<Loaded(size_t index)> load;
  /// Main: the item's Finished when its load failed (it is then reported
  /// in its turn, never batched); nullopt when it loaded.
  std::function<std::optional<Finished>(Loaded& loaded)> failed_load;
  /// Main: whether `next` may join the batch that `first` starts.
  std::function<bool(const Loaded& first, const Loaded& next)> same_group;
  /// Main: runs one batch. Returns one entry per item, in order: a Result
  /// to finish, or the Finished of an item that failed alone. Throwing
  /// stops the run.
  using BatchOutcome = std::variant<Result, Finished>;
  std::function<std::vector<BatchOutcome>(std::vector<Loaded>& batch)>
      run_batch;
  /// Worker: finishes a result (e.g. draws and writes it). Must not throw.
  std::function<Finished(Result result)> finish;
  /// Main: reports one item, in input order. Throwing stops the run.
  std::function<void(Finished finished)> report;
};

/// Runs items 0..count-1 through `stages` on `pool`; returns how many were
/// reported.
///
/// `stop()` is asked before each item is loaded: once it says true nothing
/// more is loaded or run, items loaded but not run are dropped, and those
/// already run are finished and reported.
///
/// When run_batch or report throws, nothing more is started, the loads in
/// flight are waited for, and (when `report_after_error()` says so) the
/// results already run are finished and reported, with errors there
/// ignored; every task in flight has ended when the exception propagates.
template <class Loaded, class Result, class Finished>
class Pipeline {
 public:
  using Stages = PipelineStages<Loaded, Result, Finished>;

  Pipeline(
      const Stages& stages,
      PipelineLimits limits,
      ThreadPool& pool,
      std::function<bool()> stop)
      : stages_(stages), limits_(limits), pool_(pool), stop_(std::move(stop)) {}

  size_t run(size_t count, const std::function<bool()>& report_after_error) {
    count_ = count;
    try {
      while (true) {
        fill();
        if (stop_() || (loading_.empty() && !carried_)) {
          break;
        }
        std::vector<std::optional<Finished>> order;
        std::vector<Loaded> batch = next_batch(order);
        run_batch(batch, order);
        report_finished(limits_.ahead);
      }
    } catch (...) {
      wait_for_loads();
      try {
        if (report_after_error()) {
          report_finished(0);
        }
      } catch (...) {
      }
      for (std::future<Finished>& f : finishing_) {
        f.wait();
      }
      throw;
    }
    // Items loaded but not run when stop() came are dropped.
    wait_for_loads();
    report_finished(0);
    return reported_;
  }

 private:
  // Loads ahead, up to the limit.
  void fill() {
    while (loading_.size() < limits_.ahead && next_ < count_ && !stop_()) {
      const size_t index = next_++;
      loading_.push_back(
          pool_.submit([this, index] { return stages_.load(index); }));
    }
  }

  // Consecutive loaded items of one group, at most batch_size. `order` gets
  // one entry per item taken, in input order: nullopt for a batch member,
  // the Finished of an item whose load failed (taken on the way, unbatched).
  std::vector<Loaded> next_batch(std::vector<std::optional<Finished>>& order) {
    std::vector<Loaded> batch;
    while (batch.size() < limits_.batch_size &&
           (carried_ || !loading_.empty())) {
      Loaded loaded = carried_ ? std::move(*carried_) : take_loaded();
      carried_.reset();
      if (std::optional<Finished> failure = stages_.failed_load(loaded)) {
        order.push_back(std::move(failure));
        fill();
        continue;
      }
      if (!batch.empty() && !stages_.same_group(batch[0], loaded)) {
        carried_ = std::move(loaded); // the first of the next batch
        break;
      }
      batch.push_back(std::move(loaded));
      order.emplace_back();
      fill();
    }
    return batch;
  }

  // Runs the batch and queues every item taken for it, in input order.
  void run_batch(
      std::vector<Loaded>& batch,
      std::vector<std::optional<Finished>>& order) {
    std::vector<typename Stages::BatchOutcome> outcomes;
    if (!batch.empty()) {
      try {
        outcomes = stages_.run_batch(batch);
      } catch (...) {
        for (std::optional<Finished>& failure : order) {
          if (failure) {
            finishing_.push_back(ready(std::move(*failure)));
          }
        }
        throw;
      }
    }
    size_t next_outcome = 0;
    for (std::optional<Finished>& failure : order) {
      if (failure) {
        finishing_.push_back(ready(std::move(*failure)));
        continue;
      }
      typename Stages::BatchOutcome& outcome = outcomes.at(next_outcome++);
      if (Finished* alone = std::get_if<Finished>(&outcome)) {
        finishing_.push_back(ready(std::move(*alone)));
      } else {
        finishing_.push_back(pool_.submit(
            [this, result = std::move(std::get<Result>(outcome))]() mutable {
              return stages_.finish(std::move(result));
            }));
      }
    }
  }

  // Reports finished items in order until at most `keep` are waiting, and
  // then those already finished.
  void report_finished(size_t keep) {
    while (finishing_.size() > keep ||
           (!finishing_.empty() &&
            finishing_.front().wait_for(std::chrono::seconds(0)) ==
                std::future_status::ready)) {
      Finished finished = finishing_.front().get();
      finishing_.pop_front();
      ++reported_;
      stages_.report(std::move(finished));
    }
  }

  Loaded take_loaded() {
    Loaded loaded = loading_.front().get();
    loading_.pop_front();
    return loaded;
  }

  void wait_for_loads() {
    for (std::future<Loaded>& f : loading_) {
      f.wait();
    }
  }

  static std::future<Finished> ready(Finished finished) {
    std::promise<Finished> promise;
    promise.set_value(std::move(finished));
    return promise.get_future();
  }

  const Stages& stages_;
  const PipelineLimits limits_;
  ThreadPool& pool_;
  const std::function<bool()> stop_;
  size_t count_ = 0;
  size_t next_ = 0;
  size_t reported_ = 0;
  std::deque<std::future<Loaded>> loading_;
  std::deque<std::future<Finished>> finishing_;
  std::optional<Loaded> carried_;
};

} // namespace cli
} // namespace guidedbp
