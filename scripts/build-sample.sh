#!/usr/bin/env bash
# Rebuild data/sample/ (the committed offline sample) from ../shared/data/etf with trader's
# own CSV importer. Prices are rounded to 6 decimals, rows kept from 2008-09-10 (the
# strategy's history_start) through 2026-05-01. See data/sample/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${1:-../shared/data/etf}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/csv"
python3 - "$SRC" "$TMP/csv" <<'PY'
import csv, sys
src, out = sys.argv[1], sys.argv[2]
FIRST, LAST = "2008-09-10", "2026-05-01"
def r6(x): return f"{float(x):.6f}".rstrip("0").rstrip(".")
for sym in ["QQQ", "TQQQ", "TLT", "TMF"]:
    with open(f"{src}/yahoo_raw_adj/{sym}.csv") as f, open(f"{out}/{sym}.csv", "w") as g:
        rows = list(csv.DictReader(f))
        g.write("Date,Open,High,Low,Close,AdjClose,Volume,Dividends\n")
        for r in rows:
            if FIRST <= r["Date"] <= LAST:
                g.write(",".join([r["Date"], r6(r["Open"]), r6(r["High"]), r6(r["Low"]), r6(r["Close"]),
                                  r6(r["AdjClose"]), str(int(float(r["Volume"]))), r6(r["Dividends"])]) + "\n")
with open(f"{src}/yahoo_adjclose_only/TMV.csv") as f, open(f"{out}/TMV.csv", "w") as g:
    g.write("Date,Close\n")
    for r in csv.DictReader(f):
        if FIRST <= r["Date"] <= LAST:
            g.write(f'{r["Date"]},{r6(r["Close"])}\n')
PY
cat > "$TMP/sample.yaml" <<YAML
root: $PWD
paths:
  state_dir: $TMP/state
  bars_dir: data/sample
  ledger_dir: $TMP/ledger
  logs_dir: $TMP/logs
  kill_switch: $TMP/KILL
YAML
rm -f data/sample/*.parquet
cargo run --quiet -- --config "$TMP/sample.yaml" fetch --source csv --from "$TMP/csv"
ls -l data/sample
