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

# start_lakeport_at PORT WAREHOUSE LOG: an empty lakeport (no demo data) in the background.
start_lakeport_at() {
    RUST_LOG=warn "$LAKEPORT" --no-demo --warehouse "$2" --listen "127.0.0.1:$1" >"$3" 2>&1 &
    LP_PID=$!
    wait_port "$1"
}
