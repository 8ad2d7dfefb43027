//! Throughput: 505 symbols × 5 years of daily bars through the Alpaca path, served locally.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate, TimeZone, Weekday};
use chrono_tz::America::New_York;
use trader::data::alpaca;

use super::{alpaca_cfg, d};
use crate::http_double::{HttpDouble, Reply};

/// 505 symbols × ~5 years of daily bars through the Alpaca path (bodies built before timing).
/// Asserts ≤ 3 s in release builds (`cargo test --release --test it -- --nocapture perf`);
/// debug builds run a quarter of the history and only check correctness.
#[test]
fn perf_505_symbols_5_years_alpaca() {
    let symbols: Vec<String> = (0..505).map(|i| format!("S{i:03}")).collect();
    // Full size in release; a quarter in debug builds so the default test run stays quick.
    let end = if cfg!(debug_assertions) {
        d(2019, 3, 29)
    } else {
        d(2023, 12, 29)
    };
    let start = d(2019, 1, 2);
    let stamps: Vec<(NaiveDate, String)> = start
        .iter_days()
        .take_while(|x| *x <= end)
        .filter(|x| !matches!(x.weekday(), Weekday::Sat | Weekday::Sun))
        .map(|x| {
            let t = New_York
                .with_ymd_and_hms(x.year(), x.month(), x.day(), 0, 0, 0)
                .earliest()
                .expect("NY midnight");
            (
                x,
                t.with_timezone(&chrono::Utc)
                    .format("%Y-%m-%dT%H:%M:%SZ")
                    .to_string(),
            )
        })
        .collect();
    let page_limit = 10_000usize;
    let mut pages = std::collections::HashMap::new();
    for chunk in symbols.chunks(100) {
        let all: Vec<(&String, &String)> = chunk
            .iter()
            .flat_map(|s| stamps.iter().map(move |(_, t)| (s, t)))
            .collect();
        let n_pages = all.len().div_ceil(page_limit);
        for (p, slice) in all.chunks(page_limit).enumerate() {
            let mut body = String::with_capacity(slice.len() * 110);
            body.push_str("{\"bars\":{");
            let mut current: Option<&String> = None;
            for (i, (s, t)) in slice.iter().enumerate() {
                if current != Some(*s) {
                    if current.is_some() {
                        body.push_str("],");
                    }
                    body.push_str(&format!("\"{s}\":["));
                    current = Some(*s);
                } else {
                    body.push(',');
                }
                let px = 100.0 + (i % 97) as f64 * 0.25;
                body.push_str(&format!(
                    "{{\"t\":\"{t}\",\"o\":{px},\"h\":{},\"l\":{},\"c\":{},\"v\":1234567,\"n\":4321,\"vw\":{px}}}",
                    px + 1.5, px - 1.25, px + 0.5
                ));
            }
            let token = if p + 1 < n_pages {
                format!("\"p{}\"", p + 1)
            } else {
                "null".to_string()
            };
            body.push_str(&format!("]}},\"next_page_token\":{token}}}"));
            pages.insert((chunk.join(","), p), Arc::new(body.into_bytes()));
        }
    }
    let total_bytes: usize = pages.values().map(|b| b.len()).sum();
    let pages = Arc::new(pages);
    let server = HttpDouble::with_handler(move |_, req| {
        let page = req
            .query("page_token")
            .and_then(|t| t.trim_start_matches('p').parse().ok())
            .unwrap_or(0);
        let key = (req.query("symbols").unwrap_or_default(), page);
        pages
            .get(&key)
            .map_or_else(|| Reply::json(404, "{}"), |b| Reply::shared(200, b.clone()))
    });
    let t0 = Instant::now();
    let res =
        alpaca::fetch_daily_bars(&alpaca_cfg(&server), &symbols, start, end).expect("perf fetch");
    let wall = t0.elapsed();
    let bars: usize = res.bars.values().map(Vec::len).sum();
    assert_eq!(bars, 505 * stamps.len());
    println!(
        "perf: {} symbols x {} days = {bars} bars, {} requests, {:.1} MB JSON in {:.3} s",
        res.bars.len(),
        stamps.len(),
        res.requests,
        total_bytes as f64 / 1e6,
        wall.as_secs_f64()
    );
    if !cfg!(debug_assertions) {
        assert!(wall <= Duration::from_secs(3), "505x5y took {wall:?}");
    }
}
