# scripts/versions.sh: which PostgreSQL and clang the build and tests use
# (source it, do not run it).
#   pg_major     the major version of the PostgreSQL pg_config names; without a
#                pg_config, the Debian release's own (12: 15, 13: 17)
#   clang_major  $CLANG_VERSION, else the Debian release's clang (12: 14, 13: 19)
# shellcheck shell=bash

# _debian_release: the major version of the Debian release we run on.
_debian_release() { (. /etc/os-release && echo "${VERSION_ID%%.*}"); }

pg_major() {
  if command -v pg_config >/dev/null; then
    pg_config --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/'
    return
  fi
  case $(_debian_release) in
    12) echo 15 ;;
    13) echo 17 ;;
    *) echo "pg_major: no pg_config in PATH and no default for this release" >&2; return 1 ;;
  esac
}

clang_major() {
  if [[ -n ${CLANG_VERSION:-} ]]; then echo "$CLANG_VERSION"; return; fi
  case $(_debian_release) in
    12) echo 14 ;;
    13) echo 19 ;;
    *) echo "clang_major: set CLANG_VERSION (no default for this release)" >&2; return 1 ;;
  esac
}
