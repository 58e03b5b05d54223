# shellcheck shell=bash
# Sourced by scripts/test-debian13.sh and scripts/test-package.sh: Debian
# roots made with debootstrap from the apt mirror this machine already uses,
# and bind mounts into them that an EXIT trap undoes. Messages start with the
# calling script's name.
#   debian_mirror                      prints the Debian mirror of /etc/apt/sources*
#   debian_root CODENAME ROOT          makes ROOT (minbase) unless it is there:
#                                      into ROOT.partial first, log in ROOT.log
#   root_bind ROOT HOST_PATH [INSIDE]  bind-mounts HOST_PATH at ROOT/INSIDE
#                                      (default: the same path), once
#   root_unmount                       undoes root_bind's mounts, newest first
root_mounts=()
debian_root_who=$(basename "$0" .sh)

# The Debian mirror of this machine's own apt sources (deb822 or one-line).
debian_mirror() {
  local uri
  uri=$(awk '/^URIs:/ && !/security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  if [[ -z $uri ]]; then
    uri=$(awk '$1 == "deb" && !/security/ {print $2; exit}' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
  fi
  [[ -n $uri ]] || { echo "$debian_root_who: no Debian mirror found in /etc/apt/sources*" >&2; return 1; }
  echo "$uri"
}

debian_root() {
  local codename=$1 root=$2 url
  [[ -x $root/usr/bin/apt-get ]] && return 0
  command -v debootstrap >/dev/null ||
    { echo "$debian_root_who: debootstrap missing (scripts/install-deps.sh installs it)" >&2; return 1; }
  url=$(debian_mirror)
  echo "$debian_root_who: making a Debian $codename root in $root" >&2
  rm -rf "$root.partial"
  mkdir -p "$(dirname "$root")"
  # Into a side folder first: an interrupted run never leaves a half root.
  debootstrap --variant=minbase "$codename" "$root.partial" "$url" >"$root.log" 2>&1 ||
    { echo "$debian_root_who: debootstrap failed, see $root.log" >&2; return 1; }
  mv "$root.partial" "$root"
}

root_bind() {
  local root=$1 host=$2 inside=${3:-$2}
  mkdir -p "$root$inside"
  if ! mountpoint -q "$root$inside"; then
    mount --bind "$host" "$root$inside"
    root_mounts+=("$root$inside")
  fi
}

root_unmount() {
  local i
  for ((i = ${#root_mounts[@]} - 1; i >= 0; i--)); do
    umount "${root_mounts[i]}" 2>/dev/null || umount -l "${root_mounts[i]}" 2>/dev/null || true
  done
  root_mounts=()
}
