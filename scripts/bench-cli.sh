#!/usr/bin/env bash
# Side-by-side timings of the eventfold command on the 1M-event bench data (see
# docs/performance.md): `stats` against jq and DuckDB over the same app.jsonl, the same over the
# 10-frame archive, and `verify` in MB/s. Needs hyperfine and jq (apt); DuckDB comes from
# scripts/duckdb-env.sh. Builds the data first if it is missing.
set -euo pipefail

root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
data=/tmp/eventfold-bench/gen1-n1000000
if [ ! -s "$data/active/app.jsonl" ] || [ ! -s "$data/archive/archive.jsonl.zst" ]; then
    cargo run --release -p eventfold-bench -- 1000000 --only rebuild
fi
cargo build --release -p eventfold-cli
ef="$root/target/release/eventfold"
py="$(bash scripts/duckdb-env.sh)"
runs="${RUNS:-15}"
out="${OUT:-/tmp/eventfold-cli-bench}"
mkdir -p "$out"

cat >"$out/duckdb_types.py" <<'PY'
import duckdb, sys
files = sys.argv[1:]
duckdb.sql(f"select type, count(*) from read_json({files}, format='newline_delimited') group by type").fetchall()
PY
cat >"$out/duckdb_query.py" <<'PY'
# The query alone, in one process: DuckDB's time without Python's start-up.
import duckdb, statistics, sys, time
runs, files = int(sys.argv[1]), sys.argv[2:]
con = duckdb.connect()
sql = f"select type, count(*) from read_json({files}, format='newline_delimited') group by type"
con.sql(sql).fetchall()
times = []
for _ in range(runs):
    start = time.perf_counter()
    con.sql(sql).fetchall()
    times.append(time.perf_counter() - start)
print(f"duckdb query alone: median {statistics.median(times) * 1000:.0f} ms "
      f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}, {runs} runs)")
PY

active="$data/active"
archive="$data/archive"
echo "== load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== stats over app.jsonl (1M events, 101.5 MB)"
hyperfine -N --warmup 2 --runs "$runs" --export-json "$out/stats-active.json" \
    -n "eventfold stats" "$ef -C $active stats" \
    -n "duckdb (python)" "$py $out/duckdb_types.py $active/app.jsonl"
"$py" "$out/duckdb_query.py" "$runs" "$active/app.jsonl"
hyperfine --warmup 1 --runs 3 --export-json "$out/stats-jq.json" \
    -n "jq | sort | uniq -c" "jq -c .type $active/app.jsonl | sort | uniq -c"
echo "== stats over archive.jsonl.zst (10 frames, 16.1 MB compressed)"
hyperfine -N --warmup 2 --runs "$runs" --export-json "$out/stats-archive.json" \
    -n "eventfold stats" "$ef -C $archive stats" \
    -n "duckdb (python)" "$py $out/duckdb_types.py $archive/archive.jsonl.zst"
"$py" "$out/duckdb_query.py" "$runs" "$archive/archive.jsonl.zst"
echo "== verify"
hyperfine -N --warmup 1 --runs "$runs" --export-json "$out/verify.json" \
    -n "verify app.jsonl" "$ef -C $active verify" \
    -n "verify archive" "$ef -C $archive verify" \
    -n "verify --quick archive" "$ef -C $archive verify --quick"
for f in "$out"/stats-active.json "$out"/stats-jq.json "$out"/stats-archive.json "$out"/verify.json; do
    python3 - "$f" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    mb = 101.515820
    print(f"{r['command']:<24} median {r['median'] * 1000:8.0f} ms  ({mb / r['median']:6.0f} MB/s of history)")
PY
done
