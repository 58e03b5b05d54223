#include "serve/request.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "cli/cli_error.h"
#include "methods/method_catalogue.h"

namespace guidedbp {
namespace cli {
namespace serve {
namespace {

// A client's text quoted in a message: printable, and short.
std::string quoted(const std::string& text) {
  std::string out;
  for (char c : text.substr(0, 60)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 32 && u < 127) ? c : '?';
  }
  return "'" + out + (text.size() > 60 ? "...'" : "'");
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  return text;
}

std::string trim(const std::string& text) {
  const size_t start = text.find_first_not_of(" \t");
  if (start == std::string::npos) {
    return "";
  }
  return text.substr(start, text.find_last_not_of(" \t") - start + 1);
}

std::string join(const std::vector<std::string>& names) {
  std::string list;
  for (const std::string& name : names) {
    list += (list.empty() ? "" : ", ") + name;
  }
  return list;
}

// `value` if it is one of `choices`, else RequestError(400).
std::string one_of(
    const std::string& what,
    const std::string& value,
    const std::vector<std::string>& choices) {
  if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
    throw RequestError(
        400,
        "unknown " + what + " " + quoted(value) + " (expected one of " +
            join(choices) + ")");
  }
  return value;
}

bool parse_bool(const std::string& name, const std::string& text) {
  const std::string v = lower(text);
  if (v == "true" || v == "1") {
    return true;
  }
  if (v == "false" || v == "0") {
    return false;
  }
  throw RequestError(
      400,
      "query parameter " + name + "=" + quoted(text) + ": use true or false");
}

// A finite number in [low, high]; RequestError(400) naming the range else.
double parse_number(
    const std::string& name,
    const std::string& text,
    double low,
    double high) {
  double v = NAN;
  try {
    size_t used = 0;
    v = std::stod(text, &used);
    if (used != text.size()) {
      v = NAN;
    }
  } catch (const std::exception&) { // not a number, or out of double range
  }
  if (!std::isfinite(v) || v < low || v > high) {
    char range[64];
    std::snprintf(range, sizeof(range), "a number from %g to %g", low, high);
    throw RequestError(
        400, "query parameter " + name + "=" + quoted(text) + ": use " + range);
  }
  return v;
}

void parse_image_query(
    const QueryLookup& query,
    const RequestRules& rules,
    Job& job) {
  if (auto method = query("method")) {
    job.method = *method;
    job.method_given = true;
  }
  if (auto abs = query("abs")) {
    job.abs = parse_bool("abs", *abs);
  }
  if (auto target = query("target")) {
    job.target = parse_target(*target);
  }
  if (auto sign = query("sign")) {
    job.sign = one_of("sign", *sign, rules.signs);
  }
  if (auto visual = query("visual")) {
    job.visual = one_of("visual", *visual, rules.visuals);
  }
  if (auto outlier = query("outlier_perc")) {
    job.outlier_perc = parse_number("outlier_perc", *outlier, 0, 100);
  }
  if (auto scale = query("scale")) {
    const double v = parse_number("scale", *scale, 1, 64);
    if (v != std::floor(v)) {
      throw RequestError(
          400, "query parameter scale: use an integer from 1 to 64");
    }
    job.scale = static_cast<int64_t>(v);
  }
}

void parse_parameters(const nlohmann::json& body, Job& job) {
  auto parameters = body.find("parameters");
  if (parameters == body.end() || parameters->is_null()) {
    return;
  }
  if (!parameters->is_object()) {
    throw RequestError(400, "\"parameters\" must be a JSON object");
  }
  if (parameters->contains("method")) {
    const auto& m = (*parameters)["method"];
    if (!m.is_string()) {
      throw RequestError(400, "\"method\" must be a string");
    }
    job.method = m.get<std::string>();
    job.method_given = true;
  }
  if (parameters->contains("abs")) {
    const auto& a = (*parameters)["abs"];
    if (!a.is_boolean()) {
      throw RequestError(400, "\"abs\" must be true or false");
    }
    job.abs = a.get<bool>();
  }
  if (parameters->contains("target")) {
    job.target = parse_target((*parameters)["target"]);
  }
}

} // namespace

ModelRoute split_model_route(const std::string& name_and_verb) {
  const size_t colon = name_and_verb.rfind(':');
  if (colon == std::string::npos) {
    return {name_and_verb, ""};
  }
  return {name_and_verb.substr(0, colon), name_and_verb.substr(colon + 1)};
}

BodyKind body_kind(const std::string& content_type) {
  const std::string type =
      lower(trim(content_type.substr(0, content_type.find(';'))));
  if (type == "image/png" || type == "image/jpeg" || type == "image/jpg") {
    return BodyKind::kImage;
  }
  const bool json_suffix =
      type.size() > 5 && type.compare(type.size() - 5, 5, "+json") == 0;
  if (type.empty() || type == "application/json" || json_suffix ||
      type == "text/plain" || type == "application/x-www-form-urlencoded") {
    return BodyKind::kJson;
  }
  if (type == "multipart/form-data") {
    throw RequestError(
        415,
        "multipart form uploads are not read: send the image itself as the "
        "body with its type, e.g. curl --data-binary @image.png -H "
        "'Content-Type: image/png' (or JSON {\"instances\": [...]})");
  }
  throw RequestError(
      415,
      "Content-Type " + quoted(content_type) +
          " is not supported: send application/json {\"instances\": [...]}, "
          "or an image/png or image/jpeg body");
}

nlohmann::json parse_json_body(const std::string& body) {
  // The callback sees each value's depth before it is built: a deep body is
  // refused at the first level too many, whatever its length.
  const nlohmann::json::parser_callback_t depth_guard =
      [](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
        if (depth > kMaxJsonDepth &&
            (event == nlohmann::json::parse_event_t::object_start ||
             event == nlohmann::json::parse_event_t::array_start)) {
          throw RequestError(
              400,
              "the JSON body nests deeper than " +
                  std::to_string(kMaxJsonDepth) +
                  " levels (an instance has at most " +
                  std::to_string(kMaxInstanceRank) + " dimensions)");
        }
        return true;
      };
  try {
    return nlohmann::json::parse(body, depth_guard);
  } catch (const nlohmann::json::out_of_range& e) {
    // 1e999: a number no double holds.
    throw RequestError(
        400,
        limit_length(
            std::string("a number in the JSON body is out of range (") +
                e.what() + "); values must be finite float32 numbers",
            300));
  } catch (const nlohmann::json::exception& e) {
    throw RequestError(
        400,
        limit_length(
            std::string("malformed JSON body (") + e.what() +
                "); send {\"instances\": [...]}, or an image/png or "
                "image/jpeg body to :explain",
            300));
  }
}

void parse_request(
    const std::string& verb,
    const std::string& content_type,
    const std::string& body,
    const QueryLookup& query,
    const RequestRules& rules,
    Job& job) {
  const bool explain = verb == "explain";
  job.method = rules.method;
  job.abs = rules.abs;
  job.sign = rules.sign;
  job.visual = rules.visual;
  job.outlier_perc = rules.outlier_perc;
  if (body_kind(content_type) == BodyKind::kImage) {
    job.kind = explain ? JobKind::kImageExplain : JobKind::kImagePredict;
    job.image.assign(body.begin(), body.end());
    parse_image_query(query, rules, job);
  } else {
    job.kind = explain ? JobKind::kExplain : JobKind::kPredict;
    const nlohmann::json json = parse_json_body(body);
    job.instances = parse_instances(json);
    parse_parameters(json, job);
  }
  if (explain) {
    const std::vector<std::string> methods =
        method_names(MethodCommand::kServe);
    one_of("method", job.method, methods);
    if (job.abs && !find_method(job.method, MethodCommand::kServe).takes_abs) {
      throw RequestError(400, "\"abs\" applies to method saliency only");
    }
  }
}

} // namespace serve
} // namespace cli
} // namespace guidedbp
