#!/usr/bin/env bash
# Builds guidedbp's Debian package with CPack (cmake/package.cmake): the
# library, headers, CMake package, the CLI, the docs and the examples, with
# dependencies computed from the CLI's shared libraries for this Debian
# release (12: LibTorch 1.13, 13: LibTorch 2.6). Configures and builds first
# if needed. Prints the .deb's path on its last line (everything else goes to
# stderr).
# Usage: scripts/package-deb.sh
#   GUIDEDBP_BUILD=DIR   the build folder; default: build/ when it is
#                        configured (scripts/test.sh's), else build-deb/,
#                        configured without tests (cpack builds all of a
#                        folder's targets before packaging)
# Install it with: apt-get install ./build/guidedbp_0.1.0-1~deb12_amd64.deb
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/debian-release.sh
source scripts/debian-release.sh
build=${GUIDEDBP_BUILD:-build}
if [[ -z ${GUIDEDBP_BUILD:-} && ! -f build/CMakeCache.txt ]]; then
  build="build-deb"
fi

# CPack computes the dependencies with dpkg-shlibdeps, after `file` found the
# executables.
command -v dpkg-shlibdeps >/dev/null ||
  { echo "package-deb: dpkg-shlibdeps missing: install dpkg-dev (scripts/install-deps.sh does)" >&2; exit 1; }
command -v file >/dev/null ||
  { echo "package-deb: the file utility is missing: install file (scripts/install-deps.sh does)" >&2; exit 1; }
if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DGUIDEDBP_BUILD_TESTS=OFF >&2
fi
# Only what the package holds: the library and the CLI.
cmake --build "$build" -j"$(nproc)" --target guidedbp guidedbp_cli >&2
rm -f "$build"/guidedbp_*.deb
(cd "$build" && cpack -G DEB) >&2 ||
  { echo "package-deb: cpack failed (see above); its files are in $build/_CPack_Packages" >&2; exit 1; }
debs=("$build"/guidedbp_*.deb)
[[ -f ${debs[0]} ]] || { echo "package-deb: cpack made no $build/guidedbp_*.deb" >&2; exit 1; }
realpath "${debs[0]}"
