#!/usr/bin/env bash
# Interleaved A/B timing of two trader binaries on the sample data: each round runs every
# command once with A, then once with B, so a machine that speeds up or slows down between
# minutes (seen here: 2x) affects both alike. Prints medians and the A/B ratio per command.
#   scripts/bench-ab.sh OLD_BINARY [NEW_BINARY] [ROUNDS]
# NEW_BINARY defaults to target/release/trader; ROUNDS to 21.
set -euo pipefail
cd "$(dirname "$0")/.."
A=$(realpath "$1"); B=$(realpath "${2:-target/release/trader}"); N=${3:-21}
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
sed "s#^root: ..#root: $PWD#; s#state/demo#$D/state#g; s#data/demo#$D/data#g" config/demo.yaml > "$D/c.yaml"
export TRADER_NOW=2026-05-01T19:40:00Z
"$B" --config "$D/c.yaml" -q preflight --date 2026-05-01 >/dev/null || true
python3 - "$A" "$B" "$N" "$D/c.yaml" <<'PY'
import statistics, subprocess, sys, time
a, b, n, cfg = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
cmds = [["--help"], ["health"], ["risk", "--date", "2026-05-01"],
        ["dry-run", "--date", "2026-05-01", "--force"],
        ["backtest", "--from", "2010-01-01", "--to", "2026-05-01"],
        ["backtest", "--from", "2010-01-01", "--to", "2026-05-01", "--no-risk"]]
def once(exe, args):
    argv = [exe] + (args if args == ["--help"] else ["--config", cfg, "-q"] + args)
    s = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - s) * 1000
for args in cmds:
    ta, tb = [], []
    for _ in range(n):
        ta.append(once(a, args)); tb.append(once(b, args))
    ma, mb = statistics.median(ta), statistics.median(tb)
    print(f"{' '.join(args):<52} A {ma:6.1f} ms  B {mb:6.1f} ms  A/B {ma / mb:4.2f}")
PY
