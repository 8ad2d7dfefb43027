#!/usr/bin/env bash
# Issue #17 benchmarks: a daily incremental Alpaca fetch of 4,000 symbols (one new bar each,
# local double, no pacing) and preflight over them; medians of 5 runs and peak RSS.
# Usage: scripts/bench-feeds.sh [SYMBOLS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
TRADER_BENCH_BIN=$PWD/target/release/trader \
TRADER_BENCH_SYMBOLS=${1:-4000} TRADER_BENCH_RUNS=${2:-5} \
  cargo test --quiet --test it perf_feeds -- --ignored --nocapture
