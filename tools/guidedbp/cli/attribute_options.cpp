// `guidedbp attribute`: its command line (CLI11), torch-free; the command
// itself is attribute_command.cpp.

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/noted_option.h"
#include "methods/method_catalogue.h"

namespace guidedbp {
namespace cli {
namespace {

const char* kTargetHelp =
    "Which output to explain, a Python-like literal as Captum's `target`: "
    "3 (index 3 of dim 1 for every example; -1 counts from the end), "
    "(1,2) (an index tuple into dims 1..k for every example; (1,) is a tuple of one), "
    "[3,1,0] (one index per example, for N x C outputs), "
    "[(0,1),(2,3)] (one tuple per example). Quote it for the shell; spaces "
    "are allowed. Default: none (the model must return one value per example).";

const char* kAttributeFooter = R"(
Files:
  MODEL.pt     TorchScript (torch.jit.script or torch.jit.trace, then .save());
               loaded with torch::jit::load and put in eval mode.
  PKG.pt2      a package of `guidedbp export` (a torch.export model compiled
               with its method; LibTorch >= 2.6): the method and layer are
               the package's; a neuron package takes --neuron, not --target.
  IN.npy       numpy array, little-endian, C order: float32 or float64 for inputs
               (float16/int/uint8/bool are read too, e.g. for --forward-arg).
  IN.pt        one tensor saved by Python's torch.save(tensor, path).
  OUT.npy/.pt  the attribution: same shape and dtype as its input; the format
               follows the extension. Written to a temporary name and renamed
               at the end: on any error no output file is left.

Examples:
  guidedbp attribute --model model.pt --input x.npy --target 3 --output a.npy
  guidedbp attribute --model model.pt --input x.pt --target '[3, 1, 0]' --output a.pt
  guidedbp attribute --model model.pt --input x.npy --target 0 --target 1 --target 2 \
      --output a.npy            # a.npy: 3 x input shape, one forward pass
  guidedbp attribute --model m.pt --input a.npy --input b.npy --forward-arg mask.npy \
      --forward-arg 2.0 --method deconvolution --output ga.npy --output gb.npy

Exit status: 0 success, 1 error (one line on stderr: "guidedbp: <cause>"),
2 usage error.)";

} // namespace

CLI::App* add_attribute_command(CLI::App& app, AttributeArgs& args) {
  CLI::App* a = app.add_subcommand(
      "attribute",
      "Attributions of input tensors (.npy/.pt) for a TorchScript model or a "
      "package of `guidedbp export`");
  a->add_option(
       "--model",
       args.model,
       "TorchScript model file (MODEL.pt), or a package of `guidedbp export` "
       "(PKG.pt2)")
      ->required();
  a->add_option(
       "--input",
       args.inputs,
       "input tensor (.npy or .pt), batch first; repeat for several inputs")
      ->required()
      ->take_all();
  a->add_option(
       "--forward-arg",
       args.forward_args,
       "extra forward argument after the inputs, in order: a tensor file (.npy/.pt), an "
       "integer, a float, or true/false; repeat for several")
      ->take_all();
  // A function option triggered per occurrence: bound to a vector, CLI11
  // would split a literal like [3,1,0] into three values.
  a->add_option_function<std::string>(
       "--target",
       [&args](const std::string& literal) { args.targets.push_back(literal); },
       std::string(kTargetHelp) +
           " Repeat --target for K targets: one forward pass, and each output "
           "then holds the K attributions stacked on a new first dimension "
           "(K x input shape), in --target order.")
      ->trigger_on_parse()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  a->add_option(
       "--method",
       args.method,
       "attribution method (a package's own method by default)")
      ->check(CLI::IsMember(method_names(MethodCommand::kAttribute)))
      ->each([&args](const std::string&) { args.has_method = true; })
      ->capture_default_str();
  a->add_option(
      "--layer",
      args.layer,
      "guided-gradcam and neuron methods: the layer, its named_modules() path "
      "(layer4, layer3.1.conv2, features.18; `guidedbp layers` lists them)");
  add_noted_option(
      a,
      "--interpolate",
      args.interpolate,
      args.has_interpolate,
      "guided-gradcam: how the Grad-CAM map is upsampled to the input "
      "(default nearest, as Captum)")
      ->check(CLI::IsMember(interpolate_choices()));
  a->add_flag(
      "--attribute-to-layer-input",
      args.attribute_to_layer_input,
      "guided-gradcam: Grad-CAM of the layer's input instead of its output");
  add_noted_option(
      a,
      "--neuron",
      args.neuron,
      args.has_neuron,
      "neuron methods: the neuron of the layer output (without the batch "
      "dimension): an int for 2-D layer outputs (7) or a tuple ('(5, 1, 2)'); "
      "a range start:stop in the tuple sums over it ('(0:4, 1, 2)')");
  a->add_flag(
      "--attribute-to-neuron-input",
      args.attribute_to_neuron_input,
      "neuron methods: select the neuron from the layer's input");
  a->add_flag(
      "--abs",
      args.abs,
      "saliency only: absolute value of the gradient (Captum's Saliency default abs=True); "
      "without it the signed gradient");
  a->add_option(
       "--output",
       args.outputs,
       "output file (.npy or .pt), one per --input in the same order")
      ->required()
      ->take_all();
  add_runtime_options(a, args.runtime);
  a->footer(kAttributeFooter);

  return a;
}

} // namespace cli
} // namespace guidedbp
