#!/usr/bin/env bash
# Installs what the tests need from outside Rust, and says what it installs:
#   - nats-server, Debian's package (apt-get), for the relay's tests;
#   - DuckDB, from PyPI into a virtual environment under target/ (and Debian's python3-venv if
#     venv support is missing), for the SQL recipes' tests.
# Each is installed only when missing. Without them `cargo test` still runs every other test,
# and each test that needs one says "NOT RUN" and why.
set -euo pipefail
here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"

bash "$here/ensure-nats-server.sh"
echo "nats-server: $(command -v nats-server)"
echo "DuckDB: $(bash "$here/duckdb-env.sh")"
