#pragma once

#include <guidedbp/model.h>
#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace guidedbp {

/// The layers the randomization test can randomize: the submodules (and the
/// root) that own parameters, as dotted `named_modules()` paths, in that
/// order (the first layer is nearest the input in most models). A model
/// with no parameters (frozen by `torch.jit.freeze`, or a plain function)
/// has none.
///
/// Example:
/// ```
/// auto layers = guidedbp::randomizable_layers(torch::jit::load("m.pt"));
/// ```
[[nodiscard]] std::vector<std::string> randomizable_layers(const Model& model);

/// Re-initializes the parameters and buffers of `layer` of `model` IN PLACE
/// with PyTorch's `reset_parameters` rules, from a private generator seeded
/// with `seed`: the same numbers as `torch.manual_seed(seed);
/// layer.reset_parameters()` in Python (Linear, Conv*, ConvTranspose*:
/// kaiming-uniform with a = sqrt(5), then the bias uniform in
/// +-1/sqrt(fan_in); BatchNorm*, InstanceNorm*, LayerNorm, GroupNorm: weight
/// ones, bias zeros, running mean 0, running variance 1, batch count 0).
/// REQUIRES: a model of its own, from `Model::deep_copy()`: every model that
/// shares the parameters changes too.
/// Throws c10::ValueError for an unknown layer or a layer type without
/// such a rule, naming it.
///
/// Example:
/// ```
/// guidedbp::Model copy = model.deep_copy();
/// guidedbp::randomize_layer(copy, "fc2", /*seed=*/0);
/// ```
void randomize_layer(
    const Model& model,
    const std::string& layer,
    uint64_t seed);

/// The order in which the randomization test randomizes layers.
enum class RandomizationOrder {
  kCascading,   ///< Top layer first, then each layer below it too.
  kIndependent, ///< One layer at a time, the others as trained.
};

/// Options of `model_parameter_randomization`.
struct RandomizationOptions {
  /// Default: kCascading (Adebayo et al.'s Fig. 2 and 4).
  TORCH_ARG(RandomizationOrder, order) = RandomizationOrder::kCascading;
  /// The layer at position k of `layers` (top first) is randomized with
  /// seed + k, in both orders. Default: 0.
  TORCH_ARG(uint64_t, seed) = 0;
  /// The layers, top first; empty: `randomizable_layers` reversed.
  TORCH_ARG(std::vector<std::string>, layers) = {};
};

/// The maps' similarity to the original maps, one value per example (NaN
/// where a map is constant).
struct MapSimilarity {
  torch::Tensor spearman_abs; ///< Spearman of the absolute maps.
  torch::Tensor spearman;     ///< Spearman of the signed maps.
  torch::Tensor ssim;         ///< SSIM of the channel-summed absolute 2-D maps.
};

/// What `model_parameter_randomization` computes.
struct RandomizationResult {
  std::vector<std::string> layers;       ///< Randomized layers, top first.
  torch::Tensor original;                ///< The maps of the trained model.
  std::vector<torch::Tensor> maps;       ///< One per randomized state.
  std::vector<MapSimilarity> similarity; ///< One per randomized state.
};

/// The similarity of two batches of maps as the randomization test
/// measures it: Spearman of |a| and |b| and of a and b (whole maps), and
/// SSIM of the 2-D maps |a|.sum(1) for (N, C, H, W) maps, |a| for (N, H, W)
/// maps (NaN for other shapes or maps under 7 x 7).
///
/// Example:
/// ```
/// guidedbp::MapSimilarity s = guidedbp::map_similarity(a, b);
/// ```
[[nodiscard]] MapSimilarity map_similarity(
    const torch::Tensor& a,
    const torch::Tensor& b);

/// The model parameter randomization test (Adebayo et al. 2018, "Sanity
/// checks for saliency maps"): the maps `explain(model)` of the trained
/// model, then of copies with layers randomized (`randomize_layer`),
/// cascading from the top or one at a time, each compared with the original
/// maps (`map_similarity`). A method whose maps stay similar while the
/// weights become random does not depend on what the model learned.
/// REQUIRES: `model` a TorchScript or `torch::nn` model with parameters;
/// `explain` returns maps with a batch dimension.
/// NOTE: the randomized copies come from `Model::deep_copy()`: the model
/// itself is never changed.
/// Throws c10::ValueError for a model without parameters.
///
/// Quantus: `MPRT` (eager modules only; its summary also averages in the
/// unrandomized score, which this does not).
///
/// Example:
/// ```
/// auto r = guidedbp::model_parameter_randomization(
///     model, [&](const guidedbp::Model& m) {
///       return guidedbp::GuidedBackprop(m).attribute(x, /*target=*/3);
///     });
/// ```
[[nodiscard]] RandomizationResult model_parameter_randomization(
    const Model& model,
    const std::function<torch::Tensor(const Model&)>& explain,
    const RandomizationOptions& options = {});

} // namespace guidedbp
