#!/usr/bin/env bash
# Fuzz smoke run: builds the cargo-fuzz targets once, then runs each for a few seconds.
#
# Run from anywhere; needs the nightly toolchain (cargo-fuzz is installed if missing).
# Seeds come from fuzz/corpus/<target>/ and are never written to: the fuzzer's working corpus
# goes to fuzz/target/work-corpus/<target>/ (ignored by git), and crashes to
# fuzz/artifacts/<target>/. SMOKE_SECONDS sets the time per target (default 15).
# For a long local run: cargo +nightly fuzz run <target> fuzz/target/work-corpus/<target> \
#   fuzz/corpus/<target> -- -max_total_time=300
set -euo pipefail

cd -- "$(dirname -- "${BASH_SOURCE[0]}")"

seconds="${SMOKE_SECONDS:-15}"
targets=(parse_line snapshot_load archive_read open_recovery simd_diff trusted_read)

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

echo "==> cargo +nightly fuzz build"
cargo +nightly fuzz build

for target in "${targets[@]}"; do
    work="target/work-corpus/$target"
    log="target/smoke-$target.log"
    mkdir -p "$work"
    echo "==> fuzz $target for ${seconds}s"
    # The working corpus first (new inputs go there), the committed seeds second.
    # -malloc_limit_mb: no input of a few KiB may make any single allocation this large.
    status=0
    cargo +nightly fuzz run "$target" "$work" "corpus/$target" -- \
        -max_total_time="$seconds" -malloc_limit_mb=1024 -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$log" >&2
        echo "fuzz target $target failed (exit $status); the reproducer is in" \
            "fuzz/artifacts/$target/, the whole output in fuzz/$log" >&2
        exit "$status"
    fi
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
done
