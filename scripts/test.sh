#!/usr/bin/env bash
# The test command: installs what is missing, builds everything, runs all
# tests, then the Debian package in a fresh root (scripts/test-package.sh)
# and the reliability checks (fuzzers, sanitizer build); on Debian 12
# (LibTorch 1.13) it then repeats the build and the tests inside a Debian 13
# root (LibTorch 2.6, scripts/test-debian13.sh).
# Usage: scripts/test.sh [ctest arguments...]
#   Build folders: build/ (GUIDEDBP_BUILD), build-asan/, build-fuzz/, build-debian13/
#   GUIDEDBP_RELIABILITY=0   skip the fuzzers and the sanitizer run
#   GUIDEDBP_DEBIAN13=0      skip the Debian 13 run
#   GUIDEDBP_PACKAGE_TEST=0  skip the .deb tests (scripts/test-package.sh);
#                =build      only build the .debs, install them nowhere
#   GUIDEDBP_SLURM_TEST=0    skip the real-Slurm test (ctest -L slurm)
#   GUIDEDBP_BENCH=0         do not build the benchmark (the Debian 13 run)
#   GUIDEDBP_WERROR=ON|OFF   warnings fail the build (default: ON on Debian 12)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
source scripts/debian-release.sh
build=${GUIDEDBP_BUILD:-build}
start=$SECONDS

# Style: every C++ file as the project's .clang-format says. Formatters of
# other major versions lay out some lines differently, so only 14 (Debian
# 12's) is asked.
if clang-format --version | grep -q 'version 14\.'; then
  git ls-files '*.h' '*.cpp' | xargs clang-format --style=file --dry-run --Werror
else
  echo "test: style check skipped: it needs clang-format 14 (Debian 12), this is $(clang-format --version)"
fi
jobs=$(nproc)
# The benchmark is built (so it keeps compiling), not run.
bench=$([[ ${GUIDEDBP_BENCH:-1} != 0 ]] && echo ON || echo OFF)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DGUIDEDBP_BUILD_BENCH="$bench" \
  -DGUIDEDBP_WARNINGS_AS_ERRORS="$GUIDEDBP_WERROR"
cmake --build "$build" -j"$jobs"
(cd "$build" && ctest --output-on-failure -j"$jobs" "$@")
echo "test: $GUIDEDBP_DEBIAN_CODENAME build and tests done in $((SECONDS - start)) s"

# The Debian package, installed in a fresh root of this release
# (GUIDEDBP_PACKAGE_TEST=0 skips it; the Debian 13 stage only builds it).
GUIDEDBP_BUILD=$build scripts/test-package.sh

# Reliability (docs/reliability.md): bounded fuzzing, ASan + UBSan build and tests.
if [[ ${GUIDEDBP_RELIABILITY:-1} != 0 ]]; then
  FUZZ_SECONDS=${FUZZ_SECONDS:-45} scripts/fuzz.sh
  scripts/sanitize.sh
fi

# The other LibTorch: Debian 13's 2.6, in a root of its own.
if [[ $GUIDEDBP_DEBIAN_CODENAME == bookworm && ${GUIDEDBP_DEBIAN13:-1} != 0 ]]; then
  scripts/test-debian13.sh "$@"
  # The .deb that stage built, in a fresh Debian 13 root.
  scripts/test-package.sh build-debian13/guidedbp_*~deb13_*.deb
fi
echo "test: all done in $((SECONDS - start)) s"
