// Unit tests of explain's scheduler (tools/guidedbp/pipeline.h), with stages
// that record what ran where: the order of reports, the batches formed, how
// much is held at once, and how an interrupt or an error ends the run.
// scripts/sanitize.sh also runs them under ThreadSanitizer.

#include "runtime/pipeline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace guidedbp::cli;

namespace {

struct Loaded {
  size_t index = 0;
  int group = 0;
  bool failed = false;
};
struct Result {
  size_t index = 0;
};
struct Done {
  size_t index = 0;
  std::string how; // "loaded-failure", "batch-failure", "finished"
};

using Stages = PipelineStages<Loaded, Result, Done>;

// Items with a group each (consecutive items of one group batch together),
// and the record of everything the stages saw.
class Recorder {
 public:
  explicit Recorder(std::vector<int> groups) : groups_(std::move(groups)) {}

  Stages stages() {
    Stages s;
    s.load = [this](size_t i) {
      ++live_;
      update_max();
      ++running_;
      // Unequal work, so that tasks end out of order.
      std::this_thread::sleep_for(std::chrono::microseconds((i * 37) % 300));
      --running_;
      return Loaded{i, groups_[i], fail_load_.count(i) > 0};
    };
    s.failed_load = [](Loaded& l) -> std::optional<Done> {
      if (l.failed) {
        return Done{l.index, "loaded-failure"};
      }
      return std::nullopt;
    };
    s.same_group = [](const Loaded& a, const Loaded& b) {
      return a.group == b.group;
    };
    s.run_batch = [this](std::vector<Loaded>& batch) {
      std::vector<size_t> indices;
      std::vector<Stages::BatchOutcome> out;
      for (const Loaded& l : batch) {
        indices.push_back(l.index);
        if (fail_alone_.count(l.index)) {
          out.emplace_back(Done{l.index, "batch-failure"});
        } else {
          out.emplace_back(Result{l.index});
        }
      }
      batches_.push_back(indices);
      if (throw_at_batch_ == batches_.size()) {
        throw std::runtime_error("run-wide");
      }
      return out;
    };
    s.finish = [this](Result r) {
      ++running_;
      std::this_thread::sleep_for(
          std::chrono::microseconds((r.index * 53) % 400));
      --running_;
      return Done{r.index, "finished"};
    };
    s.report = [this](Done d) {
      --live_;
      reports_.push_back(d);
      if (on_report_) {
        on_report_(d);
      }
    };
    return s;
  }

  void update_max() {
    int now = live_.load();
    int seen = max_live_.load();
    while (now > seen && !max_live_.compare_exchange_weak(seen, now)) {
    }
  }

  std::vector<int> groups_;
  std::set<size_t> fail_load_;
  std::set<size_t> fail_alone_;
  size_t throw_at_batch_ = 0; // 0: never
  std::function<void(const Done&)> on_report_;
  std::vector<std::vector<size_t>> batches_;
  std::vector<Done> reports_;
  std::atomic<int> live_{0};     // loaded, not yet reported
  std::atomic<int> max_live_{0}; // the most at once
  std::atomic<int> running_{0};  // load or finish tasks running now
};

size_t run(
    Recorder& recorder,
    PipelineLimits limits,
    size_t threads,
    std::function<bool()> stop = [] { return false; },
    bool report_after_error = true) {
  ThreadPool pool(threads);
  const Stages stages = recorder.stages();
  Pipeline<Loaded, Result, Done> pipeline(stages, limits, pool, stop);
  return pipeline.run(recorder.groups_.size(), [report_after_error] {
    return report_after_error;
  });
}

std::vector<size_t> reported_indices(const Recorder& r) {
  std::vector<size_t> indices;
  for (const Done& d : r.reports_) {
    indices.push_back(d.index);
  }
  return indices;
}

std::vector<size_t> iota(size_t n) {
  std::vector<size_t> v(n);
  for (size_t i = 0; i < n; ++i) {
    v[i] = i;
  }
  return v;
}

TEST(PipelineTest, ReportsEveryItemInInputOrder) {
  Recorder r(std::vector<int>(200, 0));
  EXPECT_EQ(run(r, {/*batch_size=*/4, /*ahead=*/6}, 3), 200u);
  EXPECT_EQ(reported_indices(r), iota(200));
  for (const Done& d : r.reports_) {
    EXPECT_EQ(d.how, "finished");
  }
}

TEST(PipelineTest, BatchesHoldConsecutiveItemsOfOneGroupUpToTheSize) {
  // Groups: 0 0 0 0 0 1 1 0 2 2 2 2 2 2 2
  Recorder r({0, 0, 0, 0, 0, 1, 1, 0, 2, 2, 2, 2, 2, 2, 2});
  run(r, {/*batch_size=*/3, /*ahead=*/4}, 2);
  const std::vector<std::vector<size_t>> expected = {
      {0, 1, 2}, {3, 4}, {5, 6}, {7}, {8, 9, 10}, {11, 12, 13}, {14}};
  EXPECT_EQ(r.batches_, expected);
}

TEST(PipelineTest, FailedLoadsAreReportedInTurnAndNeverBatched) {
  Recorder r(std::vector<int>(10, 0));
  r.fail_load_ = {0, 4, 9};
  r.fail_alone_ = {5};
  run(r, {/*batch_size=*/4, /*ahead=*/4}, 2);
  EXPECT_EQ(reported_indices(r), iota(10));
  for (const std::vector<size_t>& batch : r.batches_) {
    for (size_t i : batch) {
      EXPECT_FALSE(i == 0 || i == 4 || i == 9) << i;
    }
  }
  EXPECT_EQ(r.reports_[0].how, "loaded-failure");
  EXPECT_EQ(r.reports_[4].how, "loaded-failure");
  EXPECT_EQ(r.reports_[5].how, "batch-failure");
  EXPECT_EQ(r.reports_[6].how, "finished");
  EXPECT_EQ(r.reports_[9].how, "loaded-failure");
  // A failed load does not end a batch: 1 2 3 and 5 6 7 8 (4 skipped).
  const std::vector<std::vector<size_t>> expected = {{1, 2, 3, 5}, {6, 7, 8}};
  EXPECT_EQ(r.batches_, expected);
}

TEST(PipelineTest, HoldsABoundedNumberOfItemsWhateverTheCount) {
  Recorder r(std::vector<int>(2000, 0));
  const PipelineLimits limits{/*batch_size=*/3, /*ahead=*/5};
  run(r, limits, 4);
  EXPECT_EQ(r.reports_.size(), 2000u);
  // Loading (ahead) + one batch + a carried item + waiting to be reported
  // (ahead + a batch).
  EXPECT_LE(r.max_live_.load(), 2 * 5 + 2 * 3 + 1);
  EXPECT_GE(r.max_live_.load(), 1);
}

TEST(PipelineTest, StopLoadsNothingMoreAndReportsWhatRan) {
  Recorder r(std::vector<int>(500, 0));
  std::atomic<bool> stop{false};
  r.on_report_ = [&](const Done& d) {
    if (d.index == 20) {
      stop = true;
    }
  };
  const size_t reported =
      run(r, {/*batch_size=*/2, /*ahead=*/4}, 2, [&] { return stop.load(); });
  EXPECT_EQ(reported, r.reports_.size());
  EXPECT_GT(reported, 20u);
  EXPECT_LT(reported, 20u + 4 + 2 * 2 + 4 + 2); // what was in flight
  // Every batch that ran was reported, in order, with no gap.
  EXPECT_EQ(reported_indices(r), iota(reported));
  size_t ran = 0;
  for (const std::vector<size_t>& batch : r.batches_) {
    ran += batch.size();
  }
  EXPECT_EQ(ran, reported);
  EXPECT_EQ(r.running_.load(), 0);
}

TEST(PipelineTest, AnErrorDrainsWhatRanAndEndsEveryTaskBeforeItPropagates) {
  Recorder r(std::vector<int>(100, 0));
  r.throw_at_batch_ = 4; // batches of 2: items 0..5 ran before it
  EXPECT_THROW(run(r, {/*batch_size=*/2, /*ahead=*/4}, 3), std::runtime_error);
  EXPECT_EQ(r.running_.load(), 0);
  // The fourth batch threw before its results were queued.
  EXPECT_EQ(reported_indices(r), iota(6));
}

TEST(PipelineTest, AnErrorBeforeAnythingFitReportsNothingMore) {
  Recorder r(std::vector<int>(100, 0));
  r.throw_at_batch_ = 3;
  EXPECT_THROW(
      run(
          r,
          {/*batch_size=*/2, /*ahead=*/4},
          2,
          [] { return false; },
          /*report_after_error=*/false),
      std::runtime_error);
  EXPECT_EQ(r.running_.load(), 0);
  EXPECT_LE(r.reports_.size(), 4u); // only those reported before the error
  EXPECT_EQ(reported_indices(r), iota(r.reports_.size()));
}

TEST(PipelineTest, AReportErrorStopsTheRun) {
  Recorder r(std::vector<int>(100, 0));
  r.on_report_ = [](const Done& d) {
    if (d.index == 10) {
      throw std::runtime_error("manifest full");
    }
  };
  EXPECT_THROW(run(r, {/*batch_size=*/3, /*ahead=*/4}, 2), std::runtime_error);
  EXPECT_EQ(r.running_.load(), 0);
  EXPECT_LT(r.batches_.size(), 10u);
}

TEST(PipelineTest, NoItemsRunsNothing) {
  Recorder r({});
  EXPECT_EQ(run(r, {/*batch_size=*/4, /*ahead=*/4}, 2), 0u);
  EXPECT_TRUE(r.batches_.empty());
}

} // namespace
