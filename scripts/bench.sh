#!/usr/bin/env bash
# Whole-process timings of the release binary on the sample data (medians via hyperfine),
# and peak RSS of the backtest and the dry-run (GNU time). Needs hyperfine
# (`apt-get install hyperfine`).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
T=./target/release/trader
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
sed "s#^root: ..#root: $PWD#; s#state/demo#$D/state#g; s#data/demo#$D/data#g" config/demo.yaml > "$D/c.yaml"
export TRADER_NOW=2026-05-01T19:40:00Z
$T --config "$D/c.yaml" -q preflight --date 2026-05-01 >/dev/null
hyperfine -N -w 3 -r 30 --export-json "$D/h.json" "$T --help" \
  "$T --config $D/c.yaml health" \
  "$T --config $D/c.yaml backtest --from 2010-01-01 --to 2026-05-01" \
  "$T --config $D/c.yaml backtest --from 2010-01-01 --to 2026-05-01 --no-risk" \
  "$T --config $D/c.yaml risk --date 2026-05-01" \
  "$T --config $D/c.yaml dry-run --date 2026-05-01 --force"
# Medians (hyperfine's summary above shows means).
python3 - "$D/h.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    cmd = r["command"].split(" ", 1)[-1].split(" ", 2)[-1]
    print(f"median {r['median'] * 1000:7.1f} ms  {cmd}")
PY
# validate runs after the close, on a recorded dry-run of the day (#19: <= 50 ms).
TRADER_NOW=2026-05-01T21:30:00Z $T --config "$D/c.yaml" -q preflight --date 2026-04-30 >/dev/null
TRADER_NOW=2026-05-01T21:30:00Z $T --config "$D/c.yaml" -q dry-run --date 2026-04-30 >/dev/null
TRADER_NOW=2026-05-01T21:30:00Z hyperfine -N -w 3 -r 30 --export-json "$D/v.json" \
  "$T --config $D/c.yaml -q validate --date 2026-04-30" \
  "$T --config $D/c.yaml -q status"
python3 - "$D/v.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    cmd = r["command"].split(" ", 1)[-1].split(" ", 3)[-1]
    print(f"median {r['median'] * 1000:7.1f} ms  {cmd}")
PY
for cmd in "backtest --from 2010-01-01 --to 2026-05-01" "dry-run --date 2026-05-01 --force"; do
  /usr/bin/time -f "peak RSS %M KB: $cmd" $T --config "$D/c.yaml" -q $cmd >/dev/null
done
