#include "dataset/shard.h"

#include <limits>

#include "cli/cli_error.h"

namespace guidedbp {
namespace cli {
namespace {

// A non-negative decimal integer that fits int64_t, nothing else (no sign,
// no spaces), as job schedulers write them.
bool parse_non_negative(const std::string& text, int64_t& value) {
  if (text.empty() || text.size() > 19) {
    return false;
  }
  uint64_t result = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
    result = result * 10 + static_cast<uint64_t>(c - '0');
  }
  if (result > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return false;
  }
  value = static_cast<int64_t>(result);
  return true;
}

// A variable of the environment as a number; `fallback` when unset (or an
// error naming it when there is no fallback).
int64_t env_number(
    const std::function<const char*(const char*)>& getenv,
    const char* name,
    const std::string& context,
    const int64_t* fallback) {
  const char* value = getenv(name);
  if (value == nullptr) {
    if (fallback != nullptr) {
      return *fallback;
    }
    throw CliError(
        std::string(name) + " is not set but " + context +
        " is; run inside a complete job array or give --shard I/N");
  }
  int64_t number = 0;
  if (!parse_non_negative(value, number)) {
    throw CliError(
        std::string(name) + "=" + value +
        " is not a non-negative integer; fix the job's environment or give --shard I/N");
  }
  return number;
}

std::string shard_text(const Shard& s) {
  return std::to_string(s.index) + "/" + std::to_string(s.count);
}

} // namespace

Shard parse_shard(const std::string& text) {
  const std::string form =
      "; write --shard I/N with 0 <= I < N, e.g. --shard 0/4";
  size_t slash = text.find('/');
  Shard shard;
  shard.source = "--shard";
  if (slash == std::string::npos ||
      !parse_non_negative(text.substr(0, slash), shard.index) ||
      !parse_non_negative(text.substr(slash + 1), shard.count)) {
    throw UsageError("--shard " + text + ": not of the form I/N" + form);
  }
  if (shard.count < 1) {
    throw UsageError("--shard " + text + ": N must be at least 1" + form);
  }
  if (shard.index >= shard.count) {
    throw UsageError(
        "--shard " + text + ": the index must be below " +
        std::to_string(shard.count) + " (shards are numbered 0.." +
        std::to_string(shard.count - 1) + ")" + form);
  }
  return shard;
}

Shard resolve_shard(
    const std::string& shard_option,
    int64_t shard_count_option,
    const std::function<const char*(const char*)>& getenv) {
  if (shard_count_option < 0) {
    throw UsageError(
        "--shard-count " + std::to_string(shard_count_option) +
        ": must be at least 1; give the number of shards (a Kubernetes Indexed Job's completions)");
  }
  auto check_count = [&](const Shard& shard) {
    if (shard_count_option > 0 && shard_count_option != shard.count) {
      throw UsageError(
          "--shard-count " + std::to_string(shard_count_option) +
          " disagrees with " + shard.source + " (" + shard_text(shard) +
          "); leave --shard-count out or make them equal");
    }
    return shard;
  };
  if (!shard_option.empty()) {
    return check_count(parse_shard(shard_option));
  }

  if (getenv("SLURM_ARRAY_TASK_ID") != nullptr) {
    const std::string context = "SLURM_ARRAY_TASK_ID";
    const int64_t zero = 0;
    const int64_t one = 1;
    int64_t id = env_number(getenv, "SLURM_ARRAY_TASK_ID", context, nullptr);
    int64_t min = env_number(getenv, "SLURM_ARRAY_TASK_MIN", context, &zero);
    int64_t step = env_number(getenv, "SLURM_ARRAY_TASK_STEP", context, &one);
    int64_t count =
        env_number(getenv, "SLURM_ARRAY_TASK_COUNT", context, nullptr);
    const std::string values = "SLURM_ARRAY_TASK_ID=" + std::to_string(id) +
        " with SLURM_ARRAY_TASK_MIN=" + std::to_string(min) +
        ", SLURM_ARRAY_TASK_STEP=" + std::to_string(step) +
        ", SLURM_ARRAY_TASK_COUNT=" + std::to_string(count);
    const std::string fix =
        "; submit with an evenly spaced range such as sbatch --array=0-" +
        std::to_string(count > 0 ? count - 1 : 0) + ", or give --shard I/N";
    if (step < 1 || count < 1 || id < min || (id - min) % step != 0) {
      throw CliError(values + " is not a task of an evenly spaced array" + fix);
    }
    // A list (--array=1,2,9; Slurm 22.05 gives every list STEP 1) would map
    // its low tasks to shards 0/3 and 1/3 and only task 9 would fail: a third
    // of the run silently never done. MAX shows the gap to every task.
    if (getenv("SLURM_ARRAY_TASK_MAX") != nullptr) {
      int64_t max =
          env_number(getenv, "SLURM_ARRAY_TASK_MAX", context, nullptr);
      if (max < min || (max - min) % step != 0 ||
          (max - min) / step + 1 != count) {
        throw CliError(
            values + ", SLURM_ARRAY_TASK_MAX=" + std::to_string(max) +
            ": the array's " + std::to_string(count) + " task ids from " +
            std::to_string(min) + " to " + std::to_string(max) +
            " do not step evenly from MIN to MAX (a list such as --array=1,2,9), so its tasks cannot split the run" +
            fix);
      }
    }
    Shard shard{(id - min) / step, count, "SLURM_ARRAY_TASK_ID"};
    if (shard.index >= count) {
      throw CliError(
          values + " gives shard " + shard_text(shard) +
          ", past the last task" + fix);
    }
    return check_count(shard);
  }

  if (const char* value = getenv("JOB_COMPLETION_INDEX")) {
    int64_t index = 0;
    if (!parse_non_negative(value, index)) {
      throw CliError(
          std::string("JOB_COMPLETION_INDEX=") + value +
          " is not a non-negative integer; fix the Job's environment or give --shard I/N");
    }
    if (shard_count_option == 0) {
      throw CliError(
          "JOB_COMPLETION_INDEX=" + std::to_string(index) +
          " is set (a Kubernetes Indexed Job) but --shard-count is not; pass --shard-count N with N the Job's completions, or --shard I/N");
    }
    if (index >= shard_count_option) {
      throw CliError(
          "JOB_COMPLETION_INDEX=" + std::to_string(index) +
          " is not below --shard-count " + std::to_string(shard_count_option) +
          "; make --shard-count equal to the Job's completions");
    }
    return {index, shard_count_option, "JOB_COMPLETION_INDEX"};
  }

  if (shard_count_option > 1) {
    throw UsageError(
        "--shard-count " + std::to_string(shard_count_option) +
        " but no shard index (neither --shard, SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX); give --shard I/N");
  }
  return {0, 1, ""};
}

std::vector<DatasetImage> select_shard(
    const std::vector<DatasetImage>& all,
    const Shard& shard) {
  std::vector<DatasetImage> part;
  if (shard.count < 1 || shard.index < 0 || shard.index >= shard.count) {
    throw CliError(
        "shard " + shard_text(shard) + " is not valid; use 0 <= index < count");
  }
  for (size_t i = 0; i < all.size(); ++i) {
    if (static_cast<int64_t>(i % static_cast<size_t>(shard.count)) ==
        shard.index) {
      part.push_back(all[i]);
    }
  }
  return part;
}

} // namespace cli
} // namespace guidedbp
