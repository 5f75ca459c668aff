#!/usr/bin/env bash
# test/scripts/identity_graph.sh: Graphviz draws the identity graphs of the
# seed's two cases (demo/demo.sql: the mobile app's contact, merged with a
# call-centre profile and unmerged again, and the website's contact, whose
# cookie brought its browsing history). `dot -Tsvg` must accept each DOT
# graph without a warning and the SVG must show the contact's identifiers;
# the Mermaid form must be lines Mermaid reads (nodes, edges, styles, every
# label one quoted string); a value full of quotes, backslashes and angle
# brackets must come out of dot as written; every contact of a database
# 0.4.0 populated (rows of the old shape, test/fixtures/populated-0.4.0.sql)
# is drawn after the update, and dot accepts each graph.
#   --docs DIR  also writes identity-graph-{app,web}.{dot,mmd,svg} into DIR
#               (docs/identity-graph.md shows them)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/cluster.sh"

docs=
[[ ${1:-} != --docs ]] || docs=$(cd "${2:?--docs needs a directory}" && pwd)
fail() { echo "identity_graph: FAIL: $*" >&2; exit 1; }
command -v dot >/dev/null || fail "dot (Debian package graphviz) is missing: run scripts/ensure-deps"

cluster_start
db=ci_graph_$$
make_tmpdir work
cluster_databases "$db"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
psql -X -v ON_ERROR_STOP=1 -d "$db" -f "$root/demo/demo.sql" >"$work/demo.log" 2>&1 ||
  { tail -n 30 "$work/demo.log"; fail "demo/demo.sql failed"; }

# check_graph NAME CONTACT EXPECTED...: renders the contact's graph; each
# EXPECTED text must appear in the SVG.
check_graph() {
  local name=$1 contact=$2 text
  shift 2
  # $(...) drops the line break psql adds after the graph's own last one
  printf '%s\n' "$(q -c "SELECT contact_identity.explain_contact($contact, 0, 'dot')")" >"$work/$name.dot"
  printf '%s\n' "$(q -c "SELECT contact_identity.explain_contact($contact, 0, 'mermaid')")" >"$work/$name.mmd"
  dot -Tsvg "$work/$name.dot" -o "$work/$name.svg" 2>"$work/$name.err" ||
    { cat "$work/$name.err"; fail "dot refused the graph of $name (contact $contact)"; }
  [[ ! -s "$work/$name.err" ]] || { cat "$work/$name.err"; fail "dot warned about the graph of $name"; }
  for text in "$@"; do
    grep -qF -- "$text" "$work/$name.svg" || fail "the SVG of $name does not show '$text'"
  done
  check_mermaid "$work/$name.mmd" "$name"
  echo "ok: $name (contact $contact): dot drew $(grep -c '<g id="node' "$work/$name.svg") nodes and $(grep -c '<g id="edge' "$work/$name.svg") edges; Mermaid $(wc -l <"$work/$name.mmd") lines"
  if [[ -n $docs && $name != odd ]]; then
    cp "$work/$name.dot" "$docs/identity-graph-$name.dot"
    cp "$work/$name.mmd" "$docs/identity-graph-$name.mmd"
    cp "$work/$name.svg" "$docs/identity-graph-$name.svg"
  fi
}

# check_mermaid FILE NAME: every line is a header, a node, an edge or a
# style, and every label one quoted string without a quote inside.
check_mermaid() {
  local label='"[^"]*"' line n=0
  local node="^  [cie][0-9]+(\[$label\]|\(\[$label\]\)|\[/$label/\])$"
  local edge="^  [cie][0-9]+ -(->|\.->)(\|$label\|)? [cie][0-9]+$"
  local style='^  (style c[0-9]+ stroke-width:3px|classDef gone stroke-dasharray: 5 5|class [cie][0-9]+(,[cie][0-9]+)* gone)$'
  while IFS= read -r line; do
    n=$((n + 1))
    [[ $n -eq 1 && $line == 'flowchart LR' ]] && continue
    [[ $line =~ $node || $line =~ $edge || $line =~ $style ]] || fail "Mermaid of $2, line $n: $line"
  done <"$1"
}

app=$(q -c "SELECT contact_id FROM contact_identity.resolve_contact(external_id => 'app-user-1001')")
web=$(q -c "SELECT contact_id FROM contact_identity.resolve_contact(external_id => 'web-user-2002')")
check_graph app "$app" 'mobile_push: tok&#45;android&#45;5f3a' 'email: olena.koval@example.com' \
  'phone: +380675550199' 'unmerged, gave back' 'merged by merge_contacts'
check_graph web "$web" 'cookie: ck&#45;9b1e77' 'first seen' '2 event(s)' 'anonymous history' 'restored'

# Quotes, backslashes, a backslash-n and markup in a value: dot shows them
# as written, on one line.
odd='odd "1" \n #2 <b>&amp;'
odd_contact=$(q -v odd="$odd" <<'SQL'
SELECT contact_id FROM contact_identity.upsert_contact(external_id => :'odd', identifiers => '{"telegram": "a\\\"b"}')
SQL
)
check_graph odd "$odd_contact" 'external_id: odd &quot;1&quot; \n #2 &lt;b&gt;&amp;amp;' 'telegram: a\&quot;b'

# Rows of the old shape, after ALTER EXTENSION UPDATE.
old_db=ci_graph_old_$$
cluster_databases "$old_db"
psql -X -q -v ON_ERROR_STOP=1 -d "$old_db" -c "SET client_min_messages = warning" \
  -f "$root/test/fixtures/populated-0.4.0.sql" -c "ALTER EXTENSION contact_identity UPDATE" >"$work/old.log" 2>&1 ||
  { tail -n 30 "$work/old.log"; fail "loading and updating the 0.4.0 fixture failed"; }
n=0
while read -r account contact; do
  psql -X -q -At -v ON_ERROR_STOP=1 -d "$old_db" \
    -c "SELECT contact_identity.explain_contact($contact, $account, 'dot')" >"$work/old.dot" ||
    fail "no graph of contact $contact in account $account of the 0.4.0 fixture"
  dot -Tsvg "$work/old.dot" -o /dev/null 2>"$work/old.err" && [[ ! -s "$work/old.err" ]] ||
    { cat "$work/old.err" "$work/old.dot"; fail "dot refused contact $contact of account $account (0.4.0 fixture)"; }
  n=$((n + 1))
done < <(psql -X -q -At -F ' ' -d "$old_db" -c "SELECT account_id, contact_id FROM contact_identity.contacts ORDER BY 1, 2")
[[ $n -gt 10 ]] || fail "the 0.4.0 fixture gave only $n contacts"
echo "ok: dot drew all $n contacts of the 0.4.0 fixture after the update"
echo "identity_graph: PASS"
