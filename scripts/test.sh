#!/usr/bin/env bash
# The test command: installs what is missing, builds everything, runs all tests.
# Usage: scripts/test.sh [ctest arguments...]    Build folder: build/
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
cd build
ctest --output-on-failure -j"$jobs" "$@"
