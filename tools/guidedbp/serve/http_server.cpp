#include "http_server.h"

#include <httplib.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "../cli_error.h"
#include "protocol.h"

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
  char buffer[40];
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

bool is_image_type(const std::string& content_type) {
  return content_type.rfind("image/png", 0) == 0 ||
      content_type.rfind("image/jpeg", 0) == 0;
}

double parse_number(const std::string& name, const std::string& text) {
  try {
    size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size()) {
      return v;
    }
  } catch (const std::exception&) {
  }
  throw RequestError(
      400, "query parameter " + name + "=" + text + ": not a number");
}

uint64_t content_length(const httplib::Request& req) {
  try {
    return std::stoull(req.get_header_value("Content-Length"));
  } catch (const std::exception&) {
    return req.body.size();
  }
}

} // namespace

std::string HttpServer::too_large() const {
  char mb[32];
  std::snprintf(mb, sizeof(mb), "%g", args_.max_body_mb);
  return std::string("the body is larger than --max-body-mb ") + mb + " MiB";
}

HttpServer::HttpServer(
    const ServeArgs& args,
    Backend& backend,
    std::vector<std::string> methods)
    : args_(args),
      backend_(backend),
      methods_(std::move(methods)),
      names_(backend.model_names()),
      server_(std::make_unique<httplib::Server>()) {
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
  s.set_payload_max_length(
      static_cast<size_t>(args_.max_body_mb * 1024.0 * 1024.0));
  s.set_keep_alive_timeout(2);
  s.set_read_timeout(5, 0);
  s.set_write_timeout(5, 0);
  s.set_tcp_nodelay(true);

  s.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
    request_start = Clock::now();
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Errors httplib answers itself (no route, body too large, bad request
  // line) get a JSON body too.
  s.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        std::string why = "no route " + req.method + " " + req.path +
            " (see GET /v1/models and docs/serve.md)";
        if (res.status == 413) {
          why = too_large();
        } else if (res.status != 404) {
          why = "bad request (HTTP status " + std::to_string(res.status) + ")";
        }
        send_error(res, res.status, why);
        return httplib::Server::HandlerResponse::Handled;
      }));
  s.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        send_error(res, 500, "internal error");
      });
  s.set_logger([this](
                   const httplib::Request& req, const httplib::Response& res) {
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
        {"path", req.path},
        {"status", res.status},
        {"ms", std::round(seconds * 1e5) / 100},
        {"in", content_length(req)},
        {"out", res.body.size()}};
    if (res.status >= 400 && res.body.size() < 600) {
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
  s.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, {{"models", names_}});
  });
  s.Get(
      "/v1/models/(.+)",
      [this](const httplib::Request& req, httplib::Response& res) {
        const std::string name = req.matches[1];
        if (!batchers_.count(name)) {
          send_error(
              res, 404, "unknown model '" + name + "' (see GET /v1/models)");
          return;
        }
        send_json(res, 200, {{"name", name}, {"ready", !stopping_.load()}});
      });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    std::vector<std::pair<std::string, int64_t>> depths;
    for (const auto& entry : batchers_) {
      depths.emplace_back(entry.first, entry.second->depth());
    }
    res.set_content(
        metrics_.render(depths), "text/plain; version=0.0.4; charset=utf-8");
  });

  // The body is read through a content reader: httplib's own reading would
  // refuse url-encoded bodies (curl -d's default type) over 8 KiB.
  auto handle = [this](
                    const httplib::Request& req,
                    const std::string& body_text,
                    httplib::Response& res) {
    try {
      const std::string target = req.matches[1];
      const size_t colon = target.rfind(':');
      const std::string name =
          colon == std::string::npos ? target : target.substr(0, colon);
      const std::string verb =
          colon == std::string::npos ? "" : target.substr(colon + 1);
      if (verb != "predict" && verb != "explain") {
        throw RequestError(
            404,
            "no route POST " + req.path +
                " (use /v1/models/NAME:predict or /v1/models/NAME:explain)");
      }
      auto batcher = batchers_.find(name);
      if (batcher == batchers_.end()) {
        throw RequestError(
            404, "unknown model '" + name + "' (see GET /v1/models)");
      }
      const bool explain = verb == "explain";
      auto job = std::make_shared<Job>();
      job->method = args_.method;
      job->abs = args_.abs;
      job->sign = args_.sign;
      job->visual = args_.visual;
      job->outlier_perc = args_.outlier_perc;
      const bool image = is_image_type(req.get_header_value("Content-Type"));
      if (image) {
        job->kind = explain ? JobKind::kImageExplain : JobKind::kImagePredict;
        job->image.assign(body_text.begin(), body_text.end());
        if (req.has_param("method")) {
          job->method = req.get_param_value("method");
        }
        if (req.has_param("abs")) {
          job->abs = req.get_param_value("abs") == "true" ||
              req.get_param_value("abs") == "1";
        }
        if (req.has_param("target")) {
          job->target = parse_target(req.get_param_value("target"));
        }
        if (req.has_param("sign")) {
          job->sign = req.get_param_value("sign");
        }
        if (req.has_param("visual")) {
          job->visual = req.get_param_value("visual");
        }
        if (req.has_param("outlier_perc")) {
          job->outlier_perc =
              parse_number("outlier_perc", req.get_param_value("outlier_perc"));
        }
        if (req.has_param("scale")) {
          const double scale =
              parse_number("scale", req.get_param_value("scale"));
          if (scale < 1 || scale > 64 || scale != static_cast<int64_t>(scale)) {
            throw RequestError(400, "scale must be an integer from 1 to 64");
          }
          job->scale = static_cast<int64_t>(scale);
        }
      } else {
        job->kind = explain ? JobKind::kExplain : JobKind::kPredict;
        nlohmann::json body;
        try {
          body = nlohmann::json::parse(body_text);
        } catch (const nlohmann::json::parse_error& e) {
          throw RequestError(
              400,
              std::string("malformed JSON body (") + e.what() +
                  "); send {\"instances\": [...]}, or an image/png or "
                  "image/jpeg body to :explain");
        }
        job->instances = parse_instances(body);
        auto parameters = body.find("parameters");
        if (parameters != body.end() && !parameters->is_null()) {
          if (!parameters->is_object()) {
            throw RequestError(400, "\"parameters\" must be a JSON object");
          }
          if (parameters->contains("method")) {
            const auto& m = (*parameters)["method"];
            if (!m.is_string()) {
              throw RequestError(400, "\"method\" must be a string");
            }
            job->method = m.get<std::string>();
          }
          if (parameters->contains("abs")) {
            const auto& a = (*parameters)["abs"];
            if (!a.is_boolean()) {
              throw RequestError(400, "\"abs\" must be true or false");
            }
            job->abs = a.get<bool>();
          }
          if (parameters->contains("target")) {
            job->target = parse_target((*parameters)["target"]);
          }
        }
      }
      if (explain) {
        bool known = false;
        std::string list;
        for (const std::string& m : methods_) {
          known = known || m == job->method;
          list += (list.empty() ? "" : ", ") + m;
        }
        if (!known) {
          throw RequestError(
              400,
              "unknown method '" + job->method + "' (expected one of " + list +
                  ")");
        }
        if (job->abs && job->method != "saliency") {
          throw RequestError(400, "\"abs\" applies to method saliency only");
        }
      }
      const auto timeout = std::chrono::microseconds(
          static_cast<int64_t>(args_.request_timeout_ms * 1000));
      job->deadline = Clock::now() + timeout;
      if (stopping_.load() || !batcher->second->submit(job)) {
        throw RequestError(
            503,
            stopping_.load()
                ? "the server is shutting down"
                : "the queue of model '" + name + "' is full (--max-queue " +
                    std::to_string(args_.max_queue) + "); retry later");
      }
      if (!job->wait_until(job->deadline)) {
        job->abandoned = true;
        if (!job->done()) {
          throw RequestError(
              503,
              "no result within --request-timeout-ms " +
                  std::to_string(
                      static_cast<int64_t>(args_.request_timeout_ms)) +
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
          {{explain ? "explanations" : "predictions", std::move(list)}});
    } catch (const RequestError& e) {
      send_error(res, e.status(), e.what());
    } catch (const std::bad_alloc&) {
      send_error(res, 500, "out of memory");
    } catch (const std::exception& e) {
      send_error(res, 500, std::string("internal error: ") + e.what());
    }
  };
  s.Post(
      "/v1/models/(.+)",
      [this, handle](
          const httplib::Request& req,
          httplib::Response& res,
          const httplib::ContentReader& reader) {
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
        handle(req, body, res);
      });
}

} // namespace serve
} // namespace cli
} // namespace guidedbp
