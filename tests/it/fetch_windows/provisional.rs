//! Provisional bars (issue #17 item 1): a bar dated today fetched before the session's close
//! plus `data.official_after` is provisional whatever the source says (Alpaca and Yahoo), the
//! next fetch after that time replaces it, and a bar plus a `--quotes` snapshot of the same
//! day count once.

use serde_json::{Value, json};

use super::{
    alpaca_double, alpaca_sandbox, close_of, code, d, feed, fetch, run, sessions, stderr, stdout,
    stored,
};
use crate::common::Sandbox;
use crate::http_double::{HttpDouble, Reply};
use chrono::NaiveDate;

/// Wednesday 2024-03-06 (EST, close 16:00 = 21:00Z).
const BEFORE_CLOSE: &str = "2024-03-06T20:50:00Z"; // 15:50
const BEFORE_SETTLED: &str = "2024-03-06T21:10:00Z"; // 16:10, closed but not settled
const AFTER_SETTLED: &str = super::AFTER_SETTLED; // 16:20

#[test]
fn a_bar_dated_today_before_the_settle_time_is_provisional_then_replaced() {
    let dates = sessions("2024-02-26", "2024-03-06");
    let f = feed(&[("AAPL", dates.clone()), ("MSFT", dates.clone())]);
    let first = alpaca_double(f.clone(), 0.0);
    let sb = alpaca_sandbox(&first, "2024-02-26");
    let (c, v, err) = fetch(&sb, BEFORE_CLOSE, "AAPL,MSFT");
    assert_eq!(c, 0, "{err}");
    assert_eq!(v["rows_added"], 2 * dates.len());
    assert_eq!(v["rows_provisional"], 2, "{v}");
    let aapl = stored(&sb, "AAPL").expect("AAPL");
    let today = aapl.last().expect("bar");
    assert_eq!(today.date, d("2024-03-06"));
    assert!(
        today.provisional,
        "source said final, but the session is open"
    );
    assert!(aapl[..aapl.len() - 1].iter().all(|b| !b.provisional));

    // 16:10: closed but inside the 15-minute settle margin: still provisional.
    let (c, v, err) = fetch(&sb, BEFORE_SETTLED, "AAPL,MSFT");
    assert_eq!(c, 0, "{err}");
    assert_eq!(v["rows_provisional"], 2, "{v}");
    assert!(
        stored(&sb, "AAPL")
            .expect("AAPL")
            .last()
            .expect("b")
            .provisional
    );

    // After 16:15 the next fetch replaces it with the final bar (the source revised the close).
    drop(first);
    let second = alpaca_double(f, 0.5);
    edit_base_url(&sb, &second);
    let (c, v, err) = fetch(&sb, AFTER_SETTLED, "AAPL,MSFT");
    assert_eq!(c, 0, "{err}");
    assert_eq!(v["rows_added"], 0, "{v}");
    assert_eq!(v["rows_provisional"], 0, "{v}");
    let aapl = stored(&sb, "AAPL").expect("AAPL");
    let last = aapl.last().expect("bar");
    assert_eq!(last.date, d("2024-03-06"));
    assert!(!last.provisional);
    assert_eq!(last.close, close_of(d("2024-03-06"), 0.5));
    assert_eq!(aapl.len(), dates.len(), "replaced, not duplicated");
}

#[test]
fn quotes_and_the_bars_endpoint_give_one_provisional_row_per_symbol() {
    let dates = sessions("2024-02-26", "2024-03-06");
    let server = alpaca_double(
        feed(&[("AAPL", dates.clone()), ("MSFT", dates.clone())]),
        0.0,
    );
    let sb = alpaca_sandbox(&server, "2024-02-26");
    let out = run(
        &sb,
        BEFORE_CLOSE,
        &["--json", "fetch", "--quotes", "--symbols", "AAPL,MSFT"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(v["rows_added"], 2 * dates.len(), "today counted once: {v}");
    assert_eq!(v["rows_provisional"], 2, "{v}");
    let aapl = stored(&sb, "AAPL").expect("AAPL");
    assert_eq!(aapl.len(), dates.len());
    let last = aapl.last().expect("bar");
    assert!(last.provisional);
    assert_eq!(
        last.close,
        close_of(d("2024-03-06"), 0.0) + 0.25,
        "the snapshot's latest trade"
    );
}

#[test]
fn an_early_close_shifts_the_settle_time_by_the_same_margin() {
    // Wednesday 2024-07-03 closes at 13:00 (EDT): settled from 13:15 = 17:15Z.
    let dates = sessions("2024-06-26", "2024-07-03");
    let server = alpaca_double(feed(&[("AAPL", dates)]), 0.0);
    let sb = alpaca_sandbox(&server, "2024-06-26");
    let (c, v, err) = fetch(&sb, "2024-07-03T17:10:00Z", "AAPL");
    assert_eq!((c, v["rows_provisional"].clone()), (0, json!(1)), "{err}");
    let (c, v, err) = fetch(&sb, "2024-07-03T17:20:00Z", "AAPL");
    assert_eq!((c, v["rows_provisional"].clone()), (0, json!(0)), "{err}");
    assert!(
        !stored(&sb, "AAPL")
            .expect("AAPL")
            .last()
            .expect("b")
            .provisional
    );
    // A later settle time in the config keeps it provisional at 13:20 (in a fresh store:
    // a provisional bar never displaces an official one).
    let sb = alpaca_sandbox(&server, "2024-06-26");
    let text = std::fs::read_to_string(sb.config()).expect("config");
    std::fs::write(
        sb.config(),
        text.replace(
            "  overlap_days: 5\n",
            "  overlap_days: 5\n  official_after: \"16:30\"\n",
        ),
    )
    .expect("write");
    let (c, v, err) = fetch(&sb, "2024-07-03T17:20:00Z", "AAPL");
    assert_eq!((c, v["rows_provisional"].clone()), (0, json!(1)), "{err}");
}

fn edit_base_url(sb: &Sandbox, server: &HttpDouble) {
    let text = std::fs::read_to_string(sb.config()).expect("config");
    let mut out = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("base_url:") {
            out.push_str(&format!("    base_url: {}\n", server.base_url()));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    std::fs::write(sb.config(), out).expect("write config");
}

/// A Yahoo chart body for `symbol` with a bar on every date of `dates` in `start..=end`.
fn yahoo_body(symbol: &str, dates: &[NaiveDate], p1: i64, p2: i64) -> String {
    let mut ts = Vec::new();
    let mut closes = Vec::new();
    for x in dates {
        // 09:30 New York (EST/EDT): 14:30Z or 13:30Z; either is the same New York date.
        let t = x
            .and_hms_opt(14, 30, 0)
            .expect("time")
            .and_utc()
            .timestamp();
        if t >= p1 && t < p2 {
            ts.push(t);
            closes.push(close_of(*x, 0.0));
        }
    }
    let highs: Vec<f64> = closes.iter().map(|c| c + 1.0).collect();
    let lows: Vec<f64> = closes.iter().map(|c| c - 1.0).collect();
    let vols: Vec<f64> = closes.iter().map(|_| 1000.0).collect();
    json!({"chart": {"result": [{
        "meta": {"symbol": symbol, "exchangeTimezoneName": "America/New_York"},
        "timestamp": ts,
        "indicators": {"quote": [{"open": closes, "high": highs, "low": lows, "close": closes, "volume": vols}],
                        "adjclose": [{"adjclose": closes}]}
    }], "error": null}})
    .to_string()
}

#[test]
fn yahoo_today_during_the_session_is_provisional_too() {
    let dates = sessions("2024-02-26", "2024-03-06");
    let server = HttpDouble::with_handler(move |_, req| {
        let p1 = req
            .query("period1")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let p2 = req
            .query("period2")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Reply::json(200, yahoo_body("AAPL", &dates, p1, p2))
    });
    let sb = Sandbox::empty(&format!(
        "data:\n  source: yahoo\n  history_start: 2024-02-26\n  yahoo:\n    base_url: {}\n    http: {{ max_attempts: 1, min_interval_ms: 0 }}\n",
        server.base_url()
    ));
    let (c, v, err) = fetch(&sb, BEFORE_CLOSE, "AAPL");
    assert_eq!(c, 0, "{err}");
    assert_eq!(v["rows_provisional"], 1, "{v}");
    assert!(
        stored(&sb, "AAPL")
            .expect("AAPL")
            .last()
            .expect("b")
            .provisional
    );
    let (c, v, err) = fetch(&sb, AFTER_SETTLED, "AAPL");
    assert_eq!(c, 0, "{err}");
    assert_eq!(
        (v["rows_provisional"].clone(), v["rows_added"].clone()),
        (json!(0), json!(0))
    );
    assert!(
        !stored(&sb, "AAPL")
            .expect("AAPL")
            .last()
            .expect("b")
            .provisional
    );
}

#[test]
fn yahoo_404_is_an_unknown_symbol_not_a_failed_fetch() {
    let dates = sessions("2024-02-26", "2024-03-06");
    let server = HttpDouble::with_handler(move |_, req| {
        if req.path().ends_with("/ZZZZ") {
            let e = r#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#;
            return Reply::json(404, e);
        }
        let p1 = req
            .query("period1")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let p2 = req
            .query("period2")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Reply::json(200, yahoo_body("AAPL", &dates, p1, p2))
    });
    let sb = Sandbox::empty(&format!(
        "data:\n  source: yahoo\n  history_start: 2024-02-26\n  yahoo:\n    base_url: {}\n    http: {{ max_attempts: 1, min_interval_ms: 0 }}\n",
        server.base_url()
    ));
    let (c, v, err) = fetch(&sb, AFTER_SETTLED, "AAPL,ZZZZ");
    assert_eq!(c, 0, "{err}");
    assert_eq!(v["no_data"][0]["symbol"], "ZZZZ", "{v}");
    let reason = v["no_data"][0]["reason"].as_str().expect("reason");
    assert!(
        reason.starts_with("unknown to the source (HTTP 404"),
        "{reason}"
    );
    assert!(stored(&sb, "AAPL").is_some());
    assert!(!sb.path().join("bars/ZZZZ.parquet").exists());
}
