#pragma once
// An option that also records that it was given (CLI11, torch-free).

#include <CLI/CLI.hpp>
#include <string>

namespace guidedbp {
namespace cli {

/// Adds `name`, which stores its value in `value` and sets `given`: for
/// options whose default must be told apart from the same value given (a
/// run-wide check names what the user gave, or refuses it with another form).
template <typename T>
CLI::Option* add_noted_option(
    CLI::App* app,
    const std::string& name,
    T& value,
    bool& given,
    const std::string& help) {
  return app->add_option_function<T>(
      name,
      [&value, &given](const T& v) {
        value = v;
        given = true;
      },
      help);
}

} // namespace cli
} // namespace guidedbp
