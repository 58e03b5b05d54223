// Layers marked with guidedbp::layer_output inside forward functions guidedbp
// cannot look into (C++ modules outside torch::nn::Sequential, functions).

#include <c10/util/Exception.h>
#include <guidedbp/layer.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "detail/layer_mechanism.h"
#include "detail/nearby_names.h"

namespace guidedbp {
namespace detail {
namespace {

// What layer_output records on this thread while an attribution runs.
struct MarkState {
  const std::string* name = nullptr; ///< the layer wanted (null: all)
  std::vector<torch::Tensor> captured;
  std::vector<std::string> seen; ///< every name marked, in order
  std::vector<torch::Tensor> seen_tensors;
};

thread_local MarkState* active_marks = nullptr;

class MarkGuard {
 public:
  explicit MarkGuard(MarkState* state) : previous_(active_marks) {
    active_marks = state;
  }
  ~MarkGuard() {
    active_marks = previous_;
  }
  MarkGuard(const MarkGuard&) = delete;
  MarkGuard& operator=(const MarkGuard&) = delete;

 private:
  MarkState* previous_;
};

// Marks reach any model, as far as its forward marks its layers.
bool reaches(const Model& /*model*/, const std::string& /*path*/) {
  return true;
}

class MarkCapture : public LayerCapture {
 public:
  MarkCapture(const Model& model, std::string path, std::string who)
      : model_(model), path_(std::move(path)), who_(std::move(who)) {}

  LayerRun run(const std::vector<c10::IValue>& args) const override {
    LayerRun result;
    MarkState marks;
    marks.name = &path_;
    {
      MarkGuard guard(&marks);
      result.output = model_.forward(args);
    }
    if (marks.captured.empty()) {
      never_marked(marks.seen);
    }
    result.layer = std::move(marks.captured);
    return result;
  }

 private:
  void never_marked(const std::vector<std::string>& marked) const {
    std::vector<std::string> modules;
    if (const auto& nn = model_.nn_module()) {
      for (const auto& named : nn->named_modules("", false)) {
        modules.push_back(named.key());
      }
    }
    std::string seen;
    for (const auto& s : marked) {
      seen += (seen.empty() ? "" : ", ") + s;
    }
    TORCH_CHECK_VALUE(
        false,
        who_,
        ": the forward pass of ",
        model_.name(),
        " never marked layer '",
        path_,
        "' with guidedbp::layer_output(\"",
        path_,
        "\", x) (C++ modules outside torch::nn::Sequential and functions must "
        "mark their layers); marked: ",
        seen.empty() ? "none" : seen,
        modules.empty() ? "" : "; " + nearby_names(path_, modules));
  }

  Model model_;
  std::string path_;
  std::string who_;
};

std::shared_ptr<const LayerCapture> capture(
    const Model& model,
    const std::string& path,
    bool layer_input,
    const std::string& who) {
  TORCH_CHECK_VALUE(
      !layer_input,
      who,
      ": the input of layer '",
      path,
      "' of ",
      model.name(),
      " cannot be reached: layer inputs are found in TorchScript modules and "
      "torch::nn::Sequential paths only; mark the tensor entering the layer "
      "with guidedbp::layer_output(name, x) and name that instead");
  return std::make_shared<MarkCapture>(model, path, who);
}

std::vector<LayerInfo> shapes(
    const Model& model,
    const std::vector<c10::IValue>& args) {
  MarkState marks;
  {
    MarkGuard guard(&marks);
    model.forward(args);
  }
  std::vector<LayerInfo> result;
  for (size_t i = 0; i < marks.seen.size(); ++i) {
    result.push_back({marks.seen[i], marks.seen_tensors[i].sizes().vec(), ""});
  }
  return result;
}

} // namespace

const LayerMechanism& marked_layers() {
  static const LayerMechanism mechanism{&reaches, &capture, &shapes};
  return mechanism;
}

} // namespace detail

torch::Tensor layer_output(const std::string& name, const torch::Tensor& x) {
  detail::MarkState* marks = detail::active_marks;
  if (marks == nullptr) {
    return x;
  }
  marks->seen.push_back(name);
  if (marks->name == nullptr) {
    marks->seen_tensors.push_back(x.detach());
    return x;
  }
  if (*marks->name != name) {
    return x;
  }
  marks->captured = {x};
  return x.clone();
}

} // namespace guidedbp
