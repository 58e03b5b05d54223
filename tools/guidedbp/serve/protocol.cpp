#include "serve/protocol.h"

#include <cmath>
#include <limits>

#include "cli/cli_error.h"

namespace guidedbp {
namespace cli {
namespace serve {
namespace {

// Shape from the first element at each depth; values checked while copying.
void collect(
    const nlohmann::json& value,
    const std::vector<int64_t>& shape,
    size_t depth,
    std::vector<float>& out,
    const std::string& where) {
  if (depth == shape.size()) {
    if (!value.is_number()) {
      throw RequestError(
          400,
          where + ": expected a number at depth " + std::to_string(depth) +
              ", found " + value.type_name() +
              " (instances must be rectangular nested lists of numbers)");
    }
    const double v = value.get<double>();
    if (!std::isfinite(v) || std::abs(v) > std::numeric_limits<float>::max()) {
      throw RequestError(
          400,
          where + ": " + value.dump().substr(0, 40) +
              " is not finite in float32: values must lie within +-3.4e38");
    }
    out.push_back(static_cast<float>(v));
    return;
  }
  if (!value.is_array() || static_cast<int64_t>(value.size()) != shape[depth]) {
    throw RequestError(
        400,
        where + ": ragged nested lists: expected a list of " +
            std::to_string(shape[depth]) + " at depth " +
            std::to_string(depth) + ", found " +
            (value.is_array() ? "a list of " + std::to_string(value.size())
                              : std::string("a ") + value.type_name()));
  }
  for (const auto& element : value) {
    collect(element, shape, depth + 1, out, where);
  }
}

} // namespace

NdArray parse_array(const nlohmann::json& value, const std::string& where) {
  NdArray array;
  const nlohmann::json* v = &value;
  size_t total = 1;
  while (v->is_array()) {
    if (v->empty()) {
      throw RequestError(400, where + ": empty list (no values)");
    }
    if (array.shape.size() == kMaxInstanceRank) {
      throw RequestError(
          400,
          where + " has more than " + std::to_string(kMaxInstanceRank) +
              " dimensions (nested lists); no model takes that many");
    }
    array.shape.push_back(static_cast<int64_t>(v->size()));
    total *= v->size();
    if (total > kMaxInstanceValues) {
      throw RequestError(
          413,
          where + ": more than " + std::to_string(kMaxInstanceValues) +
              " values");
    }
    v = &(*v)[0];
  }
  array.values.reserve(total);
  collect(value, array.shape, 0, array.values, where);
  return array;
}

std::vector<NdArray> parse_instances(const nlohmann::json& body) {
  if (!body.is_object()) {
    throw RequestError(
        400,
        std::string("the body must be a JSON object {\"instances\": [...]}, "
                    "got ") +
            body.type_name());
  }
  auto it = body.find("instances");
  if (it == body.end()) {
    throw RequestError(
        400, "the body has no \"instances\": send {\"instances\": [x_0, ...]}");
  }
  if (!it->is_array() || it->empty()) {
    throw RequestError(
        400, "\"instances\" must be a non-empty list, one entry per example");
  }
  std::vector<NdArray> instances;
  size_t total = 0;
  for (size_t i = 0; i < it->size(); ++i) {
    const std::string where = "instance " + std::to_string(i);
    instances.push_back(parse_array((*it)[i], where));
    total += instances.back().values.size();
    if (total > kMaxInstanceValues) {
      throw RequestError(
          413,
          "the instances hold more than " + std::to_string(kMaxInstanceValues) +
              " values");
    }
    if (instances.back().shape != instances[0].shape) {
      auto text = [](const std::vector<int64_t>& shape) {
        std::string s = "[";
        for (size_t d = 0; d < shape.size(); ++d) {
          s += (d ? ", " : "") + std::to_string(shape[d]);
        }
        return s + "]";
      };
      throw RequestError(
          400,
          where + " has shape " + text(instances.back().shape) +
              " but instance 0 has " + text(instances[0].shape) +
              " (all instances of a request must have one shape)");
    }
  }
  return instances;
}

TargetLiteral parse_target(const nlohmann::json& value) {
  if (value.is_null()) {
    return TargetLiteral();
  }
  if (value.is_number_integer()) {
    TargetLiteral literal;
    literal.kind = TargetLiteral::Kind::kIndex;
    literal.indices = {value.get<int64_t>()};
    return literal;
  }
  if (value.is_string()) {
    try {
      return parse_target_literal(value.get<std::string>());
    } catch (const CliError& e) {
      throw RequestError(400, e.what());
    }
  }
  throw RequestError(
      400,
      std::string("\"target\" must be an integer or a string such as "
                  "\"(1, 2)\" or \"[3, 1, 0]\", got ") +
          value.type_name() + " " + value.dump().substr(0, 40));
}

nlohmann::json to_json(const NdArray& array) {
  // Built from the innermost dimension out: rows of numbers, then lists of
  // rows, and so on.
  if (array.shape.empty()) {
    return array.values.empty() ? nlohmann::json(nullptr)
                                : nlohmann::json(array.values[0]);
  }
  std::vector<nlohmann::json> level;
  level.reserve(array.values.size());
  for (float v : array.values) {
    level.emplace_back(v);
  }
  for (size_t d = array.shape.size(); d-- > 0;) {
    const size_t n = static_cast<size_t>(array.shape[d]);
    std::vector<nlohmann::json> next;
    next.reserve(level.size() / std::max<size_t>(n, 1));
    for (size_t i = 0; i < level.size(); i += n) {
      nlohmann::json list = nlohmann::json::array();
      for (size_t j = i; j < i + n && j < level.size(); ++j) {
        list.push_back(std::move(level[j]));
      }
      next.push_back(std::move(list));
    }
    level = std::move(next);
  }
  return level.empty() ? nlohmann::json::array() : std::move(level[0]);
}

std::string error_body(const std::string& message) {
  return nlohmann::json{{"error", limit_length(message, kMaxMessageLength)}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace serve
} // namespace cli
} // namespace guidedbp
