# scripts/lib.sh: helpers shared by the project's scripts (source it, do not run it).
#   on_exit CMD      run CMD when the script exits or is interrupted (last added runs first)
#   as_pg_user CMD   run CMD as the postgres OS user when we are root, else as ourselves
#   pg_os_user       the OS user that owns servers we start (postgres when root)
#   make_tmpdir VAR  set VAR to a new temp dir, owned by pg_os_user, removed on exit
#                    (not via $(...): the removal must be registered in this shell)
#   copy_tree SRC DST  copy the source files of a work tree (no build products)
#   private_pg DIR   a relocated copy of the PostgreSQL install pg_config names,
#                    under DIR; prints its bin directory (put it first in PATH)
#   apt_install_missing WHO PKG...  apt-get install those of PKG not installed
#                    yet (apt-get update only then; as root); WHO names the
#                    caller in its messages; 1 when it cannot
# shellcheck shell=bash

_exit_cmds=()
_run_exit_cmds() {
  local i
  for ((i = ${#_exit_cmds[@]} - 1; i >= 0; i--)); do eval "${_exit_cmds[i]}" || true; done
  _exit_cmds=()
}
on_exit() {
  _exit_cmds+=("$1")
  trap _run_exit_cmds EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

pg_os_user() { if [[ $EUID -eq 0 ]]; then echo postgres; else id -un; fi; }

as_pg_user() {
  if [[ $EUID -eq 0 ]]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

make_tmpdir() {
  local _dir
  _dir=$(mktemp -d "${TMPDIR:-/tmp}/contact_identity.XXXXXX")
  chmod 755 "$_dir"
  # Before ensure-deps on a new machine there is no postgres user yet.
  if [[ $EUID -eq 0 ]] && id postgres >/dev/null 2>&1; then chown postgres: "$_dir"; fi
  on_exit "rm -rf '$_dir'"
  printf -v "$1" %s "$_dir"
}

copy_tree() {
  local src=$1 dst=$2
  mkdir -p "$dst"
  if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$src" ls-files -z --cached --others --exclude-standard |
      tar -C "$src" --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -C "$dst" -xf -
  else
    tar -C "$src" --exclude-vcs --exclude='*.o' --exclude='*.so' --exclude=./build --exclude=./test/unit/unit_tests \
      --exclude=./results --exclude=./output_iso -cf - . | tar -C "$dst" -xf -
  fi
  [[ $EUID -ne 0 ]] || chown -R postgres: "$dst"
}

# private_pg DIR: copies the PostgreSQL install pg_config names (Debian's
# layout: PREFIX/lib/postgresql/MAJOR, PREFIX/share/postgresql/MAJOR,
# PREFIX/include/postgresql) under DIR, so that a test can install a build
# there and leave the system's untouched; PostgreSQL finds its files relative
# to its binaries. Prints the copy's bin directory.
private_pg() {
  local dir=$1 bindir major sharedir includedir pg
  bindir=$(pg_config --bindir)
  major=$(basename "$(dirname "$bindir")")
  sharedir=$(pg_config --sharedir)
  includedir=$(pg_config --pkgincludedir)
  if [[ $bindir != */lib/postgresql/$major/bin || $sharedir != */share/postgresql/$major ]]; then
    echo "private_pg: $bindir is not Debian's layout (PREFIX/lib/postgresql/MAJOR/bin)" >&2
    return 1
  fi
  mkdir -p "$dir/lib/postgresql" "$dir/share/postgresql" "$dir/include"
  cp -a "$(dirname "$bindir")" "$dir/lib/postgresql/"
  cp -a "$sharedir" "$dir/share/postgresql/"
  cp -a "$includedir" "$dir/include/"
  chmod -R a+rX "$dir"
  pg=$dir/lib/postgresql/$major/bin
  # The copy must find its own files, not the ones it was copied from.
  if [[ $("$pg/pg_config" --pkglibdir) != "$dir"/* || $("$pg/pg_config" --sharedir) != "$dir"/* ]]; then
    echo "private_pg: the copy in $dir does not relocate" >&2
    return 1
  fi
  echo "$pg"
}

# apt_install_missing WHO PKG...: installs the Debian packages of PKG that are
# not installed yet; nothing (not even apt-get update) when all are.
apt_install_missing() {
  local who=$1 p log missing=()
  shift
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    echo "$who: all packages present"
    return 0
  fi
  if [[ $EUID -ne 0 ]]; then
    echo "$who: missing packages (run as root: apt-get install ${missing[*]}): ${missing[*]}" >&2
    return 1
  fi
  echo "$who: installing ${missing[*]}"
  log=$(mktemp)
  if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
    --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    rm -f "$log"
    echo "$who: apt-get failed for: ${missing[*]}" >&2
    return 1
  fi
  rm -f "$log"
  echo "$who: installed ${missing[*]}"
}
