#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace guidedbp {
namespace cli {

/// What happened to one image of a dataset run: one line of `--manifest`.
struct ManifestRecord {
  /// The image's path as given or found (DatasetImage::path).
  std::string input;
  /// Whether its outputs were written.
  bool ok = true;
  /// The one-line error when not ok (written as null when ok).
  std::string error;
  /// The model's top class, when the forward pass ran.
  std::optional<int64_t> predicted;
  /// The predicted class's softmax probability, when the forward pass ran.
  std::optional<double> score;
  /// The explained classes, one per map.
  std::vector<int64_t> targets;
  /// The files written, as the run prints them (--out-dir joined with the
  /// file's name).
  std::vector<std::string> outputs;
  /// What was wrong with this image's maps though they were written (a
  /// blank map: an attribution that is zero everywhere), one line each.
  std::vector<std::string> warnings;
  /// `evaluate --manifest` only: the metric as on the command line; when
  /// not empty the line also has "metric" and "value" (after "warnings").
  std::string metric;
  /// `evaluate --manifest`: the image's value in the report (null when
  /// undefined).
  std::optional<double> value;
};

// clang-format off
/// The `--manifest FILE.jsonl` of a dataset run: appends one JSON object per
/// image, one line each, as each image finishes, so an interrupted run loses
/// no finished image's record:
///
///   {"input":"data/a.jpg","status":"ok","error":null,"predicted":207,"score":0.8731,"targets":[207],"outputs":["maps/a_class207.png"],"warnings":[]}
///   {"input":"data/b.jpg","status":"error","error":"data/b.jpg: not a PNG or JPEG image (unknown signature)","predicted":null,"score":null,"targets":[],"outputs":[],"warnings":[]}
///
/// NOTE: each line goes to the file in one append write (O_APPEND) as soon
/// as write() is called, so shards on one machine may share a file; on a
/// network file system give each shard its own. A run killed during a write
/// can leave a last line cut short: the next run starts on a new line, and
/// readers should skip a line that does not parse. Paths that are not UTF-8
/// are written with U+FFFD in place of the bad bytes. write() is
/// thread-safe. No fsync: a record survives the process, not a power cut.
///
/// Example:
///   Manifest manifest("run.jsonl");
///   ManifestRecord r;
///   r.input = "data/a.jpg";
///   r.predicted = 207;
///   r.score = 0.87;
///   r.targets = {207};
///   r.outputs = {"maps/a_class207.png"};
///   manifest.write(r);
// clang-format on
class Manifest {
 public:
  /// Opens `path` for appending, creating it if needed.
  /// NOTE: throws CliError naming the file and the cause when it cannot.
  explicit Manifest(const std::string& path);
  ~Manifest();
  Manifest(const Manifest&) = delete;
  Manifest& operator=(const Manifest&) = delete;

  /// Appends `record` as one line {"input", "status": "ok"|"error", "error"
  /// (null when ok), "predicted", "score" (null when unknown or not finite),
  /// "targets", "outputs", "warnings"} and hands it to the system at once.
  /// NOTE: throws CliError when the write fails (a full disk).
  void write(const ManifestRecord& record);

  /// The file's path, as given.
  const std::string& path() const {
    return path_;
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::mutex mutex_;
};

/// The JSON line (with its '\n') that Manifest::write appends for `record`.
std::string manifest_line(const ManifestRecord& record);

} // namespace cli
} // namespace guidedbp
