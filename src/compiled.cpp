#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>
#include <guidedbp/compiled.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/version.h>

#include <mutex>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>

#include "detail/attribution_steps.h"

// The loader exists from LibTorch 2.6 on; Debian 12's 1.13 compiles the
// feature out, and the constructor says what is needed.
#if __has_include(<torch/csrc/inductor/aoti_package/model_package_loader.h>)
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#define GUIDEDBP_HAS_AOTI 1
#else
#define GUIDEDBP_HAS_AOTI 0
#endif

namespace guidedbp {
namespace {

constexpr const char* kWho = "CompiledAttribution";
std::string shape_text(c10::IntArrayRef shape) {
  std::ostringstream out;
  out << shape;
  return out.str();
}

#if GUIDEDBP_HAS_AOTI
constexpr const char* kFormat = "1"; // guidedbp_export.py's FORMAT_VERSION

std::vector<int64_t> parse_shape(const std::string& text) {
  std::vector<int64_t> shape;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    shape.push_back(std::stoll(item));
  }
  return shape;
}

torch::ScalarType parse_dtype(const std::string& text) {
  if (text == "float32") {
    return torch::kFloat;
  }
  if (text == "float64") {
    return torch::kDouble;
  }
  if (text == "float16") {
    return torch::kHalf;
  }
  if (text == "bfloat16") {
    return torch::kBFloat16;
  }
  TORCH_CHECK_VALUE(
      false, kWho, ": the package's dtype '", text, "' is unknown");
}
#endif

// The gradient of the selected output entries with respect to an output of
// `shape`: Captum's grad_outputs (a one per selected entry). Computed on a
// small zero tensor with autograd, so every Target form and its typed errors
// are Target::select's own.
torch::Tensor grad_output(
    const Target& target,
    const std::vector<int64_t>& shape,
    const torch::TensorOptions& options) {
  detail::AttributionModeGuard mode;
  torch::Tensor output = torch::zeros(shape, options).requires_grad_(true);
  torch::Tensor selected = target.select(output);
  return torch::autograd::grad(
             {selected}, {output}, {torch::ones_like(selected)})[0]
      .detach();
}

} // namespace

bool compiled_packages_supported() {
  return GUIDEDBP_HAS_AOTI != 0;
}

struct CompiledAttribution::Impl {
  CompiledMetadata metadata;
  torch::Device device{torch::kCPU};
#if GUIDEDBP_HAS_AOTI
  std::unique_ptr<torch::inductor::AOTIModelPackageLoader> loader;
#endif
  // The package's runner holds one model instance: one call at a time.
  std::mutex mutex;

  // (output, attributions...) for inputs and grad_output of one batch.
  std::vector<torch::Tensor> run(std::vector<torch::Tensor> arguments) {
#if GUIDEDBP_HAS_AOTI
    c10::InferenceMode inference;
    std::lock_guard<std::mutex> lock(mutex);
    return loader->run(arguments);
#else
    (void)arguments;
    return {};
#endif
  }
};

CompiledAttribution::CompiledAttribution(const std::string& package_path)
    : impl_(std::make_shared<Impl>()) {
#if GUIDEDBP_HAS_AOTI
  std::unordered_map<std::string, std::string> meta;
  try {
    impl_->loader =
        std::make_unique<torch::inductor::AOTIModelPackageLoader>(package_path);
    meta = impl_->loader->get_metadata();
  } catch (const c10::Error& e) {
    TORCH_CHECK(
        false,
        kWho,
        ": cannot load the package ",
        package_path,
        ": ",
        e.what_without_backtrace());
  } catch (const std::exception& e) {
    TORCH_CHECK(
        false,
        kWho,
        ": cannot load the package ",
        package_path,
        ": ",
        e.what());
  }
  auto field = [&](const char* key) -> std::string {
    auto found = meta.find(std::string("guidedbp.") + key);
    return found == meta.end() ? std::string() : found->second;
  };
  TORCH_CHECK_VALUE(
      !field("format").empty(),
      kWho,
      ": ",
      package_path,
      " is an AOTInductor package but not one made by `guidedbp export` (no "
      "guidedbp metadata); export it with guidedbp export --model EP.pt2 "
      "--method M --output PKG.pt2");
  TORCH_CHECK_VALUE(
      field("format") == kFormat,
      kWho,
      ": ",
      package_path,
      " has package format ",
      field("format"),
      " but this guidedbp reads format ",
      kFormat,
      "; export it again with this guidedbp");
  CompiledMetadata& m = impl_->metadata;
  m.method = field("method");
  m.abs = field("abs") == "1";
  m.layer = field("layer");
  m.relu_count = std::stoll(field("relu_count"));
  std::stringstream shapes(field("input_shapes"));
  std::string one;
  while (std::getline(shapes, one, ';')) {
    m.input_shapes.push_back(parse_shape(one));
  }
  m.dtype = parse_dtype(field("dtype"));
  m.output_shape = parse_shape(field("output_shape"));
  m.device = field("device");
  m.guidedbp_version = field("version");
  m.torch_version = field("torch_version");
  impl_->device = torch::Device(m.device.empty() ? "cpu" : m.device);
  TORCH_CHECK_VALUE(
      m.method == "guided-backprop" || m.method == "deconvolution" ||
          m.method == "saliency",
      kWho,
      ": ",
      package_path,
      " computes '",
      m.method,
      "', which this guidedbp cannot run");
#else
  TORCH_CHECK_NOT_IMPLEMENTED(
      false,
      kWho,
      ": cannot load ",
      package_path,
      ": AOTInductor packages (torch.export models) need guidedbp built with "
      "LibTorch >= 2.6; this one was built with LibTorch ",
      TORCH_VERSION,
      " (Debian 13 has 2.6); use a TorchScript model here");
#endif
}

const CompiledMetadata& CompiledAttribution::metadata() const {
  return impl_->metadata;
}

torch::Tensor CompiledAttribution::attribute(
    const torch::Tensor& input,
    const Target& target) const {
  return attribute(std::vector<torch::Tensor>{input}, target)[0];
}

std::vector<torch::Tensor> CompiledAttribution::attribute(
    const std::vector<torch::Tensor>& inputs,
    const Target& target) const {
  return std::move(attribute_targets(inputs, {target}).attributions[0]);
}

std::vector<torch::Tensor> CompiledAttribution::attribute(
    std::initializer_list<torch::Tensor> inputs,
    const Target& target) const {
  return attribute(std::vector<torch::Tensor>(inputs), target);
}

namespace {

// The inputs checked against the package and made contiguous (packages index
// memory as if contiguous; numpy can hand over size-1 dimensions with odd
// strides).
std::vector<torch::Tensor> checked_inputs(
    const std::vector<torch::Tensor>& inputs,
    const CompiledMetadata& m,
    const torch::Device& device) {
  detail::check_inputs(inputs, kWho);
  TORCH_CHECK_VALUE(
      inputs.size() == m.input_shapes.size(),
      kWho,
      ": the package takes ",
      m.input_shapes.size(),
      " input(s), got ",
      inputs.size());
  std::vector<torch::Tensor> contiguous;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const torch::Tensor& x = inputs[i];
    TORCH_CHECK_TYPE(
        x.scalar_type() == m.dtype,
        kWho,
        ": input ",
        i,
        " is ",
        x.scalar_type(),
        " but the package was exported for ",
        m.dtype,
        "; convert the input or export the model in that dtype");
    const std::vector<int64_t> rest(x.sizes().begin() + 1, x.sizes().end());
    TORCH_CHECK_VALUE(
        rest == m.input_shapes[i],
        kWho,
        ": input ",
        i,
        " has shape ",
        shape_text(x.sizes()),
        " but the package takes [N, ",
        c10::Join(", ", m.input_shapes[i]),
        "] (only the batch size may change)");
    TORCH_CHECK_VALUE(
        x.device() == device,
        kWho,
        ": input ",
        i,
        " is on ",
        x.device(),
        " but the package runs on ",
        device,
        "; move the input there");
    TORCH_CHECK_VALUE(x.size(0) > 0, kWho, ": the batch is empty");
    contiguous.push_back(x.contiguous());
  }
  return contiguous;
}

} // namespace

AttributionResult CompiledAttribution::attribute_targets(
    const std::vector<torch::Tensor>& inputs,
    const std::vector<Target>& targets) const {
  TORCH_CHECK_VALUE(
      !targets.empty(),
      kWho,
      ".attribute_targets: no targets given; pass at least one");
  const CompiledMetadata& m = impl_->metadata;
  const std::vector<torch::Tensor> contiguous =
      checked_inputs(inputs, m, impl_->device);
  const int64_t batch = contiguous[0].size(0);
  std::vector<int64_t> output_shape{batch};
  output_shape.insert(
      output_shape.end(), m.output_shape.begin(), m.output_shape.end());
  const torch::TensorOptions options =
      torch::TensorOptions().dtype(m.dtype).device(impl_->device);
  // Every target's grad_output before the (expensive) package call, so that
  // a bad target fails first.
  std::vector<torch::Tensor> grads;
  for (const Target& target : targets) {
    grads.push_back(grad_output(target, output_shape, options));
  }
  if (m.relu_count == 0 && m.method != "saliency") {
    TORCH_WARN(
        kWho,
        ": the package rewrote no ReLU at export, so the result is a plain "
        "gradient (ReLU6, LeakyReLU, ... are not overridden)");
  }
  // K targets: the batch stacked K times, one package call.
  const int64_t k = static_cast<int64_t>(targets.size());
  std::vector<torch::Tensor> arguments;
  for (const torch::Tensor& x : contiguous) {
    arguments.push_back(
        k == 1 ? x : torch::cat(std::vector<torch::Tensor>(k, x)));
  }
  arguments.push_back(k == 1 ? grads[0] : torch::cat(grads));
  std::vector<torch::Tensor> outputs = impl_->run(std::move(arguments));
  TORCH_CHECK(
      outputs.size() == inputs.size() + 1,
      kWho,
      ": the package returned ",
      outputs.size(),
      " tensors; expected the output and ",
      inputs.size(),
      " attribution(s)");
  AttributionResult result;
  result.relu_count = m.relu_count;
  result.output = outputs[0].narrow(0, 0, batch).clone();
  result.attributions.resize(k);
  for (int64_t t = 0; t < k; ++t) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      result.attributions[t].push_back(
          outputs[i + 1].narrow(0, t * batch, batch).clone());
    }
  }
  return result;
}

torch::Tensor CompiledAttribution::forward(
    const std::vector<torch::Tensor>& inputs) const {
  const CompiledMetadata& m = impl_->metadata;
  std::vector<torch::Tensor> arguments =
      checked_inputs(inputs, m, impl_->device);
  std::vector<int64_t> output_shape{arguments[0].size(0)};
  output_shape.insert(
      output_shape.end(), m.output_shape.begin(), m.output_shape.end());
  arguments.push_back(torch::zeros(
      output_shape,
      torch::TensorOptions().dtype(m.dtype).device(impl_->device)));
  return impl_->run(std::move(arguments)).at(0).clone();
}

AttributionResult CompiledAttribution::attribute_chosen_targets(
    const std::vector<torch::Tensor>& inputs,
    const ChooseTargets& choose) const {
  // One call for the output the chooser needs.
  const torch::Tensor output = forward(inputs);
  const std::vector<Target> targets = choose(output);
  TORCH_CHECK_VALUE(
      !targets.empty(),
      kWho,
      ".attribute_chosen_targets: the target chooser returned no targets; "
      "return at least one");
  AttributionResult result = attribute_targets(inputs, targets);
  result.output = output;
  return result;
}

} // namespace guidedbp
