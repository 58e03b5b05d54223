# Sourced by the scripts: which Debian release this is and what differs.
#   GUIDEDBP_DEBIAN_CODENAME  bookworm (Debian 12) or trixie (Debian 13)
#   GUIDEDBP_CLANG_VERSION    the clang of that release (fuzzers, sanitizers)
GUIDEDBP_DEBIAN_CODENAME=$(. /etc/os-release && echo "${VERSION_CODENAME:-unknown}")
case "$GUIDEDBP_DEBIAN_CODENAME" in
  bookworm) GUIDEDBP_CLANG_VERSION=14 ;;
  trixie) GUIDEDBP_CLANG_VERSION=19 ;;
  *)
    echo "guidedbp scripts support Debian 12 (bookworm) and 13 (trixie); this is" \
      "'$GUIDEDBP_DEBIAN_CODENAME': install the packages of scripts/install-deps.sh by hand" >&2
    exit 1
    ;;
esac
export GUIDEDBP_DEBIAN_CODENAME GUIDEDBP_CLANG_VERSION
