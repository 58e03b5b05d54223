#include "io/model_io.h"

#include <sstream>

#include "cli/cli_error.h"
#include "cli/report.h"
#include "io/file_util.h"
#include "io/zip_check.h"

namespace guidedbp {
namespace cli {

torch::jit::Module load_model(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  check_zip_archive(bytes.data(), bytes.size(), path);
  std::istringstream stream(std::string(bytes.begin(), bytes.end()));
  bytes.clear();
  bytes.shrink_to_fit();
  torch::jit::Module module;
  try {
    module = torch::jit::load(stream);
  } catch (const c10::Error& e) {
    throw CliError(
        path + ": not a TorchScript model (" + error_line(e) +
        "); save one with torch.jit.script(model).save(path)");
  } catch (const std::exception& e) {
    throw CliError(path + ": not a TorchScript model (" + error_line(e) + ")");
  }
  module.eval();
  return module;
}

std::optional<int64_t> expected_input_channels(
    const torch::jit::Module& module) {
  for (const at::Tensor& parameter : module.parameters(/*recurse=*/true)) {
    if (parameter.dim() == 4 && parameter.is_floating_point()) {
      const int64_t channels = parameter.size(1);
      if (channels == 1 || channels == 3) {
        return channels;
      }
      return std::nullopt;
    }
  }
  return std::nullopt;
}

} // namespace cli
} // namespace guidedbp
