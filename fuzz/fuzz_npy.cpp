// libFuzzer target: the .npy header reader (magic, version, header dict,
// dtype, shape, element/byte counts against the file size).
//
// Invariants checked beyond "no crash, no sanitizer report":
// - only CliError (or std::bad_alloc) escapes;
// - an accepted header describes exactly the rest of the input:
//   data_offset + data_bytes == size, data_bytes == numel * element size;
// - the writer's header for the same dtype/shape parses back to the same
//   dtype and shape (make_npy_header and parse_npy_header agree).

#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

#include "cli/cli_error.h"
#include "io/npy_format.h"

using guidedbp::cli::CliError;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A copy of exactly `size` bytes, so ASan sees any read past the end.
  std::vector<uint8_t> bytes(data, data + size);
  guidedbp::cli::NpyHeader header;
  try {
    header =
        guidedbp::cli::parse_npy_header(bytes.data(), bytes.size(), "fuzz.npy");
  } catch (const CliError&) {
    return 0;
  } catch (const std::bad_alloc&) {
    return 0;
  }
  const size_t element = guidedbp::cli::npy_dtype_size(header.dtype);
  if (header.data_offset > size ||
      header.data_offset + header.data_bytes != size ||
      header.data_bytes != header.numel * element) {
    std::abort();
  }
  size_t numel = 1;
  for (int64_t dim : header.shape) {
    if (dim < 0) {
      std::abort();
    }
    numel *= static_cast<size_t>(dim);
  }
  if (numel != header.numel) {
    std::abort();
  }

  // Round trip through the writer.
  std::vector<uint8_t> written =
      guidedbp::cli::make_npy_header(header.dtype, header.shape);
  if (written.size() % 64 != 0) {
    std::abort(); // numpy aligns the data to 64 bytes
  }
  written.resize(written.size() + header.data_bytes, 0);
  guidedbp::cli::NpyHeader again;
  try {
    again = guidedbp::cli::parse_npy_header(
        written.data(), written.size(), "rewritten.npy");
  } catch (const CliError&) {
    std::abort(); // the writer produced something the reader rejects
  }
  if (again.dtype != header.dtype || again.shape != header.shape ||
      again.data_bytes != header.data_bytes) {
    std::abort();
  }
  return 0;
}
