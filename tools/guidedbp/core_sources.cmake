# The torch-free sources of the CLI (file formats, literals, images, layout,
# progress, atomic writes, dataset listing, shards, manifest), relative to
# this folder. Listed once here for the CLI (tools/guidedbp/CMakeLists.txt)
# and the fuzzers (fuzz/CMakeLists.txt).
set(GUIDEDBP_CLI_CORE_SOURCES
  dataset/dataset.cpp
  io/file_util.cpp
  io/image_io.cpp
  runtime/interrupt.cpp
  dataset/manifest.cpp
  methods/method_catalogue.cpp
  io/npy_format.cpp
  dataset/output_names.cpp
  imaging/panel.cpp
  runtime/progress.cpp
  dataset/shard.cpp
  cli/target_literal.cpp
  runtime/thread_pool.cpp
  io/zip_check.cpp
)
# They need nlohmann-json (dataset/manifest.cpp), a header-only library:
# find_package(nlohmann_json 3) and link nlohmann_json::nlohmann_json.
