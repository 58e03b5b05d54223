#include "serve/http_server.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>

#include "cli/cli_error.h"
#include "io/file_util.h"
#include "serve/protocol.h"
#include "serve/request.h"

namespace guidedbp {
namespace cli {
namespace serve {
namespace {

using Clock = std::chrono::steady_clock;

// When the request being handled on this thread began (its headers were
// read); httplib runs a request's handlers and logger on one thread.
thread_local Clock::time_point request_start;

const char* kJson = "application/json";

void send_json(httplib::Response& res, int status, const nlohmann::json& j) {
  res.status = status;
  res.set_content(
      j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), kJson);
}

void send_error(httplib::Response& res, int status, const std::string& why) {
  res.status = status;
  res.set_content(error_body(why), kJson);
}

// --labels NAME=FILE: each model's class names, one per line.
std::map<std::string, std::vector<std::string>> read_model_labels(
    const std::vector<std::string>& specs,
    const std::vector<std::string>& models) {
  std::map<std::string, std::vector<std::string>> labels;
  for (const std::string& spec : specs) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
      throw UsageError(
          "--labels " + spec +
          ": expected NAME=FILE, the model's name and a file of class "
          "names, one per line (e.g. --labels fashion=labels.txt)");
    }
    const std::string name = spec.substr(0, eq);
    if (std::find(models.begin(), models.end(), name) == models.end()) {
      throw UsageError(
          "--labels " + spec + ": no --model is named '" + name + "'");
    }
    if (labels.count(name)) {
      throw UsageError(
          "--labels " + spec + ": model '" + name + "' has labels already");
    }
    labels[name] = read_lines(spec.substr(eq + 1));
  }
  return labels;
}

std::string route_of(const std::string& path) {
  if (path == "/") {
    return "page";
  }
  if (path == "/metrics") {
    return "metrics";
  }
  if (path.rfind("/v2/health/", 0) == 0) {
    return "health";
  }
  if (path.rfind("/v1/models", 0) == 0) {
    if (path.size() > 8 && path.compare(path.size() - 8, 8, ":predict") == 0) {
      return "predict";
    }
    if (path.size() > 8 && path.compare(path.size() - 8, 8, ":explain") == 0) {
      return "explain";
    }
    return "models";
  }
  return "other";
}

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      now.time_since_epoch())
                      .count() %
      1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  // Room for any int in every field, so GCC can prove nothing is cut off
  // (-Wformat-truncation); a real date takes 25 bytes.
  char buffer[96];
  std::snprintf(
      buffer,
      sizeof(buffer),
      "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
      tm.tm_year + 1900,
      tm.tm_mon + 1,
      tm.tm_mday,
      tm.tm_hour,
      tm.tm_min,
      tm.tm_sec,
      static_cast<int>(ms));
  return buffer;
}

// The methods a known path answers ("GET", "POST"); "" for an unknown path.
std::string allowed_methods(const std::string& path) {
  if (path == "/" || path == "/metrics" || path == "/v2/health/live" ||
      path == "/v2/health/ready" || path == "/v1/models") {
    return "GET";
  }
  const std::string prefix = "/v1/models/";
  if (path.size() > prefix.size() && path.rfind(prefix, 0) == 0) {
    const std::string verb = split_model_route(path.substr(prefix.size())).verb;
    if (verb == "predict" || verb == "explain") {
      return "POST";
    }
    if (path.find(':', prefix.size()) == std::string::npos) {
      return "GET";
    }
  }
  return "";
}

// A request with a method its path does not answer: 405 with Allow.
void send_wrong_method(
    httplib::Response& res,
    const httplib::Request& req,
    const std::string& allowed) {
  res.set_header("Allow", allowed);
  send_error(
      res,
      405,
      req.method + " is not allowed on " + req.path.substr(0, 200) + ": use " +
          allowed + " (docs/serve.md)");
}

// The body size the client announced (0 when none or unreadable).
uint64_t announced_length(const httplib::Request& req) {
  try {
    return std::stoull(req.get_header_value("Content-Length"));
  } catch (const std::exception&) {
    return 0;
  }
}

} // namespace

std::string HttpServer::too_large() const {
  char mb[32];
  std::snprintf(mb, sizeof(mb), "%g", args_.max_body_mb);
  return std::string("the body is larger than --max-body-mb ") + mb + " MiB";
}

HttpServer::HttpServer(const ServeArgs& args, Backend& backend)
    : args_(args),
      backend_(backend),
      names_(backend.model_names()),
      server_(std::make_unique<httplib::Server>()) {
  rules_.method = args.method;
  rules_.abs = args.abs;
  rules_.visual = args.visual;
  rules_.sign = args.sign;
  rules_.outlier_perc = args.outlier_perc;
  rules_.visuals = args.visual_names;
  rules_.signs = args.sign_names;
  labels_ = read_model_labels(args.labels, names_);
  BatcherOptions options;
  options.max_batch = args.max_batch_size;
  options.max_delay = std::chrono::microseconds(
      static_cast<int64_t>(args.max_batch_delay_ms * 1000));
  options.max_queue = args.max_queue;
  for (const std::string& name : names_) {
    batchers_[name] = std::make_unique<Batcher>(
        name, backend_, options, [this, name](int64_t examples) {
          metrics_.record_batch(name, examples);
        });
  }
  routes();
}

HttpServer::~HttpServer() {
  stop();
  stop_batchers();
}

void HttpServer::bind() {
  port_ = args_.port == 0
      ? server_->bind_to_any_port(args_.host)
      : (server_->bind_to_port(args_.host, args_.port) ? args_.port : -1);
  if (port_ < 0) {
    throw CliError(
        "cannot listen on " + args_.host + ":" + std::to_string(args_.port) +
        " (in use, or not an address of this machine); pick another --port "
        "or --host");
  }
}

void HttpServer::listen() {
  server_->listen_after_bind();
}

bool HttpServer::running() const {
  return server_->is_running();
}

void HttpServer::stop() {
  stopping_ = true;
  server_->stop();
}

void HttpServer::stop_batchers() {
  for (auto& entry : batchers_) {
    entry.second->stop();
  }
}

void HttpServer::routes() {
  httplib::Server& s = *server_;
  const int threads = args_.http_threads;
  s.new_task_queue = [threads] {
    return new httplib::ThreadPool(static_cast<size_t>(threads));
  };
  s.set_payload_max_length(max_body_bytes());
  s.set_keep_alive_timeout(2);
  s.set_read_timeout(5, 0);
  s.set_write_timeout(5, 0);
  s.set_tcp_nodelay(true);
  guard_routes();
  log_requests();
  page_and_status_routes();
  model_routes();
}

size_t HttpServer::max_body_bytes() const {
  return static_cast<size_t>(args_.max_body_mb * 1024.0 * 1024.0);
}

// Before any route: the clock starts, and a body announced larger than
// --max-body-mb is refused from its header, without reading it. Errors
// httplib answers itself (no route, a bad request line) get JSON bodies, and
// a known path asked with another method gets 405.
void HttpServer::guard_routes() {
  httplib::Server& s = *server_;
  s.set_pre_routing_handler(
      [this](const httplib::Request& req, httplib::Response& res) {
        request_start = Clock::now();
        if (announced_length(req) > max_body_bytes()) {
          send_error(res, 413, too_large());
          // The unread body would be taken for the next request.
          res.set_header("Connection", "close");
          return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
      });
  s.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        const std::string allowed = allowed_methods(req.path);
        if (res.status == 404 && !allowed.empty()) {
          send_wrong_method(res, req, allowed);
        } else if (res.status == 413) {
          send_error(res, 413, too_large());
        } else if (res.status == 404) {
          send_error(
              res,
              404,
              "no route " + req.method + " " + req.path.substr(0, 200) +
                  " (see GET /v1/models and docs/serve.md)");
        } else {
          send_error(
              res,
              res.status,
              "bad request (HTTP status " + std::to_string(res.status) + ")");
        }
        return httplib::Server::HandlerResponse::Handled;
      }));
  s.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        send_error(res, 500, "internal error");
      });
}

// One JSON line per request on stderr (unless --quiet), and the metrics.
void HttpServer::log_requests() {
  server_->set_logger([this](
                          const httplib::Request& req,
                          const httplib::Response& res) {
    const double seconds = request_start == Clock::time_point()
        ? 0.0
        : std::chrono::duration<double>(Clock::now() - request_start).count();
    request_start = Clock::time_point();
    metrics_.record_request(route_of(req.path), res.status, seconds);
    if (args_.quiet) {
      return;
    }
    nlohmann::json line = {
        {"time", utc_now()},
        {"remote", req.remote_addr},
        {"method", req.method},
        {"path", limit_length(req.path, 200)},
        {"status", res.status},
        {"ms", std::round(seconds * 1e5) / 100},
        {"in", std::max<uint64_t>(announced_length(req), req.body.size())},
        {"out", res.body.size()}};
    if (res.status >= 400 && res.body.size() < 2000) {
      auto parsed = nlohmann::json::parse(res.body, nullptr, false);
      if (parsed.is_object() && parsed.contains("error")) {
        line["error"] = parsed["error"];
      }
    }
    const std::string text =
        line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
        "\n";
    std::fwrite(text.data(), 1, text.size(), stderr);
  });
}

// GET /, the health checks and /metrics.
void HttpServer::page_and_status_routes() {
  httplib::Server& s = *server_;
  s.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(web_page(), "text/html; charset=utf-8");
  });
  s.Get("/v2/health/live", [](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, {{"live", true}});
  });
  s.Get(
      "/v2/health/ready",
      [this](const httplib::Request&, httplib::Response& res) {
        const bool ready = !stopping_.load();
        send_json(res, ready ? 200 : 503, {{"ready", ready}});
      });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    std::vector<std::pair<std::string, int64_t>> depths;
    for (const auto& entry : batchers_) {
      depths.emplace_back(entry.first, entry.second->depth());
    }
    res.set_content(
        metrics_.render(depths), "text/plain; version=0.0.4; charset=utf-8");
  });
}

// GET /v1/models and /v1/models/NAME; POST /v1/models/NAME:predict|explain.
void HttpServer::model_routes() {
  httplib::Server& s = *server_;
  s.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, {{"models", names_}});
  });
  s.Get(
      "/v1/models/(.+)",
      [this](const httplib::Request& req, httplib::Response& res) {
        const std::string allowed = allowed_methods(req.path);
        if (allowed != "GET") {
          if (allowed.empty()) {
            send_error(res, 404, "no route GET " + req.path.substr(0, 200));
          } else {
            send_wrong_method(res, req, allowed);
          }
          return;
        }
        const std::string name = req.matches[1];
        if (!batchers_.count(name)) {
          send_error(
              res,
              404,
              "unknown model '" + limit_length(name, 100) +
                  "' (see GET /v1/models)");
          return;
        }
        nlohmann::json metadata = {
            {"name", name}, {"ready", !stopping_.load()}};
        auto labels = labels_.find(name);
        if (labels != labels_.end()) {
          metadata["labels"] = labels->second;
        }
        send_json(res, 200, metadata);
      });
  // The body is read through a content reader: httplib's own reading would
  // refuse url-encoded bodies (curl -d's default type) over 8 KiB.
  s.Post(
      "/v1/models/(.+)",
      [this](
          const httplib::Request& req,
          httplib::Response& res,
          const httplib::ContentReader& reader) {
        try {
          // Before reading: a multipart form would need httplib's multipart
          // reader, and any other refused type need not be read at all.
          if (allowed_methods(req.path) == "POST") {
            body_kind(req.get_header_value("Content-Type"));
          }
        } catch (const RequestError& e) {
          send_error(res, e.status(), e.what());
          res.set_header("Connection", "close"); // the body stays unread
          return;
        }
        std::string body;
        const bool complete = reader([&body](const char* data, size_t size) {
          body.append(data, size);
          return true;
        });
        if (!complete) {
          // httplib set 413 for a body over --max-body-mb; otherwise the
          // client sent less than it announced, or stalled.
          if (res.status == 413) {
            send_error(res, 413, too_large());
          } else {
            send_error(res, 400, "the request body could not be read");
          }
          return;
        }
        try {
          infer(req, body, res);
        } catch (const RequestError& e) {
          send_error(res, e.status(), e.what());
        } catch (const std::bad_alloc&) {
          send_error(res, 500, "out of memory");
        } catch (const std::exception& e) {
          send_error(res, 500, std::string("internal error: ") + e.what());
        }
      });
}

// A :predict or :explain request: parsed, queued for its model's batcher,
// and answered with the result (or the job's error).
void HttpServer::infer(
    const httplib::Request& req,
    const std::string& body,
    httplib::Response& res) {
  const std::string allowed = allowed_methods(req.path);
  if (allowed != "POST") {
    if (allowed.empty()) {
      throw RequestError(
          404,
          "no route POST " + req.path.substr(0, 200) +
              " (use /v1/models/NAME:predict or /v1/models/NAME:explain)");
    }
    res.set_header("Allow", allowed);
    throw RequestError(
        405,
        "POST is not allowed on " + req.path.substr(0, 200) + ": use " +
            allowed + " (POST goes to /v1/models/NAME:predict or :explain)");
  }
  const ModelRoute route = split_model_route(req.matches[1]);
  auto batcher = batchers_.find(route.name);
  if (batcher == batchers_.end()) {
    throw RequestError(
        404,
        "unknown model '" + limit_length(route.name, 100) +
            "' (see GET /v1/models)");
  }
  auto job = std::make_shared<Job>();
  parse_request(
      route.verb,
      req.get_header_value("Content-Type"),
      body,
      [&req](const std::string& name) -> std::optional<std::string> {
        if (!req.has_param(name.c_str())) {
          return std::nullopt;
        }
        return req.get_param_value(name.c_str());
      },
      rules_,
      *job);
  const auto timeout = std::chrono::microseconds(
      static_cast<int64_t>(args_.request_timeout_ms * 1000));
  job->deadline = Clock::now() + timeout;
  if (stopping_.load() || !batcher->second->submit(job)) {
    throw RequestError(
        503,
        stopping_.load()
            ? "the server is shutting down"
            : "the queue of model '" + route.name + "' is full (--max-queue " +
                std::to_string(args_.max_queue) + "); retry later");
  }
  if (!job->wait_until(job->deadline)) {
    job->abandoned = true;
    if (!job->done()) {
      throw RequestError(
          503,
          "no result within --request-timeout-ms " +
              std::to_string(static_cast<int64_t>(args_.request_timeout_ms)) +
              "; the server is overloaded, retry later");
    }
  }
  JobResult& result = job->result();
  if (result.status != 200) {
    throw RequestError(result.status, result.error);
  }
  if (job->kind == JobKind::kImageExplain) {
    res.set_header("X-Predicted-Class", std::to_string(result.predicted));
    res.set_header("X-Predicted-Score", std::to_string(result.score));
    res.set_header("X-Target-Class", std::to_string(result.target));
    res.set_content(
        std::string(result.png.begin(), result.png.end()), "image/png");
    return;
  }
  nlohmann::json list = nlohmann::json::array();
  for (const NdArray& output : result.outputs) {
    list.push_back(to_json(output));
  }
  send_json(
      res,
      200,
      {{job->kind == JobKind::kExplain ? "explanations" : "predictions",
        std::move(list)}});
}

} // namespace serve
} // namespace cli
} // namespace guidedbp
