// Unit tests of the torch-free parts explain's dataset pipeline stands on:
// StagedFiles (all-or-nothing writes), ThreadPool, Progress and
// InterruptGuard. Each against facts checked by hand: files on disk, the
// order results arrive in, the text printed, the signal's effect.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "cli/cli_error.h"
#include "io/file_util.h"
#include "runtime/interrupt.h"
#include "runtime/progress.h"
#include "runtime/thread_pool.h"

using namespace guidedbp::cli;
namespace fs = std::filesystem;

namespace {

class StagedFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (fs::temp_directory_path() / "guidedbp_staged_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string at(const std::string& name) const {
    return (fs::path(dir_) / name).string();
  }
  std::set<std::string> on_disk() const {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      names.insert(entry.path().filename().string());
    }
    return names;
  }
  static std::string text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::string dir_;
};

} // namespace

TEST_F(StagedFilesTest, CommitWritesEveryFile) {
  StagedFiles files;
  files.stage(at("a.txt"), std::vector<char>{'a', '1'});
  files.stage(at("b.txt"), std::vector<uint8_t>{'b'});
  // Staged only: temporaries, no destination yet.
  EXPECT_EQ(on_disk().count("a.txt"), 0u);
  EXPECT_EQ(on_disk().size(), 2u);
  files.commit();
  EXPECT_EQ(on_disk(), (std::set<std::string>{"a.txt", "b.txt"}));
  EXPECT_EQ(text(at("a.txt")), "a1");
  EXPECT_EQ(text(at("b.txt")), "b");
}

TEST_F(StagedFilesTest, NoCommitLeavesNothing) {
  {
    StagedFiles files;
    files.stage(at("a.txt"), std::vector<char>{'a'});
  }
  EXPECT_TRUE(on_disk().empty());
}

TEST_F(StagedFilesTest, AFailingStageLeavesNothing) {
  StagedFiles files;
  files.stage(at("a.txt"), std::vector<char>{'a'});
  EXPECT_THROW(
      files.stage(at("missing/b.txt"), std::vector<char>{'b'}), CliError);
  files.discard();
  EXPECT_TRUE(on_disk().empty());
}

TEST_F(StagedFilesTest, AFailingCommitUndoesTheFilesItRenamed) {
  fs::create_directory(at("b.txt")); // renaming a file onto it fails
  {
    StagedFiles files;
    files.stage(at("a.txt"), std::vector<char>{'a'});
    files.stage(at("b.txt"), std::vector<char>{'b'});
    EXPECT_THROW(files.commit(), CliError);
  }
  EXPECT_EQ(on_disk(), (std::set<std::string>{"b.txt"})); // the folder alone
}

TEST(ThreadPoolTest, ResultsAndExceptionsArriveThroughTheFutures) {
  ThreadPool pool(3);
  std::vector<std::future<int>> results;
  for (int i = 0; i < 20; ++i) {
    results.push_back(pool.submit([i] { return i * i; }));
  }
  auto failing = pool.submit([]() -> int { throw std::runtime_error("bad"); });
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(results[i].get(), i * i);
  }
  EXPECT_THROW(failing.get(), std::runtime_error);
}

TEST(ThreadPoolTest, DestructionRunsWhatIsQueued) {
  std::atomic<int> done{0};
  {
    ThreadPool pool(1);
    for (int i = 0; i < 10; ++i) {
      pool.submit([&done] {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        ++done;
      });
    }
  }
  EXPECT_EQ(done.load(), 10);
}

TEST(ThreadPoolTest, OneWorkerRunsTasksInSubmissionOrder) {
  std::vector<int> order;
  {
    ThreadPool pool(1);
    for (int i = 0; i < 50; ++i) {
      pool.submit([&order, i] { order.push_back(i); });
    }
  }
  ASSERT_EQ(order.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(order[i], i);
  }
}

TEST(ProgressTest, LogLinesEstimateFromTheThirdItemOn) {
  // ctest's stderr is not a terminal: the log mode, every update printed
  // with log_every 0.
  testing::internal::CaptureStderr();
  {
    Progress progress(10, /*quiet=*/false, /*log_every_seconds=*/0.0);
    for (size_t done = 1; done <= 4; ++done) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      progress.update(done, "x.png");
    }
    EXPECT_TRUE(progress.shown());
  }
  const std::string out = testing::internal::GetCapturedStderr();
  std::vector<std::string> lines;
  std::stringstream in(out);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  ASSERT_EQ(lines.size(), 4u) << out;
  EXPECT_EQ(lines[0], "guidedbp: 1/10 images");
  EXPECT_EQ(lines[1], "guidedbp: 2/10 images");
  EXPECT_NE(lines[2].find("3/10 images, "), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find(" images/s, "), std::string::npos) << lines[2];
  EXPECT_NE(lines[3].find(" left"), std::string::npos) << lines[3];
}

TEST(ProgressTest, QuietOrSingleItemRunsPrintNothing) {
  testing::internal::CaptureStderr();
  {
    Progress quiet(10, /*quiet=*/true, 0.0);
    quiet.update(5, "x");
    Progress one(1, /*quiet=*/false, 0.0);
    one.update(1, "x");
    EXPECT_FALSE(quiet.shown());
    EXPECT_FALSE(one.shown());
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

TEST(ProgressTest, FormatsDurations) {
  EXPECT_EQ(format_duration(0.4), "0 s");
  EXPECT_EQ(format_duration(42), "42 s");
  EXPECT_EQ(format_duration(185), "3 min 05 s");
  EXPECT_EQ(format_duration(7620), "2 h 07 min");
}

namespace {

// How a child process ended that runs `body` (which may raise signals).
// Returns the signal that killed it, or 100 + its exit status.
int in_child(void (*body)()) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    body();
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFSIGNALED(status) ? WTERMSIG(status) : 100 + WEXITSTATUS(status);
}

} // namespace

TEST(InterruptGuardTest, FirstSignalSetsTheFlag) {
  EXPECT_EQ(
      in_child([] {
        InterruptGuard guard;
        if (guard.interrupted()) {
          ::_exit(1);
        }
        std::raise(SIGTERM);
        ::_exit(guard.signal() == SIGTERM ? 7 : 2);
      }),
      107);
  EXPECT_STREQ(signal_name(SIGINT), "SIGINT");
  EXPECT_STREQ(signal_name(SIGTERM), "SIGTERM");
}

TEST(InterruptGuardTest, ASecondSignalOfEitherKindEndsTheProcess) {
  for (auto body :
       {+[] {
          InterruptGuard guard;
          std::raise(SIGINT);
          std::raise(SIGINT);
          ::_exit(3);
        },
        +[] {
          InterruptGuard guard;
          std::raise(SIGINT);
          std::raise(SIGTERM);
          ::_exit(3);
        }}) {
    const int ended = in_child(body);
    EXPECT_TRUE(ended == SIGINT || ended == SIGTERM) << ended;
  }
}

TEST(InterruptGuardTest, RestoresThePreviousHandlers) {
  EXPECT_EQ(
      in_child([] {
        struct sigaction ignore {};
        ignore.sa_handler = SIG_IGN;
        sigaction(SIGTERM, &ignore, nullptr);
        { InterruptGuard guard; }
        struct sigaction now {};
        sigaction(SIGTERM, nullptr, &now);
        ::_exit(now.sa_handler == SIG_IGN ? 5 : 6);
      }),
      105);
}
