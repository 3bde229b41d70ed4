#!/usr/bin/env bash
# Security benchmark: the cost of authentication and TLS, lakeport against PostgreSQL 15 on
# the same machine in one run, both with SCRAM-SHA-256 (4096 iterations) and the same
# certificate.
#
#  - connection setup: pgbench -C (a new connection for every SELECT 1), 4 clients for
#    $SECONDS_PER_CASE s, without TLS and with sslmode=require: connections per second;
#  - streaming: psql reading SELECT of 2 million generated rows (an int8, a 32-character
#    text, a numeric) and COPY of the same rows TO STDOUT, without and with TLS: rows/s.
#
#   bench/security.sh [SECONDS_PER_CASE]     (default 10)
#
# Needs PostgreSQL 15's server binaries and pgbench (apt-get install postgresql), and
# openssl. Everything lives in a temporary directory; both servers listen on loopback and
# are stopped by the PIDs this script recorded.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_CASE=${1:-10}
LP_PORT=55450
PG_PORT=55451
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
ROWS=2000000
SELECT="SELECT g AS id, md5(g::text) AS digest, g * 0.5 AS half FROM generate_series(1, $ROWS) g"

source scripts/env.sh
source bench/lib.sh
cargo build --release -p lakeport --bin lakeport
LAKEPORT=$CARGO_TARGET_DIR/release/lakeport
use_scratch_dir
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop_postgres() {
    if [ -f "$WORK/pg/postmaster.pid" ]; then
        kill "$(head -1 "$WORK/pg/postmaster.pid")" 2>/dev/null || true
    fi
    remove_scratch_dir
}
trap stop_postgres EXIT

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$WORK/server.key" -out "$WORK/server.pem" 2>/dev/null
chmod 600 "$WORK/server.key"

echo "== lakeport: SCRAM user bench, TLS"
cat >"$WORK/lakeport.toml" <<CONFIG
[auth]
method = "scram-sha-256"
[[auth.users]]
name = "bench"
password = "$(printf '%s' benchpw | "$LAKEPORT" passwd)"
role = "read"
[tls]
certificate = "$WORK/server.pem"
private_key = "$WORK/server.key"
CONFIG
RUST_LOG=warn "$LAKEPORT" --config "$WORK/lakeport.toml" --no-demo --warehouse "$WORK/warehouse" \
    --listen "127.0.0.1:$LP_PORT" >"$WORK/lakeport.log" 2>&1 &
LP_PID=$!
wait_port "$LP_PORT"

echo "== PostgreSQL 15: SCRAM user bench, ssl = on"
mkdir -p "$WORK/pg"
if [ "$(id -u)" = 0 ]; then
    chmod o+rx "$WORK"
    chown postgres "$WORK/pg" "$WORK/server.key" "$WORK/server.pem"
fi
as_postgres "$PG_BIN/initdb" -D "$WORK/pg" -U postgres --auth-local=trust \
    --auth-host=scram-sha-256 >/dev/null
as_postgres "$PG_BIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg/server.log" -w -o \
    "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $WORK/pg -c ssl=on -c ssl_cert_file=$WORK/server.pem -c ssl_key_file=$WORK/server.key -c max_connections=50" \
    start >/dev/null
as_postgres psql -h "$WORK/pg" -p "$PG_PORT" -U postgres -q -c "CREATE ROLE bench LOGIN PASSWORD 'benchpw'"

export PGPASSWORD=benchpw
LP="host=localhost port=$LP_PORT user=bench dbname=lakeport"
PG="host=localhost port=$PG_PORT user=bench dbname=postgres"
echo "SELECT 1;" >"$WORK/select1.sql"

connections_per_second() { # conninfo → new connections per second (pgbench -C)
    pgbench -n -C -c 4 -j 2 -T "$SECONDS_PER_CASE" -f "$WORK/select1.sql" "$1" 2>/dev/null \
        | awk '/^tps = / { printf "%.0f", $3 }'
}

rows_per_second() { # conninfo command → rows/s of psql reading the command's rows
    local started ended count
    started=$(date +%s.%N)
    count=$(psql "$1" -X -At -c "$2" | wc -l)
    ended=$(date +%s.%N)
    [ "$count" -eq "$ROWS" ] || { echo "short read: $count rows from $1" >&2; exit 1; }
    awk "BEGIN { printf \"%.0f\", $ROWS / ($ended - $started) }"
}

ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }

echo
echo "== connection setup with SCRAM-SHA-256: pgbench -C -c 4 -j 2, $SECONDS_PER_CASE s"
printf "%-10s %14s %14s %8s\n" tls "lakeport conn/s" "postgres conn/s" ratio
for mode in disable require; do
    lp=$(connections_per_second "$LP sslmode=$mode")
    pg=$(connections_per_second "$PG sslmode=$mode")
    printf "%-10s %14s %14s %8s\n" "$mode" "$lp" "$pg" "$(ratio "$lp" "$pg")"
done

echo
echo "== streaming $ROWS rows through psql (best of 3)"
printf "%-8s %-10s %14s %14s %8s\n" how tls "lakeport rows/s" "postgres rows/s" ratio
best_of_three() {
    local best=0 rate
    for _ in 1 2 3; do
        rate=$(rows_per_second "$1" "$2")
        [ "$rate" -gt "$best" ] && best=$rate
    done
    echo "$best"
}
for how in select copy; do
    command=$SELECT
    [ "$how" = copy ] && command="COPY ($SELECT) TO STDOUT"
    for mode in disable require; do
        lp=$(best_of_three "$LP sslmode=$mode" "$command")
        pg=$(best_of_three "$PG sslmode=$mode" "$command")
        printf "%-8s %-10s %14s %14s %8s\n" "$how" "$mode" "$lp" "$pg" "$(ratio "$lp" "$pg")"
    done
done
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
