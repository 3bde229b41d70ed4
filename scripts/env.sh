# Sourced by scripts/test and .ci/run: one persistent target directory shared by
# every clone, and the mold linker when the machine has it (linking dominates
# incremental test builds of a DataFusion server).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lakeport-target}"
if command -v mold >/dev/null 2>&1; then
    export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="${CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS:--C link-arg=-fuse-ld=mold}"
fi
