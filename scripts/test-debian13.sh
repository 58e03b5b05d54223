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
# code, which is the same on both. Nor is the benchmark built there: the host
# build keeps it compiling, and CI time is short.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
root=${GUIDEDBP_DEBIAN13_ROOT:-/var/cache/guidedbp/debian13}

[[ $(id -u) -eq 0 ]] || { echo "test-debian13: needs root (debootstrap, chroot, mount)" >&2; exit 1; }

# The Debian mirror of this machine's own apt sources (deb822 or one-line).
mirror() {
  local uri
  uri=$(awk '/^URIs:/ && !/security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  if [[ -z $uri ]]; then
    uri=$(awk '$1 == "deb" && !/security/ {print $2; exit}' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
  fi
  [[ -n $uri ]] || { echo "test-debian13: no Debian mirror found in /etc/apt/sources*" >&2; return 1; }
  echo "$uri"
}

if [[ ! -x $root/usr/bin/apt-get ]]; then
  command -v debootstrap >/dev/null || { echo "test-debian13: debootstrap missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
  url=$(mirror)
  echo "test-debian13: making a Debian 13 root in $root" >&2
  rm -rf "$root.partial"
  mkdir -p "$(dirname "$root")"
  # Into a side folder first: an interrupted run never leaves a half root.
  debootstrap --variant=minbase trixie "$root.partial" "$url" >"$root.log" 2>&1 ||
    { echo "test-debian13: debootstrap failed, see $root.log" >&2; exit 1; }
  mv "$root.partial" "$root"
fi

mounts=()
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT
bind() { # bind HOST_PATH: the same path inside the root
  mkdir -p "$root$1"
  if ! mountpoint -q "$root$1"; then
    mount --bind "$1" "$root$1"
    mounts+=("$root$1")
  fi
}
bind /proc
bind /sys
bind /dev
bind "$src"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

# A clean environment: nothing from the host's PATH or Python leaks in.
chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  CI="${CI:-}" GUIDEDBP_BUILD=build-debian13 GUIDEDBP_RELIABILITY=0 GUIDEDBP_BENCH=0 \
  bash -c 'cd "$1" && shift && scripts/test.sh "$@"' test-debian13 "$src" "$@"
