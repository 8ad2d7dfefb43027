//! `trader fetch` on a synthetic feed (issue #17): bars dated today before the session has
//! settled are provisional and replaced after it; each symbol gets its own window (a stale one
//! does not widen the others' requests); a symbol with no data is reported and not written;
//! a failed fetch is recorded in the state.
//!
//! The double serves, for every requested symbol, the bars of a fixed date list that fall in
//! the request's `start..=end` (Alpaca) or `period1..period2` (Yahoo), in one page.

use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use trader::data::store::BarStore;
use trader::model::Bar;

use crate::common::{Sandbox, code, stderr, stdout};
use crate::http_double::{HttpDouble, Recorded, Reply};

const KEYS: [(&str, &str); 2] = [
    ("APCA_API_KEY_ID", "PKWINDOWSTEST00000"),
    ("APCA_API_SECRET_KEY", "windows-secret-0123456789"),
];

fn d(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

/// Trading days `from..=to` (the calendar is the program's own).
fn sessions(from: &str, to: &str) -> Vec<NaiveDate> {
    trader::calendar::sessions_between(d(from), d(to)).expect("sessions")
}

/// Dates served per symbol; a symbol not in the map has no data.
type Feed = Arc<BTreeMap<String, Vec<NaiveDate>>>;

fn feed(items: &[(&str, Vec<NaiveDate>)]) -> Feed {
    Arc::new(
        items
            .iter()
            .map(|(s, v)| (s.to_string(), v.clone()))
            .collect(),
    )
}

/// Close price of a synthetic bar: distinct per date, and `bump` for a "final" revision.
fn close_of(date: NaiveDate, bump: f64) -> f64 {
    100.0 + (date.ordinal() as f64) / 10.0 + bump
}

use chrono::Datelike;

/// An Alpaca bars double over `feed`; `bump` is added to every close (0 = first answer).
fn alpaca_double(feed: Feed, bump: f64) -> HttpDouble {
    HttpDouble::with_handler(move |_, req| alpaca_reply(&feed, req, bump))
}

fn alpaca_reply(feed: &Feed, req: &Recorded, bump: f64) -> Reply {
    if req.path() == "/v2/stocks/snapshots" {
        // Today's bar so far (2024-03-06) with a latest trade at 15:49.
        let mut snaps = serde_json::Map::new();
        for sym in req.query("symbols").expect("symbols").split(',') {
            let c = close_of(d("2024-03-06"), bump);
            snaps.insert(sym.to_string(), json!({
                "latestTrade": {"t": "2024-03-06T20:49:00Z", "p": c + 0.25},
                "dailyBar": {"t": "2024-03-06T05:00:00Z", "o": c, "h": c + 1.0, "l": c - 1.0, "c": c, "v": 900}
            }));
        }
        return Reply::json(200, Value::Object(snaps).to_string());
    }
    if req.path() != "/v2/stocks/bars" {
        return Reply::json(404, "{}");
    }
    let start = req
        .query("start")
        .and_then(|s| s.get(..10).map(d))
        .expect("start");
    // `end` is 23:59:59 New York, i.e. the next UTC day before 05:00.
    let end = req
        .query("end")
        .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| (t.with_timezone(&Utc) - Duration::hours(6)).date_naive())
        .expect("end");
    let mut bars = serde_json::Map::new();
    for sym in req.query("symbols").expect("symbols").split(',') {
        let Some(dates) = feed.get(sym) else { continue };
        let list: Vec<Value> = dates
            .iter()
            .filter(|x| **x >= start && **x <= end)
            .map(|x| {
                let c = close_of(*x, bump);
                json!({"t": format!("{x}T05:00:00Z"), "o": c, "h": c + 1.0, "l": c - 1.0, "c": c, "v": 1000})
            })
            .collect();
        if !list.is_empty() {
            bars.insert(sym.to_string(), Value::Array(list));
        }
    }
    Reply::json(
        200,
        json!({"bars": bars, "next_page_token": null}).to_string(),
    )
}

fn alpaca_sandbox(server: &HttpDouble, history_start: &str) -> Sandbox {
    Sandbox::empty(&format!(
        "data:\n  source: alpaca\n  history_start: {history_start}\n  overlap_days: 5\n  alpaca:\n    base_url: {}\n    http: {{ timeout_ms: 2000, connect_timeout_ms: 500, max_attempts: 2, backoff_base_ms: 1, backoff_max_ms: 5, min_interval_ms: 0 }}\n",
        server.base_url()
    ))
}

fn run(sb: &Sandbox, now: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trader"));
    cmd.arg("--config")
        .arg(sb.config())
        .args(args)
        .env("TRADER_NOW", now);
    for (k, v) in KEYS {
        cmd.env(k, v);
    }
    cmd.output().expect("run trader")
}

fn fetch(sb: &Sandbox, now: &str, symbols: &str) -> (i32, Value, String) {
    let out = run(sb, now, &["--json", "fetch", "--symbols", symbols]);
    let v = serde_json::from_str(&stdout(&out)).unwrap_or(Value::Null);
    (code(&out), v, stderr(&out))
}

fn stored(sb: &Sandbox, sym: &str) -> Option<Vec<Bar>> {
    BarStore::new(&sb.path().join("bars"))
        .read(sym)
        .expect("readable")
}

fn state(sb: &Sandbox) -> Value {
    let text = std::fs::read_to_string(sb.path().join("state/state.json")).expect("state");
    serde_json::from_str(&text).expect("json")
}

/// (symbols, start date) of every bars request, in arrival order.
fn ranges(server: &HttpDouble) -> Vec<(String, String)> {
    server
        .requests()
        .iter()
        .filter(|r| r.path() == "/v2/stocks/bars")
        .map(|r| {
            (
                r.query("symbols").unwrap_or_default(),
                r.query("start").unwrap_or_default()[..10].to_string(),
            )
        })
        .collect()
}

/// Wednesday 2024-03-06 (EST, close 16:00 = 21:00Z).
const BEFORE_CLOSE: &str = "2024-03-06T20:50:00Z"; // 15:50
const BEFORE_SETTLED: &str = "2024-03-06T21:10:00Z"; // 16:10, closed but not settled
const AFTER_SETTLED: &str = "2024-03-06T21:20:00Z"; // 16:20

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

#[test]
fn one_stale_symbol_does_not_widen_the_others_windows() {
    let recent = sessions("2024-02-01", "2024-03-06");
    let f = feed(&[
        ("AAA", recent.clone()),
        ("BBB", recent.clone()),
        ("CCC", recent.clone()),
        // OLD is delisted: the source has nothing for it any more.
    ]);
    let server = alpaca_double(f, 0.0);
    let sb = alpaca_sandbox(&server, "2021-05-03");
    // Seed the store: AAA..CCC through 2024-03-05, OLD stopped trading on 2021-06-01.
    let store = BarStore::new(&sb.path().join("bars"));
    let mut seed = BTreeMap::new();
    for s in ["AAA", "BBB", "CCC"] {
        let bars = sessions("2024-02-01", "2024-03-05")
            .into_iter()
            .map(|x| bar(x, close_of(x, 0.0)))
            .collect::<Vec<_>>();
        seed.insert(s.to_string(), bars);
    }
    seed.insert(
        "OLD".to_string(),
        sessions("2021-05-03", "2021-06-01")
            .into_iter()
            .map(|x| bar(x, close_of(x, 0.0)))
            .collect(),
    );
    store.write_many(&seed).expect("seed");

    let (c, v, err) = fetch(&sb, AFTER_SETTLED, "AAA,BBB,CCC,OLD");
    assert_eq!(c, 0, "{err}");
    assert_eq!(v["windows"], 2, "{v}");
    let mut got = ranges(&server);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("AAA,BBB,CCC".to_string(), "2024-02-29".to_string()),
            ("OLD".to_string(), "2021-05-27".to_string()),
        ],
        "each group from its own last bar minus 5 days"
    );
    assert_eq!(v["rows_added"], 3, "one new bar each for AAA..CCC: {v}");
    // OLD got nothing: reported, its file left as it was, exit 0 (the strategy does not read it).
    let nd = &v["no_data"];
    assert_eq!(nd.as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(nd[0]["symbol"], "OLD");
    assert_eq!(nd[0]["required"], false);
    let reason = nd[0]["reason"].as_str().expect("reason");
    assert!(reason.contains("last stored bar 2021-06-01"), "{reason}");
    assert!(
        err.contains("OLD") && err.contains("nothing written"),
        "{err}"
    );
    assert_eq!(stored(&sb, "OLD").expect("OLD").len(), seed["OLD"].len());
}

fn bar(date: NaiveDate, c: f64) -> Bar {
    Bar {
        date,
        open: c,
        high: c + 1.0,
        low: c - 1.0,
        close: c,
        volume: 1000.0,
        adj_close: Some(c),
        dividend: 0.0,
        split_factor: 1.0,
        provisional: false,
    }
}

#[test]
fn a_symbol_with_no_data_is_reported_not_written_and_does_not_drive_the_window() {
    let dates = sessions("2024-01-02", "2024-03-06");
    let server = alpaca_double(feed(&[("AAPL", dates)]), 0.0);
    let sb = alpaca_sandbox(&server, "2024-01-02");
    let (c, v, err) = fetch(&sb, AFTER_SETTLED, "AAPL,ZZZZ");
    assert_eq!(c, 0, "ZZZZ is not read by the strategy: a warning. {err}");
    assert_eq!(v["no_data"][0]["symbol"], "ZZZZ", "{v}");
    let reason = v["no_data"][0]["reason"].as_str().expect("reason");
    assert!(reason.contains("unknown to the source"), "{reason}");
    assert!(err.contains("warning: ZZZZ"), "{err}");
    assert!(
        !sb.path().join("bars/ZZZZ.parquet").exists(),
        "no empty file"
    );
    assert!(stored(&sb, "AAPL").is_some());
    let job = &state(&sb)["jobs"]["2024-03-06"]["fetch"];
    assert_eq!(job["result"], "ok");
    assert!(job["detail"].as_str().expect("d").contains("ZZZZ"), "{job}");

    // The next fetch asks AAPL from its last bar, ZZZZ alone from the history start.
    let (c, _, err) = fetch(&sb, "2024-03-07T21:20:00Z", "AAPL,ZZZZ");
    assert_eq!(c, 0, "{err}");
    let mut got = ranges(&server)[1..].to_vec();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("AAPL".to_string(), "2024-03-01".to_string()),
            ("ZZZZ".to_string(), "2024-01-02".to_string()),
        ]
    );
}

#[test]
fn a_required_symbol_with_no_data_fails_the_fetch_but_stores_the_others() {
    let dates = sessions("2024-01-02", "2024-03-06");
    let server = alpaca_double(feed(&[("AAPL", dates)]), 0.0);
    let sb = alpaca_sandbox(&server, "2024-01-02");
    let (c, _, err) = fetch(&sb, AFTER_SETTLED, "AAPL,QQQ");
    assert_eq!(c, 5, "QQQ is read by the strategy: {err}");
    assert!(err.contains("QQQ which the strategy reads"), "{err}");
    assert!(stored(&sb, "AAPL").is_some(), "the good symbol is stored");
    assert!(!sb.path().join("bars/QQQ.parquet").exists());
    let job = &state(&sb)["jobs"]["2024-03-06"]["fetch"];
    assert_eq!(job["result"], "failed", "{job}");
}

#[test]
fn a_failed_fetch_is_recorded_in_the_job_records() {
    let server = HttpDouble::with_handler(|_, _| Reply::json(500, "{}"));
    let sb = alpaca_sandbox(&server, "2024-01-02");
    let (c, _, err) = fetch(&sb, AFTER_SETTLED, "AAPL");
    assert_eq!(c, 5, "{err}");
    let job = &state(&sb)["jobs"]["2024-03-06"]["fetch"];
    assert_eq!(job["result"], "failed", "{job}");
    let detail = job["detail"].as_str().expect("detail");
    assert!(
        detail.contains("HTTP 500") && detail.contains("/v2/stocks/bars"),
        "{detail}"
    );
    assert!(!detail.contains(KEYS[1].1));
    assert!(!sb.path().join("bars/AAPL.parquet").exists());
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
fn each_retry_is_logged_with_its_reason_and_wait_at_v() {
    let dates = sessions("2024-03-01", "2024-03-06");
    let f = feed(&[("AAPL", dates)]);
    let server = HttpDouble::with_handler(move |n, req| {
        if n % 2 == 0 {
            Reply::json(503, "{}").header("Retry-After", "0")
        } else {
            alpaca_reply(&f, req, 0.0)
        }
    });
    let sb = alpaca_sandbox(&server, "2024-03-01");
    let out = run(&sb, AFTER_SETTLED, &["-v", "fetch", "--symbols", "AAPL"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "alpaca: GET /v2/stocks/bars: HTTP 503 (attempt 1 of 2); retrying in 0 ms (Retry-After)"
        ),
        "{err}"
    );
    let log = std::fs::read_to_string(sb.path().join("logs/trader.log")).expect("log");
    assert!(log.contains("HTTP 503 (attempt 1 of 2)"), "{log}");
    // One clock: log lines carry TRADER_NOW (advanced by the run time), like the state.
    assert!(
        log.lines().all(|l| l.starts_with("2024-03-06T21:2")),
        "log lines on the job clock: {log}"
    );
    // Without -v the retry is not shown.
    let out = run(&sb, AFTER_SETTLED, &["fetch", "--symbols", "AAPL"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stderr(&out).contains("retrying"), "{}", stderr(&out));
}
