#pragma once

// One POST /v1/models/NAME:VERB request turned into a Job: the route, the
// body's type, the JSON or image body, the query and "parameters". Torch-free
// and free of HTTP plumbing, so that a fuzzer can drive it
// (fuzz/fuzz_serve_request.cpp) with whatever a client can send.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "serve/job.h"
#include "serve/protocol.h"

namespace guidedbp {
namespace cli {
namespace serve {

/// The deepest nesting a JSON body may have: `{"instances": [x]}` puts an
/// instance at depth 2, so this leaves room for kMaxInstanceRank and
/// "parameters". Deeper bodies are refused while parsing, before any value
/// is built.
constexpr int kMaxJsonDepth = 16;

/// `/v1/models/NAME:VERB` split at the last ':'; `verb` is empty without one.
struct ModelRoute {
  std::string name;
  std::string verb;
};
ModelRoute split_model_route(const std::string& name_and_verb);

/// How a body is read, from its Content-Type.
enum class BodyKind {
  kJson,  ///< {"instances": ...}
  kImage, ///< A PNG or JPEG file.
};

/// The kind of a body with this Content-Type: compared case-insensitively,
/// parameters (`; charset=utf-8`) ignored. JSON: application/json, any
/// `+json` type, text/plain, none, or curl -d's default
/// application/x-www-form-urlencoded. Images: image/png, image/jpeg,
/// image/jpg. Throws RequestError(415) for anything else (a multipart form
/// upload included), naming what to send instead.
BodyKind body_kind(const std::string& content_type);

/// What a request may choose and the server's defaults for it ("method":
/// the methods method_catalogue.h offers to serve).
struct RequestRules {
  std::string method = "guided-backprop";
  bool abs = false;
  std::string visual = "heat_map";
  std::string sign = "absolute_value";
  double outlier_perc = 2.0;
  std::vector<std::string> visuals; ///< The names "visual" takes.
  std::vector<std::string> signs;   ///< The names "sign" takes.
};

/// A request's query parameter by name, if present.
using QueryLookup =
    std::function<std::optional<std::string>(const std::string& name)>;

/// Fills `job` (kind, inputs, method, target, drawing) from the parts of a
/// POST to `/v1/models/NAME:<verb>`. `verb` is "predict" or "explain". Every
/// value a client chooses is checked here, so that no later stage sees one
/// out of range. Throws RequestError with the status and a one-line message
/// (400 bad values, 413 too many values, 415 unsupported Content-Type).
void parse_request(
    const std::string& verb,
    const std::string& content_type,
    const std::string& body,
    const QueryLookup& query,
    const RequestRules& rules,
    Job& job);

/// Parses a JSON body with nesting at most kMaxJsonDepth. Throws
/// RequestError(400) for malformed JSON, too deep nesting or a number out of
/// range (1e999).
nlohmann::json parse_json_body(const std::string& body);

} // namespace serve
} // namespace cli
} // namespace guidedbp
