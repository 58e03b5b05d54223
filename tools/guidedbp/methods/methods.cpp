#include "methods/methods.h"

#include <functional>
#include <map>

#include "cli/cli_error.h"
#include "methods/method_catalogue.h"

namespace guidedbp {
namespace cli {
namespace {

using Factory =
    std::function<std::unique_ptr<ModifiedReluGradient>(const Model&, bool)>;

// The library class of each input method of the catalogue.
const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> table = {
      {"guided-backprop",
       [](const Model& model, bool) {
         return std::make_unique<GuidedBackprop>(model);
       }},
      {"deconvolution",
       [](const Model& model, bool) {
         return std::make_unique<Deconvolution>(model);
       }},
      {"saliency",
       [](const Model& model, bool abs) {
         return std::make_unique<Saliency>(model, SaliencyOptions().abs(abs));
       }},
  };
  return table;
}

} // namespace

std::unique_ptr<ModifiedReluGradient> make_method(
    const Model& model,
    const std::string& method,
    bool abs) {
  auto factory = factories().find(method);
  if (factory == factories().end()) {
    throw UsageError(
        "--method " + method +
        " is not a ReLU-rule method (guided-backprop, deconvolution, "
        "saliency)");
  }
  return factory->second(model, abs);
}

} // namespace cli
} // namespace guidedbp
