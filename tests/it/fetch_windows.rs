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

mod provisional;

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

/// Wednesday 2024-03-06 (EST, close 16:00 = 21:00Z), 16:20: after the settle time.
const AFTER_SETTLED: &str = "2024-03-06T21:20:00Z";

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
    let log = crate::common::log_text(&sb);
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
