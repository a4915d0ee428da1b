#!/usr/bin/env bash
# CI for the Leptos todo app, a crate of its own: formatting, lints, the hydrated (WebAssembly)
# build, then every test, both browser tests included. Installs Chromium and chromedriver with
# apt when they are missing (and build-hydrate.sh its own tools), so no browser test skips here.
# Run from anywhere.
set -euo pipefail

cd -- "$(dirname -- "${BASH_SOURCE[0]}")"

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    echo "==> apt-get install chromium chromium-driver"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update
    $sudo apt-get install -y chromium chromium-driver
fi

echo "==> todo-app: cargo fmt -- --check"
cargo fmt -- --check

echo "==> todo-app: cargo clippy --release --all-targets -- -D warnings"
cargo clippy --release --all-targets -- -D warnings

echo "==> todo-app: ./build-hydrate.sh"
./build-hydrate.sh

echo "==> todo-app: cargo clippy (hydrate, wasm32) -- -D warnings"
cargo clippy --release --lib --target wasm32-unknown-unknown --no-default-features \
    --features hydrate -- -D warnings

echo "==> todo-app: cargo test --release"
# Makes a browser test fail, instead of skipping, if Chromium or the hydrated build is missing.
export TODO_APP_REQUIRE_BROWSER=1
cargo test --release
