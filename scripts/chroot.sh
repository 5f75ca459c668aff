# scripts/chroot.sh: Debian chroots, to build and test on another Debian release
# than the host's (source it, do not run it; as root).
#   chroot_make DIR SUITE [PKG...]  debootstrap SUITE (bookworm, trixie) at DIR
#                                   unless done already, then install PKG...
#   chroot_mount DIR                mount proc, dev, dev/pts, dev/shm, sys in DIR,
#                                   unmounted on exit (on_exit)
#   chroot_run DIR CMD...           run CMD in DIR as root, with a clean environment
# shellcheck shell=bash

# lib.sh resets the on_exit list: source it only if the caller has not.
declare -F on_exit >/dev/null || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

_chroot_mirror=http://deb.debian.org/debian

# chroot_make DIR SUITE [PKG...]: makes (or reuses) a chroot of SUITE at DIR
# and installs the packages of PKG that are not installed yet.
chroot_make() {
  local dir suite=$2 log
  dir=$(realpath -m "$1")
  shift 2
  # .chroot-suite is written last; .chroot-partial marks a debootstrap that
  # did not finish, which is started again (debootstrap does not resume reliably).
  if [[ "$(cat "$dir/.chroot-suite" 2>/dev/null)" != "$suite" ]]; then
    if [[ -e "$dir/.chroot-suite" ]]; then
      echo "chroot_make: $dir is a chroot of $(cat "$dir/.chroot-suite"), not $suite" >&2
      return 1
    fi
    if findmnt -rn -o TARGET | grep -q "^$dir/"; then
      echo "chroot_make: $dir has file systems mounted in it" >&2
      return 1
    fi
    command -v debootstrap >/dev/null || apt_install_missing chroot_make debootstrap || return 1
    if [[ -e "$dir/.chroot-partial" ]]; then rm -rf "$dir"; fi
    if [[ $dir == / || -n "$(ls -A "$dir" 2>/dev/null)" ]]; then
      echo "chroot_make: $dir is not empty and not a chroot made here" >&2
      return 1
    fi
    echo "chroot_make: debootstrap $suite into $dir"
    mkdir -p "$dir"
    touch "$dir/.chroot-partial"
    log=$(mktemp)
    if ! debootstrap --variant=minbase "$suite" "$dir" "$_chroot_mirror" >"$log" 2>&1; then
      tail -n 30 "$log" >&2
      rm -f "$log"
      echo "chroot_make: debootstrap $suite failed" >&2
      return 1
    fi
    rm -f "$log"
    # Package scripts must not start services (a server on the host's ports).
    printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
    chmod 755 "$dir/usr/sbin/policy-rc.d"
    echo "$suite" >"$dir/.chroot-suite"
    rm "$dir/.chroot-partial"
  fi
  [[ $# -gt 0 ]] || return 0
  local p missing=()
  for p in "$@"; do
    chroot_run "$dir" dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$p")
  done
  [[ ${#missing[@]} -gt 0 ]] || return 0
  echo "chroot_make: installing in $dir: ${missing[*]}"
  cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
  chroot_mount "$dir"
  log=$(mktemp)
  if ! chroot_run "$dir" sh -c 'apt-get update && apt-get install -y --no-install-recommends "$@"' \
    apt-get "${missing[@]}" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    rm -f "$log"
    echo "chroot_make: apt-get install failed in $dir: ${missing[*]}" >&2
    return 1
  fi
  rm -f "$log"
}

# chroot_mount DIR: mounts what apt and servers need in DIR (idempotent); each
# is unmounted when the script exits, in the reverse order.
chroot_mount() {
  local dir target
  dir=$(realpath -m "$1")
  for target in proc dev dev/pts dev/shm sys; do
    mountpoint -q "$dir/$target" && continue
    mkdir -p "$dir/$target"
    case $target in
      proc) mount -t proc proc "$dir/proc" ;;
      dev | dev/pts) mount --bind "/$target" "$dir/$target" ;;
      dev/shm) mount -t tmpfs -o mode=1777 shm "$dir/dev/shm" ;; # PostgreSQL's shared memory
      sys) mount -t sysfs sys "$dir/sys" ;;
    esac || return 1
    # Lazy when busy (a process still running in it): unmounted once it ends.
    on_exit "umount '$dir/$target' 2>/dev/null || umount -l '$dir/$target'"
  done
}

# chroot_run DIR CMD...: runs CMD in DIR as root, with only PATH, LANG, HOME,
# TERM and DEBIAN_FRONTEND set (no host PG* variables).
chroot_run() {
  local dir=$1
  shift
  env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root \
    TERM="${TERM:-dumb}" DEBIAN_FRONTEND=noninteractive chroot "$dir" "$@"
}
