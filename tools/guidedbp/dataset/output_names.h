#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "dataset/dataset.h"

namespace guidedbp {
namespace cli {

// clang-format off
/// How `guidedbp explain` names an image's outputs, from its options. The
/// files of one image with out_stem S (under --out-dir):
///
///   per map k (class C):  S[_top{k+1}]_class{C}.png          (not with --panel)
///                         S[_top{k+1}]_class{C}.npy          (--save-raw)
///                         S[_top{k+1}]_class{C}_gradcam.png  (--gradcam-map, not with --panel)
///   per image:            S_panel.png                        (--panel)
// clang-format on
struct OutputNaming {
  /// Maps per image: K with --top-k K, else 1.
  int64_t maps = 1;
  /// --top-k: names carry "_top{k+1}".
  bool top_k = false;
  /// --target T, resolved to a non-negative class: "_class{T}". Unset: the
  /// class (the prediction, or top-k's) is known only after the forward pass.
  std::optional<int64_t> fixed_class;
  /// --panel: one "{stem}_panel.png" instead of the per-map PNGs.
  bool panel = false;
  /// --save-raw: "{base}.npy" per map.
  bool npy = false;
  /// --gradcam-map: "{base}_gradcam.png" per map (inside the panel with
  /// --panel).
  bool gradcam_png = false;
};

/// The name of map `k` (0-based) of class `cls` without suffix:
/// out_stem + ("_top" + (k+1) with top-k) + "_class" + cls.
///
/// Example:
///   map_base("n01/x", OutputNaming{3, true}, 0, 207); // "n01/x_top1_class207"
std::string map_base(
    const std::string& out_stem,
    const OutputNaming& naming,
    size_t k,
    int64_t cls);

/// The output files of one image by role, relative to --out-dir; "" for a
/// file the options do not write.
struct ImageOutputs {
  struct Map {
    std::string png;         ///< The map (not with --panel).
    std::string npy;         ///< The raw attribution (--save-raw).
    std::string gradcam_png; ///< The Grad-CAM map (--gradcam-map, no panel).
  };
  std::vector<Map> maps; ///< One per class, in order.
  std::string panel;     ///< --panel.
};

/// The outputs of an image whose maps have the classes `classes` (one per
/// map, in order): the names explain writes, and output_files lists.
ImageOutputs image_outputs(
    const std::string& out_stem,
    const OutputNaming& naming,
    const std::vector<int64_t>& classes);

/// Every output file of an image whose maps have the classes `classes` (one
/// per map, in order), relative to --out-dir, in the order explain writes
/// them (per map: PNG, NPY, Grad-CAM PNG; then the panel): image_outputs,
/// flattened.
///
/// Example:
///   output_files("x", OutputNaming(), {5}); // {"x_class5.png"}
std::vector<std::string> output_files(
    const std::string& out_stem,
    const OutputNaming& naming,
    const std::vector<int64_t>& classes);

/// The folders that hold the outputs of `images` (`out_dir` joined with each
/// out_stem's folder part), each once, sorted; `out_dir` itself when an
/// image's stem has no folder. Create them (make_directories) before the
/// first image, so that a folder that cannot be made stops the run at once.
///
/// Example:
///   output_folders("maps", {{"v/n01/a.jpg", "n01/a"}, {"b.png", "b"}});
///   // {"maps", "maps/n01"}
std::vector<std::string> output_folders(
    const std::string& out_dir,
    const std::vector<DatasetImage>& images);

/// The path of an output named `relative` under `out_dir` ("maps" +
/// "n01/a_class3.png" -> "maps/n01/a_class3.png"; one '/' between them).
std::string output_path(
    const std::string& out_dir,
    const std::string& relative);

/// `--skip-existing`: whether an image's outputs are all already in
/// --out-dir. Each output folder is listed once, on first use, and cached
/// (outputs written later are not seen: ask before an image is processed).
/// A class not known before the run (no --target) matches any class (the
/// digits of a previous run's prediction), the same class across the files
/// of one map; each top-k map may have its own class.
///
/// NOTE: outputs are written atomically (StagedFiles), so a present file is
/// complete. Thread-safe.
///
/// Example:
///   ExistingOutputs existing("maps");
///   if (existing.complete(image, naming)) { /* skip it */ }
class ExistingOutputs {
 public:
  explicit ExistingOutputs(std::string out_dir);

  /// Whether every output that `image` yields under `naming` is present.
  bool complete(const DatasetImage& image, const OutputNaming& naming);

 private:
  const std::set<std::string>& folder(const std::string& relative);

  std::string out_dir_;
  std::mutex mutex_;
  std::map<std::string, std::set<std::string>> folders_;
};

/// Removes the temporary files that killed runs left for `images` (SIGKILL,
/// a power cut): hidden files "." + <output file name> + ".tmp-XXXXXX"
/// (StagedFiles' pattern) in the images' output folders whose output name
/// is one of those images' output names under `naming` (any class, with or
/// without .npy / _gradcam / _panel, whatever the options of the run that
/// left them). Temporaries of other images, e.g. another shard's in flight,
/// are never touched. Returns how many files were removed.
///
/// NOTE: pass the run's naming: with the default (no top-k), top-k
/// temporaries ("S_top1_class5.png") are left alone, because with another
/// run's options they could be those of an image named "S_top1".
///
/// Example:
///   size_t removed = remove_stale_temporaries("maps", my_images, naming);
size_t remove_stale_temporaries(
    const std::string& out_dir,
    const std::vector<DatasetImage>& images,
    const OutputNaming& naming = OutputNaming());

} // namespace cli
} // namespace guidedbp
