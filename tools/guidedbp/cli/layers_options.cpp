// `guidedbp layers`: its command line (CLI11), torch-free; the command
// itself is in layer_command.cpp.

#include <CLI/CLI.hpp>

#include "cli/commands.h"

namespace guidedbp {
namespace cli {

CLI::App* add_layers_command(CLI::App& app, LayersArgs& args) {
  CLI::App* l = app.add_subcommand(
      "layers",
      "The layer paths of a TorchScript model (for --layer), with output shapes "
      "for a given input");
  l->add_option("--model", args.model, "TorchScript model file (MODEL.pt)")
      ->required();
  l->add_option(
       "--input-size",
       args.input_size,
       "input shape, batch first, e.g. 1,3,224,224: print each layer's output "
       "shape for a random input of this shape")
      ->delimiter(',');
  l->add_option(
      "--input",
      args.input,
      "input tensor (.npy or .pt) instead of --input-size");
  return l;
}

} // namespace cli
} // namespace guidedbp
