#!/usr/bin/env bash
# Resident memory over 1000 attributions must stay flat: builds
# guidedbp_leak_check (tests/leak_check.cpp) in the normal Release build and
# runs it. It reports RSS after the warm-up (100 calls) and after the last
# call and fails if memory grew by more than LEAK_MAX_GROWTH_MB (default 4).
# LeakSanitizer runs the same program (200 calls) in scripts/sanitize.sh.
#
# Usage: scripts/leak-check.sh
#   LEAK_BUILD=build  LEAK_CALLS=1000  LEAK_WARMUP=100  LEAK_MAX_GROWTH_MB=4
set -euo pipefail
cd "$(dirname "$0")/.."

build=${LEAK_BUILD:-build}
if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j2 --target guidedbp_leak_check
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} "$build/tests/guidedbp_leak_check" \
  --calls "${LEAK_CALLS:-1000}" --warmup "${LEAK_WARMUP:-100}" \
  --max-growth-mb "${LEAK_MAX_GROWTH_MB:-4}"
