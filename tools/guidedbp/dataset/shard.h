#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dataset/dataset.h"

namespace guidedbp {
namespace cli {

/// Which part of a dataset run this process does: the images whose position
/// in the run's stable order (list_dataset) is `index` modulo `count`.
struct Shard {
  /// 0 <= index < count.
  int64_t index = 0;
  /// The number of shards; 1: the whole run.
  int64_t count = 1;
  /// Where it came from, for messages: "--shard", "SLURM_ARRAY_TASK_ID",
  /// "JOB_COMPLETION_INDEX", or "" (the whole run).
  std::string source;
};

/// Parses `--shard I/N` (decimal, 0 <= I < N).
///
/// NOTE: throws UsageError naming the text and the expected form.
///
/// Example:
///   Shard s = parse_shard("2/8"); // {2, 8, "--shard"}
Shard parse_shard(const std::string& text);

/// The shard of this process: `--shard` when given (`shard_option` not
/// empty); else a Slurm job array's task (SLURM_ARRAY_TASK_ID set): index =
/// (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP
/// (minimum 0 and step 1 when unset), count = SLURM_ARRAY_TASK_COUNT, and
/// when SLURM_ARRAY_TASK_MAX is set (Slurm always sets it) every task checks
/// (MAX - MIN) / STEP + 1 == COUNT; else a
/// Kubernetes Indexed Job's pod (JOB_COMPLETION_INDEX set): index =
/// JOB_COMPLETION_INDEX, count = `shard_count_option` (`--shard-count N`,
/// the Job's `completions`); else the whole run {0, 1, ""}. `getenv` reads
/// the environment (pass `std::getenv`; tests pass a map).
///
/// REQUIRES: `shard_count_option` is 0 (not given) or the value of
/// `--shard-count`.
/// NOTE: throws UsageError for a bad `--shard`, a negative `--shard-count`,
/// `--shard-count` disagreeing with `--shard` or the Slurm count, and
/// `--shard-count` above 1 with no index from anywhere; throws
/// CliError naming the variable and its value for a malformed or
/// out-of-range environment value, in every task of an array whose ids do
/// not step evenly from MIN to MAX (a list: `--array=1,2,9`), and for
/// JOB_COMPLETION_INDEX without
/// `--shard-count`.
///
/// Example:
///   // sbatch --array=0-7: SLURM_ARRAY_TASK_ID=3, SLURM_ARRAY_TASK_COUNT=8
///   Shard s = resolve_shard("", 0, [](const char* name) {
///     return std::getenv(name);
///   });
///   // {3, 8, "SLURM_ARRAY_TASK_ID"}
Shard resolve_shard(
    const std::string& shard_option,
    int64_t shard_count_option,
    const std::function<const char*(const char*)>& getenv);

/// The images of `shard`: those whose position in `all` is `shard.index`
/// modulo `shard.count`, in their order. The shards 0..N-1 of one list are
/// disjoint and together exactly `all`.
///
/// Example:
///   select_shard(images, {1, 3, "--shard"}); // images 1, 4, 7, ...
std::vector<DatasetImage> select_shard(
    const std::vector<DatasetImage>& all,
    const Shard& shard);

} // namespace cli
} // namespace guidedbp
