#!/usr/bin/env bash
# Windows, checked from Linux: runs the library's tests under Windows' rules on Linux (the
# `windows-rules-for-tests` feature), lints the workspace for x86_64-pc-windows-gnu (every
# target), builds the library's tests and eventfold 0.2.0's suite for Windows, and runs them
# under wine.
#
# Wine is not Windows (docs/architecture.md, "Platforms"): it lacks POSIX rename semantics and
# mandatory byte-range locks, and cannot host some tests (those that spawn cargo or a Linux
# service). Those tests are listed in scripts/windows/wine-skip.txt with the reason; they are
# skipped here only, and their number is printed. Every other test must pass.
#
# Installs what it needs if missing, and says so: the Rust target, Debian's mingw-w64 C
# compiler (the target's linker, and zstd's C code) and wine. The wine prefix lives under
# target/ (made with `wineboot -i`), with one addition: wine 8 lacks
# bcryptprimitives.dll!ProcessPrng, which Rust's std imports (every program would exit with code
# 53), so scripts/windows/processprng.c is built into a small DLL that provides it.
#
# Usage: scripts/windows-wine.sh [--release]
set -euo pipefail

cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."
repo=$PWD
target=x86_64-pc-windows-gnu
profile_flag=()
profile_dir=debug
if [ "${1:-}" = "--release" ]; then
    profile_flag=(--release)
    profile_dir=release
fi

if ! command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || ! command -v wine >/dev/null 2>&1; then
    echo "==> apt-get install gcc-mingw-w64-x86-64 wine64 (the Windows linker and wine)" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >&2
    $sudo apt-get install -y -qq gcc-mingw-w64-x86-64 wine64 >&2
fi
if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
fi

export WINEPREFIX=$repo/target/wine-prefix
export WINEDEBUG=-all
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    echo "==> wineboot -i (a wine prefix in $WINEPREFIX)"
    mkdir -p "$WINEPREFIX"
    wineboot -i >/dev/null 2>&1 || true
    wineserver -w
fi
shim=$repo/target/wine-shim/bcryptprimitives.dll
if [ ! -f "$shim" ] || [ "$repo/scripts/windows/processprng.c" -nt "$shim" ]; then
    mkdir -p "$(dirname "$shim")"
    x86_64-w64-mingw32-gcc -shared -O2 -o "$shim" scripts/windows/processprng.c -ladvapi32
fi
cp "$shim" "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"

step() {
    local started=$SECONDS
    echo "==> $*"
    "$@"
    echo "<== $* ($((SECONDS - started)) s)"
}

# First on Linux itself: the library's rotation, repair and reader tests under Windows' rules
# (the feature makes readers copy instead of map, as on Windows, and makes file operations
# refuse what Windows refuses), which wine does not enforce. Release, as scripts/test.sh
# builds, to share its dependencies.
rules_tests=(--lib)
for name in rotation_tests crash_safety real_crash bad_input concurrent_readers history \
    subscribe scan trusted log_tests snapshot_tests salvage_failure verify_while_rotating; do
    rules_tests+=(--test "$name")
done
step cargo test --release -p eventfold@0.3.0 --features windows-rules-for-tests "${rules_tests[@]}"

step cargo clippy --target "$target" --workspace --all-targets -- -D warnings

# The skip list: "<test file> <test name> -- <reason>", or "<test file> * -- <reason>" for
# every test of a file.
skip_file=scripts/windows/wine-skip.txt
declare -A skip_all=()
declare -A skip_args=()
while IFS= read -r line; do
    case $line in '#'* | '') continue ;; esac
    file=${line%% *}
    rest=${line#* }
    name=${rest%% -- *}
    name=${name%% }
    if [ "$name" = "*" ]; then
        skip_all[$file]=1
    else
        skip_args[$file]+=" --skip $name"
    fi
done <"$skip_file"

echo "==> cargo test --target $target -p eventfold@0.3.0 ${profile_flag[*]} --no-run"
build_log=$(mktemp)
cargo test --target "$target" -p eventfold@0.3.0 "${profile_flag[@]}" --no-run 2>&1 | tee "$build_log"
mapfile -t binaries < <(sed -nE 's/^ *Executable (unittests src\/lib\.rs|tests\/([^ ]+)\.rs) \((.*)\)$/\2 \3/p' "$build_log" | sed -E 's/^ /lib /')
rm -f "$build_log"
[ "${#binaries[@]}" -gt 1 ] || { echo "no test binaries were built" >&2; exit 1; }

# Property tests run at most this many cases each under wine (tests/common, proptest_cases),
# where each file operation is a round trip to wineserver; the full count runs on Linux.
export EVENTFOLD_PROPTEST_CASES=${EVENTFOLD_PROPTEST_CASES:-8}
echo "property tests under wine: at most $EVENTFOLD_PROPTEST_CASES cases each"
passed=0 failed=0 skipped=0 failing=()
for entry in "${binaries[@]}"; do
    file=${entry%% *}
    exe=${entry#* }
    listed=$(wine "$exe" --list 2>/dev/null | grep -c ': test$' || true)
    if [ -n "${skip_all[$file]:-}" ]; then
        echo "--- $file: $listed tests not run under wine ($skip_file)"
        skipped=$((skipped + listed))
        continue
    fi
    # shellcheck disable=SC2086
    set -- ${skip_args[$file]:-}
    skipped=$((skipped + $# / 2))
    started=$SECONDS
    log=$(mktemp)
    status=0
    # Eight tests at a time on any machine: under wine a test spends most of its time waiting
    # for wineserver (each file operation is a round trip to it), not on a CPU.
    timeout 1200 wine "$exe" --test-threads 8 "$@" >"$log" 2>&1 || status=$?
    result=$(grep '^test result:' "$log" | tail -n 1 || true)
    echo "--- $file ($((SECONDS - started)) s): ${result:-no result (exit $status)}"
    if [ "$status" -ne 0 ] || [ -z "$result" ]; then
        grep -E '^test .* FAILED$|panicked at' -A2 "$log" | head -n 40 || true
        failing+=("$file")
    fi
    p=$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$result")
    f=$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$result")
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    rm -f "$log"
done
echo
echo "==================== the library's tests under wine ===================="
echo "passed: $passed, failed: $failed, not run under wine: $skipped (reasons in $skip_file)"
if [ "${#failing[@]}" -ne 0 ]; then
    echo "NOT OK: failures in ${failing[*]}"
    exit 1
fi

# eventfold 0.2.0's own suite, built for Windows and run under wine: the drop-in promise there.
# In this repository's target directory, so that it reuses the Windows build of the
# dependencies made above.
step env EVENTFOLD_V02_SUITE_DIR="${TMPDIR:-/tmp}/eventfold-v02-suite-windows" \
    CARGO_TARGET_DIR="$repo/target" bash scripts/v02-suite.sh --target "$target" "${profile_flag[@]}"
