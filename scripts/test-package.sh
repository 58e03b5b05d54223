#!/usr/bin/env bash
# Tests the Debian package in a fresh root of this machine's Debian release:
# `apt-get install ./guidedbp_*.deb` pulls in what it needs, `guidedbp
# explain` runs on the shipped images (each predicted as its file name says),
# and the shipped consumer example builds against the installed package with
# find_package(guidedbp) and runs. scripts/test.sh calls it.
#
# Usage: scripts/test-package.sh [PACKAGE.deb]   (as root; default: build it
#        with scripts/package-deb.sh)
#   The root is of the package's release (~deb12: bookworm, ~deb13: trixie),
#   so a Debian 12 machine tests the package that the Debian 13 stage built.
#   GUIDEDBP_PACKAGE_ROOT=/var/cache/guidedbp/<codename>-base   the cached root
#   GUIDEDBP_PACKAGE_TEST=build  only build the package (the Debian 13 stage,
#                                which has no debootstrap in its chroot)
#   GUIDEDBP_PACKAGE_TEST=0      skip
# The cached root, made once with debootstrap (minbase), is never changed:
# each run installs into an overlay on it (a copy where overlayfs is
# missing), thrown away at the end. Packages come through an apt archive
# that already holds most of them: this machine's (same release) or the
# Debian 13 root's of scripts/test-debian13.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
case ${GUIDEDBP_PACKAGE_TEST:-1} in
  0)
    echo "test-package: skipped (GUIDEDBP_PACKAGE_TEST=0)"
    exit 0
    ;;
  build)
    deb=${1:-$(scripts/package-deb.sh | tail -n 1)}
    [[ -f $deb ]] || { echo "test-package: $deb not found; make it with scripts/package-deb.sh" >&2; exit 1; }
    echo "test-package: $deb built, not installed (GUIDEDBP_PACKAGE_TEST=build)"
    exit 0
    ;;
esac
[[ $(id -u) -eq 0 ]] || { echo "test-package: needs root (debootstrap, chroot, mount)" >&2; exit 1; }
# shellcheck source=scripts/debian-release.sh
source scripts/debian-release.sh
# shellcheck source=scripts/debian-root.sh
source scripts/debian-root.sh
start=$SECONDS

deb=$(realpath "${1:-$(scripts/package-deb.sh | tail -n 1)}")
[[ -f $deb ]] || { echo "test-package: $deb not found; make it with scripts/package-deb.sh" >&2; exit 1; }
version=$(dpkg-deb -f "$deb" Version)
case $version in
  *~deb12) codename=bookworm ;;
  *~deb13) codename=trixie ;;
  *) echo "test-package: $deb: version $version names no Debian release (~deb12, ~deb13); make it with scripts/package-deb.sh" >&2; exit 1 ;;
esac
if [[ $codename == "$GUIDEDBP_DEBIAN_CODENAME" ]]; then
  archive=/var/cache/apt/archives
elif [[ $codename == trixie && -d ${GUIDEDBP_DEBIAN13_ROOT:-/var/cache/guidedbp/debian13}/var/cache/apt/archives ]]; then
  archive=${GUIDEDBP_DEBIAN13_ROOT:-/var/cache/guidedbp/debian13}/var/cache/apt/archives
else
  archive=/var/cache/guidedbp/apt-$codename
  mkdir -p "$archive/partial"
fi
base=${GUIDEDBP_PACKAGE_ROOT:-/var/cache/guidedbp/$codename-base}
debian_root "$codename" "$base"

work=$(mktemp -d /var/tmp/guidedbp-package.XXXXXX)
root=$work/root
cleanup() {
  root_unmount
  if mountpoint -q "$root"; then umount "$root" 2>/dev/null || umount -l "$root"; fi
  # Never delete through a mount that is still there (the host's apt archive).
  if grep -q " $work/" /proc/self/mounts; then
    echo "test-package: $work still has mounts; left in place" >&2
    return
  fi
  if mountpoint -q "$work"; then umount "$work" 2>/dev/null || umount -l "$work"; fi
  rm -rf "$work"
}
trap cleanup EXIT
# The root's ~1.3 GB of new files in memory when there is room: unpacking
# and deleting them on disk takes minutes.
if (($(awk '/^MemAvailable:/ {print $2}' /proc/meminfo) > 6 * 1024 * 1024)); then
  mount -t tmpfs -o size=3g,mode=0700 guidedbp-package "$work"
fi
mkdir -p "$root" "$work/upper" "$work/overlay-work"
if ! mount -t overlay overlay \
  -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/overlay-work" "$root" 2>/dev/null; then
  rmdir "$root"
  cp -a "$base" "$root"
fi
root_bind "$root" /proc
root_bind "$root" /sys
root_bind "$root" /dev
root_bind "$root" "$archive" /var/cache/apt/archives
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
if [[ $codename == "$GUIDEDBP_DEBIAN_CODENAME" ]]; then
  # This machine's apt sources (the same release: with its security updates).
  rm -f "$root/etc/apt/sources.list"
  cp -a /etc/apt/sources.list /etc/apt/sources.list.d "$root/etc/apt/" 2>/dev/null || true
fi
mkdir -p "$root/tmp/guidedbp"
cp "$deb" "$root/tmp/guidedbp/"
in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin OMP_NUM_THREADS=1 "$@"
}
log=$work/apt.log
lap() { echo "test-package: $1 ($((SECONDS - start)) s)" >&2; }
# The root is thrown away: dpkg need not sync every file it unpacks.
apt_install() {
  in_root apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-unsafe-io \
    "$@" >>"$log" 2>&1 ||
    { tail -n 30 "$log" >&2; echo "test-package: apt-get install $* failed in the fresh root" >&2; exit 1; }
}
in_root apt-get update -q >"$log" 2>&1 ||
  { tail -n 30 "$log" >&2; echo "test-package: apt-get update failed in the fresh root" >&2; exit 1; }
lap "fresh root ready"

# 1. The package alone (no Recommends) runs the CLI on the shipped images.
apt_install "/tmp/guidedbp/$(basename "$deb")"
examples=/usr/share/guidedbp/examples
in_root guidedbp explain --model $examples/fashion_mnist/model.pt --out-dir /tmp/maps \
  --manifest /tmp/maps/manifest.jsonl $examples/fashion_mnist/images >"$work/explain.log" 2>&1 ||
  { cat "$work/explain.log" >&2; echo "test-package: guidedbp explain failed in the fresh root" >&2; exit 1; }
# Against the source tree: every shipped image once, predicted as its name says.
/usr/bin/python3 - "$root/tmp/maps/manifest.jsonl" examples/fashion_mnist <<'PY'
import json, os, re, sys
manifest, source = sys.argv[1], sys.argv[2]
labels = [re.sub("[^a-z]", "", l.lower()) for l in open(f"{source}/labels.txt").read().split("\n") if l]
images = sorted(os.listdir(f"{source}/images"))
records = {os.path.basename(r["input"]): r for r in map(json.loads, open(manifest))}
assert sorted(records) == images, f"explained {sorted(records)}, shipped {images}"
for name, r in records.items():
    cls = re.sub("[^a-z]", "", name.split("_", 1)[1].rsplit(".", 1)[0])
    assert r["status"] == "ok" and labels[r["predicted"]].startswith(cls), (name, r)
    assert all(os.path.getsize(os.path.dirname(manifest) + "/" + os.path.basename(o)) > 0
               for o in r["outputs"]), r
PY
lap "installed, explained the shipped images"

# 2. With the Recommends (LibTorch's headers) and a compiler, the consumer
# example builds with find_package(guidedbp) and runs.
mapfile -t recommends < <(dpkg-deb -f "$deb" Recommends | tr ',' '\n' | awk '{print $1}')
apt_install "${recommends[@]}" g++ cmake make
lap "installed ${recommends[*]} g++ cmake make"
in_root sh -c "cmake -S $examples/consumer -B /tmp/consumer -DCMAKE_BUILD_TYPE=Release &&
  cmake --build /tmp/consumer -j$(nproc) && /tmp/consumer/explain_one $examples/fashion_mnist/model.pt" \
  >"$work/consumer.log" 2>&1 ||
  { tail -n 30 "$work/consumer.log" >&2; echo "test-package: the consumer example failed in the fresh root" >&2; exit 1; }
grep -q "attribution shape \[1, 1, 28, 28\]" "$work/consumer.log" ||
  { tail -n 5 "$work/consumer.log" >&2; echo "test-package: explain_one printed no attribution" >&2; exit 1; }
echo "test-package: $(basename "$deb") installs in a fresh $codename root, explains" \
  "the shipped images and builds the consumer example ($((SECONDS - start)) s)"
