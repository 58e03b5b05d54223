#!/usr/bin/env bash
# The test command: installs what is missing, builds everything, runs all
# tests, then the reliability checks (fuzzers, sanitizer build).
# Usage: scripts/test.sh [ctest arguments...]    Build folders: build/, build-asan/, build-fuzz/
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
# Style: every C++ file as the project's .clang-format says (clang-format 14).
git ls-files '*.h' '*.cpp' | xargs clang-format --style=file --dry-run --Werror
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DGUIDEDBP_BUILD_BENCH=ON  # the benchmark is built, not run
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs" "$@")
# Reliability (docs/reliability.md): bounded fuzzing, ASan + UBSan build and tests.
FUZZ_SECONDS=${FUZZ_SECONDS:-45} scripts/fuzz.sh
scripts/sanitize.sh
