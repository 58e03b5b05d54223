// guidedbp serve: the subcommand's options and the server's life: load the
// models, listen, and on SIGTERM/SIGINT stop accepting, answer what is in
// flight, exit 0.

#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "cli/cli_error.h"
#include "methods/method_catalogue.h"
#include "serve/engine.h"
#include "serve/http_server.h"
#include "serve/serve_args.h"

namespace guidedbp {
namespace cli {
namespace {

const char* kServeFooter = R"(
Routes (KServe v1 protocol; docs/serve.md):
  GET  /v2/health/live, /v2/health/ready     liveness, readiness
  GET  /v1/models, /v1/models/NAME           {"models": [...]}, {"name", "ready", "labels"}
  POST /v1/models/NAME:predict               {"instances": [x_0, ...]} -> {"predictions": [...]}
  POST /v1/models/NAME:explain               {"instances": [...], "parameters":
                                             {"method": M, "target": T}} -> {"explanations": [...]}
       with a PNG/JPEG body (Content-Type image/png or image/jpeg): the heat
       map as image/png; query ?target=&method=&sign=&visual=
  GET  /metrics                              Prometheus text format
  GET  /                                     a web page: pick a model and an image
Errors are {"error": "..."}: 400 bad request, 404 unknown model or path,
405 wrong HTTP method, 413 body over --max-body-mb, 415 unsupported
Content-Type, 503 queue full, timed out or shutting down.
One JSON line per request on stderr (--quiet: none).

Example:
  guidedbp serve --model fashion=examples/fashion_mnist/model.pt --port 8080
  curl -s localhost:8080/v1/models/fashion:explain -H 'Content-Type: image/png' \
      --data-binary @examples/fashion_mnist/images/0000_ankle_boot.png -o map.png)";

} // namespace

CLI::App* add_serve_command(CLI::App& app, ServeArgs& args) {
  args.visual_names = visual_choices();
  args.sign_names = sign_choices();
  CLI::App* s = app.add_subcommand(
      "serve",
      "An HTTP server (KServe v1 protocol) for predictions and explanations");
  s->add_option(
       "--model",
       args.models,
       "NAME=PATH of a TorchScript model or a package of `guidedbp export` "
       "(PKG.pt2); repeat for several models")
      ->required()
      ->take_all();
  s->add_option(
       "--labels",
       args.labels,
       "NAME=FILE: class names of model NAME, one per line (the web page and "
       "GET /v1/models/NAME show them); repeat per model")
      ->take_all();
  s->add_option("--host", args.host, "address to listen on")
      ->capture_default_str();
  s->add_option("--port", args.port, "port to listen on (0: any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  add_runtime_options(s, args.runtime);
  s->add_option("--method", args.method, "default attribution method")
      ->check(CLI::IsMember(method_names(MethodCommand::kServe)))
      ->capture_default_str();
  s->add_flag("--abs", args.abs, "saliency only: absolute value by default");
  // Applied to image bodies only.
  add_preprocess_options(s, args.preprocess);
  s->add_option("--visual", args.visual, "default drawing (Captum's method)")
      ->check(CLI::IsMember(visual_choices()))
      ->capture_default_str();
  s->add_option("--sign", args.sign, "default sign (Captum's sign)")
      ->check(CLI::IsMember(sign_choices()))
      ->capture_default_str();
  s->add_option(
       "--outlier-perc",
       args.outlier_perc,
       "default percent of the attribution mass clipped")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
  s->add_option(
       "--max-batch-size",
       args.max_batch_size,
       "most examples per model call when batching requests (1: no batching)")
      ->check(CLI::Range(int64_t(1), int64_t(65536)))
      ->capture_default_str();
  s->add_option(
       "--max-batch-delay-ms",
       args.max_batch_delay_ms,
       "how long a request waits for others to batch with")
      ->check(CLI::Range(0.0, 10000.0))
      ->capture_default_str();
  s->add_option(
       "--max-queue",
       args.max_queue,
       "most requests waiting per model; more get 503")
      ->check(CLI::Range(int64_t(1), int64_t(1000000)))
      ->capture_default_str();
  s->add_option(
       "--request-timeout-ms",
       args.request_timeout_ms,
       "longest a request waits for its result; then 503")
      ->check(CLI::Range(1.0, 3600000.0))
      ->capture_default_str();
  s->add_option(
       "--max-body-mb",
       args.max_body_mb,
       "largest request body in MiB; larger get 413")
      ->check(CLI::Range(0.001, 4096.0))
      ->capture_default_str();
  s->add_option(
       "--http-threads",
       args.http_threads,
       "connections served at once (slow clients hold one each)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  s->add_flag("--quiet", args.quiet, "no access log lines on stderr");
  s->footer(kServeFooter);
  return s;
}

int run_serve(const ServeArgs& args) {
  MethodOptions given;
  given.abs = args.abs;
  check_method_options(
      find_method(args.method, MethodCommand::kServe),
      given,
      MethodCommand::kServe);
  // SIGTERM and SIGINT are taken by one thread with sigwait: every thread
  // made from here on inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<serve::Backend> backend = serve::make_torch_backend(args);
  serve::HttpServer server(args, *backend);
  server.bind();
  std::fprintf(
      stderr,
      "guidedbp: serving %zu model(s) on http://%s:%d/ (SIGTERM or Ctrl-C "
      "stops)\n",
      backend->model_names().size(),
      args.host.c_str(),
      server.port());
  std::fflush(stderr);

  std::atomic<bool> done{false};
  std::thread watcher([&] {
    const timespec tick{0, 200 * 1000 * 1000};
    while (!done.load()) {
      const int signal = sigtimedwait(&signals, nullptr, &tick);
      if (signal == SIGTERM || signal == SIGINT) {
        std::fprintf(
            stderr,
            "guidedbp: %s: finishing the requests in flight, then exiting\n",
            signal == SIGTERM ? "SIGTERM" : "SIGINT");
        // A signal that comes before listen() runs would be lost by
        // httplib's stop(): wait until it runs (or has ended).
        while (!done.load() && !server.running()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        server.stop();
        return;
      }
    }
  });
  server.listen();
  done = true;
  watcher.join();
  server.stop_batchers();
  std::fprintf(stderr, "guidedbp: stopped\n");
  return 0;
}

} // namespace cli
} // namespace guidedbp
