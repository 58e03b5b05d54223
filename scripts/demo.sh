#!/usr/bin/env bash
# The main job: installs what is missing, builds the CLI, and explains the
# shipped Fashion-MNIST images with the shipped model. Heat maps go to out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target guidedbp_cli
build/tools/guidedbp/guidedbp explain \
  --model examples/fashion_mnist/model.pt \
  --labels examples/fashion_mnist/labels.txt \
  --sign positive --panel --out-dir out/demo \
  examples/fashion_mnist/images/*.png
echo "Heat maps written to out/demo/"
