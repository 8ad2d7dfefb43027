//! Benchmarks of #20 against the local Alpaca double (ignored by default; run with a release
//! binary: `TRADER_BENCH_BIN=target/release/trader cargo test --test it perf_alpaca --
//! --ignored --nocapture`): `paper` with its orders filled on the first poll, and
//! `emergency-exit --confirm` flattening 50 positions. Medians of `TRADER_BENCH_RUNS` (7).

use std::process::Command;
use std::time::{Duration, Instant};

use crate::alpaca_double::AlpacaDouble;
use crate::alpaca_paper::{KEY, SECRET, sandbox as setup};
use crate::common::Sandbox;

fn bin() -> String {
    std::env::var("TRADER_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_trader").into())
}

fn runs() -> usize {
    std::env::var("TRADER_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7)
}

fn timed(sb: &Sandbox, args: &[&str]) -> Duration {
    let t = Instant::now();
    let out = Command::new(bin())
        .arg("--config")
        .arg(sb.config())
        .args(args)
        .env("TRADER_NOW", "2026-05-01T19:50:00Z")
        .env("APCA_API_KEY_ID", KEY)
        .env("APCA_API_SECRET_KEY", SECRET)
        .output()
        .expect("run");
    let d = t.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    d
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[test]
#[ignore]
fn perf_alpaca_paper_and_emergency_exit() {
    let mut paper = Vec::new();
    let mut orders = 0;
    for _ in 0..runs() {
        let server = AlpacaDouble::start(KEY, SECRET);
        let sb = setup(&server);
        timed(&sb, &["preflight", "--date", "2026-05-01"]);
        paper.push(timed(&sb, &["paper", "--date", "2026-05-01"]));
        orders = server.with(|b| b.orders.len());
    }
    let mut exit = Vec::new();
    for _ in 0..runs() {
        let server = AlpacaDouble::start(KEY, SECRET);
        let sb = setup(&server);
        server.with(|b| {
            b.positions = (0..50)
                .map(|i| (format!("S{i:02}"), "10".to_string(), "50.00".to_string()))
                .collect();
        });
        exit.push(timed(&sb, &["emergency-exit", "--confirm"]));
        assert!(server.with(|b| b.positions.is_empty()));
    }
    println!(
        "paper ({orders} orders): median {:?} of {paper:?}\nemergency-exit 50 positions: median {:?} of {exit:?}",
        median(paper.clone()),
        median(exit.clone())
    );
}
