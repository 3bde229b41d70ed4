#!/usr/bin/env bash
# Streaming benchmark: SELECT * FROM lineitem at TPC-H scale factor 1 (6M rows), read by
# one client in text and in binary, from lakeport and from PostgreSQL 15 serving the same
# rows on the same machine, side by side in one run. Reports rows per second, the ratio
# lakeport / PostgreSQL, and lakeport's peak resident memory (VmHWM) while streaming.
#
#   bench/stream.sh [RUNS]        (default 3 runs per case; the best run counts)
#
# Needs PostgreSQL 15's server binaries (apt-get install postgresql). Data lives in
# bench/.data (generated once; delete it to start over). Servers listen on loopback only
# and are stopped by the PIDs this script recorded.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${1:-3}
DATA=$ROOT/bench/.data
LP_PORT=55440
PG_PORT=55441
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
QUERY="SELECT * FROM lineitem"
mkdir -p "$DATA"

source scripts/env.sh
source bench/lib.sh
build_server_and_client stream

LP_PID=""
cleanup() {
    [ -n "$LP_PID" ] && kill "$LP_PID" 2>/dev/null || true
    if [ -f "$DATA/pg/postmaster.pid" ]; then
        kill "$(head -1 "$DATA/pg/postmaster.pid")" 2>/dev/null || true
    fi
}
trap cleanup EXIT

start_lakeport() {
    LAKEPORT_DEMO_SCALE_FACTOR=1 LAKEPORT_DEMO_SCHEMA=public RUST_LOG=warn "$LAKEPORT" \
        --warehouse "$DATA/warehouse" --listen "127.0.0.1:$LP_PORT" >"$DATA/lakeport.log" 2>&1 &
    LP_PID=$!
    wait_port "$LP_PORT"
}

echo "== lakeport: TPC-H SF1 demo data (generated on first start)"
start_lakeport
LP="host=127.0.0.1 port=$LP_PORT user=bench dbname=lakeport"

as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PG="host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres"
if [ ! -f "$DATA/pg/PG_VERSION" ]; then
    echo "== PostgreSQL: new cluster"
    mkdir -p "$DATA/pg"
    [ "$(id -u)" = 0 ] && chown postgres "$DATA/pg" && chmod o+x "$DATA" "$ROOT/bench" "$ROOT"
    as_postgres "$PG_BIN/initdb" -D "$DATA/pg" -U postgres --auth=trust >/dev/null
fi
as_postgres "$PG_BIN/pg_ctl" -D "$DATA/pg" -l "$DATA/pg/server.log" -w \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k /tmp" start >/dev/null
if [ "$(psql "$PG" -tAc "SELECT to_regclass('lineitem') IS NOT NULL")" != t ]; then
    echo "== PostgreSQL: loading lineitem from lakeport (COPY TO STDOUT → COPY FROM STDIN)"
    psql "$PG" -q -v ON_ERROR_STOP=1 -c "CREATE TABLE lineitem (
        l_orderkey int8, l_partkey int8, l_suppkey int8, l_linenumber int4,
        l_quantity numeric(15,2), l_extendedprice numeric(15,2), l_discount numeric(15,2),
        l_tax numeric(15,2), l_returnflag text, l_linestatus text, l_shipdate date,
        l_commitdate date, l_receiptdate date, l_shipinstruct text, l_shipmode text,
        l_comment text)"
    psql "$LP" -c "COPY (SELECT * FROM lineitem) TO STDOUT" \
        | psql "$PG" -v ON_ERROR_STOP=1 -c "COPY lineitem FROM STDIN"
    psql "$PG" -q -c "VACUUM ANALYZE lineitem"
fi

# Restart so that the memory peak is the streaming's, not the data generation's or the load's.
kill "$LP_PID"; wait "$LP_PID" 2>/dev/null || true
start_lakeport

LP_ROWS=$(psql "$LP" -tAc "SELECT count(*) FROM lineitem")
PG_ROWS=$(psql "$PG" -tAc "SELECT count(*) FROM lineitem")
[ "$LP_ROWS" = "$PG_ROWS" ] || { echo "row counts differ: lakeport $LP_ROWS, PostgreSQL $PG_ROWS" >&2; exit 1; }

best() { # server-connstr format → best rows/s over RUNS runs
    local best=0 line rate
    for _ in $(seq 1 "$RUNS"); do
        line=$("$CLIENT" "$1" "$QUERY" "$2")
        [ "$(echo "$line" | cut -d' ' -f1)" = "$LP_ROWS" ] || { echo "short read: $line" >&2; exit 1; }
        rate=$(echo "$line" | cut -d' ' -f3)
        [ "$rate" -gt "$best" ] && best=$rate
    done
    echo "$best"
}

echo "== streaming $LP_ROWS rows, best of $RUNS runs"
printf "%-8s %16s %16s %8s\n" format "lakeport rows/s" "postgres rows/s" ratio
for format in binary text; do
    lp=$(best "$LP" "$format")
    pg=$(best "$PG" "$format")
    printf "%-8s %16s %16s %8s\n" "$format" "$lp" "$pg" "$(awk "BEGIN { printf \"%.2f\", $lp / $pg }")"
done
echo "lakeport peak RSS: $(awk '/VmHWM/ { printf "%.0f MB", $2 / 1024 }' "/proc/$LP_PID/status")"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
