#pragma once

#include <istream>
#include <string>
#include <vector>

namespace guidedbp {
namespace cli {

/// One image of a dataset run of `guidedbp explain`: where to read it and
/// where its outputs go under `--out-dir`.
struct DatasetImage {
  /// The path as given or found (a folder's path joined with the image's
  /// path inside it); used to read the file and in messages.
  std::string path;
  /// The outputs' path relative to `--out-dir`, without suffix, e.g.
  /// "n01440764/ILSVRC_1": never absolute, never with "..", unique in a run.
  std::string out_stem;
};

/// Whether `path` names an image that a folder walk takes: its extension is
/// .png, .jpg or .jpeg, in any case ("A.JPG" too).
bool is_image_path(const std::string& path);

/// The images of a run, in the run's stable order (the order that `--shard`
/// counts in): the positional `inputs` in argument order, then the lines of
/// `files_from` (one path per line; blank lines and a trailing '\r' are
/// ignored; relative paths are relative to the working folder; "-" reads
/// `stdin_stream`; "" means no list).
///
/// A folder (given or listed) is walked recursively: its files with an image
/// extension (is_image_path), in byte-wise order of their path inside the
/// folder; hidden entries (".*", e.g. macOS "._x.jpg" and ".git") and
/// symbolic links to folders are left out. An image found in folder D at
/// D/x/y.jpg gets out_stem "x/y". Files given or listed directly are taken
/// whatever their extension (the per-image read reports what it cannot
/// decode); their out_stem is their path relative to the longest common
/// folder of all of them (made absolute and lexically normalised only to
/// find that folder), so a single file, or files of one folder, get their
/// file name's stem. Equal out_stems (a.png and a.jpg, or two folders with
/// the same layout) get "-2", "-3", ... in the stable order, skipping stems
/// that another image has. The same file twice (the same normalised
/// absolute path) is kept once, at its first place. A file that does not
/// exist stays in the list: the per-image read reports it.
///
/// REQUIRES: nothing; all failures are exceptions.
/// NOTE: throws CliError (run-wide, before any image) for an unreadable
/// `files_from`, a folder that cannot be listed, and "no images found" when
/// the list is empty.
///
/// Example:
///   // data/cat/1.jpg, data/dog/1.jpg, extra.png
///   auto images = list_dataset({"data", "extra.png"}, "", std::cin);
///   // {"data/cat/1.jpg", "cat/1"}, {"data/dog/1.jpg", "dog/1"},
///   // {"extra.png", "extra"}
std::vector<DatasetImage> list_dataset(
    const std::vector<std::string>& inputs,
    const std::string& files_from,
    std::istream& stdin_stream);

/// Creates the folder `path` and its missing parents (like `mkdir -p`) and
/// checks that it is a folder this process can write into.
///
/// NOTE: throws CliError naming `option` (default "--out-dir"), the path and
/// the cause: "--out-dir FILE: not a directory; ...", "--out-dir A/B: cannot
/// create A: Permission denied; ...", "--out-dir D: not writable ...".
///
/// Example:
///   make_directories("maps/n01440764");
void make_directories(
    const std::string& path,
    const std::string& option = "--out-dir");

} // namespace cli
} // namespace guidedbp
