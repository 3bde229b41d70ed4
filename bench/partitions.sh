#!/usr/bin/env bash
# Partition benchmark: a CSV table with 10,000 Hive partitions (dt=YYYY-MM-DD) on local
# disk. Measures MSCK REPAIR TABLE registering them all (target < 5 s) and planning
# `SELECT count(*) FROM t WHERE dt = '…'` (as EXPLAIN) at p50 after warm-up (target < 20 ms),
# next to the same planning on a one-partition table measured in the same run.
#
#   bench/partitions.sh [RUNS]        (default 200 timed plans per table)
#   PARTITIONS=N bench/partitions.sh  (another partition count)
#
# The server listens on loopback and is stopped by the PID this script recorded; the lake
# and warehouse are temporary and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-200}
PORT=55442

source scripts/env.sh
source bench/lib.sh
build_server_and_client partitions
use_scratch_dir
mkdir -p "$WORK/lake/many" "$WORK/lake/one"

start_lakeport_at "$PORT" "$WORK/warehouse" "$WORK/lakeport.log"

"$CLIENT" measure "$PORT" "$WORK/lake" "$RUNS"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
