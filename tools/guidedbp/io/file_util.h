#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace guidedbp {
namespace cli {

/// Largest file the CLI reads into memory (tensors, images): 4 GiB.
constexpr uint64_t kMaxFileBytes = uint64_t(4) << 30;

/// Reads a whole file. Throws CliError naming the file ("no such file",
/// "is a directory", "cannot read: <strerror>", larger than kMaxFileBytes).
std::vector<uint8_t> read_file(const std::string& path);

/// The lines of a text file (a labels file: one class name per line), "\n"
/// or "\r\n" ended; a last line without an end counts. Throws CliError like
/// read_file.
std::vector<std::string> read_lines(const std::string& path);

/// The lower-cased extension of `path` including the dot (".npy"), or "".
std::string extension(const std::string& path);

/// Writes several files all or nothing: `stage()` writes each to a
/// temporary name in its destination's folder, `commit()` renames them all
/// into place. If anything fails before `commit()` returns (or the object is
/// destroyed without commit), every temporary file is removed, and so is any
/// file already renamed by the failed commit, so no output is left behind.
class StagedFiles {
 public:
  StagedFiles() = default;
  StagedFiles(const StagedFiles&) = delete;
  StagedFiles& operator=(const StagedFiles&) = delete;
  ~StagedFiles();

  /// Writes `bytes` to a temporary file next to `path`. Throws CliError.
  void stage(const std::string& path, const void* bytes, size_t size);
  void stage(const std::string& path, const std::vector<uint8_t>& bytes) {
    stage(path, bytes.data(), bytes.size());
  }
  void stage(const std::string& path, const std::vector<char>& bytes) {
    stage(path, bytes.data(), bytes.size());
  }
  /// Renames every staged file to its destination. Throws CliError.
  void commit();
  /// Removes every staged (uncommitted) file.
  void discard() noexcept;

 private:
  struct Entry {
    std::string temporary;
    std::string destination;
  };
  std::vector<Entry> entries_;
};

} // namespace cli
} // namespace guidedbp
