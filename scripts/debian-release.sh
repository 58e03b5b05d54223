# Sourced by the scripts: which Debian release this is and what differs.
#   GUIDEDBP_DEBIAN_CODENAME  bookworm (Debian 12) or trixie (Debian 13)
#   GUIDEDBP_CLANG_VERSION    the clang of that release (fuzzers, sanitizers)
#   GUIDEDBP_WERROR           ON: warnings in our code fail the build (ON on
#                             Debian 12, whose compilers CI keeps warning-free;
#                             OFF on 13, where they are shown); set it to override
GUIDEDBP_DEBIAN_CODENAME=$(. /etc/os-release && echo "${VERSION_CODENAME:-unknown}")
case "$GUIDEDBP_DEBIAN_CODENAME" in
  bookworm) GUIDEDBP_CLANG_VERSION=14 GUIDEDBP_WERROR=${GUIDEDBP_WERROR:-ON} ;;
  trixie) GUIDEDBP_CLANG_VERSION=19 GUIDEDBP_WERROR=${GUIDEDBP_WERROR:-OFF} ;;
  *)
    echo "guidedbp scripts support Debian 12 (bookworm) and 13 (trixie); this is" \
      "'$GUIDEDBP_DEBIAN_CODENAME': install the packages of scripts/install-deps.sh by hand" >&2
    exit 1
    ;;
esac
export GUIDEDBP_DEBIAN_CODENAME GUIDEDBP_CLANG_VERSION GUIDEDBP_WERROR
