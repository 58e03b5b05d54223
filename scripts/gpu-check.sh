#!/usr/bin/env bash
# Builds guidedbp against whatever LibTorch this machine has and checks it on
# CUDA: the CUDA unit tests (CudaTest.*), then a CUDA-vs-CPU parity table of
# the command line on torchvision resnet18 (random weights), TF32 off and on.
# For a machine with a GPU; docs/gpu.md records its output.
#
# Usage: scripts/gpu-check.sh
#   CMAKE_PREFIX_PATH   where LibTorch's CMake config is; default: the one of
#                       python3's torch (torch.utils.cmake_prefix_path)
#   GUIDEDBP_DEBS=DIR   Debian .deb files (GTest, CLI11, nlohmann-json, libpng,
#                       libjpeg, zlib -dev, and the libpng16-16/libjpeg62-turbo
#                       runtimes) to unpack into a prefix, for machines without apt
#   GPU_BUILD=build-gpu the build folder
#   PYTHON=python3      the interpreter with torch (and torchvision)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${GPU_BUILD:-build-gpu}
python=${PYTHON:-python3}

prefix=${CMAKE_PREFIX_PATH:-$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')}
if [[ -n ${GUIDEDBP_DEBS:-} ]]; then
  deps=$(pwd)/$build/deps
  mkdir -p "$deps"
  for deb in "$GUIDEDBP_DEBS"/*.deb; do dpkg -x "$deb" "$deps"; done
  prefix="$prefix;$deps/usr"
  # jconfig.h (JPEG_LIB_VERSION) lives in the multiarch folder: without it a
  # system libjpeg-dev's would pair with the .deb's jpeglib.h.
  export CPATH="$deps/usr/include:$deps/usr/include/x86_64-linux-gnu${CPATH:+:$CPATH}"
  export LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu${LIBRARY_PATH:+:$LIBRARY_PATH}"
  export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
echo "gpu-check: LibTorch from $prefix"

start=$SECONDS
# serve is not needed here (its cpp-httplib is rarely on GPU nodes).
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  -DGUIDEDBP_INSTALL=OFF -DGUIDEDBP_BUILD_SERVE=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target guidedbp_tests guidedbp_cli
echo "gpu-check: built in $((SECONDS - start)) s"

"$build/tests/guidedbp_tests" --gtest_filter='Cuda*' --gtest_brief=1
"$python" tests/cuda/parity_table.py --cli "$build/tools/guidedbp/guidedbp"
