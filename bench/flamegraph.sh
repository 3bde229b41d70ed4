#!/usr/bin/env bash
# A flame graph of the slowest TPC-H query through lakeport (release build), for the README.
#
#   bench/flamegraph.sh            # SF1: time the 22 queries once, profile the slowest
#   bench/flamegraph.sh q18 10     # a given query and scale factor
#
# Runs lakeport on its TPC-H demo data (generated into bench/.data/flame-sfN on first use),
# times each query once through psql, then samples the server with `perf record
# --call-graph dwarf` while the chosen query runs three times, and folds the samples with
# inferno (installed with cargo when missing). Writes bench/results/flamegraph-QUERY-sfN.svg.
# Needs perf (Debian's linux-perf) and permission to profile (root, or
# kernel.perf_event_paranoid <= 1).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

QUERY="${1:-}"
SCALE="${2:-1}"
PORT=55470
DATA="bench/.data/flame-sf$SCALE"
WORK="$(mktemp -d)"
trap 'stop_server; rm -rf "$WORK"' EXIT

command -v perf >/dev/null || { echo "perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
if ! command -v inferno-flamegraph >/dev/null; then
    cargo install --quiet --locked inferno
fi
cargo build --release -p lakeport --bin lakeport
LAKEPORT="$CARGO_TARGET_DIR/release/lakeport"

SERVER_PID=""
stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null || true
    fi
}

mkdir -p "$DATA"
LAKEPORT_DEMO_SCALE_FACTOR="$SCALE" RUST_LOG=warn "$LAKEPORT" --warehouse "$DATA" \
    --listen "127.0.0.1:$PORT" --no-http >"$WORK/lakeport.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 1800); do
    psql -h 127.0.0.1 -p "$PORT" -U bench -d lakeport -Atqc "SELECT 1" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/lakeport.log"; exit 1; }
    sleep 1
done

run_query() {
    psql -h 127.0.0.1 -p "$PORT" -U bench -d lakeport -q -o /dev/null \
        -c "SET search_path = tpch" -f "bench/tpch/$1.sql"
}

if [ -z "$QUERY" ]; then
    slowest=0
    for file in bench/tpch/q*.sql; do
        name="$(basename "$file" .sql)"
        started=$(date +%s%N)
        run_query "$name"
        elapsed=$(( ($(date +%s%N) - started) / 1000000 ))
        echo "$name ${elapsed} ms"
        if [ "$elapsed" -gt "$slowest" ]; then slowest=$elapsed; QUERY=$name; fi
    done
    echo "slowest: $QUERY (${slowest} ms)"
fi

perf record -F 499 -g --call-graph dwarf,16384 -o "$WORK/perf.data" -p "$SERVER_PID" \
    >"$WORK/perf.log" 2>&1 &
PERF_PID=$!
sleep 1
for _ in 1 2 3; do run_query "$QUERY"; done
kill -INT "$PERF_PID"
wait "$PERF_PID" || true

mkdir -p bench/results
OUT="bench/results/flamegraph-$QUERY-sf$SCALE.svg"
perf script -i "$WORK/perf.data" 2>/dev/null \
    | inferno-collapse-perf \
    | inferno-flamegraph --title "lakeport: TPC-H $QUERY at SF$SCALE, 3 runs (perf, 499 Hz)" \
        --width 1400 >"$OUT"
echo "wrote $OUT"
