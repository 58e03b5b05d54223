// `guidedbp export`: its command line (CLI11), torch-free; the command itself
// is export_command.cpp.

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "methods/method_catalogue.h"

namespace guidedbp {
namespace cli {
namespace {

const char* kExportFooter = R"(
Files:
  EP.pt2   an ExportedProgram: torch.export.save(torch.export.export(model, (x,),
           dynamic_shapes=({0: torch.export.Dim("batch")},)), "EP.pt2")
  PKG.pt2  the package (AOTInductor): the model's output and the method's
           attribution, one compiled program; its batch size is dynamic, its
           other sizes and dtype are EP.pt2's. Give it to `guidedbp attribute
           --model PKG.pt2` or guidedbp::CompiledAttribution. A neuron
           package takes the neuron at run time (attribute --neuron SPEC).

Needs python3 with torch >= 2.6, the version of the LibTorch guidedbp was built
with, setuptools, Python's headers and g++ (Debian 13: python3-torch
python3-setuptools python3-dev g++); GUIDEDBP_PYTHON names another python.
Compiling takes 20-60 s. See docs/export.md.

Example:
  guidedbp export --model ep.pt2 --method guided-backprop --output gbp.pt2
  guidedbp attribute --model gbp.pt2 --input x.npy --target 3 --output a.npy
  guidedbp export --model ep.pt2 --method guided-gradcam --layer layer4 \
      --output ggc.pt2

Exit status: 0 success, 1 error (one line on stderr), 2 usage error.)";

} // namespace

CLI::App* add_export_command(CLI::App& app, ExportArgs& args) {
  CLI::App* e = app.add_subcommand(
      "export",
      "Compile a torch.export model and a method into an AOTInductor package "
      "(LibTorch >= 2.6)");
  e->add_option(
       "--model", args.model, "ExportedProgram (torch.export.save), EP.pt2")
      ->required();
  e->add_option("--method", args.method, "attribution method compiled in")
      ->required()
      ->check(CLI::IsMember(method_names(MethodCommand::kExport)));
  e->add_option(
      "--layer",
      args.layer,
      "guided-gradcam and neuron methods: the layer, its named_modules() path "
      "(e.g. layer4, features.18), recorded in the package");
  e->add_flag(
      "--abs",
      args.abs,
      "saliency: compile in the absolute value (Captum's default abs=True)");
  e->add_option("--device", args.device, "where the package runs: cpu or cuda")
      ->capture_default_str();
  e->add_option(
      "--trace-batch",
      args.trace_batch,
      "batch size of the trace (default: the smallest >= 5 that no other "
      "input dimension equals)");
  e->add_option(
       "--threads",
       args.threads,
       "threads of the package's parallel loops, fixed at compile time "
       "(default: this machine's cores); compile for the threads it will run "
       "with")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  e->add_option("--output", args.output, "the package, PKG.pt2")->required();
  e->footer(kExportFooter);
  return e;
}

} // namespace cli
} // namespace guidedbp
