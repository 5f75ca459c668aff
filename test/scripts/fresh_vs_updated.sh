#!/usr/bin/env bash
# test/scripts/fresh_vs_updated.sh: a fresh install of the current version
# (contact_identity--X.Y.Z.sql) and an install of 0.1.0 updated through every
# update script are the same extension: the same member objects, each
# defined the same way (pg_dump of both, members detached), the same
# privileges (ACLs, pg_init_privs, the three roles and their memberships),
# the same configuration tables for pg_dump and the same built-in rows.
# Prints a unified diff and fails on any difference. It first proves that
# the comparison sees one changed function body and one revoked grant.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/cluster.sh"
fail() { echo "fresh_vs_updated: FAIL: $*" >&2; exit 1; }

cluster_start
make_tmpdir work
fresh=ci_fresh_$$ updated=ci_updated_$$ probe=ci_probe_$$
cluster_databases "$fresh" "$updated"
# q DB ARGS...: psql on database DB, unaligned, stopping at the first error.
q() { local db=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
latest=$(sed -n "s/^default_version = '\(.*\)'$/\1/p" "$root/contact_identity.control")
# Without its full script CREATE EXTENSION would run the updates too.
full=$(pg_config --sharedir)/extension/contact_identity--$latest.sql
[[ -f $full ]] || fail "$full is not installed: no full install script of $latest"

q "$fresh" -c "SET client_min_messages = warning" -c "CREATE EXTENSION contact_identity" ||
  fail "CREATE EXTENSION contact_identity failed"
q "$updated" -c "SET client_min_messages = warning" -c "CREATE EXTENSION contact_identity VERSION '0.1.0'" \
  -c "ALTER EXTENSION contact_identity UPDATE" || fail "CREATE EXTENSION 0.1.0 and the updates failed"
for db in "$fresh" "$updated"; do
  v=$(q "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'contact_identity'")
  [[ $v == "$latest" ]] || fail "database $db has contact_identity $v, not $latest"
done
echo "ok: a fresh install and an install updated from 0.1.0 are both at $latest"

# The catalog facts pg_dump of the detached members does not show: the
# extension's own records, raw ACLs (pg_dump prints them relative to
# pg_init_privs) and the rows shipped with it.
# catalog DB: those facts of DB, one row per line.
catalog() {
  q "$1" <<'SQL'
WITH ext AS (SELECT oid, * FROM pg_extension WHERE extname = 'contact_identity')
SELECT 'extension', extversion, extrelocatable, extnamespace::regnamespace FROM ext;
SELECT 'config', c.relid::regclass, c.condition
FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS c(relid, condition)
WHERE e.extname = 'contact_identity' ORDER BY c.relid::regclass::text;
SELECT 'member', pg_describe_object(d.classid, d.objid, d.objsubid)
FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND e.extname = 'contact_identity' ORDER BY 2;
-- Each ACL as its sorted items: the order of the grants made is no privilege.
CREATE TEMP VIEW members AS
SELECT d.classid, d.objid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND e.extname = 'contact_identity';
CREATE FUNCTION pg_temp.acl(a aclitem[]) RETURNS text LANGUAGE sql
AS $$ SELECT COALESCE((SELECT string_agg(x::text, ' ' ORDER BY x::text) FROM unnest(a) x), 'default') $$;
SELECT 'init_privs', pg_describe_object(i.classoid, i.objoid, i.objsubid), i.privtype, pg_temp.acl(i.initprivs)
FROM pg_init_privs i JOIN members m ON m.classid = i.classoid AND m.objid = i.objoid ORDER BY 2, 3;
SELECT 'acl schema', n.nspname, pg_temp.acl(n.nspacl), n.nspowner::regrole
FROM pg_namespace n WHERE n.nspname IN ('contact_identity', 'contact_identity_segments') ORDER BY 2;
SELECT 'acl relation', c.oid::regclass, c.relkind, pg_temp.acl(c.relacl), c.relowner::regrole
FROM pg_class c WHERE c.relnamespace = 'contact_identity'::regnamespace ORDER BY c.oid::regclass::text;
SELECT 'acl column', c.oid::regclass, a.attname, pg_temp.acl(a.attacl)
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
WHERE c.relnamespace = 'contact_identity'::regnamespace AND a.attacl IS NOT NULL ORDER BY c.oid::regclass::text, 3;
SELECT 'acl routine', p.oid::regprocedure, pg_temp.acl(p.proacl), p.proowner::regrole, p.prosecdef
FROM pg_proc p WHERE p.pronamespace = 'contact_identity'::regnamespace ORDER BY p.oid::regprocedure::text;
SELECT 'acl type', t.oid::regtype, pg_temp.acl(t.typacl)
FROM pg_type t WHERE t.typnamespace = 'contact_identity'::regnamespace AND t.typacl IS NOT NULL ORDER BY t.oid::regtype::text;
SELECT 'role', r.rolname, r.rolcanlogin, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb,
       r.rolreplication, r.rolbypassrls, shobj_description(r.oid, 'pg_authid')
FROM pg_roles r WHERE r.rolname LIKE 'contact\_identity\_%' ORDER BY 2;
SELECT 'membership', m.roleid::regrole, m.member::regrole, m.admin_option
FROM pg_auth_members m WHERE m.roleid::regrole::text LIKE 'contact\_identity\_%'
   OR m.member::regrole::text LIKE 'contact\_identity\_%' ORDER BY m.roleid::regrole::text, m.member::regrole::text;
SELECT 'identifier_types', t.* FROM contact_identity.identifier_types t ORDER BY t.name;
SELECT 'blocked_values', b.* FROM contact_identity.blocked_values b ORDER BY b.blocked_id;
SELECT 'sequence', s.seqrelid::regclass, s.seqstart, s.seqmin, s.seqmax, s.seqincrement, s.seqcycle,
       pg_sequence_last_value(s.seqrelid)
FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
WHERE c.relnamespace = 'contact_identity'::regnamespace ORDER BY s.seqrelid::regclass::text;
SQL
}

# Every member as pg_dump writes it: in a copy of the database, each member
# is detached from the extension (pg_dump of an extension writes only
# CREATE EXTENSION), then the two schemas are dumped.
# schema DB: the dump of the members of DB, detached in a copy of it.
schema() {
  local copy=$1_members
  psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $copy TEMPLATE $1" >/dev/null
  on_exit "psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS $copy' >/dev/null 2>&1"
  q "$copy" >/dev/null <<'SQL'
DO $$
DECLARE
    o record;
BEGIN
    FOR o IN SELECT i.type, i.identity, d.classid, d.objid, d.refobjid
             FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
             CROSS JOIN LATERAL pg_identify_object(d.classid, d.objid, d.objsubid) i
             WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
               AND e.extname = 'contact_identity'
               -- From PostgreSQL 17 the row type of a table or view, and its
               -- array type, are members too; they leave the extension with
               -- their relation (a CREATE TYPE composite is detached itself).
               AND NOT EXISTS (SELECT FROM pg_type t LEFT JOIN pg_type el ON el.oid = t.typelem
                               JOIN pg_class r ON r.oid = COALESCE(NULLIF(t.typrelid, 0), el.typrelid)
                               WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid
                                 AND r.relkind <> 'c')
    LOOP
        -- Skip what has gone with an object detached before it.
        IF EXISTS (SELECT FROM pg_depend m
                   WHERE m.classid = o.classid AND m.objid = o.objid AND m.refobjid = o.refobjid
                     AND m.refclassid = 'pg_extension'::regclass AND m.deptype = 'e') THEN
            EXECUTE format('ALTER EXTENSION contact_identity DROP %s %s', o.type, o.identity);
        END IF;
    END LOOP;
END
$$;
SQL
  pg_dump --schema-only -n contact_identity -n contact_identity_segments -d "$copy" |
    grep -v -e '^-- Dumped from' -e '^-- Dumped by' -e '^\\restrict ' -e '^\\unrestrict '
}

# describe DB: all that is compared of DB.
describe() { catalog "$1" && schema "$1"; }

# The comparison must see a difference: one function body and one grant
# changed in a copy of the fresh install.
describe "$fresh" >"$work/fresh"
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $probe TEMPLATE $fresh" >/dev/null
on_exit "psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS $probe' >/dev/null 2>&1"
q "$probe" -c "REVOKE EXECUTE ON FUNCTION contact_identity.segment_count(text) FROM contact_identity_reader" \
  -c "CREATE OR REPLACE FUNCTION contact_identity.mermaid_quote(value text) RETURNS text
      LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
      AS \$\$ SELECT '\"' OPERATOR(pg_catalog.||) value OPERATOR(pg_catalog.||) '\"' \$\$"
describe "$probe" >"$work/probe"
sed -i "s/$probe/$fresh/g" "$work/probe"
probe_diff=$(diff "$work/fresh" "$work/probe" || true)
grep -q '^[<>] acl routine|contact_identity.segment_count' <<<"$probe_diff" ||
  fail "the comparison did not see a revoked EXECUTE on segment_count"
grep -qF "AS \$\$ SELECT '\"' OPERATOR(pg_catalog.||) value OPERATOR(pg_catalog.||) '\"' \$\$;" <<<"$probe_diff" ||
  fail "the comparison did not see a changed body of mermaid_quote"
echo "ok: the comparison sees a changed function body and a revoked grant"

describe "$updated" >"$work/updated"
sed -i "s/$updated/$fresh/g" "$work/updated"
# count SQL: a figure of the fresh install, for the summary.
count() { q "$fresh" -c "$1"; }
n_fn=$(count "SELECT count(*) FROM pg_proc WHERE pronamespace = 'contact_identity'::regnamespace")
n_rel=$(count "SELECT string_agg(n || ' ' || k, ', ' ORDER BY k) FROM (SELECT count(*) n, CASE relkind
                 WHEN 'r' THEN 'tables' WHEN 'v' THEN 'views' WHEN 'S' THEN 'sequences' WHEN 'i' THEN 'indexes'
                 ELSE 'other relations' END k FROM pg_class c
                 WHERE c.relnamespace = 'contact_identity'::regnamespace AND relkind <> 'c' GROUP BY 2) x")
n_con=$(count "SELECT count(*) FROM pg_constraint WHERE connamespace = 'contact_identity'::regnamespace")
n_trg=$(count "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
               WHERE c.relnamespace = 'contact_identity'::regnamespace")
n_pol=$(count "SELECT count(*) FROM pg_policies WHERE schemaname = 'contact_identity'")
n_mem=$(grep -c '^member|' "$work/fresh")
if ! diff -u --label "updated from 0.1.0" --label "fresh $latest" "$work/updated" "$work/fresh"; then
  fail "a fresh install of $latest differs from 0.1.0 updated to $latest (diff above: - updated, + fresh)"
fi
echo "ok: $n_mem members, $n_fn functions and procedures, $n_rel, $n_con constraints, $n_trg triggers," \
  "$n_pol policies; their ACLs, init privileges, roles, config tables and built-in rows: identical" \
  "($(wc -l <"$work/fresh") lines compared)"
echo "fresh_vs_updated: PASS"
