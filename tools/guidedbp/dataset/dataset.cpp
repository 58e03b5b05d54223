#include "dataset/dataset.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <system_error>

#include "cli/cli_error.h"
#include "io/file_util.h"

namespace fs = std::filesystem;

namespace guidedbp {
namespace cli {
namespace {

// `path` without its extension; a leading dot of the last component (".x")
// is part of the name, not an extension.
std::string strip_extension(const std::string& path) {
  size_t slash = path.find_last_of('/');
  size_t start = slash == std::string::npos ? 0 : slash + 1;
  size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || dot <= start) {
    return path;
  }
  return path.substr(0, dot);
}

// The key that makes two spellings of one file equal ("a.png", "./a.png",
// "/cwd/a.png"); symbolic links are not resolved.
fs::path normal_absolute(const std::string& path) {
  std::error_code ec;
  fs::path absolute = fs::absolute(fs::path(path), ec);
  if (ec) {
    absolute = fs::path(path);
  }
  absolute = absolute.lexically_normal();
  if (!absolute.has_filename() && absolute.has_relative_path()) {
    absolute = absolute.parent_path(); // "dir/" -> "dir"
  }
  return absolute;
}

struct Entry {
  std::string path;
  std::string out_stem; // for folder images; computed later for files
  bool direct = false;  // given or listed as a file
  fs::path absolute;
};

// The images below `root`, sorted by their path inside it.
void walk(const std::string& root, std::vector<Entry>& out) {
  const std::string fix =
      "; check the folder's permissions or leave it out of the inputs";
  std::error_code ec;
  fs::recursive_directory_iterator it(root, ec);
  if (ec) {
    throw CliError(root + ": cannot list the folder: " + ec.message() + fix);
  }
  const std::string prefix = root.back() == '/' ? root : root + "/";
  std::vector<std::string> relative;
  std::string last_folder = root;
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      break;
    }
    const fs::directory_entry& entry = *it;
    const std::string name = entry.path().filename().string();
    std::error_code type_ec;
    const bool is_folder = entry.is_directory(type_ec);
    if (!name.empty() && name[0] == '.') {
      // Hidden: ".git", ".ipynb_checkpoints", macOS "._x.jpg" resource forks.
      if (is_folder) {
        it.disable_recursion_pending();
      }
      continue;
    }
    if (is_folder) {
      last_folder = entry.path().string();
      continue;
    }
    if (!is_image_path(name) || !entry.is_regular_file(type_ec)) {
      continue;
    }
    std::string full = entry.path().string();
    std::string inside = full.compare(0, prefix.size(), prefix) == 0
        ? full.substr(prefix.size())
        : entry.path().lexically_relative(root).generic_string();
    relative.push_back(inside);
  }
  if (ec) {
    throw CliError(
        last_folder + ": cannot list the folder: " + ec.message() + fix);
  }
  std::sort(relative.begin(), relative.end());
  for (const std::string& inside : relative) {
    Entry entry;
    entry.path = prefix + inside;
    entry.out_stem = strip_extension(inside);
    out.push_back(std::move(entry));
  }
}

void add_input(const std::string& input, std::vector<Entry>& out) {
  std::error_code ec;
  if (!input.empty() && fs::is_directory(fs::path(input), ec)) {
    walk(input, out);
    return;
  }
  Entry entry;
  entry.path = input;
  entry.direct = true;
  out.push_back(std::move(entry));
}

std::vector<std::string> read_list(
    const std::string& files_from,
    std::istream& stdin_stream) {
  std::string text;
  if (files_from == "-") {
    std::ostringstream buffer;
    buffer << stdin_stream.rdbuf();
    if (stdin_stream.bad()) {
      throw CliError(
          "--files-from -: cannot read standard input; pipe a list of image paths into it or give a file");
    }
    text = buffer.str();
  } else {
    std::vector<uint8_t> bytes;
    try {
      bytes = read_file(files_from);
    } catch (const CliError& e) {
      throw CliError(
          "--files-from " + std::string(e.what()) +
          "; give a readable text file with one image path per line");
    }
    text.assign(bytes.begin(), bytes.end());
  }
  std::vector<std::string> lines;
  std::istringstream stream(text);
  std::string line;
  while (std::getline(stream, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (line.find_first_not_of(" \t") == std::string::npos) {
      continue;
    }
    lines.push_back(line);
  }
  return lines;
}

std::string no_images_message(
    const std::vector<std::string>& inputs,
    const std::string& files_from) {
  std::string where;
  for (const std::string& input : inputs) {
    where += (where.empty() ? "" : ", ") + input;
  }
  if (!files_from.empty()) {
    where += (where.empty() ? "" : ", ") + std::string("--files-from ") +
        (files_from == "-" ? "- (standard input)" : files_from);
  }
  if (where.empty()) {
    return "no images given; name image files or folders, or --files-from LIST";
  }
  return "no images found in " + where +
      " (folders are searched for .png, .jpg and .jpeg files); give image files, folders that hold them, or a list of their paths";
}

// The longest folder that holds every path (all absolute and normal).
fs::path common_folder(const std::vector<fs::path>& paths) {
  fs::path common = paths.front().parent_path();
  for (const fs::path& path : paths) {
    fs::path folder = path.parent_path();
    fs::path shared;
    auto a = common.begin();
    auto b = folder.begin();
    for (; a != common.end() && b != folder.end() && *a == *b; ++a, ++b) {
      shared /= *a;
    }
    common = shared;
  }
  return common;
}

} // namespace

bool is_image_path(const std::string& path) {
  size_t slash = path.find_last_of('/');
  size_t dot = path.find_last_of('.');
  // "x/.png" is a hidden file named ".png", not a PNG without a name.
  if (dot == std::string::npos ||
      dot == (slash == std::string::npos ? 0 : slash + 1)) {
    return false;
  }
  std::string ext = extension(path);
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

std::vector<DatasetImage> list_dataset(
    const std::vector<std::string>& inputs,
    const std::string& files_from,
    std::istream& stdin_stream) {
  std::vector<Entry> entries;
  for (const std::string& input : inputs) {
    add_input(input, entries);
  }
  if (!files_from.empty()) {
    for (const std::string& line : read_list(files_from, stdin_stream)) {
      add_input(line, entries);
    }
  }

  // The same file twice: keep the first.
  std::vector<Entry> unique;
  std::set<std::string> seen;
  for (Entry& entry : entries) {
    entry.absolute = normal_absolute(entry.path);
    if (seen.insert(entry.absolute.string()).second) {
      unique.push_back(std::move(entry));
    }
  }
  if (unique.empty()) {
    throw CliError(no_images_message(inputs, files_from));
  }

  // Files given directly: paths relative to their common folder.
  std::vector<fs::path> direct;
  for (const Entry& entry : unique) {
    if (entry.direct) {
      direct.push_back(entry.absolute);
    }
  }
  if (!direct.empty()) {
    const fs::path root = common_folder(direct);
    for (Entry& entry : unique) {
      if (entry.direct) {
        std::string inside =
            entry.absolute.lexically_relative(root).generic_string();
        if (inside.empty() || inside == ".") {
          inside = entry.absolute.filename().string();
        }
        entry.out_stem = strip_extension(inside);
      }
    }
  }

  // Equal stems: the first keeps it, the others get the first free "-N".
  std::set<std::string> natural;
  for (const Entry& entry : unique) {
    natural.insert(entry.out_stem);
  }
  std::set<std::string> taken;
  std::vector<DatasetImage> images;
  images.reserve(unique.size());
  for (Entry& entry : unique) {
    std::string stem = entry.out_stem.empty() ? "image" : entry.out_stem;
    if (!taken.insert(stem).second) {
      for (int n = 2;; ++n) {
        std::string candidate = stem + "-" + std::to_string(n);
        if (natural.count(candidate) == 0 && taken.insert(candidate).second) {
          stem = candidate;
          break;
        }
      }
    }
    images.push_back({std::move(entry.path), stem});
  }
  return images;
}

void make_directories(const std::string& path, const std::string& option) {
  const std::string what = option + " " + path;
  std::string partial;
  std::stringstream stream(path);
  std::string part;
  if (!path.empty() && path[0] == '/') {
    partial = "/";
  }
  while (std::getline(stream, part, '/')) {
    if (part.empty()) {
      continue;
    }
    partial += part;
    // EEXIST also when another thread or shard made it first.
    if (::mkdir(partial.c_str(), 0777) != 0 && errno != EEXIST) {
      throw CliError(
          what + ": cannot create " + partial + ": " + std::strerror(errno) +
          "; choose a folder you can create");
    }
    partial += "/";
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw CliError(
        what +
        ": not a directory; give the path of a folder or of one to create");
  }
  if (::access(path.c_str(), W_OK | X_OK) != 0) {
    throw CliError(
        what + ": not writable: " + std::strerror(errno) +
        "; choose a folder you can write to");
  }
}

} // namespace cli
} // namespace guidedbp
