#!/usr/bin/env bash
# test/scripts/node_example.sh: examples/node runs against a fresh database.
# setup.sql (as a superuser) makes a login role with a writer grant on
# account 42; the example then connects as that role, plays the mobile and
# website cases and the errors 23505, 22023 and 42501, and checks every
# result itself (exit 1 on the first wrong one). The npm packages come from
# package-lock.json (npm ci) into a temporary copy of the example; nothing
# else is downloaded. Without node or npm it says so and exits 77, which
# test/run lists as skipped.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/cluster.sh"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "node_example: SKIPPED: $tool is not installed (Debian: apt-get install nodejs npm); nothing was checked, exit 77"
    exit 77
  fi
done
fail() { echo "node_example: FAIL: $*" >&2; exit 1; }

# The packages first: a failed npm ci needs no server.
make_tmpdir app
copy_tree "$root/examples/node" "$app"
echo "node $(node --version), npm $(npm --version): npm ci in a copy of examples/node"
(cd "$app" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) || fail "npm ci failed"

cluster_start
db=ci_node_example_$$
role=ci_node_app_$$
# Registered before the database, so it runs after the database is dropped.
on_exit "psql -X -q -d postgres -c 'DROP ROLE IF EXISTS $role' >/dev/null 2>&1"
cluster_databases "$db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -v app_role="$role" -f "$app/setup.sql" >/dev/null ||
  fail "setup.sql failed"

(cd "$app" && PGDATABASE=$db PGUSER=$role npm start --silent) || fail "the example failed (output above)"
echo "node_example: PASS"
