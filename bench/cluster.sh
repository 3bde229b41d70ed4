#!/usr/bin/env bash
# Distributed-mode overhead: the 22 TPC-H queries (Parquet) over the wire, first on a lakeport
# in local mode, then on the same lakeport joined to a Ballista cluster of one scheduler and
# two executors on this machine (each executor one task slot, so both modes run two
# partitions at a time). Same data, same client, same run: the ratio distributed / local per
# query, and the added time per query and per stage, are the figures README.md's scaling
# section uses. Checksums must match between the modes (the script fails otherwise).
#
#   bench/cluster.sh                 (SF1, 3 timed runs per query, release build)
#   SF=0.1 RUNS=1 bench/cluster.sh   (quick)
#   BENCH_BINARIES=DIR bench/cluster.sh   (use DIR/lakeport and DIR/tpch instead of building)
#
# Every process listens on loopback and is stopped by the PID this script recorded. The
# generated data is kept under the target directory for the next run.
# Results: bench/results/cluster-latest.csv (query,mode,run,seconds,checksum) and a summary
# on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
SF=${SF:-1}
RUNS=${RUNS:-3}
PORT=55460
SCHEDULER_PORT=55470
EXECUTOR_PORTS=(55472 55474)

source scripts/env.sh
source bench/lib.sh
if [ -n "${BENCH_BINARIES:-}" ]; then
    LAKEPORT=$BENCH_BINARIES/lakeport
    CLIENT=$BENCH_BINARIES/tpch
else
    build_server_and_client tpch
fi

WORK=$(mktemp -d)
PIDS=()
stop_all() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap stop_all EXIT

WAREHOUSE="$CARGO_TARGET_DIR/bench-cluster/warehouse"
mkdir -p "$WAREHOUSE"
cat >"$WORK/lakeport.toml" <<EOF
[engine]
threads = 2
distributed_min_input = "0"
[demo]
scale_factor = $SF
[cluster]
executor_slots = 1
executor_memory = "4GiB"
work_dir = "$WORK/shuffle"
EOF
CONNECT="host=127.0.0.1 port=$PORT user=bench dbname=lakeport options=-csearch_path=tpch"
RESULTS=bench/results/cluster-latest.csv
echo "query,mode,run,seconds,checksum" >"$RESULTS"

# run_server MODE [FLAGS...]: a lakeport on $PORT (generating the demo data on first use),
# the queries timed against it, then stopped.
run_server() {
    local mode=$1
    shift
    RUST_LOG=warn "$LAKEPORT" --config "$WORK/lakeport.toml" --warehouse "$WAREHOUSE" \
        --listen "127.0.0.1:$PORT" --no-http "$@" >"$WORK/server-$mode.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    wait_port "$PORT"
    echo "timing the TPC-H queries in $mode mode ($RUNS runs each)" >&2
    "$CLIENT" wire "$CONNECT" bench/tpch "$RUNS" | sed "s/^\([^,]*\),/\1,$mode,/" >>"$RESULTS"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}

run_server local

RUST_LOG=warn "$LAKEPORT" --config "$WORK/lakeport.toml" scheduler \
    --listen "127.0.0.1:$SCHEDULER_PORT" >"$WORK/scheduler.log" 2>&1 &
PIDS+=($!)
wait_port "$SCHEDULER_PORT"
for port in "${EXECUTOR_PORTS[@]}"; do
    RUST_LOG=info "$LAKEPORT" --config "$WORK/lakeport.toml" executor \
        --scheduler "127.0.0.1:$SCHEDULER_PORT" --listen "127.0.0.1:$port" \
        >"$WORK/executor-$port.log" 2>&1 &
    PIDS+=($!)
    wait_port "$port"
done

run_server distributed --scheduler "127.0.0.1:$SCHEDULER_PORT"

python3 - "$RESULTS" "$RUNS" "$WORK"/executor-*.log <<'EOF'
import csv, re, statistics, sys
path, runs, logs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
times, sums = {}, {}
for row in csv.DictReader(open(path)):
    times.setdefault((row["query"], row["mode"]), []).append(float(row["seconds"]))
    sums.setdefault(row["query"], {})[row["mode"]] = row["checksum"]
queries = sorted({q for q, _ in times})
# Executors log each task: "running a task job=J stage=S task=T". Job ids grow with time, so
# sorted they follow the client's order: per query one warm-up run, then the timed ones.
stages, tasks = {}, 0
for log in logs:
    for job, stage in re.findall(r"running a task job=(\S+) stage=(\d+)", open(log).read()):
        stages.setdefault(job, set()).add(stage)
        tasks += 1
jobs = sorted(stages)
per_query = {}
if len(jobs) == len(queries) * (runs + 1):
    for i, q in enumerate(queries):
        per_query[q] = len(stages[jobs[i * (runs + 1)]])
print(f"{'query':6} {'local s':>9} {'distrib s':>10} {'added s':>8} {'ratio':>6} {'stages':>7}")
added, ratios, stage_total = [], [], 0
for q in queries:
    local = statistics.median(times[(q, "local")])
    dist = statistics.median(times[(q, "distributed")])
    added.append(dist - local)
    ratios.append(dist / local)
    stage_total += per_query.get(q, 0)
    print(f"{q:6} {local:9.3f} {dist:10.3f} {dist - local:8.3f} {dist / local:6.2f} "
          f"{per_query.get(q, '?'):>7}")
total_local = sum(statistics.median(times[(q, "local")]) for q in queries)
total_dist = sum(statistics.median(times[(q, "distributed")]) for q in queries)
print(f"total: local {total_local:.2f} s, distributed {total_dist:.2f} s; geometric mean "
      f"ratio {statistics.geometric_mean(ratios):.2f}; median added "
      f"{statistics.median(added):.3f} s per query")
print(f"executors ran {tasks} tasks in {len(jobs)} jobs")
if stage_total:
    print(f"stages: {stage_total} over the {len(queries)} queries; added time per stage "
          f"{(total_dist - total_local) / stage_total * 1000:.0f} ms")
bad = [q for q in queries if sums[q].get("local") != sums[q].get("distributed")]
if bad:
    print("checksums differ between the modes: " + ", ".join(bad))
    sys.exit(1)
print("checksums: all equal")
EOF
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
