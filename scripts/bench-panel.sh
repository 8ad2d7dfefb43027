#!/usr/bin/env bash
# `trader preflight` over the 505-stock S&P 500 panel of ../shared/data/panel (2013-02-08 ..
# 2018-02-07), imported with our own CSV importer next to the sample ETFs the strategy needs.
# Skips cleanly when the panel is absent. Usage: scripts/bench-panel.sh [PANEL_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
PANEL=${1:-../shared/data/panel/sp500_5yr_2013_2018}
if [ ! -d "$PANEL" ]; then echo "panel not found at $PANEL: skipped"; exit 0; fi
cargo build --release --quiet
T=$PWD/target/release/trader
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
mkdir -p "$D/csv" "$D/bars"
for f in "$PANEL"/*_data.csv.gz; do
  s=$(basename "$f" _data.csv.gz)
  gunzip -c "$f" > "$D/csv/$s.csv"
done
cp data/sample/*.parquet "$D/bars/"
syms=$(ls "$D/csv" | sed 's/\.csv$//' | paste -sd, -)
cat > "$D/c.yaml" <<YAML
root: $D
paths: { state_dir: state, bars_dir: bars, ledger_dir: ledger, logs_dir: logs, kill_switch: state/KILL }
data:
  source: csv
  extra_symbols: [${syms}]
YAML
NOW=2018-02-07T20:40:00Z
echo "importing $(ls "$D/csv" | wc -l) panel files…"
/usr/bin/time -f "import: %e s wall, %M KB max RSS" \
  env TRADER_NOW=$NOW "$T" --config "$D/c.yaml" -q fetch --source csv --from "$D/csv" --skip-bad-rows
env TRADER_NOW=$NOW "$T" --config "$D/c.yaml" preflight --date 2018-02-07 | tail -12 || true
/usr/bin/time -f "preflight: %e s wall, %M KB max RSS" \
  env TRADER_NOW=$NOW "$T" --config "$D/c.yaml" -q preflight --date 2018-02-07 >/dev/null || true
TRADER_NOW=$NOW hyperfine -N -w 3 -r 20 -i --export-json "$D/h.json" "$T --config $D/c.yaml -q preflight --date 2018-02-07"
python3 - "$D/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(f"median {r['median'] * 1000:.1f} ms: preflight over the 505-stock panel")
PY
