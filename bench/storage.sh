#!/usr/bin/env bash
# Object-storage benchmark: the 22 TPC-H queries (bench/tpch/) at scale factor 1 over the
# same Parquet files on the local S3 server (moto, ../shared/tools/object-stores.sh) and on
# local disk, in one run. Reports each query's time on disk, cold and warm on S3, the ratio
# warm S3 / disk, and the object-store requests (LIST, footer reads, other reads) of the
# cold and the warm S3 runs, counted from lakeport's request log: a warm run should list
# nothing and read no footer.
#
#   bench/storage.sh [RUNS]        (default 3 timed runs per query and store; best counts)
#
# The demo data comes from bench/.data (lakeport's demo generator writes it there on first
# use). Servers listen on loopback and are stopped by the PIDs this script recorded; the
# scratch warehouse and the S3 server's data are removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${1:-3}
LP_PORT=55450
S3_PORT=55451
STORES="$ROOT/../shared/tools/object-stores.sh"

source scripts/env.sh
source bench/lib.sh
build_server_and_client storage
use_scratch_dir
STORES_DIR="$WORK/object-stores"
stop_stores() { bash "$STORES" stop --dir "$STORES_DIR" >/dev/null 2>&1 || true; }
trap 'stop_stores; remove_scratch_dir' EXIT

bash "$STORES" install
bash "$STORES" start --dir "$STORES_DIR" --s3-port "$S3_PORT" --azure-port 0

mkdir -p "$ROOT/bench/.data/warehouse/demo" "$WORK/warehouse" "$WORK/disk"
ln -s "$ROOT/bench/.data/warehouse/demo" "$WORK/warehouse/demo"
cat >"$WORK/lakeport.toml" <<TOML
[demo]
scale_factor = 1
[storage]
allowed_locations = ["s3://warehouse/tpch/", "$WORK/disk/"]
[storage.s3]
endpoint = "http://127.0.0.1:$S3_PORT"
region = "us-east-1"
access_key_id = "testing"
secret_access_key = "testing"
allow_http = true
TOML
RUST_LOG=warn,lakeport::storage::requests=debug "$LAKEPORT" --config "$WORK/lakeport.toml" \
    --warehouse "$WORK/warehouse" --listen "127.0.0.1:$LP_PORT" --log-format json \
    >"$WORK/lakeport.log" 2>&1 &
LP_PID=$!
wait_port "$LP_PORT"

"$CLIENT" measure "$LP_PORT" "$WORK/disk" "$WORK/lakeport.log" "$ROOT/bench/tpch" "$RUNS"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
