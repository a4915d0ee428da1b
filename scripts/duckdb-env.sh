#!/usr/bin/env bash
# Prints the path of a Python interpreter that can `import duckdb`, installing DuckDB from PyPI
# into a virtual environment under target/ the first time. The DuckDB tests call it themselves,
# so that they run (never skip) wherever cargo test runs.
set -euo pipefail

root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${CARGO_TARGET_DIR:-$root/target}/duckdb-venv"
python="$venv/bin/python"

# Several tests may ask at once: one installs, the others wait for it.
mkdir -p "$(dirname -- "$venv")"
exec 9>"$venv.lock"
flock 9

if ! "$python" -c 'import duckdb' >/dev/null 2>&1; then
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        # Debian splits venv support out of python3.
        rm -rf "$venv"
        (apt-get update -qq && apt-get install -y -qq python3-venv) >&2
        python3 -m venv "$venv" >&2
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'duckdb>=1.1' >&2
fi
echo "$python"
