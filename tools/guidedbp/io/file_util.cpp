#include "io/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

#include "cli/cli_error.h"

namespace guidedbp {
namespace cli {
namespace {

std::string errno_text(int error) {
  return std::strerror(error);
}

// Closes a file descriptor on scope exit.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

} // namespace

std::vector<uint8_t> read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int error = errno;
    if (error == ENOENT) {
      throw CliError(path + ": no such file");
    }
    throw CliError(path + ": cannot open: " + errno_text(error));
  }
  FdCloser closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    throw CliError(path + ": cannot stat: " + errno_text(errno));
  }
  if (S_ISDIR(st.st_mode)) {
    throw CliError(path + ": is a directory, not a file");
  }
  if (S_ISREG(st.st_mode) &&
      static_cast<uint64_t>(st.st_size) > kMaxFileBytes) {
    throw CliError(
        path + ": file is " + std::to_string(st.st_size) +
        " bytes, more than the limit of " + std::to_string(kMaxFileBytes));
  }
  std::vector<uint8_t> bytes;
  if (S_ISREG(st.st_mode)) {
    bytes.reserve(static_cast<size_t>(st.st_size));
  }
  uint8_t buffer[1 << 16];
  while (true) {
    ssize_t got = ::read(fd, buffer, sizeof(buffer));
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw CliError(path + ": cannot read: " + errno_text(errno));
    }
    if (got == 0) {
      break;
    }
    if (bytes.size() + static_cast<size_t>(got) > kMaxFileBytes) {
      throw CliError(
          path + ": more than " + std::to_string(kMaxFileBytes) + " bytes");
    }
    bytes.insert(bytes.end(), buffer, buffer + got);
  }
  return bytes;
}

std::string extension(const std::string& path) {
  size_t slash = path.find_last_of('/');
  size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) {
    return "";
  }
  std::string ext = path.substr(dot);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  return ext;
}

StagedFiles::~StagedFiles() {
  discard();
}

void StagedFiles::stage(
    const std::string& path,
    const void* bytes,
    size_t size) {
  size_t slash = path.find_last_of('/');
  std::string folder =
      slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.empty()) {
    throw CliError(path + ": not a file name");
  }
  // mkstemp-style: a hidden name in the destination's folder, so that the
  // final rename stays on one file system and is atomic.
  std::string temporary = folder + "." + base + ".tmp-XXXXXX";
  std::vector<char> name(temporary.begin(), temporary.end());
  name.push_back('\0');
  int fd = ::mkstemp(name.data());
  if (fd < 0) {
    throw CliError(path + ": cannot create a file there: " + errno_text(errno));
  }
  temporary.assign(name.data());
  entries_.push_back({temporary, path});
  FdCloser closer{fd};
  // mkstemp creates 0600; give the file the usual permissions (umask applies).
  mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  const char* data = static_cast<const char*>(bytes);
  size_t left = size;
  while (left > 0) {
    ssize_t put = ::write(fd, data, left);
    if (put < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw CliError(path + ": cannot write: " + errno_text(errno));
    }
    data += put;
    left -= static_cast<size_t>(put);
  }
  closer.fd = -1;
  if (::close(fd) != 0) {
    throw CliError(path + ": cannot write: " + errno_text(errno));
  }
}

void StagedFiles::commit() {
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (::rename(
            entries_[i].temporary.c_str(), entries_[i].destination.c_str()) !=
        0) {
      int error = errno;
      // Undo: remove the files already moved into place by this commit.
      for (size_t j = 0; j < i; ++j) {
        ::unlink(entries_[j].destination.c_str());
      }
      for (size_t j = i; j < entries_.size(); ++j) {
        ::unlink(entries_[j].temporary.c_str());
      }
      std::string destination = entries_[i].destination;
      entries_.clear();
      throw CliError(destination + ": cannot write: " + errno_text(error));
    }
  }
  entries_.clear();
}

void StagedFiles::discard() noexcept {
  for (const Entry& entry : entries_) {
    ::unlink(entry.temporary.c_str());
  }
  entries_.clear();
}

std::vector<std::string> read_lines(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  std::vector<std::string> lines;
  std::string line;
  for (uint8_t byte : bytes) {
    if (byte == '\n') {
      lines.push_back(line);
      line.clear();
    } else if (byte != '\r') {
      line += static_cast<char>(byte);
    }
  }
  if (!line.empty()) {
    lines.push_back(line);
  }
  return lines;
}

} // namespace cli
} // namespace guidedbp
