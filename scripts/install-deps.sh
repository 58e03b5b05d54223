#!/usr/bin/env bash
# Installs the Debian packages guidedbp needs, only those that are missing.
# Debian 12 (bookworm: LibTorch 1.13) and Debian 13 (trixie: LibTorch 2.6).
# Usage: scripts/install-deps.sh   (as root, or with sudo available)
set -euo pipefail

# The clang that builds the fuzzers and the sanitizer run: the release's own.
# shellcheck source=scripts/debian-release.sh
source "$(dirname "$0")/debian-release.sh"

packages=(
  g++ cmake make pkg-config
  libtorch-dev            # LibTorch (CPU), found by find_package(Torch)
  python3-torch python3-torchvision python3-numpy  # references, model export
  python3-scipy python3-skimage  # evaluate_test.py: Spearman and SSIM references
  dataset-fashion-mnist   # training and accuracy data of the shipped model
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libpng-dev libjpeg-dev
  libcpp-httplib-dev nlohmann-json3-dev  # guidedbp serve
  chromium wrk            # serve's browser test (ctest -L browser), bench/serve_load.py
  "clang-$GUIDEDBP_CLANG_VERSION" "libclang-rt-$GUIDEDBP_CLANG_VERSION-dev" # fuzzers, sanitizers
  clang-format git        # the style check in scripts/test.sh
  debootstrap             # scripts/test-debian13.sh makes a Debian 13 root
  dpkg-dev file           # scripts/package-deb.sh: CPack finds the .deb's dependencies with them
)
# guidedbp export (torch.export -> AOTInductor, LibTorch 2.6 only): Inductor
# imports torch.utils.cpp_extension (setuptools) and compiles the package with
# g++ (already listed above) against Python's headers.
if [[ $GUIDEDBP_DEBIAN_CODENAME == trixie ]]; then
  packages+=(python3-setuptools python3-dev)
fi
# tests/slurm: a real single-node Slurm runs docs/datasets.md's job array
# (not in the Debian 13 root of scripts/test-debian13.sh, which skips it).
if [[ ${GUIDEDBP_SLURM_TEST:-1} != 0 ]]; then
  packages+=(slurm-wlm munge)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
