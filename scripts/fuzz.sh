#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, the release's clang, ASan + UBSan, no LibTorch),
# replays every committed seed and regression input, then fuzzes each target
# for a bounded time. Fails if any input crashes, leaks, trips a sanitizer or
# breaks a target's invariant; a new crashing input is copied into
# fuzz/regressions/<target>/ (commit it with the fix) and replayed from then on.
#
# Usage: scripts/fuzz.sh [target...]   (default: all five)
#   FUZZ_SECONDS=60   fuzzing time per target (0: replay only)
#   FUZZ_BUILD=build-fuzz  build folder (the working corpora live in it)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD:-build-fuzz}
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(fuzz_npy fuzz_target_literal fuzz_image fuzz_serve_request fuzz_zip_check)
fi

source scripts/debian-release.sh
cxx=${FUZZ_CXX:-clang++-$GUIDEDBP_CLANG_VERSION}
command -v "$cxx" >/dev/null || { echo "fuzz: $cxx not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
cmake -S fuzz -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DGUIDEDBP_WARNINGS_AS_ERRORS="$GUIDEDBP_WERROR" >/dev/null
cmake --build "$build" -j2 --target "${targets[@]}" >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# No single allocation above 512 MiB: the largest image within the decoders'
# limits (64 megapixels) needs 192 MiB of pixels and ~384 MiB of libjpeg
# coefficients; more means a size check came too late (a real finding).
limits=(-malloc_limit_mb=512 -rss_limit_mb=2048)

status=0
summary=()
for t in "${targets[@]}"; do
  bin="$build/$t"
  seeds="fuzz/corpus/$t"
  regressions="fuzz/regressions/$t"
  mkdir -p "$regressions" "$build/artifacts/$t" "$build/corpus/$t"

  # 1. Replay: every committed seed and regression input, once each.
  mapfile -t inputs < <(find "$seeds" "$regressions" -type f ! -name '.*' ! -name README.md | sort)
  if ! "$bin" "${limits[@]}" -timeout=30 -runs=1 "${inputs[@]}" >"$build/$t.replay.log" 2>&1; then
    echo "fuzz: $t FAILED replaying the committed inputs; see $build/$t.replay.log" >&2
    tail -n 30 "$build/$t.replay.log" >&2
    status=1
    continue
  fi
  if ((seconds == 0)); then
    summary+=("$t: replayed ${#inputs[@]} inputs")
    continue
  fi

  # 2. Fuzz for a bounded time. The working corpus (build folder) grows run
  # after run; the committed seeds and regressions are read but never written.
  dict=()
  case $t in
    fuzz_npy) dict=(-dict=fuzz/npy.dict -use_value_profile=1) ;;
    fuzz_target_literal) dict=(-dict=fuzz/target_literal.dict -use_value_profile=1) ;;
    fuzz_serve_request) dict=(-dict=fuzz/serve_request.dict) ;;
  esac
  log="$build/$t.log"
  set +e
  "$bin" "${dict[@]}" -max_total_time="$seconds" -timeout=10 "${limits[@]}" \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$t/" \
    "$build/corpus/$t" "$seeds" "$regressions" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 || true)
  if ((rc != 0)); then
    echo "fuzz: $t FAILED (exit $rc) after ${execs:-?} executions; log: $log" >&2
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -n 20 >&2 || true
    for crash in "$build/artifacts/$t"/*; do
      [[ -f $crash ]] || continue
      cp "$crash" "$regressions/"
      echo "fuzz: kept $regressions/$(basename "$crash") as a regression input: fix the bug, commit the file" >&2
    done
    status=1
  fi
  summary+=("$t: ${execs:-?} executions in ${seconds} s, $cov, corpus $(find "$build/corpus/$t" -type f | wc -l) files, exit $rc")
done

printf 'fuzz: %s\n' "${summary[@]}"
exit $status
