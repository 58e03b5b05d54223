#!/usr/bin/env bash
# Runs the build and the test suite again inside a Debian 13 root (LibTorch
# 2.6), from a Debian 12 machine (LibTorch 1.13): scripts/test.sh calls it, so
# one command tests both LibTorch versions. The root is made once with
# debootstrap from the apt mirror this machine already uses and cached; later
# runs reuse it (install-deps.sh inside adds only what is missing).
#
# Usage: scripts/test-debian13.sh [ctest arguments...]   (as root)
#   GUIDEDBP_DEBIAN13_ROOT=/var/cache/guidedbp/debian13   the cached root
# In the root the sources are this checkout, mounted at the same path; the
# build folder is build-debian13/. The fuzzers and the sanitizer run are not
# repeated there (scripts/test.sh runs them on the host): they check our own
# code, which is the same on both. Neither is the Slurm test (daemons in a
# chroot), and the Debian package is built there but tested from the host
# (scripts/test-package.sh needs debootstrap and mounts). Nor is the benchmark
# built there: the host build keeps it compiling, and CI time is short.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
root=${GUIDEDBP_DEBIAN13_ROOT:-/var/cache/guidedbp/debian13}

[[ $(id -u) -eq 0 ]] || { echo "test-debian13: needs root (debootstrap, chroot, mount)" >&2; exit 1; }

# shellcheck source=scripts/debian-root.sh
source scripts/debian-root.sh
debian_root trixie "$root"
trap root_unmount EXIT
root_bind "$root" /proc
root_bind "$root" /sys
root_bind "$root" /dev
root_bind "$root" /dev/pts # pseudo-terminals: explain's progress bar test
root_bind "$root" "$src"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

# The .deb is only built in the root; scripts/test.sh installs it in a fresh
# Debian 13 root from the host.
package=build
[[ ${GUIDEDBP_PACKAGE_TEST:-1} != 0 ]] || package=0

# A clean environment: nothing from the host's PATH or Python leaks in.
chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  CI="${CI:-}" GUIDEDBP_BUILD=build-debian13 GUIDEDBP_RELIABILITY=0 GUIDEDBP_BENCH=0 \
  GUIDEDBP_SLURM_TEST=0 GUIDEDBP_PACKAGE_TEST="$package" \
  bash -c 'cd "$1" && shift && scripts/test.sh "$@"' test-debian13 "$src" "$@"
