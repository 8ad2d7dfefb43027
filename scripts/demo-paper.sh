#!/usr/bin/env bash
# Issue #19's whole cycle on the committed sample data and the sim venue, no network:
# 22 dry-run days validated (2026-03-30 .. 2026-04-29, scripts/demo-cycle.sh), then `paper`
# for 2026-04-30 (the promotion gate is open), `status`, `halt`, a `paper` for 2026-05-01
# that exits 4, `resume`, that `paper` again (it trades or holds), `emergency-exit --confirm`
# (flat: every position sold at the venue), and again (nothing to do), then `status`.
# Everything is recorded under the config's state/ and ledger directories.
# Environment: CONFIG (default config/demo.yaml), TRADER (as in demo-cycle.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-config/demo.yaml}
if [ -z "${TRADER:-}" ]; then
  TRADER=trader
  for t in target/debug/trader target/release/trader; do [ -x "$t" ] && TRADER=$t; done
fi
export CONFIG TRADER TRADER_NOW=${TRADER_NOW:-2026-05-01T21:30:00Z}
run() { "$TRADER" --config "$CONFIG" -q "$@"; }
# The committed demo starts over on every run (its runtime files only: state/demo, data/demo).
if [ "$CONFIG" = config/demo.yaml ]; then rm -rf state/demo data/demo; fi
step() { echo "== trader $*"; }
scripts/demo-cycle.sh 2026-03-30 2026-04-29 | tail -1
step preflight --date 2026-04-30; run preflight --date 2026-04-30 >/dev/null
step paper --date 2026-04-30; run paper --date 2026-04-30
step status; run status
step preflight --date 2026-05-01; run preflight --date 2026-05-01 >/dev/null
step halt; run halt --reason "demo: a person stops trading"
step paper --date 2026-05-01 "(halted: exit 4 expected)"
rc=0; run paper --date 2026-05-01 || rc=$?
[ "$rc" -eq 4 ] || { echo "paper under the kill switch exited $rc, not 4" >&2; exit 1; }
echo "exit $rc"
step resume; run resume
step paper --date 2026-05-01; run paper --date 2026-05-01
step emergency-exit --confirm; run emergency-exit --confirm
step emergency-exit --confirm "(again: nothing to do)"; run emergency-exit --confirm
step status; run status
