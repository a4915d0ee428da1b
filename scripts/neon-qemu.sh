#!/usr/bin/env bash
# The chunk index's NEON path, which x86-64 machines never compile or run: lints the library
# for aarch64 and runs its unit tests there under qemu-user. Those tests compare every
# classification the CPU has (NEON included, as `format::simd::tests::aarch64_detects_neon`
# checks) with the portable one, and every indexed parse with the scalar parser.
#
# Installs what it needs if missing: Debian's aarch64 cross compiler and C library (zstd's C
# code is compiled for the target), qemu-user, and the Rust target. .ci/run calls it.
set -euo pipefail

cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."

target=aarch64-unknown-linux-gnu
sysroot=/usr/aarch64-linux-gnu

if ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || ! command -v qemu-aarch64 >/dev/null 2>&1 \
    || [ ! -d "$sysroot/lib" ]; then
    echo "==> apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >&2
    $sudo apt-get install -y -qq gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user >&2
fi
if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
fi

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L $sysroot"
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc

echo "==> cargo clippy --target $target --lib -- -D warnings"
cargo clippy --target "$target" --lib -- -D warnings
echo "==> cargo test --target $target --lib (under qemu-aarch64)"
cargo test --target "$target" --lib
