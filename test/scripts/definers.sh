#!/usr/bin/env bash
# test/scripts/definers.sh: the functions of a fresh install that are
# SECURITY DEFINER are exactly those docs/security.md lists (between its
# "definers" markers), each with search_path pinned to pg_catalog, pg_temp.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/cluster.sh"

cluster_start
db=ci_definers_$$
cluster_databases "$db"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
fail() { echo "definers: FAIL: $*" >&2; exit 1; }

documented=$(sed -n '/<!-- definers: begin -->/,/<!-- definers: end -->/p' "$root/docs/security.md" |
  sed -nE 's/^\| `([a-z_]+)` \|.*/\1/p' | sort)
[[ -n $documented ]] || fail "no list between the definers markers of docs/security.md"
q -c "SET client_min_messages = warning" -c "CREATE EXTENSION contact_identity" >/dev/null
installed=$(q -c "SELECT DISTINCT proname FROM pg_proc WHERE pronamespace = 'contact_identity'::regnamespace AND prosecdef ORDER BY 1" | sort)
unpinned=$(q -c "SELECT string_agg(proname, ', ') FROM pg_proc WHERE pronamespace = 'contact_identity'::regnamespace
                 AND prosecdef AND NOT 'search_path=pg_catalog, pg_temp' = ANY (coalesce(proconfig, '{}'))")
if [[ $documented != "$installed" ]]; then
  diff <(echo "$documented") <(echo "$installed") | sed -n 's/^< /documented, not a definer: /p; s/^> /a definer, not documented: /p' >&2
  fail "the SECURITY DEFINER functions differ from docs/security.md"
fi
[[ -z $unpinned ]] || fail "SECURITY DEFINER without search_path = pg_catalog, pg_temp: $unpinned"
echo "ok: $(wc -l <<<"$installed") SECURITY DEFINER functions, as docs/security.md lists, each with its search_path"
echo "definers: PASS"
