#!/usr/bin/env bash
# The #19 demo cycle on the committed sample data: for every weekday from FROM to TO,
# `preflight`, `dry-run` and `validate` for that date (a holiday says "not a trading day"
# and is skipped by trader itself), then `status`, which shows the paper gate's progress
# (open after 20 dry-run days validated GREEN or YELLOW).
#   scripts/demo-cycle.sh [FROM] [TO]        defaults: 2026-03-30 2026-05-01 (24 sessions)
# Environment: CONFIG (default config/demo.yaml), TRADER (default target/release/trader, else
# target/debug/trader, else `trader` on PATH), TRADER_NOW (default 2026-05-01T21:30:00Z:
# after the last sample close).
# Stops at the first command that fails, with its exit code (validate RED is 6).
set -euo pipefail
cd "$(dirname "$0")/.."
FROM=${1:-2026-03-30}
TO=${2:-2026-05-01}
CONFIG=${CONFIG:-config/demo.yaml}
if [ -z "${TRADER:-}" ]; then
  TRADER=trader
  for t in target/debug/trader target/release/trader; do [ -x "$t" ] && TRADER=$t; done
fi
export TRADER_NOW=${TRADER_NOW:-2026-05-01T21:30:00Z}
run() { "$TRADER" --config "$CONFIG" -q "$@"; }
d=$FROM
while [[ ! "$d" > "$TO" ]]; do
  if [ "$(date -u -d "$d" +%u)" -le 5 ]; then
    run preflight --date "$d" >/dev/null
    run dry-run --date "$d" >/dev/null
    v=$(run validate --date "$d") || { rc=$?; echo "$v"; exit "$rc"; }
    echo "${v%%$'\n'*}"
  fi
  d=$(date -u -d "$d + 1 day" +%F)
done
run status
