#pragma once

// The models behind the server (engine.cpp, the one file here that includes
// LibTorch): loads each --model and runs batches of jobs on it.

#include <memory>

#include "serve/job.h"
#include "serve/serve_args.h"

namespace guidedbp {
namespace cli {
namespace serve {

/// Applies --device/--threads/--allow-tf32, loads every NAME=PATH of
/// `args.models` and checks the options of image requests. Throws
/// CliError/UsageError (a bad NAME=PATH, a duplicate name, an unloadable
/// model, an unusable device) before the server starts listening.
std::unique_ptr<Backend> make_torch_backend(const ServeArgs& args);

} // namespace serve
} // namespace cli
} // namespace guidedbp
