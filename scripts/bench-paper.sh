#!/usr/bin/env bash
# `paper` against `dry-run` on the sample data with the sim venue and no fill delays: whole
# process medians via hyperfine. Every run starts from the same state (passed preflight, no
# order yet): hyperfine's --prepare restores it, so each `paper` run really trades.
# PROFILE=debug measures the debug build (no 12-minute release build). Needs hyperfine.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-release}
if [ "$PROFILE" = release ]; then cargo build --release --quiet; else cargo build --quiet; fi
T=$PWD/target/$PROFILE/trader
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
sed "s#^root: ..#root: $PWD#; s#state/demo#$D/state#g; s#data/demo#$D/data#g" config/demo.yaml > "$D/c.yaml"
printf 'execution:\n  poll_interval_ms: 1\n' >> "$D/c.yaml"
export TRADER_NOW=2026-05-01T19:40:00Z
unset TRADER_SIM_FAULTS
$T --config "$D/c.yaml" -q preflight --date 2026-05-01 >/dev/null
cp -a "$D/state" "$D/state.0"; cp -a "$D/data" "$D/data.0"
RESET="rm -rf $D/state $D/data && cp -a $D/state.0 $D/state && cp -a $D/data.0 $D/data"
hyperfine -w 3 -r ${RUNS:-30} --export-json "$D/h.json" --prepare "$RESET" \
  "$T --config $D/c.yaml -q dry-run --date 2026-05-01 --force" \
  "$T --config $D/c.yaml -q paper --date 2026-05-01"
python3 - "$D/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
for x in r:
    print(f"median {x['median'] * 1000:7.1f} ms  {x['command'].split(' -q ', 1)[-1]}")
print(f"paper beyond dry-run: {(r[1]['median'] - r[0]['median']) * 1000:.1f} ms (budget 50 ms)")
PY
