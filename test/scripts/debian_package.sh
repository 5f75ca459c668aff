#!/usr/bin/env bash
# test/scripts/debian_package.sh: the Debian package (debian/, issue 16) and
# META.json. Builds postgresql-15-contact-identity with dpkg-buildpackage in a
# copy of the tree, checks it holds the .so, the control file and every SQL
# script, runs lintian (its findings are shown; errors fail), then installs it
# with apt into a clean Debian 12 chroot (apt fetches PostgreSQL 15 and the
# libraries: the dependencies are declared right), starts a server there and
# plays demo/demo.sql with checks of what it prints and leaves, and the
# autopkgtest debian/tests/demo. Also checks that META.json is valid and its
# version is the control file's default_version and debian/changelog's.
# As root (debootstrap, chroot). The clean chroot is cached in
# $CONTACT_IDENTITY_CHROOT (default /var/tmp/contact_identity-chroot-bookworm)
# and copied for each run, so that every run installs into an untouched system.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/lib.sh"
source "$root/scripts/chroot.sh"

if [[ $EUID -ne 0 ]]; then
  echo "debian_package: needs root (apt-get, debootstrap, chroot)"
  exit 77
fi
# The package under test is Debian 12's, for its PostgreSQL 15: the run on
# PostgreSQL 17 (test/run-pg17, in a Debian 13 chroot) leaves it to the
# run on the host.
source "$root/scripts/versions.sh"
if [[ $(_debian_release) != 12 || $(pg_major) != 15 ]]; then
  echo "debian_package: the package is tested on Debian 12 with PostgreSQL 15 (here: Debian $(_debian_release), PostgreSQL $(pg_major)); see the run of bash test/run on the host"
  exit 77
fi
cache=${CONTACT_IDENTITY_CHROOT:-/var/tmp/contact_identity-chroot-bookworm}
port=56210 # the server in the chroot (unix socket only)
vport=56211 # pg_virtualenv's server of the autopkgtest (localhost)
failures=0
work='' jail='' deb='' # set by make_tmpdir, prepare_chroot, build_package
fail() { echo "debian_package: FAIL: $*" >&2; failures=$((failures + 1)); }
step() { printf '%s debian_package: %s\n' "$(date -u +%T)" "$*"; }

# host_tools: installs what building and checking the package needs, if missing.
host_tools() {
  apt_install_missing debian_package build-essential dpkg-dev debhelper fakeroot postgresql-server-dev-all \
    lintian debootstrap libphonenumber-dev libidn2-dev libicu-dev pkg-config
}

# check_versions: META.json is valid JSON (meta-spec 1.0.0) and names one
# version everywhere: its own, its provides entry, the control file's
# default_version and the upstream part of debian/changelog's version.
check_versions() {
  local meta control changelog
  meta=$(perl -MJSON::PP -e 'local $/; my $m = decode_json(<STDIN>);
    my $p = $m->{provides}{contact_identity} or die "no provides.contact_identity\n";
    $m->{"meta-spec"}{version} eq "1.0.0" or die "meta-spec is not 1.0.0\n";
    $m->{name} eq "contact_identity" or die "name is not contact_identity\n";
    $p->{version} eq $m->{version} or die "provides version $p->{version} is not $m->{version}\n";
    print "$m->{version} $p->{file}\n"' <"$root/META.json") ||
    { fail "META.json: not valid JSON or not the expected fields"; return; }
  control=$(sed -nE "s/^default_version *= *'([^']*)'.*/\1/p" "$root/contact_identity.control")
  changelog=$(dpkg-parsechangelog -l "$root/debian/changelog" -S Version)
  echo "versions: META.json ${meta%% *}, contact_identity.control $control, debian/changelog $changelog"
  [[ ${meta%% *} == "$control" ]] ||
    fail "META.json's version ${meta%% *} is not contact_identity.control's default_version $control"
  [[ ${changelog%-*} == "$control" ]] ||
    fail "debian/changelog's version $changelog is not contact_identity.control's default_version $control"
  [[ -e "$root/${meta#* }" ]] || fail "META.json provides file ${meta#* }, which is not in the tree"
}

# expected_files: the files the package must install, one a line: the
# module, the control file and every script of the Makefile's DATA.
expected_files() {
  echo "/usr/lib/postgresql/15/lib/contact_identity.so"
  echo "/usr/share/postgresql/15/extension/contact_identity.control"
  make -s --no-print-directory -C "$root" -f Makefile -f - print-data <<<'print-data: ; @echo $(DATA)' |
    tr ' ' '\n' | sed '/^$/d; s|^|/usr/share/postgresql/15/extension/|'
}

# build_package: dpkg-buildpackage -b in a copy of the tree; sets deb.
build_package() {
  local version arch
  copy_tree "$root" "$work/src"
  step "dpkg-buildpackage -us -uc -b"
  (cd "$work/src" && dpkg-buildpackage -us -uc -b -J"$(nproc)") >"$work/build.log" 2>&1 ||
    { grep -m 20 -A4 -E ': (fatal )?error|undefined reference|^dpkg-|^make.*\*\*\*' "$work/build.log" >&2; return 1; }
  version=$(dpkg-parsechangelog -l "$root/debian/changelog" -S Version)
  arch=$(dpkg --print-architecture)
  deb=$work/postgresql-15-contact-identity_${version}_$arch.deb
  [[ -f $deb ]] || { ls "$work" >&2; fail "dpkg-buildpackage made no $(basename "$deb")"; return 1; }
  echo "built: $(cd "$work" && ls -- *.deb | tr '\n' ' ')"
}

# run_lintian: shows lintian's findings on the build; an error fails.
run_lintian() {
  local out
  out=$(cd "$work" && lintian --tag-display-limit 0 ./*.changes 2>&1 | grep -v 'running with root privileges') || true
  echo "lintian: ${out:-no findings}"
  ! grep -q '^E: ' <<<"$out" || fail "lintian reports errors"
}

# prepare_chroot: the cached clean Debian 12 (made if missing, with the
# security and updates suites a Debian 12 install has: the package depends on
# at least the PostgreSQL minor release it was built against), copied to $jail.
prepare_chroot() {
  chroot_make "$cache" bookworm
  if [[ ! -e "$cache/.contact_identity-sources" ]]; then
    cat >"$cache/etc/apt/sources.list" <<'LIST'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
LIST
    touch "$cache/.contact_identity-sources"
  fi
  jail=$(mktemp -d /var/tmp/contact_identity-jail.XXXXXX)
  # Registered before chroot_mount: runs after its unmounts; never removes
  # through a mount that is left.
  on_exit "if findmnt -rn -o TARGET | grep -q '^$jail/'; then echo 'debian_package: $jail still has mounts, left' >&2; else rm -rf --one-file-system '$jail'; fi"
  cp -a "$cache/." "$jail/"
  cp /etc/resolv.conf "$jail/etc/resolv.conf"
  chroot_mount "$jail"
}

# install_package: apt-get installs the package file in the chroot.
install_package() {
  mkdir -p "$jail/tmp/pkg"
  cp "$deb" "$jail/tmp/pkg/"
  step "apt-get install ./$(basename "$deb") in the chroot"
  chroot_run "$jail" sh -c 'apt-get update && apt-get install -y --no-install-recommends "$1"' \
    sh "/tmp/pkg/$(basename "$deb")" >"$work/chroot-apt.log" 2>&1 ||
    { tail -n 30 "$work/chroot-apt.log" >&2; fail "apt-get could not install the package in a clean Debian 12"; return 1; }
  echo "Depends: $(dpkg-deb -f "$deb" Depends)"
  # apt must have pulled the server in: the package declares it.
  chroot_run "$jail" dpkg-query -W -f='chroot: installed ${Package} ${Version}\n' postgresql-15 ||
    { fail "installing the package did not install postgresql-15"; return 1; }
}

# check_installed: dpkg -L lists every expected file; the extension's SQL
# scripts in the chroot are the tree's ones (no more, no fewer).
check_installed() {
  local listed f n=0
  listed=$(chroot_run "$jail" dpkg -L postgresql-15-contact-identity)
  while read -r f; do
    n=$((n + 1))
    grep -qxF "$f" <<<"$listed" || fail "dpkg -L does not list $f"
  done < <(expected_files)
  diff <(cd "$root" && ls contact_identity--*.sql) \
    <(cd "$jail/usr/share/postgresql/15/extension" && ls contact_identity--*.sql) ||
    fail "the SQL scripts installed are not the tree's (left: tree, right: installed)"
  echo "dpkg -L: all $n expected files listed"
}

# pg OPTIONS...: psql as postgres on the chroot's server.
pg() { chroot_run "$jail" runuser -u postgres -- psql -X -h /tmp -p "$port" -v ON_ERROR_STOP=1 "$@"; }

# start_server: initdb and start a server as postgres in the chroot.
start_server() {
  local bin=/usr/lib/postgresql/15/bin
  chroot_run "$jail" runuser -u postgres -- "$bin/initdb" -A trust -E UTF8 --no-locale -N \
    -D /tmp/ci_data >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log" >&2; return 1; }
  printf "listen_addresses = ''\nunix_socket_directories = '/tmp'\nport = %s\nfsync = off\n" "$port" \
    >>"$jail/tmp/ci_data/postgresql.conf"
  on_exit "chroot_run '$jail' runuser -u postgres -- $bin/pg_ctl -D /tmp/ci_data -m immediate stop >/dev/null 2>&1"
  chroot_run "$jail" runuser -u postgres -- "$bin/pg_ctl" -D /tmp/ci_data -l /tmp/ci_data.log -w start \
    >/dev/null || { cat "$jail/tmp/ci_data.log" >&2; return 1; }
}

# check_demo: plays demo/demo.sql and checks what it shows and leaves.
check_demo() {
  local out state want
  cp "$root/demo/demo.sql" "$jail/tmp/demo.sql"
  pg -q -d postgres -c 'CREATE DATABASE contact_identity_demo'
  step "demo/demo.sql in the chroot"
  out=$(pg -d contact_identity_demo -f /tmp/demo.sql 2>&1) || { echo "$out" | tail -n 20 >&2; fail "demo/demo.sql failed"; return; }
  echo "demo: $(wc -l <<<"$out") lines of output"
  grep -q 'NOTICE:  caught unique_violation' <<<"$out" || fail "demo: no unique_violation caught in step 3.3"
  ! grep -q 'no error: this should not happen' <<<"$out" || fail "demo: step 3.3 raised no error"
  # What the demo leaves: the contacts in order of creation (1 the app user, 2
  # the website's, 3 the call centre's, unmerged again), the push token and the
  # cookie on theirs, every decision of identity_log, the cookie's page views
  # now the website contact's.
  state=$(pg -At -d contact_identity_demo 2>&1 <<'SQL'
SELECT 'extension ' || extversion FROM pg_extension WHERE extname = 'contact_identity';
SELECT 'contact ' || concat_ws(' ', row_number() OVER (ORDER BY contact_id), external_id, email, phone,
         first_name, last_name, merged_into IS NOT NULL, deleted_at IS NOT NULL, attributes)
FROM contact_identity.contacts ORDER BY contact_id;
SELECT 'identifier ' || concat_ws(' ', i.type, i.value, c.n)
FROM contact_identity.identifiers i
LEFT JOIN (SELECT contact_id, row_number() OVER (ORDER BY contact_id) AS n FROM contact_identity.contacts) c
  USING (contact_id)
WHERE i.type IN ('mobile_push', 'cookie') ORDER BY i.type, i.value;
SELECT 'log ' || string_agg(action, ',' ORDER BY log_id) FROM contact_identity.identity_log;
SELECT 'events ' || count(*) FROM contact_identity.contact_events(
  contact_id => (SELECT contact_id FROM contact_identity.contacts WHERE external_id = 'web-user-2002'));
SQL
  )
  want=$(
    cat <<WANT
extension $(sed -nE "s/^default_version *= *'([^']*)'.*/\1/p" "$root/contact_identity.control")
contact 1 app-user-1001 olena.koval@example.com +380501234567 Olena Koval f f {"last_login": "2024-05-01", "app_version": "2.4.1"}
contact 2 web-user-2002 petro@example.org Petro f f {"newsletter": true}
contact 3 +380675550199 Ivan f f {}
identifier cookie ck-9b1e77 2
identifier mobile_push tok-android-5f3a 1
log created,updated,updated,remembered,created,created,merged_into,merged,unmerged,deleted,restored
events 2
WANT
  )
  if diff <(echo "$want") <(echo "$state"); then
    echo "demo: as expected: the extension's version, $(grep -c '^contact ' <<<"$state") contacts, their identifiers, the log's decisions, the events"
  else
    fail "demo: what the demo left is not what it should (left: expected, right: in the chroot)"
  fi
}

# check_autopkgtest: runs debian/tests/demo as autopkgtest would, in a copy of the tree.
check_autopkgtest() {
  local out
  copy_tree "$root" "$jail/tmp/src"
  step "autopkgtest debian/tests/demo in the chroot"
  out=$(chroot_run "$jail" sh -c 'cd /tmp/src && PGPORT=$1 sh debian/tests/demo' sh "$vport" 2>&1) ||
    { echo "$out" | tail -n 20 >&2; fail "debian/tests/demo failed"; return; }
  grep -q 'NOTICE:  caught unique_violation' <<<"$out" || fail "debian/tests/demo: the demo did not run to step 3.3"
  echo "autopkgtest demo: passed ($(wc -l <<<"$out") lines)"
}

started=$SECONDS
make_tmpdir work
host_tools
check_versions
build_package
run_lintian
prepare_chroot
step "chroot ready"
if install_package; then
  check_installed
  if start_server; then
    check_demo
    check_autopkgtest
  else
    fail "the server did not start in the chroot"
  fi
fi
echo "debian_package: $((SECONDS - started)) s, $failures failure(s)"
[[ $failures -eq 0 ]]
