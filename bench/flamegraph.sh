#!/usr/bin/env bash
# A flame graph of one TPC-H query as lakeport runs it: the server built with the
# `profiling` profile (release code with symbols and line tables), over the suite's TPC-H
# Parquet data (bench/.data, generated on first use by lakeport's demo generator and
# declared as schema `lake`, as bench/suite.py does), the query sent by psql while perf
# samples the server's threads.
#
#   bench/flamegraph.sh [QUERY] [SCALE]    # e.g. 18 1 → bench/results/flamegraph-q18-sf1.svg
#
# Without QUERY, the 22 queries run once each and the slowest is profiled; perf samples
# RUNS (default 5) runs of it after one untimed run. Needs perf
# (Debian's linux-perf), psql, and inferno (`cargo install inferno`); perf must be allowed
# to sample (root, or kernel.perf_event_paranoid ≤ 1).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source scripts/env.sh
source bench/lib.sh
QUERY=${1:-}
SCALE=${2:-1}
RUNS=${RUNS:-5}
PORT=55499
for tool in perf psql inferno-collapse-perf inferno-flamegraph; do
    command -v "$tool" >/dev/null || { echo "flamegraph.sh needs $tool" >&2; exit 1; }
done

cargo build --profile profiling -p lakeport --bin lakeport
LAKEPORT=$CARGO_TARGET_DIR/profiling/lakeport

WAREHOUSE=$ROOT/bench/.data/tpch-sf$SCALE/warehouse
PARQUET=$WAREHOUSE/demo/tpch-sf$SCALE
mkdir -p "$WAREHOUSE"
use_scratch_dir
[ -f "$PARQUET/_SUCCESS" ] || echo "lakeport generates TPC-H SF$SCALE (first run only)"
LAKEPORT_DEMO_SCALE_FACTOR=$SCALE LAKEPORT_DEMO_SCHEMA=tpch RUST_LOG=warn \
    "$LAKEPORT" --warehouse "$WAREHOUSE" --listen "127.0.0.1:$PORT" --no-http \
    >"$WORK/lakeport.log" 2>&1 &
LP_PID=$!
wait_port "$PORT"
sql() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U bench -d lakeport "$@"; }
sql -c "CREATE DATABASE IF NOT EXISTS lake" >/dev/null
for table in customer lineitem nation orders part partsupp region supplier; do
    sql -c "CREATE EXTERNAL TABLE IF NOT EXISTS lake.$table USING parquet LOCATION '$PARQUET/$table'" >/dev/null
done
run_query() { sql -o /dev/null -c "SET search_path = lake" -f "bench/tpch/q$1.sql"; }
seconds() { local start=$EPOCHREALTIME; "$@"; echo "$EPOCHREALTIME - $start" | bc; }

if [ -z "$QUERY" ]; then
    best=0
    for n in $(seq -w 1 22); do
        t=$(seconds run_query "$n")
        echo "q$n  ${t}s"
        if (( $(echo "$t > $best" | bc) )); then best=$t; QUERY=$n; fi
    done
    echo "slowest: q$QUERY (${best}s)"
fi
QUERY=$(printf '%02d' "$((10#$QUERY))")
run_query "$QUERY"   # warm the caches, as the suite's untimed run does

mkdir -p bench/results
OUT=bench/results/flamegraph-q$QUERY-sf$SCALE.svg
perf record -F 499 -g --call-graph dwarf,16384 -p "$LP_PID" -o "$WORK/perf.data" 2>"$WORK/perf.log" &
PERF_PID=$!
sleep 1
elapsed=$(seconds eval 'for _ in $(seq "$RUNS"); do run_query "$QUERY"; done')
elapsed=$(echo "scale=3; $elapsed / $RUNS" | bc)
kill -INT "$PERF_PID"
wait "$PERF_PID" || true
perf script -i "$WORK/perf.data" 2>/dev/null | inferno-collapse-perf >"$WORK/folded"
inferno-flamegraph --minwidth 0.5 --title "lakeport: TPC-H q$QUERY at SF$SCALE, $RUNS runs of ${elapsed}s, perf at 499 Hz" \
    <"$WORK/folded" >"$OUT"   # frames under 0.5 % left out: a few samples unwind hundreds of frames deep
echo "q$QUERY ran in ${elapsed}s on average over $RUNS runs under perf; flame graph: $OUT"
echo "hottest frames (self samples):"
awk '{n=$NF; $NF=""; split($0, f, ";"); leaf=f[length(f)]; self[leaf]+=n; total+=n}
     END {for (l in self) printf "%6.2f%%  %s\n", 100*self[l]/total, l}' "$WORK/folded" \
    | sort -rn | head -15
