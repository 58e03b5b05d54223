#include "methods.h"

#include <functional>
#include <vector>

#include "cli_error.h"
#include "commands.h"

namespace guidedbp {
namespace cli {
namespace {

struct MethodEntry {
  const char* name; ///< as on the command line
  bool takes_abs;
  std::function<std::unique_ptr<ModifiedReluGradient>(const Model&, bool)> make;
};

const std::vector<MethodEntry>& method_table() {
  static const std::vector<MethodEntry> table = {
      {"guided-backprop",
       false,
       [](const Model& model, bool) {
         return std::make_unique<GuidedBackprop>(model);
       }},
      {"deconvolution",
       false,
       [](const Model& model, bool) {
         return std::make_unique<Deconvolution>(model);
       }},
      {"saliency",
       true,
       [](const Model& model, bool abs) {
         return std::make_unique<Saliency>(model, SaliencyOptions().abs(abs));
       }},
  };
  return table;
}

const MethodEntry& find_method(const std::string& method) {
  for (const MethodEntry& entry : method_table()) {
    if (method == entry.name) {
      return entry;
    }
  }
  std::string expected;
  for (const MethodEntry& entry : method_table()) {
    expected += (expected.empty() ? "" : ", ") + std::string(entry.name);
  }
  throw UsageError(
      "unknown --method '" + method + "' (expected one of " + expected + ")");
}

} // namespace

std::vector<std::string> method_choices() {
  std::vector<std::string> names;
  for (const MethodEntry& entry : method_table()) {
    names.emplace_back(entry.name);
  }
  return names;
}

void check_method_options(const std::string& method, bool abs) {
  if (abs && !find_method(method).takes_abs) {
    throw UsageError("--abs applies to --method saliency only");
  }
}

std::unique_ptr<ModifiedReluGradient> make_method(
    const Model& model,
    const std::string& method,
    bool abs) {
  check_method_options(method, abs);
  return find_method(method).make(model, abs);
}

} // namespace cli
} // namespace guidedbp
