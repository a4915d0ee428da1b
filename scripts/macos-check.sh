#!/usr/bin/env bash
# Type-checks the whole workspace, every target (tests, benches, examples), for macOS on Apple
# silicon: `cargo check --target aarch64-apple-darwin`. Nothing is linked or run; that needs an
# Apple machine. The C code of some dependencies' build scripts is answered by a stub compiler
# (scripts/macos/stub-cc), since no Apple toolchain exists here.
#
# Installs the Rust target if missing. .ci/run calls it.
set -euo pipefail

cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."

target=aarch64-apple-darwin
if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
fi
stub=$PWD/scripts/macos
export CC_aarch64_apple_darwin=$stub/stub-cc
export CXX_aarch64_apple_darwin=$stub/stub-cc
export AR_aarch64_apple_darwin=$stub/stub-ar
echo "==> cargo check --target $target --workspace --all-targets"
cargo check --target "$target" --workspace --all-targets
