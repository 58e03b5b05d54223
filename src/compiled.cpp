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

// Where a package's gradient starts and what it returns besides the output and
// the attributions (guidedbp_export.py's METHODS).
enum class PackageKind {
  kInput,  // (x.., grad_output) -> (output, a..)
  kLayer,  // guided-gradcam: (x.., grad_output) -> (output, a.., map)
  kNeuron, // (x.., layer_grad_output) -> (layer output, a..)
};

#if GUIDEDBP_HAS_AOTI
// The method's kind; false for a method this guidedbp cannot run.
bool package_kind(const std::string& method, PackageKind& kind) {
  if (method == "guided-backprop" || method == "deconvolution" ||
      method == "saliency") {
    kind = PackageKind::kInput;
  } else if (method == "guided-gradcam") {
    kind = PackageKind::kLayer;
  } else if (
      method == "neuron-guided-backprop" || method == "neuron-deconvolution") {
    kind = PackageKind::kNeuron;
  } else {
    return false;
  }
  return true;
}
#endif

// The gradient of the selected neurons' sum with respect to a layer output of
// these values: what a neuron package takes. Computed with autograd on a
// copy, so every NeuronSelector form and its typed errors are
// NeuronSelector::select's own.
torch::Tensor neuron_grad_output(
    const NeuronSelector& neuron,
    const torch::Tensor& layer) {
  detail::AttributionModeGuard mode;
  torch::Tensor values = layer.detach().clone().requires_grad_(true);
  torch::Tensor selected = neuron.select(values);
  torch::Tensor grad = torch::autograd::grad(
      {selected},
      {values},
      {torch::ones_like(selected)},
      /*retain_graph=*/false,
      /*create_graph=*/false,
      /*allow_unused=*/true)[0];
  return grad.defined() ? grad.detach() : torch::zeros_like(values);
}

} // namespace

bool compiled_packages_supported() {
  return GUIDEDBP_HAS_AOTI != 0;
}

struct CompiledAttribution::Impl {
  CompiledMetadata metadata;
  std::string path;
  PackageKind kind = PackageKind::kInput;
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
  m.layer_shape = parse_shape(field("layer_shape"));
  m.relu_count = std::stoll(field("relu_count"));
  std::stringstream shapes(field("input_shapes"));
  std::string one;
  while (std::getline(shapes, one, ';')) {
    m.input_shapes.push_back(parse_shape(one));
  }
  m.dtype = parse_dtype(field("dtype"));
  m.output_shape = parse_shape(field("output_shape"));
  m.device = field("device");
  m.threads = field("threads").empty() ? 0 : std::stoll(field("threads"));
  m.guidedbp_version = field("version");
  m.torch_version = field("torch_version");
  impl_->device = torch::Device(m.device.empty() ? "cpu" : m.device);
  impl_->path = package_path;
  TORCH_CHECK_VALUE(
      package_kind(m.method, impl_->kind),
      kWho,
      ": ",
      package_path,
      " computes '",
      m.method,
      "', which this guidedbp cannot run; export it with this guidedbp");
  TORCH_CHECK_VALUE(
      impl_->kind == PackageKind::kInput ||
          (!m.layer.empty() && !m.layer_shape.empty()),
      kWho,
      ": ",
      package_path,
      " computes ",
      m.method,
      " but records no layer; export it again with this guidedbp");
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

bool CompiledAttribution::is_neuron() const {
  return impl_->kind == PackageKind::kNeuron;
}

namespace {

// `rest` with the batch size in front.
std::vector<int64_t> with_batch(
    int64_t batch,
    const std::vector<int64_t>& rest) {
  std::vector<int64_t> shape{batch};
  shape.insert(shape.end(), rest.begin(), rest.end());
  return shape;
}

// The c10::ValueError for a call that does not fit the package's kind.
[[noreturn]] void wrong_kind(
    const CompiledAttribution::Impl& impl,
    const char* call,
    const char* instead) {
  TORCH_CHECK_VALUE(
      false,
      kWho,
      ".",
      call,
      ": ",
      impl.path,
      " computes ",
      impl.metadata.method,
      impl.metadata.layer.empty() ? std::string()
                                  : " of layer " + impl.metadata.layer,
      "; ",
      instead);
}

// One package call on the batch stacked K times (once per gradient): the
// package's outputs, checked in number.
std::vector<torch::Tensor> run_stacked(
    CompiledAttribution::Impl& impl,
    const std::vector<torch::Tensor>& contiguous,
    const std::vector<torch::Tensor>& grads) {
  const size_t k = grads.size();
  std::vector<torch::Tensor> arguments;
  for (const torch::Tensor& x : contiguous) {
    arguments.push_back(
        k == 1 ? x : torch::cat(std::vector<torch::Tensor>(k, x)));
  }
  arguments.push_back(k == 1 ? grads[0] : torch::cat(grads));
  std::vector<torch::Tensor> outputs = impl.run(std::move(arguments));
  const size_t expected =
      contiguous.size() + (impl.kind == PackageKind::kLayer ? 2 : 1);
  TORCH_CHECK(
      outputs.size() == expected,
      kWho,
      ": the package returned ",
      outputs.size(),
      " tensors; expected ",
      expected,
      " (the output, ",
      contiguous.size(),
      " attribution(s)",
      impl.kind == PackageKind::kLayer ? ", the Grad-CAM map)" : ")");
  return outputs;
}

// The attributions (and Guided Grad-CAM maps) of K gradients from one call.
GuidedGradCamTargetsResult stacked_result(
    CompiledAttribution::Impl& impl,
    const std::vector<torch::Tensor>& contiguous,
    const std::vector<torch::Tensor>& grads) {
  const CompiledMetadata& m = impl.metadata;
  if (m.relu_count == 0 && m.method != "saliency") {
    TORCH_WARN(
        kWho,
        ": the package rewrote no ReLU at export, so the result is a plain "
        "gradient (ReLU6, LeakyReLU, ... are not overridden)");
  }
  const int64_t batch = contiguous[0].size(0);
  const std::vector<torch::Tensor> outputs =
      run_stacked(impl, contiguous, grads);
  GuidedGradCamTargetsResult result;
  result.relu_count = m.relu_count;
  result.output = outputs[0].narrow(0, 0, batch).clone();
  const auto k = static_cast<int64_t>(grads.size());
  result.attributions.resize(k);
  for (int64_t t = 0; t < k; ++t) {
    for (size_t i = 0; i < contiguous.size(); ++i) {
      result.attributions[t].push_back(
          outputs[i + 1].narrow(0, t * batch, batch).clone());
    }
    if (impl.kind == PackageKind::kLayer) {
      result.grad_cams.push_back(
          outputs.back().narrow(0, t * batch, batch).clone());
    }
  }
  return result;
}

// Guided Backprop's targets on an input or Guided Grad-CAM package.
GuidedGradCamTargetsResult target_result(
    CompiledAttribution::Impl& impl,
    const std::vector<torch::Tensor>& inputs,
    const std::vector<Target>& targets,
    const char* call) {
  if (impl.kind == PackageKind::kNeuron) {
    wrong_kind(
        impl,
        call,
        "it explains a neuron of the layer, not a target: call "
        "attribute_neuron with a NeuronSelector");
  }
  TORCH_CHECK_VALUE(
      !targets.empty(),
      kWho,
      ".",
      call,
      ": no targets given; pass at least one");
  const CompiledMetadata& m = impl.metadata;
  const std::vector<torch::Tensor> contiguous =
      checked_inputs(inputs, m, impl.device);
  const torch::TensorOptions options =
      torch::TensorOptions().dtype(m.dtype).device(impl.device);
  // Every target's grad_output before the (expensive) package call, so that
  // a bad target fails first.
  std::vector<torch::Tensor> grads;
  for (const Target& target : targets) {
    grads.push_back(grad_output(
        target, with_batch(contiguous[0].size(0), m.output_shape), options));
  }
  return stacked_result(impl, contiguous, grads);
}

} // namespace

AttributionResult CompiledAttribution::attribute_targets(
    const std::vector<torch::Tensor>& inputs,
    const std::vector<Target>& targets) const {
  return target_result(*impl_, inputs, targets, "attribute_targets");
}

torch::Tensor CompiledAttribution::forward(
    const std::vector<torch::Tensor>& inputs) const {
  const CompiledMetadata& m = impl_->metadata;
  std::vector<torch::Tensor> arguments =
      checked_inputs(inputs, m, impl_->device);
  arguments.push_back(torch::zeros(
      with_batch(
          arguments[0].size(0),
          impl_->kind == PackageKind::kNeuron ? m.layer_shape : m.output_shape),
      torch::TensorOptions().dtype(m.dtype).device(impl_->device)));
  return impl_->run(std::move(arguments)).at(0).clone();
}

AttributionResult CompiledAttribution::attribute_chosen_targets(
    const std::vector<torch::Tensor>& inputs,
    const ChooseTargets& choose) const {
  return attribute_targets_with_maps(inputs, choose);
}

GuidedGradCamTargetsResult CompiledAttribution::attribute_targets_with_maps(
    const std::vector<torch::Tensor>& inputs,
    const ChooseTargets& choose) const {
  if (impl_->kind == PackageKind::kNeuron) {
    wrong_kind(
        *impl_,
        "attribute_chosen_targets",
        "it explains a neuron of the layer, not a target: call "
        "attribute_chosen_neurons");
  }
  // One call for the output the chooser needs.
  const torch::Tensor output = forward(inputs);
  const std::vector<Target> targets = choose(output);
  TORCH_CHECK_VALUE(
      !targets.empty(),
      kWho,
      ".attribute_chosen_targets: the target chooser returned no targets; "
      "return at least one");
  GuidedGradCamTargetsResult result =
      target_result(*impl_, inputs, targets, "attribute_chosen_targets");
  result.output = output;
  return result;
}

torch::Tensor CompiledAttribution::attribute_neuron(
    const torch::Tensor& input,
    const NeuronSelector& neuron_selector,
    const NeuronAttributionOptions& options) const {
  return attribute_neuron(
      std::vector<torch::Tensor>{input}, neuron_selector, options)[0];
}

std::vector<torch::Tensor> CompiledAttribution::attribute_neuron(
    const std::vector<torch::Tensor>& inputs,
    const NeuronSelector& neuron_selector,
    const NeuronAttributionOptions& options) const {
  return std::move(attribute_neuron_targets(inputs, {neuron_selector}, options)
                       .attributions[0]);
}

AttributionResult CompiledAttribution::attribute_neuron_targets(
    const std::vector<torch::Tensor>& inputs,
    const std::vector<NeuronSelector>& neurons,
    const NeuronAttributionOptions& options) const {
  Impl& impl = *impl_;
  if (impl.kind != PackageKind::kNeuron) {
    wrong_kind(
        impl,
        "attribute_neuron",
        "a neuron call needs a package of neuron-guided-backprop or "
        "neuron-deconvolution (guidedbp export --layer PATH); call attribute");
  }
  TORCH_CHECK_NOT_IMPLEMENTED(
      !options.attribute_to_neuron_input(),
      kWho,
      ".attribute_neuron: attribute_to_neuron_input is not compiled into "
      "packages (",
      impl.path,
      " takes the gradient at the output of layer ",
      impl.metadata.layer,
      "); select the neuron from the layer's output, or choose the layer "
      "before it");
  TORCH_CHECK_VALUE(
      !neurons.empty(),
      kWho,
      ".attribute_neuron_targets: no neurons given; pass at least one");
  const CompiledMetadata& m = impl.metadata;
  const std::vector<torch::Tensor> contiguous =
      checked_inputs(inputs, m, impl.device);
  const std::vector<int64_t> layer_shape =
      with_batch(contiguous[0].size(0), m.layer_shape);
  // The index forms select the same entries whatever the layer's values; a
  // callable needs them (one more call).
  torch::Tensor values;
  for (const NeuronSelector& neuron : neurons) {
    if (neuron.is_function() && !values.defined()) {
      values = forward(contiguous);
    }
  }
  const torch::Tensor zeros = torch::zeros(
      layer_shape, torch::TensorOptions().dtype(m.dtype).device(impl.device));
  std::vector<torch::Tensor> grads;
  for (const NeuronSelector& neuron : neurons) {
    grads.push_back(
        neuron_grad_output(neuron, neuron.is_function() ? values : zeros));
  }
  GuidedGradCamTargetsResult result = stacked_result(impl, contiguous, grads);
  return std::move(static_cast<AttributionResult&>(result));
}

AttributionResult CompiledAttribution::attribute_chosen_neurons(
    const std::vector<torch::Tensor>& inputs,
    const ChooseNeurons& choose,
    const NeuronAttributionOptions& options) const {
  if (impl_->kind != PackageKind::kNeuron) {
    wrong_kind(
        *impl_,
        "attribute_chosen_neurons",
        "a neuron call needs a package of neuron-guided-backprop or "
        "neuron-deconvolution (guidedbp export --layer PATH); call "
        "attribute_chosen_targets");
  }
  const torch::Tensor layer = forward(inputs);
  const std::vector<NeuronSelector> neurons = choose(layer);
  TORCH_CHECK_VALUE(
      !neurons.empty(),
      kWho,
      ".attribute_chosen_neurons: the neuron chooser returned no neurons; "
      "return at least one");
  AttributionResult result = attribute_neuron_targets(inputs, neurons, options);
  result.output = layer;
  return result;
}

} // namespace guidedbp
