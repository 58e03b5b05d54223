# The torch-free sources of the CLI (file formats, literals, images, layout,
# progress, atomic writes, dataset listing, shards, manifest), relative to
# this folder. Listed once here for the CLI (tools/guidedbp/CMakeLists.txt)
# and the fuzzers (fuzz/CMakeLists.txt).
set(GUIDEDBP_CLI_CORE_SOURCES
  dataset.cpp
  file_util.cpp
  image_io.cpp
  interrupt.cpp
  manifest.cpp
  method_catalogue.cpp
  npy_format.cpp
  output_names.cpp
  panel.cpp
  progress.cpp
  shard.cpp
  target_literal.cpp
  thread_pool.cpp
  zip_check.cpp
)
# They need nlohmann-json (manifest.cpp), a header-only library:
# find_package(nlohmann_json 3) and link nlohmann_json::nlohmann_json.
