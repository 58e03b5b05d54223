#include "dataset/output_names.h"

#include <filesystem>
#include <system_error>
#include <utility>

namespace fs = std::filesystem;

namespace guidedbp {
namespace cli {
namespace {

// "n01/x" -> {"n01", "x"}; "x" -> {"", "x"}.
std::pair<std::string, std::string> split_stem(const std::string& out_stem) {
  size_t slash = out_stem.find_last_of('/');
  if (slash == std::string::npos) {
    return {"", out_stem};
  }
  return {out_stem.substr(0, slash), out_stem.substr(slash + 1)};
}

std::string join(const std::string& out_dir, const std::string& relative) {
  if (relative.empty()) {
    return out_dir.empty() ? "." : out_dir;
  }
  if (out_dir.empty()) {
    return relative;
  }
  return out_dir.back() == '/' ? out_dir + relative : out_dir + "/" + relative;
}

// The names of the files (not folders) in `folder`; none when it is missing.
std::set<std::string> list_files(const std::string& folder) {
  std::set<std::string> names;
  std::error_code ec;
  fs::directory_iterator it(folder, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code type_ec;
    if (!it->is_directory(type_ec)) {
      names.insert(it->path().filename().string());
    }
  }
  return names;
}

// The suffixes of one map's files after its class digits.
std::vector<std::string> map_suffixes(const OutputNaming& naming) {
  std::vector<std::string> suffixes;
  if (!naming.panel) {
    suffixes.push_back(".png");
  }
  if (naming.npy) {
    suffixes.push_back(".npy");
  }
  if (naming.gradcam_png && !naming.panel) {
    suffixes.push_back("_gradcam.png");
  }
  return suffixes;
}

// The length of the class number at the start of `text` as explain writes
// it (std::to_string: no sign, no leading zeros), or 0.
size_t class_digits(const std::string& text, size_t from = 0) {
  size_t end = from;
  while (end < text.size() && text[end] >= '0' && text[end] <= '9') {
    ++end;
  }
  if (end == from || (text[from] == '0' && end - from > 1)) {
    return 0;
  }
  return end - from;
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// Whether `rest` (an output name after its image's stem) is one of the names
// an image gets: "_panel.png", or [_top{N}]_class{C}[_gradcam](.png|.npy),
// the top-k form only when `top_k`.
bool is_output_rest(const std::string& rest, bool top_k) {
  if (rest == "_panel.png") {
    return true;
  }
  size_t at = 0;
  if (top_k && starts_with(rest, "_top")) {
    size_t digits = class_digits(rest, 4);
    if (digits == 0 || rest.compare(4, digits, "0") == 0) {
      return false;
    }
    at = 4 + digits;
  }
  if (rest.compare(at, 6, "_class") != 0) {
    return false;
  }
  at += 6;
  size_t digits = class_digits(rest, at);
  if (digits == 0) {
    return false;
  }
  std::string suffix = rest.substr(at + digits);
  return suffix == ".png" || suffix == ".npy" || suffix == "_gradcam.png";
}

// The output name inside StagedFiles' temporary name "." + name +
// ".tmp-XXXXXX" (mkstemp's six letters and digits), or "".
std::string staged_output_name(const std::string& file) {
  const std::string tmp = ".tmp-";
  const size_t tail = tmp.size() + 6;
  if (file.size() < 1 + 1 + tail || file[0] != '.' ||
      file.compare(file.size() - tail, tmp.size(), tmp) != 0) {
    return "";
  }
  for (size_t i = file.size() - 6; i < file.size(); ++i) {
    char c = file[i];
    bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
        (c >= 'A' && c <= 'Z');
    if (!alnum) {
      return "";
    }
  }
  return file.substr(1, file.size() - 1 - tail);
}

} // namespace

std::string map_base(
    const std::string& out_stem,
    const OutputNaming& naming,
    size_t k,
    int64_t cls) {
  std::string base = out_stem;
  if (naming.top_k) {
    base += "_top" + std::to_string(k + 1);
  }
  return base + "_class" + std::to_string(cls);
}

ImageOutputs image_outputs(
    const std::string& out_stem,
    const OutputNaming& naming,
    const std::vector<int64_t>& classes) {
  ImageOutputs outputs;
  for (size_t k = 0; k < classes.size(); ++k) {
    const std::string base = map_base(out_stem, naming, k, classes[k]);
    ImageOutputs::Map map;
    // The suffixes of map_suffixes, each given its role.
    for (const std::string& suffix : map_suffixes(naming)) {
      (suffix == ".png" ? map.png
                        : (suffix == ".npy" ? map.npy : map.gradcam_png)) =
          base + suffix;
    }
    outputs.maps.push_back(std::move(map));
  }
  if (naming.panel) {
    outputs.panel = out_stem + "_panel.png";
  }
  return outputs;
}

std::vector<std::string> output_files(
    const std::string& out_stem,
    const OutputNaming& naming,
    const std::vector<int64_t>& classes) {
  const ImageOutputs outputs = image_outputs(out_stem, naming, classes);
  std::vector<std::string> files;
  for (const ImageOutputs::Map& map : outputs.maps) {
    for (const std::string* file : {&map.png, &map.npy, &map.gradcam_png}) {
      if (!file->empty()) {
        files.push_back(*file);
      }
    }
  }
  if (!outputs.panel.empty()) {
    files.push_back(outputs.panel);
  }
  return files;
}

std::vector<std::string> output_folders(
    const std::string& out_dir,
    const std::vector<DatasetImage>& images) {
  std::set<std::string> folders;
  for (const DatasetImage& image : images) {
    folders.insert(join(out_dir, split_stem(image.out_stem).first));
  }
  return std::vector<std::string>(folders.begin(), folders.end());
}

std::string output_path(
    const std::string& out_dir,
    const std::string& relative) {
  return join(out_dir, relative);
}

ExistingOutputs::ExistingOutputs(std::string out_dir)
    : out_dir_(std::move(out_dir)) {}

const std::set<std::string>& ExistingOutputs::folder(
    const std::string& relative) {
  auto found = folders_.find(relative);
  if (found == folders_.end()) {
    found =
        folders_.emplace(relative, list_files(join(out_dir_, relative))).first;
  }
  return found->second;
}

bool ExistingOutputs::complete(
    const DatasetImage& image,
    const OutputNaming& naming) {
  const auto [relative, name] = split_stem(image.out_stem);
  std::lock_guard<std::mutex> lock(mutex_);
  const std::set<std::string>& files = folder(relative);
  if (naming.panel && files.count(name + "_panel.png") == 0) {
    return false;
  }
  const std::vector<std::string> suffixes = map_suffixes(naming);
  if (suffixes.empty()) {
    return true;
  }
  const int64_t maps = naming.maps < 1 ? 1 : naming.maps;
  for (int64_t k = 0; k < maps; ++k) {
    const std::string base = map_base(name, naming, static_cast<size_t>(k), 0);
    const std::string prefix = base.substr(0, base.size() - 1); // "..._class"
    auto has_all = [&](const std::string& cls) {
      for (const std::string& suffix : suffixes) {
        if (files.count(prefix + cls + suffix) == 0) {
          return false;
        }
      }
      return true;
    };
    if (naming.fixed_class && !naming.top_k) {
      if (!has_all(std::to_string(*naming.fixed_class))) {
        return false;
      }
      continue;
    }
    // Any class: the names that start with the prefix are contiguous in the
    // sorted set; try each class that has the first suffix's file.
    bool found = false;
    for (auto it = files.lower_bound(prefix);
         !found && it != files.end() && starts_with(*it, prefix);
         ++it) {
      size_t digits = class_digits(*it, prefix.size());
      if (digits == 0 ||
          it->compare(prefix.size() + digits, std::string::npos, suffixes[0]) !=
              0) {
        continue;
      }
      found = has_all(it->substr(prefix.size(), digits));
    }
    if (!found) {
      return false;
    }
  }
  return true;
}

size_t remove_stale_temporaries(
    const std::string& out_dir,
    const std::vector<DatasetImage>& images,
    const OutputNaming& naming) {
  // Output folder -> the stems (file-name part) of the images in it.
  std::map<std::string, std::set<std::string>> stems;
  for (const DatasetImage& image : images) {
    auto [relative, name] = split_stem(image.out_stem);
    stems[relative].insert(name);
  }
  size_t removed = 0;
  for (const auto& [relative, names] : stems) {
    const std::string folder = join(out_dir, relative);
    for (const std::string& file : list_files(folder)) {
      const std::string output = staged_output_name(file);
      if (output.empty()) {
        continue;
      }
      // The stem ends where the name's "_panel"/"_top"/"_class" part begins;
      // try each '_' so that stems with '_' in them work too.
      bool ours = false;
      for (size_t p = output.find('_'); !ours && p != std::string::npos;
           p = output.find('_', p + 1)) {
        ours = names.count(output.substr(0, p)) != 0 &&
            is_output_rest(output.substr(p), naming.top_k);
      }
      std::error_code ec;
      if (ours && fs::remove(fs::path(folder) / file, ec)) {
        ++removed;
      }
    }
  }
  return removed;
}

} // namespace cli
} // namespace guidedbp
