#!/usr/bin/env bash
# Builds the browser half of the app, the `hydrate` feature compiled to WebAssembly, into
# target/site/pkg, where `cargo run` finds it and serves it as /pkg. Without it the app is
# server-rendered only. Installs the wasm32 target and wasm-bindgen-cli (at the version of
# wasm-bindgen in Cargo.lock, which the two halves must share) when they are missing.
set -euo pipefail

cd -- "$(dirname -- "${BASH_SOURCE[0]}")"
# Where cargo install puts wasm-bindgen, in case it is not on PATH yet.
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"

version=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    echo "==> rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
fi
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $version" ]; then
    echo "==> cargo install wasm-bindgen-cli --version =$version"
    cargo install wasm-bindgen-cli --version "=$version"
fi

echo "==> cargo build --lib --release --target wasm32-unknown-unknown --features hydrate"
cargo build --lib --release --target wasm32-unknown-unknown --no-default-features \
    --features hydrate

echo "==> wasm-bindgen into target/site/pkg"
wasm-bindgen --target web --no-typescript --out-dir target/site/pkg --out-name todo-app \
    "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/todo_app.wasm"
ls -l target/site/pkg
