#!/usr/bin/env bash
# Builds the library, the unit tests and (when present) the CLI with
# AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/ and runs them;
# then explain's scheduler under ThreadSanitizer.
# Fails on any sanitizer report (UBSan is fatal: -fno-sanitize-recover) and on
# any leak that LeakSanitizer finds at exit.
#
# Usage: scripts/sanitize.sh
#   SANITIZE_BUILD=build-asan       build folder
#   SANITIZE_GTEST_FILTER=...       which unit tests (default: all but the
#                                   torchvision models, see below)
#   SANITIZE_JOBS=2                 build parallelism
set -euo pipefail
cd "$(dirname "$0")/.."

build=${SANITIZE_BUILD:-build-asan}
jobs=${SANITIZE_JOBS:-2}
# The torchvision reference tests run resnet18/vgg11/mobilenet_v2 through
# LibTorch's (uninstrumented) kernels: minutes under ASan for no extra
# coverage of our code, which the small reference models already exercise
# on every path (scripted, traced, nn, every rule and target form). The
# layer reference tests need data that CTest's fixture generates (resnet18,
# vgg11); LayerTest.* covers the layer code with small models here.
filter=${SANITIZE_GTEST_FILTER:--Torchvision*:*LayerReference*}

start=$SECONDS
# -O1 -g1: the optimisation ASan's authors recommend, and line tables and
# function names for the reports, without the full debug information of
# RelWithDebInfo's -O2 -g, which took 2.3 times the compile time (issue 17).
cmake -S . -B "$build" -DGUIDEDBP_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DGUIDEDBP_INSTALL=OFF -DGUIDEDBP_BUILD_BENCH=OFF >/dev/null
targets=(guidedbp_tests)
available=$(cmake --build "$build" --target help)
for optional in guidedbp_leak_check guidedbp_cli guidedbp_cli_unit_tests; do
  if grep -q "\.\.\. $optional\$" <<<"$available"; then
    targets+=("$optional")
  fi
done
cmake --build "$build" -j"$jobs" --target "${targets[@]}"
echo "sanitize: built ${targets[*]} in $((SECONDS - start)) s"

# detect_leaks=1: LibTorch's one-time allocations (operator registries,
# thread pools, the JIT's caches) stay reachable from globals, which
# LeakSanitizer does not report, so no suppression file is needed; anything
# it reports is memory that nothing points to any more.
# check_initialization_order/strict_init_order: static-init order bugs.
# detect_stack_use_after_return: catches returning references to locals.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# One OpenMP thread per process: the suites run in parallel on 2 cores.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

status=0
run() {
  echo "sanitize: $*"
  if ! "$@"; then
    echo "sanitize: FAILED: $*" >&2
    status=1
  fi
}
run "$build/tests/guidedbp_tests" --gtest_filter="$filter" --gtest_brief=1
if [[ -x $build/tests/guidedbp_leak_check ]]; then
  # Under ASan freed memory sits in the quarantine, so RSS says nothing here
  # (scripts/leak-check.sh measures it in the normal build); this run is for
  # LeakSanitizer and for ASan over 200 mixed and throwing calls.
  run "$build/tests/guidedbp_leak_check" --calls 200 --warmup 50 --max-growth-mb 100000
fi
cli_unit=$(find "$build/tests" -name guidedbp_cli_unit_tests -type f -perm -u+x | head -n 1)
if [[ -n $cli_unit ]]; then
  run "$cli_unit" --gtest_brief=1
fi
cli=$(find "$build/tools" -name guidedbp -type f -perm -u+x 2>/dev/null | head -n 1)
if [[ -n $cli ]]; then
  for area in attribute methods files errors explain heatmap; do
    run /usr/bin/python3 tests/cli/cli_test.py --cli "$cli" --source-dir . --area "$area"
  done
  # explain's dataset pipeline: its I/O threads, bounded queues and signals.
  for area in dataset interrupt; do
    run /usr/bin/python3 tests/cli/dataset_test.py --cli "$cli" --source-dir . --area "$area"
  done
fi
# ThreadSanitizer on explain's scheduler (pipeline.h) and the thread pool it
# runs on: torch-free, so one small program of its own, not a third build of
# the tree (TSan cannot share a build with ASan).
tsan=$build/tsan
mkdir -p "$tsan"
g++ -std=c++17 -fsanitize=thread -O1 -g1 -Itools/guidedbp \
  tests/cli/pipeline_test.cpp tools/guidedbp/runtime/thread_pool.cpp \
  -lgtest_main -lgtest -pthread -o "$tsan/pipeline_test"
TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} \
  run "$tsan/pipeline_test" --gtest_brief=1 --gtest_repeat=3
echo "sanitize: done in $((SECONDS - start)) s, status $status"
exit $status
