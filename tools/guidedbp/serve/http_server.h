#pragma once

// The HTTP layer of `guidedbp serve` (cpp-httplib): the KServe v1 routes,
// JSON errors, access logs and metrics. Torch-free; the models sit behind
// Backend and a Batcher per model.

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "serve/batcher.h"
#include "serve/metrics.h"
#include "serve/request.h"
#include "serve/serve_args.h"

namespace httplib {
class Server;
struct Request;
struct Response;
} // namespace httplib

namespace guidedbp {
namespace cli {
namespace serve {

class HttpServer {
 public:
  /// Reads the --labels files; throws UsageError/CliError for a bad one.
  HttpServer(const ServeArgs& args, Backend& backend);
  ~HttpServer();

  /// Binds --host:--port; throws CliError when it cannot.
  void bind();
  /// The port bound (useful with --port 0).
  int port() const {
    return port_;
  }
  /// Serves until stop(); then every request already being handled has
  /// been answered.
  void listen();
  /// True once listen() accepts connections.
  bool running() const;
  /// Stops accepting connections (callable from any thread, once listen()
  /// runs). Also makes /v2/health/ready answer 503.
  void stop();
  /// Runs what the batchers still hold, then ends them.
  void stop_batchers();

 private:
  void routes();
  void guard_routes();
  void log_requests();
  void page_and_status_routes();
  void model_routes();
  void infer(
      const httplib::Request& req,
      const std::string& body,
      httplib::Response& res);
  size_t max_body_bytes() const;
  std::string too_large() const;

  const ServeArgs& args_;
  Backend& backend_;
  RequestRules rules_;
  std::vector<std::string> names_;
  std::map<std::string, std::vector<std::string>> labels_; ///< --labels
  Metrics metrics_;
  std::map<std::string, std::unique_ptr<Batcher>> batchers_;
  std::unique_ptr<httplib::Server> server_;
  std::atomic<bool> stopping_{false};
  int port_ = 0;
};

/// The web page served at `GET /` (web_page.cpp): self-contained HTML.
const char* web_page();

} // namespace serve
} // namespace cli
} // namespace guidedbp
