#pragma once

// The JSON side of the KServe v1 protocol: instances in, predictions and
// explanations out, targets from "parameters". Torch-free.

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "serve/job.h"

namespace guidedbp {
namespace cli {
namespace serve {

/// A request the server refuses: an HTTP status and a one-line message,
/// answered as `{"error": message}`.
class RequestError : public std::runtime_error {
 public:
  RequestError(int status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  int status() const {
    return status_;
  }

 private:
  int status_;
};

/// Most numbers one request may hold (a guard before allocating).
constexpr size_t kMaxInstanceValues = size_t(1) << 26;

/// The most dimensions one instance may have (no model takes more; a
/// tensor of hundreds of dimensions is an attack, not an input).
constexpr size_t kMaxInstanceRank = 8;

/// The "instances" of a parsed :predict/:explain body: each one example as
/// nested lists of numbers (a bare number is a 0-d example), rectangular,
/// at most kMaxInstanceRank deep, each value finite in float32. Throws
/// RequestError(400) naming the instance and what is wrong.
std::vector<NdArray> parse_instances(const nlohmann::json& body);

/// One instance parsed (see parse_instances); `where` prefixes messages.
NdArray parse_array(const nlohmann::json& value, const std::string& where);

/// A target from JSON: null (none), an integer, or a string in the CLI's
/// literal syntax ("3", "(1, 2)", "[3, 1, 0]"). Throws RequestError(400).
TargetLiteral parse_target(const nlohmann::json& value);

/// `array` as nested lists (a 0-d array as a number).
nlohmann::json to_json(const NdArray& array);

/// `{"error": message}` as text.
std::string error_body(const std::string& message);

} // namespace serve
} // namespace cli
} // namespace guidedbp
