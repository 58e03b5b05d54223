// Unit tests of explain's dataset runs: listing folders and lists, shards,
// the manifest, output names for --skip-existing and stale temporaries. Each
// test builds its own small tree in a fresh temporary folder; expected
// values are written out by hand.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "cli/cli_error.h"
#include "dataset/dataset.h"
#include "dataset/manifest.h"
#include "dataset/output_names.h"
#include "dataset/shard.h"
#include "io/file_util.h"

namespace fs = std::filesystem;
using namespace guidedbp::cli;

namespace {

class DatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (fs::temp_directory_path() / "guidedbp_dataset_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(root_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(root_, ec);
  }
  // Creates the file root_/relative (and its folders); returns its path.
  std::string touch(
      const std::string& relative,
      const std::string& text = "x") {
    fs::path path = fs::path(root_) / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path.string();
  }
  std::string at(const std::string& relative) const {
    return (fs::path(root_) / relative).string();
  }
  std::string root_;
};

// Changes the working folder for one test and back.
struct WorkingFolder {
  explicit WorkingFolder(const std::string& folder) : old(fs::current_path()) {
    fs::current_path(folder);
  }
  ~WorkingFolder() {
    fs::current_path(old);
  }
  fs::path old;
};

std::vector<std::string> paths(const std::vector<DatasetImage>& images) {
  std::vector<std::string> out;
  for (const DatasetImage& image : images) {
    out.push_back(image.path);
  }
  return out;
}

std::vector<std::string> stems(const std::vector<DatasetImage>& images) {
  std::vector<std::string> out;
  for (const DatasetImage& image : images) {
    out.push_back(image.out_stem);
  }
  return out;
}

std::vector<DatasetImage> list(
    const std::vector<std::string>& inputs,
    const std::string& files_from = "",
    const std::string& stdin_text = "") {
  std::istringstream in(stdin_text);
  return list_dataset(inputs, files_from, in);
}

// The message of the CliError that `fn` throws, or "" (test fails).
template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const CliError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no CliError thrown";
  return "";
}

using Env = std::map<std::string, std::string>;

std::function<const char*(const char*)> env_of(const Env& env) {
  return [env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
}

std::set<std::string> files_in(const std::string& folder) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

} // namespace

// ---------------------------------------------------------------- listing

TEST(DatasetNamesTest, ImageExtensionsInAnyCase) {
  EXPECT_TRUE(is_image_path("a.png"));
  EXPECT_TRUE(is_image_path("dir/a.JPG"));
  EXPECT_TRUE(is_image_path("a.b.Jpeg"));
  EXPECT_FALSE(is_image_path("a.bmp"));
  EXPECT_FALSE(is_image_path("a.png.txt"));
  EXPECT_FALSE(is_image_path("png"));
  EXPECT_FALSE(is_image_path("dir.png/a"));
  EXPECT_FALSE(is_image_path("dir/.png")); // a hidden file named ".png"
}

TEST_F(DatasetTest, FolderIsWalkedRecursivelyImagesOnlySortedByPath) {
  touch("data/b/2.png");
  touch("data/a/1.JPG");
  touch("data/a/sub/3.jpeg");
  touch("data/a/notes.txt");
  touch("data/z.png");
  touch("data/c.bmp");
  touch("data/.hidden/x.png");
  touch("data/._y.jpg");
  auto images = list({at("data")});
  EXPECT_EQ(
      paths(images),
      (std::vector<std::string>{
          at("data/a/1.JPG"),
          at("data/a/sub/3.jpeg"),
          at("data/b/2.png"),
          at("data/z.png")}));
  EXPECT_EQ(
      stems(images), (std::vector<std::string>{"a/1", "a/sub/3", "b/2", "z"}));
}

TEST_F(DatasetTest, SortIsByteWiseNotNatural) {
  touch("d/img10.png");
  touch("d/img9.png");
  touch("d/Img2.png");
  touch("d/a-b/x.png");
  touch("d/a/x.png");
  // '-' (0x2d) < '/' (0x2f); 'I' (0x49) < 'i' (0x69); "1" < "9".
  EXPECT_EQ(
      stems(list({at("d")})),
      (std::vector<std::string>{"Img2", "a-b/x", "a/x", "img10", "img9"}));
}

TEST_F(DatasetTest, FolderWithTrailingSlashGivesCleanPaths) {
  touch("d/a.png");
  auto images = list({at("d") + "/"});
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].path, at("d/a.png"));
  EXPECT_EQ(images[0].out_stem, "a");
}

TEST_F(DatasetTest, EqualFileNamesInDifferentFoldersKeepTheirFolders) {
  touch("data/n01/ILSVRC_1.JPEG");
  touch("data/n02/ILSVRC_1.JPEG");
  EXPECT_EQ(
      stems(list({at("data")})),
      (std::vector<std::string>{"n01/ILSVRC_1", "n02/ILSVRC_1"}));
}

TEST_F(DatasetTest, SymlinkedFoldersAreNotFollowed) {
  touch("data/real/a.png");
  fs::create_directory_symlink(at("data/real"), at("data/link"));
  EXPECT_EQ(stems(list({at("data")})), (std::vector<std::string>{"real/a"}));
}

TEST_F(DatasetTest, FilesGivenDirectlyAreRelativeToTheirCommonFolder) {
  std::string a = touch("x/a/1.png");
  std::string b = touch("x/b/2.png");
  EXPECT_EQ(stems(list({a, b})), (std::vector<std::string>{"a/1", "b/2"}));
  EXPECT_EQ(stems(list({b})), (std::vector<std::string>{"2"}));
  std::string c = touch("x/a/3.png");
  EXPECT_EQ(stems(list({c, a})), (std::vector<std::string>{"3", "1"}));
  // Any extension when named directly: the read reports what it cannot use.
  std::string text = touch("x/a/notes.txt");
  EXPECT_EQ(stems(list({text})), (std::vector<std::string>{"notes"}));
}

TEST_F(DatasetTest, RelativeSpellingsFindTheCommonFolder) {
  touch("x/a/1.png");
  touch("x/b/2.png");
  WorkingFolder cwd(at("x/a"));
  auto images = list({"1.png", "../b/2.png"});
  EXPECT_EQ(paths(images), (std::vector<std::string>{"1.png", "../b/2.png"}));
  EXPECT_EQ(stems(images), (std::vector<std::string>{"a/1", "b/2"}));
}

TEST_F(DatasetTest, EqualStemsGetNumberedInOrderSkippingTakenNames) {
  std::string a_png = touch("f/a.png");
  std::string a_jpg = touch("f/a.jpg");
  std::string a2 = touch("f/a-2.png");
  // a-2.png keeps its own name; the second "a" takes the next free number.
  EXPECT_EQ(
      stems(list({a_png, a_jpg, a2})),
      (std::vector<std::string>{"a", "a-3", "a-2"}));
  // Two folders with the same layout.
  touch("r1/x.png");
  touch("r2/x.png");
  EXPECT_EQ(
      stems(list({at("r1"), at("r2")})),
      (std::vector<std::string>{"x", "x-2"}));
}

TEST_F(DatasetTest, TheSameFileTwiceIsKeptOnceAtItsFirstPlace) {
  touch("d/a.png");
  touch("d/b.png");
  WorkingFolder cwd(root_);
  auto images =
      list({"d/b.png", "./d/b.png", at("d/b.png"), "d", "d/../d/a.png"});
  EXPECT_EQ(paths(images), (std::vector<std::string>{"d/b.png", "d/a.png"}));
  // b given directly: its stem is relative to the files' common folder (d);
  // a from the folder walk.
  EXPECT_EQ(stems(images), (std::vector<std::string>{"b", "a"}));
}

TEST_F(DatasetTest, AMissingFileStaysForTheReadToReport) {
  auto images = list({at("gone/nope.png")});
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].path, at("gone/nope.png"));
  EXPECT_EQ(images[0].out_stem, "nope");
}

TEST_F(DatasetTest, FilesFromTakesRelativeAbsoluteAndSkipsBlankLines) {
  touch("w/rel/a.png");
  std::string b = touch("w/abs/b.png");
  touch("w/dir/c.png");
  touch("w/first.png");
  std::string listed =
      touch("w/list.txt", "rel/a.png\r\n\n   \n" + b + "\n\ndir\nmissing.png");
  WorkingFolder cwd(at("w"));
  auto images = list({"first.png"}, listed);
  // Positional inputs first, then the list in its order.
  EXPECT_EQ(
      paths(images),
      (std::vector<std::string>{
          "first.png", "rel/a.png", b, "dir/c.png", "missing.png"}));
  // Direct files (first, a, b, missing) relative to their common folder w/;
  // the folder's image relative to the folder.
  EXPECT_EQ(
      stems(images),
      (std::vector<std::string>{"first", "rel/a", "abs/b", "c", "missing"}));
}

TEST_F(DatasetTest, FilesFromDashReadsStandardInput) {
  std::string a = touch("s/a.png");
  std::string b = touch("s/b.jpg");
  auto images = list({}, "-", b + "\n" + a + "\n");
  EXPECT_EQ(paths(images), (std::vector<std::string>{b, a}));
  EXPECT_EQ(stems(images), (std::vector<std::string>{"b", "a"}));
}

TEST_F(DatasetTest, UnreadableFilesFromIsARunWideError) {
  std::string message = error_of([&] { list({}, at("no_list.txt")); });
  EXPECT_NE(message.find("--files-from"), std::string::npos) << message;
  EXPECT_NE(message.find("no_list.txt"), std::string::npos) << message;
  fs::create_directory(at("folder"));
  message = error_of([&] { list({}, at("folder")); });
  EXPECT_NE(message.find("--files-from"), std::string::npos) << message;
}

TEST_F(DatasetTest, NoImagesFoundNamesTheInputs) {
  touch("empty/readme.txt");
  std::string empty_list = touch("empty.txt", "\n\n");
  std::string message = error_of([&] { list({at("empty")}, empty_list); });
  EXPECT_NE(message.find("no images found"), std::string::npos) << message;
  EXPECT_NE(message.find(at("empty")), std::string::npos) << message;
  EXPECT_NE(message.find("--files-from " + empty_list), std::string::npos)
      << message;
  message = error_of([&] { list({}); });
  EXPECT_NE(message.find("no images given"), std::string::npos) << message;
}

TEST_F(DatasetTest, UnreadableFolderIsARunWideError) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "root reads any folder";
  }
  touch("locked/inner/a.png");
  fs::permissions(at("locked/inner"), fs::perms::none);
  std::string message = error_of([&] { list({at("locked")}); });
  fs::permissions(at("locked/inner"), fs::perms::owner_all);
  EXPECT_NE(message.find("cannot list"), std::string::npos) << message;
  EXPECT_NE(message.find("inner"), std::string::npos) << message;
}

TEST_F(DatasetTest, MakeDirectoriesCreatesParentsAndRejectsFiles) {
  make_directories(at("out/n01/deep"));
  EXPECT_TRUE(fs::is_directory(at("out/n01/deep")));
  make_directories(at("out/n01/deep")); // already there: fine
  std::string file = touch("file");
  std::string message = error_of([&] { make_directories(file); });
  EXPECT_NE(
      message.find("--out-dir " + file + ": not a directory"),
      std::string::npos)
      << message;
  message = error_of([&] { make_directories(file + "/sub"); });
  EXPECT_NE(message.find("cannot create " + file + "/sub"), std::string::npos)
      << message;
  EXPECT_NE(message.find("Not a directory"), std::string::npos) << message;
}

TEST_F(DatasetTest, MakeDirectoriesRejectsAFolderItCannotWriteTo) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "root writes into any folder";
  }
  fs::create_directory(at("read_only"));
  fs::permissions(
      at("read_only"), fs::perms::owner_read | fs::perms::owner_exec);
  std::string message = error_of([&] { make_directories(at("read_only")); });
  EXPECT_NE(
      message.find("--out-dir " + at("read_only") + ": not writable"),
      std::string::npos)
      << message;
  message = error_of(
      [&] { make_directories(at("read_only/sub"), "--manifest folder"); });
  EXPECT_NE(
      message.find(
          "--manifest folder " + at("read_only/sub") + ": cannot create"),
      std::string::npos)
      << message;
  EXPECT_NE(message.find("Permission denied"), std::string::npos) << message;
}

// ----------------------------------------------------------------- shards

TEST(ShardTest, ParsesIOverN) {
  Shard s = parse_shard("2/5");
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 5);
  EXPECT_EQ(s.source, "--shard");
  EXPECT_EQ(parse_shard("0/1").count, 1);
  for (const char* bad :
       {"5/5",
        "1/0",
        "-1/2",
        "1",
        "1/2/3",
        " 1/2",
        "1/ 2",
        "a/2",
        "1/b",
        "",
        "/",
        "99999999999999999999/1"}) {
    EXPECT_THROW(parse_shard(bad), UsageError) << bad;
  }
  std::string message = error_of([] { parse_shard("4/4"); });
  EXPECT_NE(message.find("0..3"), std::string::npos) << message;
}

TEST(ShardTest, ShardsAreDisjointAndTogetherTheWholeRunInOrder) {
  for (size_t size = 0; size <= 12; ++size) {
    std::vector<DatasetImage> all;
    for (size_t i = 0; i < size; ++i) {
      all.push_back({"img" + std::to_string(i), "s" + std::to_string(i)});
    }
    for (int64_t n = 1; n <= 5; ++n) {
      std::vector<int> seen(size, 0);
      for (int64_t i = 0; i < n; ++i) {
        auto part = select_shard(all, {i, n, "--shard"});
        size_t last = 0;
        for (size_t j = 0; j < part.size(); ++j) {
          size_t position = std::stoul(part[j].path.substr(3));
          EXPECT_EQ(position % n, static_cast<size_t>(i));
          if (j > 0) {
            EXPECT_GT(position, last); // the run's order is kept
          }
          last = position;
          ++seen[position];
        }
      }
      for (size_t p = 0; p < size; ++p) {
        EXPECT_EQ(seen[p], 1) << "image " << p << " of " << size << ", N=" << n;
      }
    }
  }
}

TEST(ShardTest, OptionWinsOverTheEnvironment) {
  Shard s = resolve_shard(
      "1/3",
      0,
      env_of({{"SLURM_ARRAY_TASK_ID", "0"}, {"JOB_COMPLETION_INDEX", "2"}}));
  EXPECT_EQ(s.index, 1);
  EXPECT_EQ(s.count, 3);
  EXPECT_EQ(s.source, "--shard");
  EXPECT_THROW(resolve_shard("1/3", 4, env_of({})), UsageError);
  EXPECT_EQ(resolve_shard("1/3", 3, env_of({})).count, 3);
}

TEST(ShardTest, NoShardMeansTheWholeRun) {
  Shard s = resolve_shard("", 0, env_of({{"SLURM_JOB_ID", "77"}}));
  EXPECT_EQ(s.index, 0);
  EXPECT_EQ(s.count, 1);
  EXPECT_EQ(s.source, "");
  EXPECT_EQ(resolve_shard("", 1, env_of({})).count, 1);
  EXPECT_THROW(resolve_shard("", 4, env_of({})), UsageError);
  EXPECT_THROW(resolve_shard("", -1, env_of({})), UsageError);
}

TEST(ShardTest, SlurmArrayTask) {
  // sbatch --array=0-7, task 3.
  Shard s = resolve_shard(
      "",
      0,
      env_of(
          {{"SLURM_ARRAY_TASK_ID", "3"},
           {"SLURM_ARRAY_TASK_MIN", "0"},
           {"SLURM_ARRAY_TASK_MAX", "7"},
           {"SLURM_ARRAY_TASK_COUNT", "8"}}));
  EXPECT_EQ(s.index, 3);
  EXPECT_EQ(s.count, 8);
  EXPECT_EQ(s.source, "SLURM_ARRAY_TASK_ID");
  // sbatch --array=10-40:10 (tasks 10, 20, 30, 40), task 30 -> shard 2/4.
  s = resolve_shard(
      "",
      0,
      env_of(
          {{"SLURM_ARRAY_TASK_ID", "30"},
           {"SLURM_ARRAY_TASK_MIN", "10"},
           {"SLURM_ARRAY_TASK_STEP", "10"},
           {"SLURM_ARRAY_TASK_COUNT", "4"}}));
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 4);
  // Without MIN and STEP: 0 and 1.
  s = resolve_shard(
      "",
      0,
      env_of({{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "2"}}));
  EXPECT_EQ(s.index, 1);
  EXPECT_EQ(s.count, 2);
  // --shard-count, if given, must agree.
  EXPECT_THROW(
      resolve_shard(
          "",
          3,
          env_of(
              {{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "2"}})),
      UsageError);
}

TEST(ShardTest, SlurmErrorsNameTheVariableAndValue) {
  std::string message = error_of([] {
    resolve_shard(
        "",
        0,
        env_of(
            {{"SLURM_ARRAY_TASK_ID", "x1"}, {"SLURM_ARRAY_TASK_COUNT", "2"}}));
  });
  EXPECT_NE(message.find("SLURM_ARRAY_TASK_ID=x1"), std::string::npos)
      << message;
  message = error_of([] {
    resolve_shard("", 0, env_of({{"SLURM_ARRAY_TASK_ID", "1"}}));
  });
  EXPECT_NE(message.find("SLURM_ARRAY_TASK_COUNT"), std::string::npos)
      << message;
  message = error_of([] {
    resolve_shard(
        "",
        0,
        env_of(
            {{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "-2"}}));
  });
  EXPECT_NE(message.find("SLURM_ARRAY_TASK_COUNT=-2"), std::string::npos)
      << message;
  // Ids up to 9 in 3 tasks with no SLURM_ARRAY_TASK_MAX (an older Slurm):
  // the task past the last shard fails.
  message = error_of([] {
    resolve_shard(
        "",
        0,
        env_of(
            {{"SLURM_ARRAY_TASK_ID", "9"},
             {"SLURM_ARRAY_TASK_MIN", "1"},
             {"SLURM_ARRAY_TASK_COUNT", "3"}}));
  });
  EXPECT_NE(message.find("SLURM_ARRAY_TASK_ID=9"), std::string::npos)
      << message;
  EXPECT_NE(message.find("--array=0-2"), std::string::npos) << message;
  // An id off the step.
  EXPECT_THROW(
      resolve_shard(
          "",
          0,
          env_of(
              {{"SLURM_ARRAY_TASK_ID", "15"},
               {"SLURM_ARRAY_TASK_MIN", "10"},
               {"SLURM_ARRAY_TASK_STEP", "10"},
               {"SLURM_ARRAY_TASK_COUNT", "4"}})),
      CliError);
  // Below the minimum.
  EXPECT_THROW(
      resolve_shard(
          "",
          0,
          env_of(
              {{"SLURM_ARRAY_TASK_ID", "0"},
               {"SLURM_ARRAY_TASK_MIN", "1"},
               {"SLURM_ARRAY_TASK_COUNT", "4"}})),
      CliError);
}

TEST(ShardTest, SlurmUnevenArrayIsRefusedByEveryTask) {
  // sbatch --array=1,2,9, as Slurm 22.05 runs it: MIN 1, MAX 9, STEP 1,
  // COUNT 3. Without MAX, tasks 1 and 2 would run shards 0/3 and 1/3 and only
  // task 9 would fail, leaving a third of the images undone.
  for (const char* id : {"1", "2", "9"}) {
    std::string message = error_of([id] {
      resolve_shard(
          "",
          0,
          env_of(
              {{"SLURM_ARRAY_TASK_ID", id},
               {"SLURM_ARRAY_TASK_MIN", "1"},
               {"SLURM_ARRAY_TASK_MAX", "9"},
               {"SLURM_ARRAY_TASK_STEP", "1"},
               {"SLURM_ARRAY_TASK_COUNT", "3"}}));
    });
    EXPECT_NE(message.find("SLURM_ARRAY_TASK_MAX=9"), std::string::npos)
        << id << ": " << message;
    EXPECT_NE(message.find("do not step evenly"), std::string::npos)
        << id << ": " << message;
    EXPECT_NE(message.find("--array=0-2"), std::string::npos)
        << id << ": " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  // A MAX that is not a number is named too.
  std::string message = error_of([] {
    resolve_shard(
        "",
        0,
        env_of(
            {{"SLURM_ARRAY_TASK_ID", "1"},
             {"SLURM_ARRAY_TASK_MAX", "x"},
             {"SLURM_ARRAY_TASK_COUNT", "2"}}));
  });
  EXPECT_NE(message.find("SLURM_ARRAY_TASK_MAX=x"), std::string::npos)
      << message;
}

TEST(ShardTest, SlurmRangeWithAStepWorksAListDoesNot) {
  // sbatch --array=1-9:4: STEP 4, tasks 1, 5, 9 are shards 0, 1, 2 of 3.
  int64_t index = 0;
  for (const char* id : {"1", "5", "9"}) {
    Shard s = resolve_shard(
        "",
        0,
        env_of(
            {{"SLURM_ARRAY_TASK_ID", id},
             {"SLURM_ARRAY_TASK_MIN", "1"},
             {"SLURM_ARRAY_TASK_MAX", "9"},
             {"SLURM_ARRAY_TASK_STEP", "4"},
             {"SLURM_ARRAY_TASK_COUNT", "3"}}));
    EXPECT_EQ(s.index, index++) << id;
    EXPECT_EQ(s.count, 3) << id;
  }
  // sbatch --array=1,5,9: Slurm 22.05 sets STEP 1 for a list, so even this
  // evenly spaced one is refused, by task 1 as by task 9.
  for (const char* id : {"1", "5", "9"}) {
    EXPECT_THROW(
        resolve_shard(
            "",
            0,
            env_of(
                {{"SLURM_ARRAY_TASK_ID", id},
                 {"SLURM_ARRAY_TASK_MIN", "1"},
                 {"SLURM_ARRAY_TASK_MAX", "9"},
                 {"SLURM_ARRAY_TASK_STEP", "1"},
                 {"SLURM_ARRAY_TASK_COUNT", "3"}})),
        CliError)
        << id;
  }
  // One task (--array=7): MIN = MAX = 7.
  Shard s = resolve_shard(
      "",
      0,
      env_of(
          {{"SLURM_ARRAY_TASK_ID", "7"},
           {"SLURM_ARRAY_TASK_MIN", "7"},
           {"SLURM_ARRAY_TASK_MAX", "7"},
           {"SLURM_ARRAY_TASK_STEP", "1"},
           {"SLURM_ARRAY_TASK_COUNT", "1"}}));
  EXPECT_EQ(s.index, 0);
  EXPECT_EQ(s.count, 1);
}

TEST(ShardTest, KubernetesIndexedJob) {
  Shard s = resolve_shard("", 5, env_of({{"JOB_COMPLETION_INDEX", "4"}}));
  EXPECT_EQ(s.index, 4);
  EXPECT_EQ(s.count, 5);
  EXPECT_EQ(s.source, "JOB_COMPLETION_INDEX");
  std::string message = error_of([] {
    resolve_shard("", 0, env_of({{"JOB_COMPLETION_INDEX", "4"}}));
  });
  EXPECT_NE(message.find("--shard-count"), std::string::npos) << message;
  EXPECT_NE(message.find("JOB_COMPLETION_INDEX=4"), std::string::npos)
      << message;
  message = error_of([] {
    resolve_shard("", 4, env_of({{"JOB_COMPLETION_INDEX", "4"}}));
  });
  EXPECT_NE(message.find("JOB_COMPLETION_INDEX=4"), std::string::npos)
      << message;
  message = error_of([] {
    resolve_shard("", 4, env_of({{"JOB_COMPLETION_INDEX", "two"}}));
  });
  EXPECT_NE(message.find("JOB_COMPLETION_INDEX=two"), std::string::npos)
      << message;
  // Slurm comes first when both are set.
  s = resolve_shard(
      "",
      0,
      env_of(
          {{"JOB_COMPLETION_INDEX", "1"},
           {"SLURM_ARRAY_TASK_ID", "0"},
           {"SLURM_ARRAY_TASK_COUNT", "2"}}));
  EXPECT_EQ(s.source, "SLURM_ARRAY_TASK_ID");
}

// --------------------------------------------------------------- manifest

TEST_F(DatasetTest, ManifestLinesParseBackAndAppend) {
  const std::string path = at("run.jsonl");
  {
    Manifest manifest(path);
    ManifestRecord ok;
    ok.input = "data/a \"quoted\".jpg";
    ok.predicted = 207;
    ok.score = 0.875;
    ok.targets = {207, 3};
    ok.outputs = {"maps/a_top1_class207.png", "maps/a_top2_class3.png"};
    manifest.write(ok);
    ManifestRecord bad;
    bad.input = "data/b.jpg";
    bad.ok = false;
    bad.error = "data/b.jpg: not a PNG or JPEG image (unknown signature)";
    manifest.write(bad);
  }
  {
    Manifest again(path); // a resumed run appends
    ManifestRecord r;
    r.input = "data/c.jpg";
    r.predicted = 0;
    r.score = std::nan("");
    r.targets = {0};
    again.write(r);
  }
  std::vector<std::string> lines = read_lines(path);
  ASSERT_EQ(lines.size(), 3u);
  auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["input"], "data/a \"quoted\".jpg");
  EXPECT_EQ(first["status"], "ok");
  EXPECT_TRUE(first["error"].is_null());
  EXPECT_EQ(first["predicted"], 207);
  EXPECT_DOUBLE_EQ(first["score"].get<double>(), 0.875);
  EXPECT_EQ(first["targets"], nlohmann::json::array({207, 3}));
  EXPECT_EQ(
      first["outputs"],
      nlohmann::json::array(
          {"maps/a_top1_class207.png", "maps/a_top2_class3.png"}));
  // Keys in the documented order.
  EXPECT_EQ(lines[0].rfind("{\"input\":", 0), 0u) << lines[0];
  EXPECT_LT(lines[0].find("\"status\""), lines[0].find("\"outputs\""));
  auto second = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(second["status"], "error");
  EXPECT_EQ(
      second["error"],
      "data/b.jpg: not a PNG or JPEG image (unknown signature)");
  EXPECT_TRUE(second["predicted"].is_null());
  EXPECT_TRUE(second["score"].is_null());
  EXPECT_EQ(second["targets"], nlohmann::json::array());
  EXPECT_EQ(second["outputs"], nlohmann::json::array());
  auto third = nlohmann::json::parse(lines[2]);
  EXPECT_EQ(third["input"], "data/c.jpg");
  EXPECT_EQ(third["predicted"], 0);
  EXPECT_TRUE(third["score"].is_null()); // NaN is not JSON
  // Warnings: always a list, in the last place.
  EXPECT_EQ(first["warnings"], nlohmann::json::array());
  EXPECT_EQ(second["warnings"], nlohmann::json::array());
  EXPECT_GT(lines[0].find("\"warnings\":[]}"), lines[0].find("\"outputs\""));
}

TEST_F(DatasetTest, ManifestListsAnImagesWarnings) {
  const std::string path = at("warned.jsonl");
  {
    Manifest manifest(path);
    ManifestRecord r;
    r.input = "dark.png";
    r.targets = {1};
    r.outputs = {"maps/dark_class1.png"};
    r.warnings = {
        "the attribution has no absolute_value values (all are zero): "
        "the heat map is blank"};
    manifest.write(r);
  }
  std::vector<std::string> lines = read_lines(path);
  ASSERT_EQ(lines.size(), 1u);
  auto record = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(record["status"], "ok");
  ASSERT_EQ(record["warnings"].size(), 1u);
  EXPECT_NE(
      record["warnings"][0].get<std::string>().find("heat map is blank"),
      std::string::npos);
}

TEST_F(DatasetTest, ManifestLineOfEvaluateAddsMetricAndValueLast) {
  ManifestRecord r;
  r.input = "val/a.png";
  r.predicted = 3;
  r.targets = {3};
  r.outputs = {"del.json"};
  r.metric = "deletion";
  r.value = 0.5;
  EXPECT_EQ(
      manifest_line(r),
      "{\"input\":\"val/a.png\",\"status\":\"ok\",\"error\":null,"
      "\"predicted\":3,\"score\":null,\"targets\":[3],\"outputs\":["
      "\"del.json\"],\"warnings\":[],\"metric\":\"deletion\",\"value\":0.5}"
      "\n");
  r.value = std::nan(""); // an undefined value (a constant map) is null
  EXPECT_NE(manifest_line(r).find("\"value\":null}"), std::string::npos);
  r.metric.clear(); // explain's lines: no metric, no value
  EXPECT_EQ(manifest_line(r).find("metric"), std::string::npos);
}

TEST_F(DatasetTest, ManifestStartsANewLineAfterACutOne) {
  const std::string path = touch("cut.jsonl", "{\"input\":\"a.png\",\"sta");
  {
    Manifest manifest(path);
    ManifestRecord r;
    r.input = "b.png";
    manifest.write(r);
  }
  std::vector<std::string> lines = read_lines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "{\"input\":\"a.png\",\"sta");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["input"], "b.png");
}

TEST_F(DatasetTest, ManifestWritesNonUtf8PathsAsValidJson) {
  const std::string path = at("bytes.jsonl");
  {
    Manifest manifest(path);
    ManifestRecord r;
    r.input = std::string("caf\xe9.png"); // Latin-1, not UTF-8
    manifest.write(r);
  }
  std::vector<std::string> lines = read_lines(path);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["input"], "caf\xef\xbf\xbd.png");
}

TEST_F(DatasetTest, ManifestIsThreadSafe) {
  const std::string path = at("threads.jsonl");
  {
    Manifest manifest(path);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&manifest, t] {
        for (int i = 0; i < 200; ++i) {
          ManifestRecord r;
          r.input = "t" + std::to_string(t) + "/" + std::to_string(i) + ".png";
          r.outputs = {std::string(300, 'x')};
          manifest.write(r);
        }
      });
    }
    for (std::thread& thread : threads) {
      thread.join();
    }
  }
  std::vector<std::string> lines = read_lines(path);
  ASSERT_EQ(lines.size(), 800u);
  std::set<std::string> inputs;
  for (const std::string& line : lines) {
    inputs.insert(nlohmann::json::parse(line)["input"].get<std::string>());
  }
  EXPECT_EQ(inputs.size(), 800u);
}

TEST_F(DatasetTest, ManifestThatCannotBeOpenedIsARunWideError) {
  std::string message =
      error_of([&] { Manifest manifest(at("no/such/folder/run.jsonl")); });
  EXPECT_NE(message.find("--manifest"), std::string::npos) << message;
  EXPECT_NE(message.find("No such file or directory"), std::string::npos)
      << message;
  fs::create_directory(at("dir.jsonl"));
  message = error_of([&] { Manifest manifest(at("dir.jsonl")); });
  EXPECT_NE(message.find("--manifest " + at("dir.jsonl")), std::string::npos)
      << message;
}

// ----------------------------------------------------------- output names

TEST(OutputNamesTest, MapBaseAndOutputFiles) {
  OutputNaming plain;
  EXPECT_EQ(map_base("n01/x", plain, 0, 207), "n01/x_class207");
  EXPECT_EQ(
      output_files("x", plain, {5}),
      (std::vector<std::string>{"x_class5.png"}));
  OutputNaming top;
  top.maps = 2;
  top.top_k = true;
  top.npy = true;
  top.gradcam_png = true;
  EXPECT_EQ(map_base("x", top, 1, 3), "x_top2_class3");
  EXPECT_EQ(
      output_files("x", top, {9, 3}),
      (std::vector<std::string>{
          "x_top1_class9.png",
          "x_top1_class9.npy",
          "x_top1_class9_gradcam.png",
          "x_top2_class3.png",
          "x_top2_class3.npy",
          "x_top2_class3_gradcam.png"}));
  OutputNaming panel;
  panel.panel = true;
  panel.npy = true;
  panel.gradcam_png = true; // drawn inside the panel
  EXPECT_EQ(
      output_files("d/x", panel, {4}),
      (std::vector<std::string>{"d/x_class4.npy", "d/x_panel.png"}));
}

TEST(OutputNamesTest, OutputFoldersAndPaths) {
  std::vector<DatasetImage> images = {
      {"v/n02/a.jpg", "n02/a"},
      {"b.png", "b"},
      {"v/n01/c.jpg", "n01/c"},
      {"v/n01/d/e.jpg", "n01/d/e"},
      {"v/n02/f.jpg", "n02/f"}};
  EXPECT_EQ(
      output_folders("maps", images),
      (std::vector<std::string>{"maps", "maps/n01", "maps/n01/d", "maps/n02"}));
  EXPECT_EQ(
      output_folders("maps/", {{"x.png", "n01/x"}}),
      (std::vector<std::string>{"maps/n01"}));
  EXPECT_EQ(output_path("maps", "n01/a_class3.png"), "maps/n01/a_class3.png");
  EXPECT_EQ(output_path("maps/", "a.png"), "maps/a.png");
  EXPECT_EQ(output_path("/", "a.png"), "/a.png");
}

TEST_F(DatasetTest, SkipExistingMatchesAnyClassOfAMap) {
  const std::string out = at("out");
  touch("out/n01/x_class7.png");
  touch("out/n01/y_class5_gradcam.png"); // not y's PNG
  touch("out/n01/z_class5_class3.png");  // image "z_class5"'s, not z's
  touch("out/n01/w_class07.png");        // not a class explain writes
  ExistingOutputs existing(out);
  OutputNaming plain;
  EXPECT_TRUE(existing.complete({"a/x.png", "n01/x"}, plain));
  EXPECT_FALSE(existing.complete({"a/y.png", "n01/y"}, plain));
  EXPECT_FALSE(existing.complete({"a/z.png", "n01/z"}, plain));
  EXPECT_FALSE(existing.complete({"a/w.png", "n01/w"}, plain));
  EXPECT_FALSE(existing.complete({"a/x.png", "n02/x"}, plain)); // no folder
  EXPECT_FALSE(existing.complete({"x.png", "x"}, plain));       // other folder
  OutputNaming fixed;
  fixed.fixed_class = 7;
  EXPECT_TRUE(existing.complete({"a/x.png", "n01/x"}, fixed));
  fixed.fixed_class = 8;
  EXPECT_FALSE(existing.complete({"a/x.png", "n01/x"}, fixed));
}

TEST_F(DatasetTest, SkipExistingNeedsTheSameClassAcrossOneMapsFiles) {
  const std::string out = at("out");
  touch("out/x_class7.png");
  touch("out/x_class8.npy");
  touch("out/y_class7.png");
  touch("out/y_class8.npy");
  touch("out/y_class8.png");
  OutputNaming npy;
  npy.npy = true;
  ExistingOutputs existing(out);
  EXPECT_FALSE(existing.complete({"x.png", "x"}, npy));
  EXPECT_TRUE(existing.complete({"y.png", "y"}, npy));
  npy.gradcam_png = true;
  EXPECT_FALSE(existing.complete({"y.png", "y"}, npy));
}

TEST_F(DatasetTest, SkipExistingTopKEachMapItsOwnClass) {
  const std::string out = at("out");
  touch("out/x_top1_class3.png");
  touch("out/x_top2_class9.png");
  touch("out/y_top1_class3.png");
  OutputNaming top;
  top.maps = 2;
  top.top_k = true;
  ExistingOutputs existing(out);
  EXPECT_TRUE(existing.complete({"x.png", "x"}, top));
  EXPECT_FALSE(existing.complete({"y.png", "y"}, top));
  top.maps = 3;
  EXPECT_FALSE(existing.complete({"x.png", "x"}, top));
}

TEST_F(DatasetTest, SkipExistingPanel) {
  const std::string out = at("out");
  touch("out/x_panel.png");
  touch("out/y_panel.png");
  touch("out/y_top1_class2.npy");
  touch("out/y_top2_class4.npy");
  OutputNaming panel;
  panel.panel = true;
  panel.maps = 2;
  panel.top_k = true;
  ExistingOutputs existing(out);
  EXPECT_TRUE(existing.complete({"x.png", "x"}, panel));
  EXPECT_FALSE(existing.complete({"z.png", "z"}, panel));
  panel.npy = true;
  EXPECT_FALSE(existing.complete({"x.png", "x"}, panel));
  EXPECT_TRUE(existing.complete({"y.png", "y"}, panel));
}

TEST_F(DatasetTest, SkipExistingListsEachFolderOnce) {
  const std::string out = at("out");
  touch("out/keep.txt");
  ExistingOutputs existing(out);
  OutputNaming plain;
  EXPECT_FALSE(existing.complete({"x.png", "x"}, plain));
  touch("out/x_class1.png");
  // Cached: the listing is from the first question.
  EXPECT_FALSE(existing.complete({"x.png", "x"}, plain));
  EXPECT_TRUE(ExistingOutputs(out).complete({"x.png", "x"}, plain));
}

TEST_F(DatasetTest, StaleTemporariesOfTheseImagesOnlyAreRemoved) {
  const std::string out = at("out");
  const std::vector<std::string> ours = {
      ".x_class5.png.tmp-AbC123",
      ".x_class5.npy.tmp-Zz9Zz9",
      ".x_class12_gradcam.png.tmp-000000",
      ".x_panel.png.tmp-q1w2e3",
      ".my_img_class1.png.tmp-aaaaaa",
  };
  const std::vector<std::string> others = {
      "x_class5.png",                   // an output itself
      ".x_class5.png.tmp-abc",          // not mkstemp's six characters
      ".x_class5.png.tmp-abc_12",       // not letters and digits
      ".x_other_class5.png.tmp-abcdef", // image "x_other", another shard's
      ".y_class5.png.tmp-abcdef",       // image "y"
      ".x_class5.png",                  // not a temporary
      ".x_top1_class5.png.tmp-abcdef",  // top-k name: not this run's naming
      ".x_class5.txt.tmp-abcdef",       // not an output's suffix
      ".x_class.png.tmp-abcdef",        // no class
  };
  for (const std::string& name : ours) {
    touch("out/n01/" + name);
  }
  for (const std::string& name : others) {
    touch("out/n01/" + name);
  }
  touch("out/.x_class5.png.tmp-abcdef"); // x is in n01/, not here
  std::vector<DatasetImage> images = {
      {"d/n01/x.png", "n01/x"}, {"d/n01/my_img.png", "n01/my_img"}};
  EXPECT_EQ(remove_stale_temporaries(out, images), ours.size());
  EXPECT_EQ(
      files_in(at("out/n01")),
      std::set<std::string>(others.begin(), others.end()));
  EXPECT_TRUE(fs::exists(at("out/.x_class5.png.tmp-abcdef")));
  // With the run's top-k naming, the top-k temporary is ours too.
  OutputNaming top;
  top.maps = 2;
  top.top_k = true;
  EXPECT_EQ(remove_stale_temporaries(out, images, top), 1u);
  EXPECT_FALSE(fs::exists(at("out/n01/.x_top1_class5.png.tmp-abcdef")));
  // A folder that does not exist yet: nothing to do.
  EXPECT_EQ(remove_stale_temporaries(out, {{"a.png", "new/a"}}), 0u);
}

TEST(OutputNamesTest, ImageOutputsGivesEachFileItsRole) {
  OutputNaming naming;
  naming.maps = 2;
  naming.top_k = true;
  naming.npy = true;
  naming.gradcam_png = true;
  ImageOutputs outputs = image_outputs("n01/a", naming, {7, 3});
  ASSERT_EQ(outputs.maps.size(), 2u);
  EXPECT_EQ(outputs.maps[0].png, "n01/a_top1_class7.png");
  EXPECT_EQ(outputs.maps[0].npy, "n01/a_top1_class7.npy");
  EXPECT_EQ(outputs.maps[0].gradcam_png, "n01/a_top1_class7_gradcam.png");
  EXPECT_EQ(outputs.maps[1].png, "n01/a_top2_class3.png");
  EXPECT_EQ(outputs.panel, "");
  naming.panel = true; // the maps and Grad-CAM maps go into the panel
  outputs = image_outputs("n01/a", naming, {7, 3});
  EXPECT_EQ(outputs.maps[0].png, "");
  EXPECT_EQ(outputs.maps[0].gradcam_png, "");
  EXPECT_EQ(outputs.maps[1].npy, "n01/a_top2_class3.npy");
  EXPECT_EQ(outputs.panel, "n01/a_panel.png");
  EXPECT_EQ(
      output_files("n01/a", naming, {7, 3}),
      (std::vector<std::string>{
          "n01/a_top1_class7.npy",
          "n01/a_top2_class3.npy",
          "n01/a_panel.png"}));
}
