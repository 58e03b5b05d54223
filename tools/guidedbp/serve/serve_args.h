#pragma once

// `guidedbp serve`: its options as parsed (torch-free, like commands.h) and
// the command itself.

#include <cstdint>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace guidedbp {
namespace cli {

/// `guidedbp serve`.
struct ServeArgs {
  std::vector<std::string> models; ///< NAME=PATH, one per --model.
  std::vector<std::string> labels; ///< NAME=FILE, one per --labels.
  std::string host = "127.0.0.1";
  int port = 8080;
  RuntimeArgs runtime; ///< --device, --threads, --allow-tf32.
  // Defaults of :explain (a request's "parameters" override them).
  std::string method = "guided-backprop";
  bool abs = false;
  // Image bodies: explain's preprocessing and drawing.
  PreprocessArgs preprocess;
  std::string visual = "heat_map";
  std::string sign = "absolute_value";
  double outlier_perc = 2.0;
  // Batching and limits.
  int64_t max_batch_size = 16;   ///< Examples per model call; 1: no batching.
  double max_batch_delay_ms = 5; ///< How long a batch waits to fill.
  int64_t max_queue = 256;       ///< Requests waiting per model; more: 503.
  double request_timeout_ms = 30000;     ///< Longest wait in the queue: 503.
  double max_body_mb = 32;               ///< Larger bodies: 413.
  int http_threads = 64;                 ///< Connections served at once.
  bool quiet = false;                    ///< No access log lines.
  std::vector<std::string> visual_names; ///< The names "visual" takes.
  std::vector<std::string> sign_names;   ///< The names "sign" takes.
};

/// Adds the `serve` subcommand to `app`, parsing into `args`.
CLI::App* add_serve_command(CLI::App& app, ServeArgs& args);

/// Serves until SIGTERM or SIGINT; returns the exit status (0 after a clean
/// shutdown). Throws CliError/UsageError for bad options or models.
int run_serve(const ServeArgs& args);

} // namespace cli
} // namespace guidedbp
