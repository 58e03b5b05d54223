// guidedbp export: runs the project's exporter (python/guidedbp_export.py,
// installed in share/guidedbp) in python3, which compiles a torch.export
// model and a method into an AOTInductor package. The compile needs
// Python's Inductor, so it cannot happen in C++; this command finds the
// exporter, checks what it can before the (slow) compile, and makes the
// package appear only when the export succeeded.

#include <guidedbp/compiled.h>
#include <guidedbp/version.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <torch/version.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli/cli_error.h"
#include "cli/commands.h"
#include "methods/method_catalogue.h"

#ifndef GUIDEDBP_SOURCE_EXPORTER
#define GUIDEDBP_SOURCE_EXPORTER ""
#endif

namespace guidedbp {
namespace cli {
namespace {

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// GUIDEDBP_EXPORTER, else share/guidedbp beside the installed executable,
// else the source tree this build came from.
std::string find_exporter() {
  if (const char* given = std::getenv("GUIDEDBP_EXPORTER")) {
    if (!is_file(given)) {
      throw CliError(
          std::string("GUIDEDBP_EXPORTER=") + given + ": no such file");
    }
    return given;
  }
  std::vector<char> self(4096);
  const ssize_t n = ::readlink("/proc/self/exe", self.data(), self.size() - 1);
  if (n > 0) {
    std::string exe(self.data(), static_cast<size_t>(n));
    const std::string bin = exe.substr(0, exe.find_last_of('/'));
    const std::string installed = bin + "/../share/guidedbp/guidedbp_export.py";
    if (is_file(installed)) {
      return installed;
    }
  }
  if (is_file(GUIDEDBP_SOURCE_EXPORTER)) {
    return GUIDEDBP_SOURCE_EXPORTER;
  }
  throw CliError(
      "cannot find guidedbp_export.py (looked in share/guidedbp beside the "
      "guidedbp executable); reinstall guidedbp or set GUIDEDBP_EXPORTER to "
      "its path");
}

// Runs argv without a shell; returns the exit status.
int run_program(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw CliError(
        std::string("cannot start python3: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::execvp(args[0], args.data());
    std::fprintf(
        stderr,
        "guidedbp: cannot run %s (%s); export needs python3 with torch %d.%d "
        "(Debian 13: apt-get install python3-torch python3-setuptools "
        "python3-dev g++), or set GUIDEDBP_PYTHON\n",
        args[0],
        std::strerror(errno),
        TORCH_VERSION_MAJOR,
        TORCH_VERSION_MINOR);
    ::_exit(1);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      throw CliError(
          std::string("waiting for python3: ") + std::strerror(errno));
    }
  }
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  throw CliError(
      "the exporter (python3) was killed by signal " +
      std::to_string(WTERMSIG(status)) +
      " (out of memory during the compile?)");
}

bool ends_with(const std::string& text, const std::string& tail) {
  return text.size() >= tail.size() &&
      text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

} // namespace

int run_export(const ExportArgs& args) {
  const MethodInfo& method = find_method(args.method, MethodCommand::kExport);
  if (args.abs && !method.takes_abs) {
    throw UsageError("--abs applies to --method saliency only");
  }
  if (method.needs_layer() && args.layer.empty()) {
    throw UsageError(
        "--method " + args.method +
        " needs --layer PATH (a named_modules() path of the model, such as "
        "layer4 or features.18)");
  }
  if (!method.needs_layer() && !args.layer.empty()) {
    throw UsageError(
        "--layer applies to --method guided-gradcam, neuron-guided-backprop "
        "and neuron-deconvolution only");
  }
  if (!ends_with(args.output, ".pt2")) {
    throw UsageError(
        "--output " + args.output + ": a package's name ends in .pt2");
  }
  if (!is_device_spelling(args.device)) {
    throw UsageError(
        "--device " + args.device + ": not a device; use cpu, cuda or cuda:N");
  }
  if (args.trace_batch == 1 || args.trace_batch < 0) {
    throw UsageError(
        "--trace-batch " + std::to_string(args.trace_batch) +
        ": give a size of 2 or more (export fixes sizes 0 and 1)");
  }
  if (!compiled_packages_supported()) {
    throw CliError(
        std::string("guidedbp export needs guidedbp built with LibTorch >= "
                    "2.6 (AOTInductor packages); this one has LibTorch ") +
        TORCH_VERSION + " (Debian 13 has 2.6)");
  }
  if (!is_file(args.model)) {
    throw CliError(args.model + ": no such file");
  }
  const char* python = std::getenv("GUIDEDBP_PYTHON");
  // The exporter writes beside the output; renamed when it succeeded, so a
  // failed export leaves nothing.
  const std::string partial = args.output + ".partial-" +
      std::to_string(static_cast<long long>(::getpid())) + ".pt2";
  std::vector<std::string> argv = {
      python != nullptr && *python != '\0' ? python : "python3",
      find_exporter(),
      "--model",
      args.model,
      "--method",
      args.method,
      "--device",
      args.device,
      "--output",
      partial,
      "--libtorch-version",
      std::to_string(TORCH_VERSION_MAJOR) + "." +
          std::to_string(TORCH_VERSION_MINOR),
      "--guidedbp-version",
      kVersion};
  if (args.abs) {
    argv.emplace_back("--abs");
  }
  if (!args.layer.empty()) {
    argv.emplace_back("--layer");
    argv.push_back(args.layer);
  }
  if (args.trace_batch > 0) {
    argv.emplace_back("--trace-batch");
    argv.push_back(std::to_string(args.trace_batch));
  }
  if (args.threads > 0) {
    argv.emplace_back("--threads");
    argv.push_back(std::to_string(args.threads));
  }
  int status = 1;
  try {
    status = run_program(argv);
  } catch (...) {
    std::remove(partial.c_str());
    throw;
  }
  if (status != 0) {
    std::remove(partial.c_str());
    return status; // the exporter has said why, on one line
  }
  if (std::rename(partial.c_str(), args.output.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(partial.c_str());
    throw CliError("cannot write " + args.output + ": " + why);
  }
  return 0;
}

} // namespace cli
} // namespace guidedbp
