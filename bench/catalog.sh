#!/usr/bin/env bash
# Catalog benchmark: 1,000 tables in 20 schemas; the catalog queries BI tools and drivers
# send (Grafana, Metabase, psql), p50 and p90 after warm-up, next to SELECT 1 as the
# reference round trip in the same run; with the client kit beside the repository
# (../shared/clients), every query of its BI set and psql's whole `\d` sequence
# (targets: BI queries p50 < 20 ms, \d < 10 ms).
#
#   bench/catalog.sh [RUNS]        (default 200 timed runs per query)
#
# The server listens on loopback and is stopped by the PID this script recorded; its
# warehouse is temporary and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-200}
PORT=55443

source scripts/env.sh
source bench/lib.sh
build_server_and_client catalog
use_scratch_dir

start_lakeport_at "$PORT" "$WORK/warehouse" "$WORK/lakeport.log"

KIT=$(cd .. && pwd)/shared/clients
"$CLIENT" "$PORT" "$RUNS" "$KIT"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
