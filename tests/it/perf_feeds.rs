//! Benchmarks of issue #17 (ignored by default): a daily incremental fetch of 4,000 symbols
//! with one new bar each against the local Alpaca double without pacing (target ≤ 3 s whole
//! process), and preflight over the same 4,000 symbols (≤ 300 ms, peak RSS ≤ 300 MB).
//!
//! Run: `scripts/bench-feeds.sh` (builds the release binary and passes it in
//! `TRADER_BENCH_BIN`), or `cargo test --test it perf_feeds -- --ignored --nocapture` for a
//! debug run. Sizes: `TRADER_BENCH_SYMBOLS` (4000), `TRADER_BENCH_RUNS` (5).

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use serde_json::{Value, json};
use trader::data::store::BarStore;
use trader::model::Bar;

use crate::common::Sandbox;
use crate::http_double::{HttpDouble, Reply};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn close(sym: usize, date: NaiveDate) -> f64 {
    use chrono::Datelike;
    let t = date.num_days_from_ce() as f64;
    50.0 + (sym % 97) as f64 + 5.0 * ((t / 37.0) + sym as f64).sin()
}

fn bar(sym: usize, date: NaiveDate) -> Bar {
    let c = close(sym, date);
    Bar {
        date,
        open: c,
        high: c + 0.5,
        low: c - 0.5,
        close: c,
        volume: 1e6,
        adj_close: Some(c),
        dividend: 0.0,
        split_factor: 1.0,
        provisional: false,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn children_usage() -> libc::rusage {
    // SAFETY: getrusage only writes the struct it is given.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
        ru
    }
}

/// User + system CPU seconds of all children waited for so far (less sensitive than wall
/// time to other load on a shared machine).
fn children_cpu_secs() -> f64 {
    let ru = children_usage();
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

#[test]
#[ignore]
fn perf_feeds_4000_symbols_daily_fetch_and_preflight() {
    let n = env_usize("TRADER_BENCH_SYMBOLS", 4000);
    let runs = env_usize("TRADER_BENCH_RUNS", 5);
    let bin = std::env::var("TRADER_BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_trader").to_string());
    let required = ["QQQ", "TQQQ", "TMF", "TMV", "TLT"];
    let mut symbols: Vec<String> = required.iter().map(|s| s.to_string()).collect();
    symbols.extend((0..n - required.len()).map(|i| format!("S{i:04}")));
    let index: Arc<BTreeMap<String, usize>> = Arc::new(
        symbols
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), i))
            .collect(),
    );
    // About 1,200 sessions stored (2020-07-01 ..), then one new session per run.
    let all = trader::calendar::sessions_between(
        "2020-07-01".parse().expect("date"),
        "2025-06-30".parse().expect("date"),
    )
    .expect("sessions");
    let seeded = 1200;
    let sb = Sandbox::empty("");
    let store = BarStore::new(&sb.path().join("bars"));
    let t0 = Instant::now();
    let mut map = BTreeMap::new();
    for (s, i) in index.iter() {
        map.insert(
            s.clone(),
            all[..seeded]
                .iter()
                .map(|d| bar(*i, *d))
                .collect::<Vec<_>>(),
        );
        if map.len() == 500 {
            store.write_many(&map).expect("seed");
            map.clear();
        }
    }
    store.write_many(&map).expect("seed");
    eprintln!(
        "seeded {n} symbols × {seeded} bars in {:.1}s",
        t0.elapsed().as_secs_f64()
    );

    let idx = index.clone();
    let server = HttpDouble::with_handler(move |_, req| {
        let q = |k: &str| req.query(k).unwrap_or_default();
        let start: NaiveDate = q("start")
            .get(..10)
            .and_then(|s| s.parse().ok())
            .expect("start");
        let end = chrono::DateTime::parse_from_rfc3339(&q("end"))
            .map(|t| (t.with_timezone(&chrono::Utc) - chrono::Duration::hours(6)).date_naive())
            .expect("end");
        let mut bars = serde_json::Map::new();
        for sym in q("symbols").split(',') {
            let Some(i) = idx.get(sym) else { continue };
            let list: Vec<Value> = trader::calendar::sessions_between(start, end)
                .unwrap_or_default()
                .into_iter()
                .map(|d| {
                    let c = close(*i, d);
                    json!({"t": format!("{d}T05:00:00Z"), "o": c, "h": c + 0.5, "l": c - 0.5, "c": c, "v": 1e6})
                })
                .collect();
            bars.insert(sym.to_string(), Value::Array(list));
        }
        Reply::json(
            200,
            json!({"bars": bars, "next_page_token": null}).to_string(),
        )
    });
    let extras: Vec<&String> = symbols[required.len()..].iter().collect();
    let cfg = format!(
        "root: {root}\npaths: {{ state_dir: state, bars_dir: bars, ledger_dir: ledger, logs_dir: logs, kill_switch: state/KILL }}\n\
         data:\n  source: alpaca\n  overlap_days: 0\n  extra_symbols: [{}]\n  alpaca:\n    base_url: {}\n    http: {{ min_interval_ms: 0, max_attempts: 1 }}\n",
        extras
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        server.base_url(),
        root = sb.path().display()
    );
    std::fs::write(sb.config(), cfg).expect("config");
    // With /usr/bin/time each run also reports its own peak RSS (getrusage only gives the
    // maximum over all children).
    let time = std::path::Path::new("/usr/bin/time").exists();
    let trader = |now: &str, args: &[&str]| {
        let cpu0 = children_cpu_secs();
        let t = Instant::now();
        let mut cmd = if time {
            let mut c = Command::new("/usr/bin/time");
            c.args(["-f", "maxrss_kb=%M", &bin]);
            c
        } else {
            Command::new(&bin)
        };
        let out = cmd
            .arg("--config")
            .arg(sb.config())
            .arg(if std::env::var("TRADER_BENCH_VERBOSE").is_ok() {
                "-v"
            } else {
                "-q"
            })
            .args(args)
            .env("TRADER_NOW", now)
            .env("APCA_API_KEY_ID", "bench")
            .env("APCA_API_SECRET_KEY", "bench")
            .output()
            .expect("run");
        if std::env::var("TRADER_BENCH_VERBOSE").is_ok() {
            eprint!("{}", String::from_utf8_lossy(&out.stderr));
        }
        (t.elapsed().as_secs_f64(), children_cpu_secs() - cpu0, out)
    };
    let rss_of = |out: &std::process::Output| -> Option<u64> {
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter_map(|l| l.strip_prefix("maxrss_kb="))
            .next_back()
            .and_then(|v| v.trim().parse().ok())
    };
    let (mut fetch_rss, mut pf_rss) = (0u64, 0u64);
    let (mut fetch_secs, mut fetch_cpu) = (Vec::new(), Vec::new());
    let mut day = all[seeded - 1];
    for k in 0..runs {
        day = all[seeded + k];
        // 20:00 New York (after the settle time), as a UTC instant: 01:00Z next day in EST/EDT
        // is simplest as `day + 1 01:30Z`.
        let now = format!("{}T01:30:00Z", day.succ_opt().expect("next"));
        let (secs, cpu, out) = trader(&now, &["--json", "fetch"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("summary");
        assert_eq!(v["rows_added"], n, "one new bar each: {v}");
        fetch_secs.push(secs);
        fetch_cpu.push(cpu);
        fetch_rss = fetch_rss.max(rss_of(&out).unwrap_or(0));
    }
    let (mut pf_secs, mut pf_cpu) = (Vec::new(), Vec::new());
    let now = format!("{}T01:30:00Z", day.succ_opt().expect("next"));
    for _ in 0..runs {
        let (secs, cpu, out) = trader(&now, &["--json", "preflight", "--date", &day.to_string()]);
        let v: Value = serde_json::from_slice(&out.stdout).expect("verdict");
        assert_eq!(v["pass"], true, "{v}");
        pf_secs.push(secs);
        pf_cpu.push(cpu);
        pf_rss = pf_rss.max(rss_of(&out).unwrap_or(0));
    }
    eprintln!(
        "fetch of {n} symbols, one new bar each: median {:.3}s wall, {:.3}s CPU over {runs} runs {fetch_secs:?}; peak RSS {} MB",
        median(fetch_secs.clone()),
        median(fetch_cpu.clone()),
        fetch_rss / 1024
    );
    eprintln!(
        "preflight over {n} symbols: median {:.3}s wall, {:.3}s CPU over {runs} runs {pf_secs:?}; peak RSS {} MB",
        median(pf_secs.clone()),
        median(pf_cpu.clone()),
        pf_rss / 1024
    );
    if std::env::var("TRADER_BENCH_KEEP").is_ok() {
        let kept = sb.dir.keep();
        eprintln!(
            "kept the sandbox at {} (config trader.yaml; TRADER_NOW={now})",
            kept.display()
        );
    }
}
