// libFuzzer target: `guidedbp serve`'s request handling up to the Job a
// model's batcher receives (serve/request.cpp, serve/protocol.cpp): the
// Content-Type, the query, the JSON body with its instances, "parameters"
// and target literals.
//
// Input layout: byte 0 picks the verb (even: predict, odd: explain); then
// the Content-Type up to the first '\n', the query (`k=v&k=v`) up to the
// next '\n', and the body (the rest).
//
// Invariants checked beyond "no crash, no sanitizer report":
// - only RequestError escapes, with status 400, 413 or 415, and a message of
//   one line, at most kMaxMessageLength bytes, that error_body() turns into
//   JSON that parses back to the same text;
// - an accepted request holds only what the later stages can take: a known
//   method (explain), a sign and visual of the lists, outlier_perc in
//   [0, 100], scale 0..64; instances of one shape, at most kMaxInstanceRank
//   dimensions, values finite, as many as the shape says.

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_error.h"
#include "methods/method_catalogue.h"
#include "serve/protocol.h"
#include "serve/request.h"

namespace serve = guidedbp::cli::serve;

namespace {

bool contains(const std::vector<std::string>& list, const std::string& v) {
  for (const std::string& s : list) {
    if (s == v) {
      return true;
    }
  }
  return false;
}

void check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

serve::RequestRules rules() {
  serve::RequestRules r;
  r.visuals = {"heat_map", "blended_heat_map", "masked_image", "alpha_scaling"};
  r.signs = {"absolute_value", "all", "positive", "negative"};
  return r;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string verb = data[0] % 2 ? "explain" : "predict";
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t type_end = std::min(rest.find('\n'), rest.size());
  const std::string content_type = rest.substr(0, type_end);
  const size_t query_start = std::min(type_end + 1, rest.size());
  const size_t query_end = std::min(rest.find('\n', query_start), rest.size());
  const std::string query_text =
      rest.substr(query_start, query_end - query_start);
  const std::string body = rest.substr(std::min(query_end + 1, rest.size()));

  std::map<std::string, std::string> query;
  size_t start = 0;
  while (start < query_text.size()) {
    size_t end = query_text.find('&', start);
    end = end == std::string::npos ? query_text.size() : end;
    const std::string pair = query_text.substr(start, end - start);
    const size_t eq = pair.find('=');
    query[pair.substr(0, eq)] =
        eq == std::string::npos ? "" : pair.substr(eq + 1);
    start = end + 1;
  }

  static const serve::RequestRules kRules = rules();
  serve::Job job;
  try {
    serve::parse_request(
        verb,
        content_type,
        body,
        [&query](const std::string& name) -> std::optional<std::string> {
          auto it = query.find(name);
          if (it == query.end()) {
            return std::nullopt;
          }
          return it->second;
        },
        kRules,
        job);
  } catch (const serve::RequestError& e) {
    check(e.status() == 400 || e.status() == 413 || e.status() == 415);
    const std::string message = e.what();
    check(message.find('\n') == std::string::npos);
    const std::string answer = serve::error_body(message);
    check(answer.size() < 8 * guidedbp::cli::kMaxMessageLength);
    const auto parsed = nlohmann::json::parse(answer, nullptr, false);
    check(parsed.is_object() && parsed["error"].is_string());
    check(
        parsed["error"].get<std::string>().size() <=
        guidedbp::cli::kMaxMessageLength + 3 * message.size());
    return 0;
  }
  // Accepted: everything later stages rely on holds.
  if (verb == "explain") {
    check(contains(
        guidedbp::cli::method_names(guidedbp::cli::MethodCommand::kServe),
        job.method));
    check(!job.abs || job.method == "saliency");
  }
  check(contains(kRules.signs, job.sign));
  check(contains(kRules.visuals, job.visual));
  check(job.outlier_perc >= 0 && job.outlier_perc <= 100);
  check(job.scale >= 0 && job.scale <= 64);
  for (const serve::NdArray& instance : job.instances) {
    check(instance.shape == job.instances[0].shape);
    check(instance.shape.size() <= serve::kMaxInstanceRank);
    size_t count = 1;
    for (int64_t d : instance.shape) {
      check(d > 0);
      count *= static_cast<size_t>(d);
    }
    check(count == instance.values.size());
    for (float v : instance.values) {
      check(std::isfinite(v));
    }
  }
  return 0;
}
