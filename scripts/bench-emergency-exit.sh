#!/usr/bin/env bash
# Times `trader emergency-exit --confirm` selling 50 positions on the simulated venue.
# Usage: scripts/bench-emergency-exit.sh [BINARY] [RUNS] [WORKDIR]
# The 50-position sandbox (50 symbols with bars, the sim account) is built once by the
# integration test `perf_emergency_exit_50_positions`; every run gets a fresh copy of it.
# WORKDIR defaults to a temp dir on the state disk; pass /dev/shm/... to leave fsync out.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/trader}
runs=${2:-9}
work=${3:-$(mktemp -d)}
mkdir -p "$work"
tpl="$work/template"
rm -rf "$tpl"
TRADER_EXIT_PERF_TEMPLATE="$tpl" cargo test -q --test it emergency_exit_recovery::perf_emergency_exit_50_positions >/dev/null
times=()
for i in $(seq "$runs"); do
  run="$work/run"
  rm -rf "$run"
  cp -r "$tpl" "$run"
  sed -i "s|^root: .*|root: $run|" "$run/trader.yaml"
  start=$(date +%s%N)
  TRADER_NOW=2026-05-01T19:50:00Z "$bin" --config "$run/trader.yaml" -q emergency-exit --confirm >/dev/null 2>&1
  end=$(date +%s%N)
  times+=($(( (end - start) / 1000 )))
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(echo "$sorted" | sed -n "$(( (runs + 1) / 2 ))p")
echo "emergency-exit --confirm, 50 positions, $runs runs ($bin, $work):"
echo "  median $(awk "BEGIN{printf \"%.1f\", $median/1000}") ms; all (ms): $(echo "$sorted" | awk '{printf "%.1f ", $1/1000}')"
rm -rf "$work/run"
