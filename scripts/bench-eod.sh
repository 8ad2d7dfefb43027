#!/usr/bin/env bash
# Benchmark `backtest --report` 2010-2026 on config/demo.yaml (median of 7 runs).
# Usage: scripts/bench-eod.sh [BIN] (default target-rel/release/trader).
# Not yet here: the `trader eod` half (a state whose equity_history is grown from the
# backtest's equity.parquet).
set -euo pipefail
BIN=${1:-target-rel/release/trader}
CFG=config/demo.yaml
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
echo "backtest --report: $(for i in 1 2 3 4 5 6 7; do time_ms "$BIN" --config "$CFG" backtest --from 2010-01-04 --to 2026-04-30 --report "$WORK/sheet" -q; done | median) ms (median of 7)"
