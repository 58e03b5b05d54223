#!/usr/bin/env bash
# One command for guidedbp's benchmarks (docs/benchmarks.md):
#   bench/run.sh [--quick] [--models a,b] [--batches 1,8] [--threads 1,2] [...]
# Builds guidedbp_bench (Release) in $BUILD_DIR (default build-bench), scripts the
# models into $BUILD_DIR/models, runs the benchmark, prints the Markdown tables and
# writes everything to $BUILD_DIR/results/: guidedbp.json (raw records), captum.json
# (when $CAPTUM_PATH is set), summary.json (the table rows and ratios), table.md.
# Every option is passed to guidedbp_bench (--help lists them); those the Captum
# side knows are passed to it too.
#
#   bench/run.sh dataset [--images 500] [--threads 1] [--python-images 100] [...]
# runs the dataset benchmark instead (bench/dataset_bench.py --help; docs/benchmarks.md,
# "Dataset runs"): it also builds the guidedbp CLI and writes dataset.json and
# dataset.md to $BUILD_DIR/results/ (the Python loop needs $CAPTUM_PATH).
#
#   bench/run.sh export [--models resnet18,vgg11,mobilenet_v2,fashion_mnist] [...]
# (Debian 13: torch and LibTorch >= 2.6) compiles the models' torch.export
# programs with `guidedbp export`, checks each package against a float64
# reference and times it (bench/export_bench.py --help; docs/benchmarks.md,
# "torch.export packages"): export.json and export.md in $BUILD_DIR/results/
# (the Captum columns need $CAPTUM_PATH).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-bench}"
RESULTS="$BUILD_DIR/results"
PYTHON=/usr/bin/python3 # Debian's python3-torch; a pyenv python3 has no torch

# The export and dataset benchmarks run the CLI beside guidedbp_bench.
build_cli_and_bench() {
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DGUIDEDBP_BUILD_BENCH=ON \
    -DGUIDEDBP_BUILD_TESTS=OFF -DGUIDEDBP_BUILD_CLI=ON -DGUIDEDBP_BUILD_SERVE=OFF \
    -DGUIDEDBP_INSTALL=OFF >/dev/null
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target guidedbp_cli guidedbp_bench
}

if [[ "${1:-}" == export ]]; then
  shift
  build_cli_and_bench
  exec "$PYTHON" "$ROOT/bench/export_bench.py" --guidedbp "$BUILD_DIR/tools/guidedbp/guidedbp" \
    --bench "$BUILD_DIR/bench/guidedbp_bench" --work "$BUILD_DIR/export-bench" \
    --results "$RESULTS" "$@"
fi

if [[ "${1:-}" == dataset ]]; then
  shift
  build_cli_and_bench
  "$PYTHON" "$ROOT/bench/make_models.py" "$BUILD_DIR/models"
  exec "$PYTHON" "$ROOT/bench/dataset_bench.py" --guidedbp "$BUILD_DIR/tools/guidedbp/guidedbp" \
    --bench "$BUILD_DIR/bench/guidedbp_bench" --models-dir "$BUILD_DIR/models" \
    --work "$BUILD_DIR/dataset-bench" --results "$RESULTS" "$@"
fi

cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DGUIDEDBP_BUILD_BENCH=ON \
  -DGUIDEDBP_BUILD_TESTS=OFF -DGUIDEDBP_BUILD_CLI=OFF -DGUIDEDBP_INSTALL=OFF >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target guidedbp_bench
"$PYTHON" "$ROOT/bench/make_models.py" "$BUILD_DIR/models"
mkdir -p "$RESULTS"

# Options shared with captum_bench.py (the C++-only ones: --k --k-batches
# --no-stages).
captum_args=()
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --quick | --no-memory) captum_args+=("${args[i]}") ;;
    --models | --batches | --threads | --budget | --min-rounds | --max-rounds | --warmup | --memory-reps)
      captum_args+=("${args[i]}" "${args[i + 1]}")
      i=$((i + 1))
      ;;
  esac
done

"$BUILD_DIR/bench/guidedbp_bench" --models-dir "$BUILD_DIR/models" \
  --fashion "$ROOT/examples/fashion_mnist/model.pt" --out "$RESULTS/guidedbp.json" "$@"

captum_json=()
if [[ -n "${CAPTUM_PATH:-}" ]]; then
  PYTHONPATH="$CAPTUM_PATH" "$PYTHON" "$ROOT/bench/captum_bench.py" \
    --fashion "$ROOT/examples/fashion_mnist/model.pt" --out "$RESULTS/captum.json" \
    ${captum_args[@]+"${captum_args[@]}"}
  captum_json=(--captum "$RESULTS/captum.json")
fi

"$PYTHON" "$ROOT/bench/report.py" --guidedbp "$RESULTS/guidedbp.json" \
  ${captum_json[@]+"${captum_json[@]}"} \
  --markdown "$RESULTS/table.md" --json "$RESULTS/summary.json"
echo "results in $RESULTS"
