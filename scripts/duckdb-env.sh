#!/usr/bin/env bash
# Prints the path of a Python interpreter that can `import duckdb`, from a virtual environment
# under target/.
#   scripts/duckdb-env.sh            installs DuckDB from PyPI into it first if it is missing
#                                    (and Debian's python3-venv, if venv support is missing)
#   scripts/duckdb-env.sh --check    installs nothing: exits 3, printing nothing, when DuckDB is
#                                    not there (what the DuckDB tests call)
set -euo pipefail

root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${CARGO_TARGET_DIR:-$root/target}/duckdb-venv"
python="$venv/bin/python"

if [ "${1:-}" = "--check" ]; then
    if "$python" -c 'import duckdb' >/dev/null 2>&1; then
        echo "$python"
        exit 0
    fi
    exit 3
fi

# Several callers may ask at once: one installs, the others wait for it.
mkdir -p "$(dirname -- "$venv")"
exec 9>"$venv.lock"
flock 9

if ! "$python" -c 'import duckdb' >/dev/null 2>&1; then
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        # Debian splits venv support out of python3.
        rm -rf "$venv"
        echo "==> apt-get install python3-venv" >&2
        (apt-get update -qq && apt-get install -y -qq python3-venv) >&2
        python3 -m venv "$venv" >&2
    fi
    echo "==> pip install duckdb (into $venv)" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'duckdb>=1.1' >&2
fi
echo "$python"
