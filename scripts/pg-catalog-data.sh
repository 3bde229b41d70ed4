#!/usr/bin/env bash
# Regenerates src/pg_catalog/data/ from a real PostgreSQL 15: the column lists of the
# pg_catalog and information_schema relations lakeport serves, and the rows of the static
# catalogs (pg_type, pg_am, pg_range, pg_collation, pg_tablespace) that describe
# PostgreSQL itself. Facts only: names, types and OIDs, as PostgreSQL reports them.
#
#   scripts/pg-catalog-data.sh        (needs PostgreSQL 15's server binaries)
#
# A throwaway cluster is created in a temporary directory, listens on a Unix socket
# there only, and is stopped by its PID file at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$PWD/src/pg_catalog/data
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
WORK=$(mktemp -d)
chmod 755 "$WORK"
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$WORK"
cleanup() {
    if [ -f "$WORK/pg/postmaster.pid" ]; then
        kill "$(head -1 "$WORK/pg/postmaster.pid")" 2>/dev/null || true
        sleep 1
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
as_postgres "$PG_BIN/initdb" -D "$WORK/pg" -U postgres --auth=trust >/dev/null
as_postgres "$PG_BIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg/log" -w \
    -o "-c listen_addresses= -k $WORK" start >/dev/null
psql_q() { psql -h "$WORK" -U postgres -d postgres -X -q -v ON_ERROR_STOP=1 "$@"; }

RELATIONS=$(tr -d '\n' <<'LIST'
'pg_namespace','pg_class','pg_attribute','pg_type','pg_proc','pg_database','pg_roles',
'pg_user','pg_authid','pg_description','pg_shdescription','pg_constraint','pg_index',
'pg_attrdef','pg_am','pg_inherits','pg_settings','pg_tables','pg_views','pg_matviews',
'pg_enum','pg_range','pg_extension','pg_collation','pg_tablespace','pg_stat_activity',
'pg_stat_user_tables','pg_stat_all_tables','pg_partitioned_table','pg_foreign_table',
'pg_sequence','pg_trigger','pg_rewrite','pg_policy','pg_statistic_ext','pg_publication',
'pg_publication_namespace','pg_publication_rel','pg_depend','pg_operator','pg_cast',
'pg_language','pg_event_trigger','pg_foreign_server','pg_foreign_data_wrapper',
'pg_user_mapping','pg_auth_members','pg_opclass','pg_aggregate','pg_indexes',
'pg_locks','pg_timezone_names','pg_available_extensions','pg_conversion',
'schemata','tables','columns','views','routines','parameters','table_constraints',
'key_column_usage','referential_constraints','table_privileges','column_privileges',
'character_sets','check_constraints','constraint_column_usage','domains',
'element_types','sequences','triggers','enabled_roles','applicable_roles'
LIST
)

psql_q -At -F $'\t' -o "$OUT/columns.tsv" -c "
SELECT n.nspname, c.relname, a.attname,
       format_type(CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END, NULL)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attnum > 0 AND NOT a.attisdropped
  AND n.nspname IN ('pg_catalog', 'information_schema')
  AND c.relkind IN ('r', 'v') AND c.relname IN ($RELATIONS)
ORDER BY n.nspname, c.relname, a.attnum"

psql_q -At -F $'\t' -o "$OUT/relations.tsv" -c "
SELECT n.nspname, n.oid, c.relname, c.oid, c.relkind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('pg_catalog', 'information_schema')
  AND c.relkind IN ('r', 'v') AND c.relname IN ($RELATIONS)
ORDER BY n.nspname, c.relname"

static_rows() { # table, where clause
    psql_q -c "COPY (SELECT * FROM pg_catalog.$1 $2 ORDER BY 1) TO STDOUT" >"$OUT/$1.tsv"
}
static_rows pg_type "WHERE typnamespace = 11"
static_rows pg_am ""
static_rows pg_range ""
static_rows pg_collation "WHERE collname IN ('default', 'C', 'POSIX', 'ucs_basic')"
static_rows pg_tablespace ""
echo "wrote $(ls "$OUT" | wc -l) files to $OUT ($(wc -l <"$OUT/columns.tsv") columns)"
