// Tests of runtime/runtime.h: the intra-op thread count of explain's I/O
// workers.

#include "runtime/runtime.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <thread>

namespace {

using guidedbp::cli::use_one_intra_op_thread_in_this_thread;

// Restores the process's intra-op thread count at the end of a test.
class IntraOpThreadsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    original_ = at::get_num_threads();
    at::set_num_threads(3);
  }
  void TearDown() override {
    at::set_num_threads(original_);
  }

 private:
  int original_ = 1;
};

TEST_F(IntraOpThreadsTest, OneThreadInTheCallingThreadOnly) {
  if (at::get_num_threads() != 3) {
    GTEST_SKIP() << "LibTorch's intra-op pool is not OpenMP here: "
                 << at::get_parallel_info();
  }
  int in_worker = 0;
  int in_worker_after_ops = 0;
  std::thread worker([&] {
    use_one_intra_op_thread_in_this_thread();
    in_worker = at::get_num_threads();
    // ATen's first parallel op in a thread sets that thread's count: it must
    // not undo ours.
    (void)torch::ones({1 << 16}).mul(2).sum();
    in_worker_after_ops = at::get_num_threads();
  });
  worker.join();
  EXPECT_EQ(in_worker, 1);
  EXPECT_EQ(in_worker_after_ops, 1);
  // Neither this thread nor a thread started later is limited.
  EXPECT_EQ(at::get_num_threads(), 3);
  int in_later_thread = 0;
  std::thread later([&] { in_later_thread = at::get_num_threads(); });
  later.join();
  EXPECT_EQ(in_later_thread, 3);
}

} // namespace
