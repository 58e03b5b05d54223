# The torch-free sources of the CLI (file formats, literals, images, layout,
# progress, atomic writes), relative to this folder. Listed once here for the
# CLI (tools/guidedbp/CMakeLists.txt) and the fuzzers (fuzz/CMakeLists.txt).
set(GUIDEDBP_CLI_CORE_SOURCES
  file_util.cpp
  image_io.cpp
  interrupt.cpp
  npy_format.cpp
  panel.cpp
  progress.cpp
  target_literal.cpp
  thread_pool.cpp
  zip_check.cpp
)
