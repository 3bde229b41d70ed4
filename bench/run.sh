#!/usr/bin/env bash
# The benchmark suite in one command (see bench/suite.py for what it measures):
#
#   bench/run.sh                 # everything: TPC-H SF1 + SF10, wire, latency, pgbench, concurrency
#   bench/run.sh --quick         # SF1 only, one run per case, short timed cases (~10 minutes)
#   bench/run.sh --help          # every option
#
# Builds lakeport and the Rust benchmark clients in release mode, installs what the
# reference engines need when it is missing (DuckDB and psycopg from PyPI; PostgreSQL 15
# and pgbench from Debian's packages when running as root), then runs bench/suite.py.
# Results: bench/results/latest.md and latest.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

if ! python3 -c "import psycopg, duckdb" 2>/dev/null; then
    python3 -m pip install --quiet 'psycopg[binary]>=3.1' 'duckdb>=1.1'
fi
if [ ! -x /usr/lib/postgresql/15/bin/pg_ctl ] || ! command -v pgbench >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y -qq postgresql-15 postgresql-client-15 >/dev/null
    else
        echo "PostgreSQL 15 is not installed: its reference figures will be missing" >&2
    fi
fi

# One invocation: the clients' dependency features are a subset of the server's, so built
# together they share its DataFusion build (built apart, DataFusion would be built twice).
cargo build --release -p lakeport --bin lakeport -p lakeport-bench --bin tpch --bin stream --bin latency
exec python3 bench/suite.py --target-dir "$CARGO_TARGET_DIR" "$@"
