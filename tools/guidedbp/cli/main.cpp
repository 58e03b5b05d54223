// guidedbp: the command-line tool. Builds the command line from each
// subcommand's add_X_command, parses it, runs the subcommand chosen and
// reports its errors as one line with an exit status.

#include <c10/util/Exception.h>
#include <guidedbp/version.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "cli/cli_error.h"
#include "cli/commands.h"
#include "cli/report.h"
#include "serve/serve_args.h"

int main(int argc, char** argv) {
  namespace cli = guidedbp::cli;
  // Library warnings (TORCH_WARN) outside explain's per-image handler: one
  // line each on stderr.
  cli::WarningLines warnings([](const std::string& line) {
    std::fprintf(stderr, "guidedbp: warning: %s\n", line.c_str());
  });

  CLI::App app{
      "guidedbp: Guided Backpropagation, Deconvolution and Saliency attributions "
      "of TorchScript and torch.export models (Captum's semantics)",
      "guidedbp"};
  app.require_subcommand(1);
  app.set_version_flag(
      "--version", std::string("guidedbp ") + guidedbp::kVersion);

  cli::AttributeArgs attribute;
  cli::ExplainArgs explain;
  cli::LayersArgs layers;
  cli::EvaluateArgs evaluate;
  cli::ServeArgs serve;
  cli::ExportArgs export_args;
  // Each subcommand with what runs it once parsed.
  const std::vector<std::pair<CLI::App*, std::function<int()>>> commands = {
      {cli::add_attribute_command(app, attribute),
       [&] { return cli::run_attribute(attribute); }},
      {cli::add_explain_command(app, explain),
       [&] { return cli::run_explain(explain); }},
      {cli::add_layers_command(app, layers),
       [&] { return cli::run_layers(layers); }},
      {cli::add_evaluate_command(app, evaluate),
       [&] { return cli::run_evaluate(evaluate); }},
      {cli::add_serve_command(app, serve),
       [&] { return cli::run_serve(serve); }},
      {cli::add_export_command(app, export_args),
       [&] { return cli::run_export(export_args); }},
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& success) { // also --help and --version
    return app.exit(success);
  } catch (const CLI::ParseError& error) {
    std::string command;
    for (const auto& entry : commands) {
      if (entry.first->parsed()) {
        command = " " + entry.first->get_name();
      }
    }
    std::fprintf(
        stderr,
        "guidedbp: %s (see guidedbp%s --help)\n",
        cli::summarize_error(error.what()).c_str(),
        command.c_str());
    return 2;
  }

  try {
    for (const auto& entry : commands) {
      if (entry.first->parsed()) {
        return entry.second();
      }
    }
    return 2; // require_subcommand(1): not reached
  } catch (const cli::UsageError& error) {
    std::fprintf(stderr, "guidedbp: %s\n", cli::error_line(error).c_str());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "guidedbp: out of memory\n");
    return 1;
  } catch (const std::exception& error) { // c10::Error, CliError, ...
    std::fprintf(stderr, "guidedbp: %s\n", cli::error_line(error).c_str());
    return 1;
  } catch (...) {
    std::fprintf(stderr, "guidedbp: unknown error\n");
    return 1;
  }
}
