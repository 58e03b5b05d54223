// guidedbp explain: images in, heat maps out, from one file to a whole
// dataset. The command line becomes a plan (explain_plan.h); the stages
// (explain_stages.h) load, explain and draw images; the pipeline
// (pipeline.h) runs them: the model on the main thread, decoding and drawing
// on a small thread pool, with a fixed number of images in flight. This file
// wires them together and reports.

#include <cstdio>
#include <iostream>
#include <optional>
#include <set>

#include "cli/report.h"
#include "commands/explain_plan.h"
#include "commands/explain_stages.h"
#include "io/file_util.h"
#include "runtime/interrupt.h"
#include "runtime/pipeline.h"
#include "runtime/progress.h"
#include "runtime/thread_pool.h"

namespace guidedbp {
namespace cli {
namespace {

// Prints each distinct warning or note once per run, with the image it was
// first seen on.
class ReportOnce {
 public:
  explicit ReportOnce(Progress& progress) : progress_(progress) {}

  void warnings(
      const std::string& image,
      const std::vector<std::string>& messages) {
    for (const std::string& message : messages) {
      if (seen_.insert(message).second) {
        progress_.clear();
        std::fprintf(
            stderr,
            "guidedbp: warning: %s: %s\n",
            image.c_str(),
            message.c_str());
      }
    }
  }

 private:
  Progress& progress_;
  std::set<std::string> seen_;
};

// What a run did, for its summary.
struct RunCounts {
  size_t todo = 0; // images to explain (not skipped)
  size_t done = 0; // reported: explained or failed
  size_t explained = 0;
  size_t skipped = 0; // --skip-existing found their outputs
  size_t warned = 0;  // explained, with warnings about their maps
  std::vector<std::string> failures;
};

// The run: the plan and the stages, then the pipeline and the summary.
class ExplainRun {
 public:
  explicit ExplainRun(const ExplainArgs& args);
  int run();

 private:
  std::vector<const DatasetImage*> images_to_do(RunCounts& counts) const;
  void make_output_folder(const DatasetImage& image);
  void report(FinishedImage finished, RunCounts& counts, Progress& progress);
  int summarize(const RunCounts& counts, const Progress& progress, int signal)
      const;

  const ExplainArgs& args_;
  ExplainPlan plan_;
  ExplainStages stages_;
  std::vector<DatasetImage> images_; // this shard's, in the stable order
  size_t listed_ = 0;                // before sharding
  std::optional<Manifest> manifest_;
  std::set<std::string> made_folders_;
  std::optional<ReportOnce> report_once_;
};

// Everything that would fail every image is checked before the first one:
// the options, the labels, the model, the method, the out-dir, the list of
// images, the manifest.
ExplainRun::ExplainRun(const ExplainArgs& args)
    : args_(args), plan_(plan_explain(args)), stages_(args, plan_) {
  make_directories(args.out_dir);
  std::vector<DatasetImage> all =
      list_dataset(args.images, args.files_from, std::cin);
  listed_ = all.size();
  images_ = select_shard(all, plan_.shard);
  if (!args.manifest.empty()) {
    manifest_.emplace(args.manifest);
  }
}

// Images whose outputs are not all there already (--skip-existing), after
// removing temporary files that a killed run of these images left behind.
std::vector<const DatasetImage*> ExplainRun::images_to_do(
    RunCounts& counts) const {
  std::vector<const DatasetImage*> todo;
  {
    ExistingOutputs existing(args_.out_dir);
    for (const DatasetImage& image : images_) {
      if (args_.skip_existing && existing.complete(image, plan_.naming)) {
        ++counts.skipped;
      } else {
        todo.push_back(&image);
      }
    }
  }
  remove_stale_temporaries(args_.out_dir, images_, plan_.naming);
  return todo;
}

// The mirrored output folders, made by the main thread before an image's
// files are drawn (not before the model's first batch, so that a run-wide
// error leaves --out-dir as it was); one that cannot be made stops the run.
void ExplainRun::make_output_folder(const DatasetImage& image) {
  for (const std::string& folder : output_folders(args_.out_dir, {image})) {
    if (made_folders_.insert(folder).second) {
      try {
        make_directories(folder);
      } catch (const CliError& e) {
        throw RunWideError(e.what());
      }
    }
  }
}

void ExplainRun::report(
    FinishedImage finished,
    RunCounts& counts,
    Progress& progress) {
  report_once_->warnings(finished.item->path, finished.warnings);
  progress.clear();
  if (finished.error.empty()) {
    ++counts.explained;
    counts.warned += finished.record.warnings.empty() ? 0 : 1;
    for (const std::string& line : finished.lines) {
      std::fprintf(stdout, "%s\n", line.c_str());
    }
    std::fflush(stdout);
  } else {
    counts.failures.push_back(finished.error);
    std::fprintf(stderr, "guidedbp: %s\n", finished.error.c_str());
  }
  if (manifest_) {
    manifest_->write(finished.record);
  }
  progress.update(++counts.done, finished.item->path);
}

int ExplainRun::run() {
  RunCounts counts;
  const std::vector<const DatasetImage*> todo = images_to_do(counts);
  counts.todo = todo.size();
  Progress progress(todo.size(), args_.quiet, args_.progress_every);
  report_once_.emplace(progress);
  InterruptGuard interrupt;

  PipelineStages<LoadedImage, ModelResult, FinishedImage> stages;
  stages.load = [this, &todo](size_t i) { return stages_.load(todo[i]); };
  stages.failed_load = [this](LoadedImage& loaded) {
    std::optional<FinishedImage> failure;
    if (!loaded.error.empty()) {
      report_once_->warnings(loaded.item->path, loaded.warnings);
      failure = failed_image(loaded.item, loaded.error);
    }
    return failure;
  };
  stages.same_group = [](const LoadedImage& first, const LoadedImage& next) {
    return first.input.input.sizes() == next.input.input.sizes();
  };
  stages.run_batch = [this](std::vector<LoadedImage>& batch) {
    std::vector<std::string> warnings;
    std::vector<std::variant<ModelResult, FinishedImage>> outcomes;
    {
      WarningLines collect(
          [&warnings](const std::string& line) { warnings.push_back(line); });
      outcomes = stages_.explain(batch);
    }
    for (const LoadedImage& loaded : batch) {
      report_once_->warnings(loaded.item->path, loaded.warnings);
    }
    report_once_->warnings(batch[0].item->path, warnings);
    for (const auto& outcome : outcomes) {
      if (const ModelResult* result = std::get_if<ModelResult>(&outcome)) {
        make_output_folder(*result->item);
      }
    }
    return outcomes;
  };
  stages.finish = [this](ModelResult result) {
    return stages_.draw(std::move(result));
  };
  stages.report = [this, &counts, &progress](FinishedImage finished) {
    report(std::move(finished), counts, progress);
  };

  const size_t batch_size = static_cast<size_t>(args_.batch_size);
  // Bounded memory: at most this many images decoded ahead of the model,
  // and this many waiting to be drawn and written, whatever the dataset.
  PipelineLimits limits;
  limits.batch_size = batch_size;
  limits.ahead = 2 * batch_size + static_cast<size_t>(args_.io_threads);
  ThreadPool pool(static_cast<size_t>(args_.io_threads));
  Pipeline<LoadedImage, ModelResult, FinishedImage> pipeline(
      stages, limits, pool, [&interrupt] { return interrupt.interrupted(); });
  try {
    // A run-wide error: what is in flight ends cleanly (written and
    // reported, or removed) before the error is; before the options were
    // found to fit the model's output nothing was drawn, and images that
    // failed meanwhile are not reported: the run-wide error alone is.
    pipeline.run(todo.size(), [this] { return stages_.options_fit_output(); });
  } catch (...) {
    progress.clear();
    throw;
  }
  progress.clear();
  return summarize(counts, progress, interrupt.signal());
}

int ExplainRun::summarize(
    const RunCounts& counts,
    const Progress& progress,
    int signal) const {
  const size_t not_done = counts.todo - counts.done;
  if (!args_.quiet &&
      (progress.shown() || signal != 0 || counts.skipped > 0 ||
       plan_.shard.count > 1 || counts.warned > 0)) {
    const double seconds = progress.elapsed();
    std::string text = std::to_string(counts.explained) + " explained, " +
        std::to_string(counts.failures.size()) + " failed";
    if (counts.skipped > 0) {
      text +=
          ", " + std::to_string(counts.skipped) + " skipped (outputs present)";
    }
    if (signal != 0) {
      text += ", " + std::to_string(not_done) + " not done";
    }
    text += " of " + std::to_string(images_.size()) + " images";
    if (plan_.shard.count > 1) {
      text += " (shard " + std::to_string(plan_.shard.index) + "/" +
          std::to_string(plan_.shard.count) + " of " + std::to_string(listed_) +
          ")";
    }
    char rate[64];
    std::snprintf(
        rate,
        sizeof(rate),
        " in %s, %.1f images/s",
        format_duration(seconds).c_str(),
        seconds > 0 ? static_cast<double>(counts.done) / seconds : 0.0);
    std::string warnings;
    if (counts.warned > 0) {
      // Each distinct warning was printed once, with its first image; the
      // manifest lists every image's.
      warnings = "; " + std::to_string(counts.warned) +
          " of the explained with " + "warnings (a blank map), " +
          (manifest_ ? "listed in " + manifest_->path()
                     : std::string("--manifest FILE lists them"));
    }
    std::fprintf(
        stderr, "guidedbp: %s%s%s\n", text.c_str(), rate, warnings.c_str());
  }
  if (signal != 0) {
    std::fprintf(
        stderr,
        "guidedbp: interrupted by %s; run again with --skip-existing to "
        "resume\n",
        signal_name(signal));
  }
  if (!counts.failures.empty()) {
    if (progress.shown()) {
      // A long run: the failures scrolled by; list them again.
      for (const std::string& failure : counts.failures) {
        std::fprintf(stderr, "guidedbp: failed: %s\n", failure.c_str());
      }
    }
    std::fprintf(
        stderr,
        "guidedbp: %zu of %zu images failed\n",
        counts.failures.size(),
        counts.done);
  }
  if (signal != 0) {
    return 128 + signal;
  }
  return counts.failures.empty() ? 0 : 1;
}

} // namespace

std::vector<std::string> visual_choices() {
  return visual_method_names();
}

std::vector<std::string> sign_choices() {
  return visual_sign_names();
}

int run_explain(const ExplainArgs& args) {
  ExplainRun run(args);
  return run.run();
}

} // namespace cli
} // namespace guidedbp
