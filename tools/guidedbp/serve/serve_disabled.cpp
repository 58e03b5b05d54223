// `guidedbp serve` in a build without cpp-httplib/nlohmann-json
// (-DGUIDEDBP_BUILD_SERVE=OFF): the subcommand exists and says how to get it.

#include <CLI/CLI.hpp>

#include "cli/cli_error.h"
#include "serve/serve_args.h"

namespace guidedbp {
namespace cli {

CLI::App* add_serve_command(CLI::App& app, ServeArgs&) {
  CLI::App* s = app.add_subcommand(
      "serve", "An HTTP server (not in this build: see its error)");
  s->allow_extras();
  return s;
}

int run_serve(const ServeArgs&) {
  throw UsageError(
      "this guidedbp was built without `serve` (-DGUIDEDBP_BUILD_SERVE=OFF); "
      "install cpp-httplib and nlohmann-json (Debian: libcpp-httplib-dev "
      "nlohmann-json3-dev) and rebuild");
}

} // namespace cli
} // namespace guidedbp
