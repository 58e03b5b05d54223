#include "dataset/manifest.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "cli/cli_error.h"

namespace guidedbp {
namespace cli {
namespace {

// One write() per line while it goes through in one piece: with O_APPEND a
// line then never interleaves with another process's lines.
bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t put = ::write(fd, data, size);
    if (put < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    data += put;
    size -= static_cast<size_t>(put);
  }
  return true;
}

} // namespace

std::string manifest_line(const ManifestRecord& record) {
  // ordered_json: the keys in the documented order, easier to read by eye.
  nlohmann::ordered_json line;
  line["input"] = record.input;
  line["status"] = record.ok ? "ok" : "error";
  line["error"] = record.ok ? nlohmann::ordered_json(nullptr)
                            : nlohmann::ordered_json(record.error);
  line["predicted"] = record.predicted
      ? nlohmann::ordered_json(*record.predicted)
      : nlohmann::ordered_json(nullptr);
  line["score"] = record.score && std::isfinite(*record.score)
      ? nlohmann::ordered_json(*record.score)
      : nlohmann::ordered_json(nullptr);
  line["targets"] = record.targets;
  line["outputs"] = record.outputs;
  line["warnings"] = record.warnings;
  if (!record.metric.empty()) {
    line["metric"] = record.metric;
    line["value"] = record.value && std::isfinite(*record.value)
        ? nlohmann::ordered_json(*record.value)
        : nlohmann::ordered_json(nullptr);
  }
  // File names need not be UTF-8; JSON must be: replace bad bytes (U+FFFD)
  // rather than lose the record.
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
      "\n";
}

Manifest::Manifest(const std::string& path) : path_(path) {
  // Read-write only to look at the last byte; write-only files still work.
  bool readable = true;
  fd_ = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (fd_ < 0 && errno == EACCES) {
    readable = false;
    fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  }
  if (fd_ < 0) {
    throw CliError(
        "--manifest " + path + ": cannot open for appending: " +
        std::strerror(errno) + "; give a file in a folder you can write to");
  }
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    throw CliError(
        "--manifest " + path + ": not a regular file; give a .jsonl file path");
  }
  // A run killed in the middle of a line: start on a fresh line so that the
  // next record parses.
  char last = '\n';
  if (readable && st.st_size > 0 &&
      ::pread(fd_, &last, 1, st.st_size - 1) == 1 && last != '\n') {
    if (!write_all(fd_, "\n", 1)) {
      int error = errno;
      ::close(fd_);
      fd_ = -1;
      throw CliError(
          "--manifest " + path + ": cannot write: " + std::strerror(error) +
          "; free some space or choose another file");
    }
  }
}

Manifest::~Manifest() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

void Manifest::write(const ManifestRecord& record) {
  const std::string line = manifest_line(record);
  std::lock_guard<std::mutex> lock(mutex_);
  if (!write_all(fd_, line.data(), line.size())) {
    throw CliError(
        "--manifest " + path_ + ": cannot write: " + std::strerror(errno) +
        "; free some space or choose another file");
  }
}

} // namespace cli
} // namespace guidedbp
