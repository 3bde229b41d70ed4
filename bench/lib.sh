# Shared by the bench/*.sh scripts (sourced, not run): waiting for a port and running a
# lakeport on loopback that the calling script stops by its PID ($LP_PID).

wait_port() {
    for _ in $(seq 1 3000); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "port $1 never opened" >&2
    return 1
}

# start_lakeport_at PORT WAREHOUSE LOG: an empty lakeport (no demo data) in the background,
# which may declare tables anywhere under the warehouse's parent directory.
start_lakeport_at() {
    LAKEPORT_STORAGE_ALLOWED_LOCATIONS="[\"$(dirname "$2")\"]" RUST_LOG=warn \
        "$LAKEPORT" --no-demo --warehouse "$2" --listen "127.0.0.1:$1" >"$3" 2>&1 &
    LP_PID=$!
    wait_port "$1"
}

# build_server_and_client BIN: release builds of the server and of the benchmark client BIN,
# in one invocation: the clients' dependency features are a subset of the server's, so the
# server is built as `cargo run --release` builds it and the client shares its DataFusion
# build (built apart, DataFusion would be built twice). Sets $LAKEPORT and $CLIENT.
build_server_and_client() {
    cargo build --release -p lakeport --bin lakeport -p lakeport-bench --bin "$1"
    LAKEPORT=$CARGO_TARGET_DIR/release/lakeport
    CLIENT=$CARGO_TARGET_DIR/release/$1
}

# use_scratch_dir: a temporary $WORK, removed at exit after the server ($LP_PID) is stopped.
use_scratch_dir() {
    WORK=$(mktemp -d)
    LP_PID=""
    trap remove_scratch_dir EXIT
}

remove_scratch_dir() {
    [ -n "$LP_PID" ] && kill "$LP_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
