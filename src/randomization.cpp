#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>
#include <guidedbp/randomization.h>
#include <guidedbp/similarity.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <utility>

namespace guidedbp {
namespace {

constexpr const char* kWho = "guidedbp::randomize_layer";

// One layer's own tensors (not its submodules'), by attribute name.
struct LayerTensors {
  std::string type; // "Linear", "Conv2d", "BatchNorm2d", ...
  std::map<std::string, torch::Tensor> parameters;
  std::map<std::string, torch::Tensor> buffers;
};

bool starts_with(const std::string& text, const char* prefix) {
  return text.rfind(prefix, 0) == 0;
}

// "torch::nn::Conv2dImpl" -> "Conv2d"
std::string nn_type_name(const torch::nn::Module& module) {
  std::string name = module.name();
  const size_t colon = name.rfind("::");
  if (colon != std::string::npos) {
    name = name.substr(colon + 2);
  }
  if (name.size() > 4 && name.compare(name.size() - 4, 4, "Impl") == 0) {
    name.resize(name.size() - 4);
  }
  return name;
}

// Every module with its own tensors, in named_modules() order.
std::vector<std::pair<std::string, LayerTensors>> layers_of(
    const Model& model) {
  std::vector<std::pair<std::string, LayerTensors>> out;
  if (const auto& script = model.torchscript_module()) {
    for (const auto& item : script->named_modules()) {
      LayerTensors layer;
      layer.type = item.value.type()->name()->name();
      for (const auto& p : item.value.named_parameters(/*recurse=*/false)) {
        layer.parameters.emplace(p.name, p.value);
      }
      for (const auto& b : item.value.named_buffers(/*recurse=*/false)) {
        layer.buffers.emplace(b.name, b.value);
      }
      if (!layer.parameters.empty()) {
        out.emplace_back(item.name, std::move(layer));
      }
    }
  } else if (const auto& nn = model.nn_module()) {
    for (const auto& item : nn->named_modules()) {
      LayerTensors layer;
      layer.type = nn_type_name(*item.value());
      for (const auto& p : item.value()->named_parameters(/*recurse=*/false)) {
        layer.parameters.emplace(p.key(), p.value());
      }
      for (const auto& b : item.value()->named_buffers(/*recurse=*/false)) {
        layer.buffers.emplace(b.key(), b.value());
      }
      if (!layer.parameters.empty()) {
        out.emplace_back(item.key(), std::move(layer));
      }
    }
  }
  return out;
}

// tensor.uniform_(-bound, bound) from `generator`, drawn on the CPU in the
// tensor's dtype as PyTorch does for a CPU parameter.
void fill_uniform(
    torch::Tensor& tensor,
    double bound,
    at::Generator& generator) {
  torch::Tensor values =
      torch::empty(
          tensor.sizes(), torch::TensorOptions().dtype(tensor.scalar_type()))
          .uniform_(-bound, bound, generator);
  tensor.copy_(values);
}

// PyTorch's _calculate_fan_in_and_fan_out(weight)[0].
int64_t fan_in(const torch::Tensor& weight, const std::string& layer) {
  TORCH_CHECK_VALUE(
      weight.dim() >= 2,
      kWho,
      ": the weight of layer '",
      layer,
      "' has shape ",
      weight.sizes(),
      "; fan in needs at least 2 dimensions");
  int64_t fan = weight.size(1);
  for (int64_t d = 2; d < weight.dim(); ++d) {
    fan *= weight.size(d);
  }
  return fan;
}

// Linear, Conv*, ConvTranspose*: reset_parameters of PyTorch's _ConvNd and
// Linear, the same arithmetic as torch.nn.init in Python.
void reset_kaiming(
    LayerTensors& layer,
    const std::string& name,
    at::Generator& generator) {
  auto weight = layer.parameters.find("weight");
  TORCH_CHECK_VALUE(
      weight != layer.parameters.end(),
      kWho,
      ": layer '",
      name,
      "' (",
      layer.type,
      ") has no weight");
  const int64_t fan = fan_in(weight->second, name);
  const double a = std::sqrt(5.0);
  const double gain = std::sqrt(2.0 / (1 + std::pow(a, 2)));
  const double std = gain / std::sqrt(static_cast<double>(fan));
  fill_uniform(weight->second, std::sqrt(3.0) * std, generator);
  auto bias = layer.parameters.find("bias");
  if (bias != layer.parameters.end() && bias->second.defined()) {
    const double bound =
        fan > 0 ? 1 / std::sqrt(static_cast<double>(fan)) : 0.0;
    fill_uniform(bias->second, bound, generator);
  }
}

// BatchNorm*, InstanceNorm*, LayerNorm, GroupNorm: no random numbers.
void reset_norm(LayerTensors& layer) {
  for (auto& [name, t] : layer.buffers) {
    if (!t.defined()) {
      continue;
    }
    if (name == "running_var") {
      t.fill_(1);
    } else if (name == "running_mean" || name == "num_batches_tracked") {
      t.zero_();
    }
  }
  for (auto& [name, t] : layer.parameters) {
    if (name == "weight") {
      t.fill_(1);
    } else if (name == "bias") {
      t.zero_();
    }
  }
}

torch::Tensor nan_like_batch(const torch::Tensor& a) {
  return torch::full(
      {a.size(0)},
      std::numeric_limits<double>::quiet_NaN(),
      torch::TensorOptions().dtype(torch::kFloat64));
}

} // namespace

std::vector<std::string> randomizable_layers(const Model& model) {
  std::vector<std::string> names;
  for (const auto& layer : layers_of(model)) {
    names.push_back(layer.first);
  }
  return names;
}

void randomize_layer(
    const Model& model,
    const std::string& layer,
    uint64_t seed) {
  auto layers = layers_of(model);
  auto it = std::find_if(layers.begin(), layers.end(), [&](const auto& l) {
    return l.first == layer;
  });
  if (it == layers.end()) {
    std::string known;
    for (const auto& l : layers) {
      known += (known.empty() ? "" : ", ") + l.first;
    }
    TORCH_CHECK_VALUE(
        false,
        kWho,
        ": the model (",
        model.name(),
        ") has no layer '",
        layer,
        "' with parameters; layers with parameters: ",
        known.empty() ? "none" : known);
  }
  LayerTensors& tensors = it->second;
  torch::NoGradGuard no_grad;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const std::string& type = tensors.type;
  if ((starts_with(type, "Linear") || starts_with(type, "Conv"))) {
    reset_kaiming(tensors, layer, generator);
  } else if (
      starts_with(type, "BatchNorm") || starts_with(type, "InstanceNorm") ||
      type == "LayerNorm" || type == "GroupNorm") {
    reset_norm(tensors);
  } else {
    TORCH_CHECK_VALUE(
        false,
        kWho,
        ": layer '",
        layer,
        "' is a ",
        type,
        ", whose initialization guidedbp does not know (it knows Linear, "
        "Conv*, ConvTranspose*, BatchNorm*, InstanceNorm*, LayerNorm and "
        "GroupNorm); leave it out of the layers");
  }
}

MapSimilarity map_similarity(const torch::Tensor& a, const torch::Tensor& b) {
  TORCH_CHECK_VALUE(
      a.sizes() == b.sizes() && a.dim() >= 1,
      "guidedbp::map_similarity: the maps have shapes ",
      a.sizes(),
      " and ",
      b.sizes(),
      "; expected one shape with a batch dimension");
  MapSimilarity s;
  s.spearman_abs = spearman(a.abs(), b.abs());
  s.spearman = spearman(a, b);
  torch::Tensor a2, b2;
  if (a.dim() == 4) {
    a2 = a.abs().sum(1);
    b2 = b.abs().sum(1);
  } else if (a.dim() == 3) {
    a2 = a.abs();
    b2 = b.abs();
  }
  const bool planar = a2.defined() && a2.size(1) >= 7 && a2.size(2) >= 7;
  s.ssim = planar ? ssim(a2, b2) : nan_like_batch(a);
  return s;
}

RandomizationResult model_parameter_randomization(
    const Model& model,
    const std::function<torch::Tensor(const Model&)>& explain,
    const RandomizationOptions& options) {
  RandomizationResult result;
  result.layers = options.layers();
  if (result.layers.empty()) {
    result.layers = randomizable_layers(model);
    std::reverse(result.layers.begin(), result.layers.end());
  }
  TORCH_CHECK_VALUE(
      !result.layers.empty(),
      "guidedbp::model_parameter_randomization: the model (",
      model.name(),
      ") has no parameters to randomize (frozen by torch.jit.freeze or "
      "optimize_for_inference, or a plain function); pass the unfrozen "
      "TorchScript or torch::nn module");
  TORCH_CHECK_VALUE(
      explain,
      "guidedbp::model_parameter_randomization: the "
      "explanation is empty");
  result.original = explain(model).detach();
  Model cascade = model.deep_copy();
  for (size_t k = 0; k < result.layers.size(); ++k) {
    const uint64_t seed = options.seed() + k;
    torch::Tensor maps;
    if (options.order() == RandomizationOrder::kCascading) {
      randomize_layer(cascade, result.layers[k], seed);
      maps = explain(cascade).detach();
    } else {
      Model one = model.deep_copy();
      randomize_layer(one, result.layers[k], seed);
      maps = explain(one).detach();
    }
    result.similarity.push_back(map_similarity(result.original, maps));
    result.maps.push_back(std::move(maps));
  }
  return result;
}

} // namespace guidedbp
