//! `trader fetch --source alpaca|yahoo` end to end: the real binary against the local HTTP
//! double on 127.0.0.1 serving recorded Alpaca/Yahoo bodies. Checks the `--json` summary, the
//! parquet store, what was requested (keys, pagination, incremental window), the state's job
//! record, and that every fault (5xx, 429, timeouts, truncated JSON, out-of-order bars, missing
//! keys) leaves the store byte-for-byte unchanged and exits with a meaningful code.

use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use polars::prelude::{ParquetReader, SerReader};
use serde_json::Value;
use trader::data::store::BarStore;

use crate::common::{Sandbox, code, stderr, stdout};
use crate::http_double::{HttpDouble, Reply};

const KEY_ID: &str = "PKCLITESTKEY000000";
const SECRET: &str = "cli-sEcReT-never-printed-9876543210";
/// Extra environment of a run: (variable, value) pairs.
type Env<'a> = &'a [(&'a str, &'a str)];

const KEYS: Env = &[("APCA_API_KEY_ID", KEY_ID), ("APCA_API_SECRET_KEY", SECRET)];

/// 22:00 EST on Wednesday 2022-03-09: after that day's close, and already 2022-03-10 in UTC,
/// so the job record must land on the New York date.
const ALPACA_NOW: &str = "2022-03-10T03:00:00Z";
/// 22:00 EST on Friday 2020-11-06, after the close.
const YAHOO_NOW: &str = "2020-11-07T03:00:00Z";

const PAGE_TOKEN: &str = "QUFQTHxEfDIwMjItMDItMDJUMDU6MDA6MDAuMDAwMDAwMDAwWg==";

fn fixture(rel: &str) -> String {
    let path = format!("{}/tests/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Page 1 (AAPL 2022-02-01, 2022-02-02, with a `next_page_token`).
fn alpaca_page1() -> Reply {
    Reply::json(
        200,
        fixture("alpaca/get_v2_stocks_bars.alpaca-py-test.single_symbol_with_next_page_token.json"),
    )
}

/// Page 2 / a whole incremental answer: AAPL and TSLA on 2022-03-09, `next_page_token: null`.
fn alpaca_last_page() -> Reply {
    Reply::json(
        200,
        fixture("alpaca/get_v2_stocks_bars.alpaca-py-test.multi_symbol.json"),
    )
}

fn yahoo_aapl() -> String {
    fixture("yahoo/chart_AAPL_1d_2020-08-31_2020-11-07_split_and_dividend.json")
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
}

/// Fast transport settings as a YAML flow mapping: few attempts, millisecond backoff.
fn http_yaml(timeout_ms: u64) -> String {
    format!(
        "{{ timeout_ms: {timeout_ms}, connect_timeout_ms: 500, max_attempts: 3, backoff_base_ms: 1, \
         backoff_max_ms: 5, retry_after_max_ms: 5000, min_interval_ms: 0, concurrency: 2 }}"
    )
}

/// Config lines for Alpaca at `base`; `alpaca_extra` goes inside `data.alpaca`.
fn alpaca_config(base: &str, overlap_days: u32, timeout_ms: u64, alpaca_extra: &str) -> String {
    format!(
        "data:\n  source: alpaca\n  history_start: 2022-02-01\n  overlap_days: {overlap_days}\n  \
         alpaca:\n    base_url: {base}\n    http: {}\n{alpaca_extra}",
        http_yaml(timeout_ms)
    )
}

fn yahoo_config(base: &str, timeout_ms: u64) -> String {
    format!(
        "data:\n  source: yahoo\n  history_start: 2020-08-31\n  overlap_days: 5\n  \
         yahoo:\n    base_url: {base}\n    http: {}\n",
        http_yaml(timeout_ms)
    )
}

/// `trader --config <sandbox> args…` at `now` with exactly the Alpaca keys in `env` (any the
/// developer has exported are removed, so the missing-key test means what it says).
fn run_env(sb: &Sandbox, now: &str, env: Env, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trader"));
    cmd.arg("--config")
        .arg(sb.config())
        .args(args)
        .env("TRADER_NOW", now)
        .env_remove("APCA_API_KEY_ID")
        .env_remove("APCA_API_SECRET_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run trader")
}

fn fetch_alpaca(sb: &Sandbox) -> Output {
    run_env(
        sb,
        ALPACA_NOW,
        KEYS,
        &[
            "--json",
            "fetch",
            "--source",
            "alpaca",
            "--symbols",
            "AAPL,TSLA",
        ],
    )
}

fn fetch_yahoo(sb: &Sandbox) -> Output {
    run_env(
        sb,
        YAHOO_NOW,
        &[],
        &["--json", "fetch", "--source", "yahoo", "--symbols", "AAPL"],
    )
}

fn summary(out: &Output) -> Value {
    serde_json::from_str(&stdout(out))
        .unwrap_or_else(|e| panic!("--json summary: {e}\n{}\n{}", stdout(out), stderr(out)))
}

fn state(sb: &Sandbox) -> Value {
    let bytes = std::fs::read(sb.path().join("state/state.json")).expect("state.json");
    serde_json::from_slice(&bytes).expect("state json")
}

fn store(sb: &Sandbox) -> BarStore {
    BarStore::new(&sb.path().join("bars"))
}

/// Every file under bars/ (parquet and anything a failed write might leave) plus state.json.
fn snapshot(sb: &Sandbox) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let bars = sb.path().join("bars");
    if let Ok(rd) = std::fs::read_dir(&bars) {
        for e in rd {
            let p = e.expect("entry").path();
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            out.insert(format!("bars/{name}"), std::fs::read(&p).expect("read"));
        }
    }
    let st = sb.path().join("state/state.json");
    if st.exists() {
        out.insert("state/state.json".into(), std::fs::read(st).expect("state"));
    }
    out
}

fn parquet_names(snap: &BTreeMap<String, Vec<u8>>) -> Vec<&str> {
    snap.keys()
        .filter(|k| k.ends_with(".parquet"))
        .map(String::as_str)
        .collect()
}

/// Neither key appears in anything the run printed or wrote.
fn assert_no_secret_leak(sb: &Sandbox, out: &Output) {
    let mut texts = vec![stdout(out), stderr(out), super::common::log_text(sb)];
    for f in ["state/state.json"] {
        if let Ok(t) = std::fs::read_to_string(sb.path().join(f)) {
            texts.push(t);
        }
    }
    for t in texts {
        assert!(
            !t.contains(SECRET) && !t.contains(KEY_ID),
            "key leaked: {t}"
        );
    }
}

/// A double that answers requests `0..seed.len()` from `seed`, then `rest(n, request)` with
/// `n` counted from 0 after the seed.
fn double(
    seed: Vec<Reply>,
    rest: impl Fn(usize, &crate::http_double::Recorded) -> Reply + Send + Sync + 'static,
) -> HttpDouble {
    HttpDouble::with_handler(move |n, req| match seed.get(n) {
        Some(r) => r.clone(),
        None => rest(n - seed.len(), req),
    })
}

/// An Alpaca sandbox whose store already holds AAPL (3 bars) and TSLA (1 bar) from a
/// successful two-page fetch; later requests are answered by `rest`.
fn seeded_alpaca(
    rest: impl Fn(usize, &crate::http_double::Recorded) -> Reply + Send + Sync + 'static,
) -> (Sandbox, HttpDouble) {
    let server = double(vec![alpaca_page1(), alpaca_last_page()], rest);
    let sb = Sandbox::empty(&alpaca_config(&server.base_url(), 5, 2_000, ""));
    let out = fetch_alpaca(&sb);
    assert_eq!(code(&out), 0, "seed fetch: {}", stderr(&out));
    assert_eq!(server.requests().len(), 2);
    (sb, server)
}

/// A Yahoo sandbox whose store already holds AAPL's 49 bars; later requests go to `rest`.
fn seeded_yahoo(
    rest: impl Fn(usize, &crate::http_double::Recorded) -> Reply + Send + Sync + 'static,
) -> (Sandbox, HttpDouble) {
    let server = double(vec![Reply::json(200, yahoo_aapl())], rest);
    let sb = Sandbox::empty(&yahoo_config(&server.base_url(), 2_000));
    let out = fetch_yahoo(&sb);
    assert_eq!(code(&out), 0, "seed fetch: {}", stderr(&out));
    (sb, server)
}

/// Rewrites the sandbox config between runs (the seed fetch runs with the relaxed settings).
fn edit_config(sb: &Sandbox, edit: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(sb.config()).expect("read config");
    std::fs::write(sb.config(), edit(text)).expect("write config");
}

/// Runs a failing fetch and checks the common contract: exit 5, the store byte-for-byte as
/// before, and the state changed only by the failed run's fetch record (issue #17: every job
/// records its result per date). Returns stderr.
fn assert_fails_unchanged(sb: &Sandbox, run: impl FnOnce() -> Output) -> String {
    let before = snapshot(sb);
    assert!(
        !parquet_names(&before).is_empty(),
        "the store must hold bars already"
    );
    let mut jobs_before = state(sb)["jobs"].clone();
    let t0 = Instant::now();
    let out = run();
    let took = t0.elapsed();
    let err = stderr(&out);
    assert_eq!(code(&out), 5, "exit code; stderr:\n{err}");
    assert!(stdout(&out).is_empty(), "no summary on failure");
    assert!(err.contains("the store is unchanged"), "{err}");
    assert!(
        !err.contains(SECRET) && !err.contains(KEY_ID),
        "key leaked: {err}"
    );
    let after = snapshot(sb);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "files under bars/ or the state changed"
    );
    for (name, bytes) in &before {
        if name.starts_with("bars/") {
            assert!(after[name] == *bytes, "{name} changed");
        }
    }
    let mut jobs_after = state(sb)["jobs"].clone();
    // The run's New York date: 2022-03-09 for the Alpaca runs, 2020-11-06 for Yahoo's.
    let date = if jobs_after.get("2022-03-09").is_some() {
        "2022-03-09"
    } else {
        "2020-11-06"
    };
    let failed = jobs_after[date]["fetch"].take();
    assert_eq!(failed["result"], "failed", "{failed}");
    let detail = failed["detail"].as_str().expect("detail");
    assert!(detail.contains("the store is unchanged"), "{detail}");
    assert!(!detail.contains(SECRET) && !detail.contains(KEY_ID));
    jobs_before[date]["fetch"].take();
    assert_eq!(jobs_after, jobs_before, "only the fetch record changed");
    assert!(took < Duration::from_secs(5), "fault run took {took:?}");
    err
}

#[test]
fn alpaca_fetch_pages_stores_bars_and_records_the_job() {
    let server = HttpDouble::scripted(vec![alpaca_page1(), alpaca_last_page()]);
    let sb = Sandbox::empty(&alpaca_config(&server.base_url(), 5, 2_000, ""));
    let out = fetch_alpaca(&sb);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let v = summary(&out);
    assert_eq!(v["source"], "alpaca");
    assert_eq!(v["symbols"], 2);
    assert_eq!(v["rows_added"], 4);
    assert_eq!(v["rows_replaced"], 0);
    assert_eq!(v["coverage"], 1.0, "both symbols have the 2022-03-09 bar");
    assert_eq!(v["last_session"], "2022-03-09");
    let secs = v["seconds"].as_f64().expect("seconds");
    assert!((0.0..5.0).contains(&secs), "seconds = {secs}");
    assert_eq!(v["skipped_rows"], Value::Array(Vec::new()));

    let bars = store(&sb);
    assert_eq!(bars.symbols(), vec!["AAPL", "TSLA"]);
    let aapl = bars.read("AAPL").expect("read AAPL").expect("AAPL file");
    let dates: Vec<_> = aapl.iter().map(|b| b.date).collect();
    assert_eq!(dates, vec![d(2022, 2, 1), d(2022, 2, 2), d(2022, 3, 9)]);
    assert_eq!(
        (aapl[0].open, aapl[0].high, aapl[0].low, aapl[0].close),
        (174.0, 174.84, 172.31, 174.61)
    );
    assert_eq!(aapl[0].volume, 85_998_033.0);
    assert_eq!(aapl[2].adj_close, Some(162.95), "adjustment=all");
    assert!(aapl.iter().all(|b| !b.provisional));
    let tsla = bars.read("TSLA").expect("read TSLA").expect("TSLA file");
    assert_eq!(tsla.len(), 1);
    assert_eq!(
        (tsla[0].date, tsla[0].close, tsla[0].high),
        (d(2022, 3, 9), 858.97, 860.56)
    );

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "one request per page");
    for r in &reqs {
        assert_eq!(r.path(), "/v2/stocks/bars");
        assert_eq!(r.header("APCA-API-KEY-ID"), Some(KEY_ID));
        assert_eq!(r.header("APCA-API-SECRET-KEY"), Some(SECRET));
        assert_eq!(r.query("symbols").as_deref(), Some("AAPL,TSLA"));
        assert_eq!(r.query("timeframe").as_deref(), Some("1Day"));
        assert_eq!(r.query("start").as_deref(), Some("2022-02-01T05:00:00Z"));
        assert_eq!(r.query("end").as_deref(), Some("2022-03-10T04:59:59Z"));
        assert_eq!(r.query("sort").as_deref(), Some("asc"));
    }
    assert_eq!(reqs[0].query("page_token"), None);
    assert_eq!(reqs[1].query("page_token").as_deref(), Some(PAGE_TOKEN));

    // The job is recorded under the New York date, not the UTC date (2022-03-10).
    let st = state(&sb);
    let job = &st["jobs"]["2022-03-09"]["fetch"];
    assert_eq!(job["result"], "ok", "{st}");
    assert_eq!(job["job"], "fetch");
    let detail = job["detail"].as_str().expect("detail");
    assert!(
        detail.contains("alpaca") && detail.contains("4 row(s) added"),
        "{detail}"
    );
    assert!(st["jobs"].get("2022-03-10").is_none(), "{st}");
    assert_no_secret_leak(&sb, &out);
}

#[test]
fn alpaca_second_fetch_starts_at_last_stored_bar_minus_overlap() {
    let server = HttpDouble::scripted(vec![alpaca_page1(), alpaca_last_page(), alpaca_last_page()]);
    // overlap_days 3 (not the default 5) so the window is clearly the configured one.
    let sb = Sandbox::empty(&alpaca_config(&server.base_url(), 3, 2_000, ""));
    let first = fetch_alpaca(&sb);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let second = fetch_alpaca(&sb);
    assert_eq!(code(&second), 0, "{}", stderr(&second));

    let reqs = server.requests();
    assert_eq!(reqs.len(), 3, "the second run needs one page");
    // Last stored bar 2022-03-09 (both symbols) − 3 days = 2022-03-06, New York midnight (EST).
    assert_eq!(
        reqs[2].query("start").as_deref(),
        Some("2022-03-06T05:00:00Z")
    );
    assert_eq!(
        reqs[2].query("end").as_deref(),
        Some("2022-03-10T04:59:59Z")
    );
    assert_eq!(reqs[2].query("page_token"), None);

    let v = summary(&second);
    assert_eq!(
        (v["rows_added"].clone(), v["rows_replaced"].clone()),
        (0.into(), 2.into())
    );
    let aapl = store(&sb).read("AAPL").expect("read").expect("AAPL");
    assert_eq!(aapl.len(), 3, "the overlap replaces, it does not duplicate");
}

#[test]
fn yahoo_fetch_stores_split_and_dividend() {
    let server = HttpDouble::with_handler(|_, req| match req.path() {
        "/v8/finance/chart/AAPL" => Reply::json(200, yahoo_aapl()),
        _ => Reply::json(404, "{}"),
    });
    let sb = Sandbox::empty(&yahoo_config(&server.base_url(), 2_000));
    let out = fetch_yahoo(&sb);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let v = summary(&out);
    assert_eq!(v["source"], "yahoo");
    assert_eq!(v["symbols"], 1);
    assert_eq!(v["rows_added"], 49);
    assert_eq!(v["coverage"], 1.0);
    assert_eq!(v["last_session"], "2020-11-06");

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].query("interval").as_deref(), Some("1d"));
    assert_eq!(reqs[0].query("events").as_deref(), Some("div,splits"));
    assert_eq!(reqs[0].query("period1").as_deref(), Some("1598846400")); // 2020-08-31 00:00 EDT
    assert_eq!(reqs[0].query("period2").as_deref(), Some("1604725200")); // 2020-11-07 00:00 EST

    // The columns exist in the file itself, not only in the decoded bars.
    let path = sb.path().join("bars/AAPL.parquet");
    let file = std::fs::File::open(&path).expect("AAPL.parquet");
    let df = ParquetReader::new(file).finish().expect("parquet");
    let cols: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    for c in [
        "symbol",
        "date",
        "close",
        "adj_close",
        "dividend",
        "split_factor",
    ] {
        assert!(cols.iter().any(|x| x == c), "{c} missing from {cols:?}");
    }

    let aapl = store(&sb).read("AAPL").expect("read").expect("AAPL");
    assert_eq!(aapl.len(), 49);
    let splits: Vec<_> = aapl
        .iter()
        .filter(|b| b.split_factor != 1.0)
        .map(|b| (b.date, b.split_factor))
        .collect();
    assert_eq!(splits, vec![(d(2020, 8, 31), 4.0)]);
    let divs: Vec<_> = aapl
        .iter()
        .filter(|b| b.dividend != 0.0)
        .map(|b| (b.date, b.dividend))
        .collect();
    assert_eq!(divs, vec![(d(2020, 11, 6), 0.205)]);
    assert!(aapl.iter().all(|b| b.adj_close.is_some()));
    assert_eq!(state(&sb)["jobs"]["2020-11-06"]["fetch"]["result"], "ok");
}

#[test]
fn http_500_on_every_attempt_exits_5_and_names_source_and_path() {
    let (sb, server) =
        seeded_alpaca(|_, _| Reply::json(500, "{\"message\":\"internal server error\"}"));
    let err = assert_fails_unchanged(&sb, || fetch_alpaca(&sb));
    assert!(
        err.contains("alpaca: GET /v2/stocks/bars: HTTP 500 after 3 attempts"),
        "{err}"
    );
    assert_eq!(server.requests().len(), 2 + 3, "max_attempts = 3");
}

#[test]
fn one_failing_chunk_discards_the_symbols_that_did_download() {
    // The recorded 2022-03-09 page with AAPL only.
    let mut page: Value = serde_json::from_str(&fixture(
        "alpaca/get_v2_stocks_bars.alpaca-py-test.multi_symbol.json",
    ))
    .expect("fixture json");
    page["bars"].as_object_mut().expect("bars").remove("TSLA");
    let aapl_only = page.to_string();
    let (sb, server) = seeded_alpaca(move |_, req| match req.query("symbols").as_deref() {
        Some("AAPL") => Reply::json(200, aapl_only.clone()),
        _ => Reply::json(503, "{\"message\":\"unavailable\"}"),
    });
    // From now on one symbol per request: AAPL downloads fine, TSLA never does.
    edit_config(&sb, |c| c + "    symbols_per_request: 1\n");
    let err = assert_fails_unchanged(&sb, || fetch_alpaca(&sb));
    assert!(
        err.contains("alpaca: GET /v2/stocks/bars: HTTP 503 after 3 attempts"),
        "{err}"
    );
    let reqs = server.requests();
    let asked = |sym: &str| {
        reqs[2..]
            .iter()
            .filter(|r| r.query("symbols").as_deref() == Some(sym))
            .count()
    };
    assert_eq!((asked("AAPL"), asked("TSLA")), (1, 3), "AAPL did download");
}

#[test]
fn http_429_with_retry_after_is_honoured_then_succeeds() {
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let log = arrivals.clone();
    let (sb, server) = seeded_alpaca(move |n, _| {
        log.lock().expect("arrivals").push(Instant::now());
        match n {
            0 => {
                Reply::json(429, "{\"message\":\"too many requests.\"}").header("Retry-After", "1")
            }
            _ => alpaca_last_page(),
        }
    });
    let before = store(&sb).read("AAPL").expect("read").expect("AAPL");
    let out = fetch_alpaca(&sb);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(server.requests().len(), 2 + 2, "one 429, one success");
    let t = arrivals.lock().expect("arrivals").clone();
    let gap = t[1] - t[0];
    // backoff_max_ms is 5, so only Retry-After explains a wait of a second.
    assert!(
        gap >= Duration::from_millis(950),
        "Retry-After: 1 ignored ({gap:?})"
    );
    assert!(
        gap < Duration::from_millis(3_000),
        "waited too long ({gap:?})"
    );
    let v = summary(&out);
    assert_eq!(
        (v["rows_added"].clone(), v["rows_replaced"].clone()),
        (0.into(), 2.into())
    );
    assert_eq!(
        store(&sb).read("AAPL").expect("read").expect("AAPL"),
        before
    );
}

#[test]
fn slow_response_beyond_the_timeout_is_retried_then_fails() {
    let (sb, server) =
        seeded_yahoo(|_, _| Reply::json(200, yahoo_aapl()).delay(Duration::from_millis(600)));
    edit_config(&sb, |c| c.replace("timeout_ms: 2000", "timeout_ms: 150"));
    let err = assert_fails_unchanged(&sb, || fetch_yahoo(&sb));
    assert!(
        err.contains("yahoo: GET /v8/finance/chart/AAPL: timed out after 3 attempts"),
        "{err}"
    );
    assert_eq!(server.requests().len(), 1 + 3);
}

#[test]
fn truncated_json_names_the_source_and_what_was_requested() {
    // Yahoo: one request per symbol, so the path names the symbol.
    let body = yahoo_aapl();
    let cut = body.as_bytes()[..body.len() / 2].to_vec();
    let (sb, server) = seeded_yahoo(move |_, _| Reply::json(200, cut.clone()));
    let err = assert_fails_unchanged(&sb, || fetch_yahoo(&sb));
    assert!(
        err.contains("yahoo: GET /v8/finance/chart/AAPL: invalid JSON: EOF while parsing"),
        "{err}"
    );
    assert_eq!(
        server.requests().len(),
        1 + 1,
        "a complete HTTP answer is not retried"
    );

    // Alpaca: many symbols per request, so the error names the endpoint.
    let body = fixture("alpaca/get_v2_stocks_bars.alpaca-py-test.multi_symbol.json");
    let cut = body.as_bytes()[..120].to_vec();
    let (sb, _server) = seeded_alpaca(move |_, _| Reply::json(200, cut.clone()));
    let err = assert_fails_unchanged(&sb, || fetch_alpaca(&sb));
    assert!(
        err.contains("alpaca: GET /v2/stocks/bars: invalid JSON: EOF while parsing"),
        "{err}"
    );
}

#[test]
fn out_of_order_bars_name_the_symbol() {
    // The recorded 2022-03-09 page with a second AAPL bar for the day before appended after it.
    let mut page: Value = serde_json::from_str(&fixture(
        "alpaca/get_v2_stocks_bars.alpaca-py-test.multi_symbol.json",
    ))
    .expect("fixture json");
    let mut earlier = page["bars"]["AAPL"][0].clone();
    earlier["t"] = "2022-03-08T05:00:00Z".into();
    page["bars"]["AAPL"]
        .as_array_mut()
        .expect("AAPL bars")
        .push(earlier);
    let body = page.to_string();
    let (sb, _server) = seeded_alpaca(move |_, _| Reply::json(200, body.clone()));
    let err = assert_fails_unchanged(&sb, || fetch_alpaca(&sb));
    assert!(
        err.contains("alpaca: AAPL bar 2022-03-08: out of order after 2022-03-09"),
        "{err}"
    );
}

#[test]
fn alpaca_without_keys_names_the_missing_variable_and_touches_nothing() {
    let server = HttpDouble::scripted(vec![alpaca_page1(), alpaca_last_page()]);
    let sb = Sandbox::with_sample(&alpaca_config(&server.base_url(), 5, 2_000, ""));
    let before = snapshot(&sb);
    let cases: [(Env, &[&str]); 3] = [
        (&[], &["APCA_API_KEY_ID", "APCA_API_SECRET_KEY"]),
        (&[("APCA_API_KEY_ID", KEY_ID)], &["APCA_API_SECRET_KEY"]),
        (&[("APCA_API_SECRET_KEY", SECRET)], &["APCA_API_KEY_ID"]),
    ];
    for (env, missing) in cases {
        // Without --source the configured data.source (alpaca) applies.
        let out = run_env(&sb, ALPACA_NOW, env, &["fetch", "--symbols", "AAPL,TSLA"]);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "configuration error; stderr:\n{err}");
        for var in ["APCA_API_KEY_ID", "APCA_API_SECRET_KEY"] {
            assert_eq!(
                err.contains(var),
                missing.contains(&var),
                "{var} named iff missing (env {env:?}):\n{err}"
            );
        }
        assert!(stdout(&out).is_empty());
        assert_no_secret_leak(&sb, &out);
    }
    assert!(server.requests().is_empty(), "no request without keys");
    assert_eq!(snapshot(&sb), before, "nothing written");
    assert!(
        !sb.path().join("state/state.json").exists(),
        "not even a first state file"
    );
}

#[test]
fn invalid_transport_settings_are_a_configuration_error() {
    let server = HttpDouble::scripted(vec![alpaca_page1(), alpaca_last_page()]);
    let base = server.base_url();
    for (source, cfg, message) in [
        (
            "alpaca",
            alpaca_config(&base, 5, 2_000, "").replace("max_attempts: 3", "max_attempts: 0"),
            "data.alpaca.http.max_attempts = 0: must be between 1 and 100",
        ),
        (
            "alpaca",
            alpaca_config(&base, 5, 2_000, "    page_limit: 0\n"),
            "data.alpaca.page_limit = 0: must be between 1 and 10000",
        ),
        (
            "yahoo",
            yahoo_config(&base, 2_000).replace("concurrency: 2", "concurrency: 0"),
            "data.yahoo.http.concurrency = 0: must be between 1 and 256",
        ),
    ] {
        let sb = Sandbox::with_sample(&cfg);
        let before = snapshot(&sb);
        let out = run_env(
            &sb,
            ALPACA_NOW,
            KEYS,
            &["fetch", "--source", source, "--symbols", "AAPL"],
        );
        let err = stderr(&out);
        assert_eq!(
            code(&out),
            2,
            "a bad setting is not an unavailable source:\n{err}"
        );
        // Caught when the config loads, naming file, key and value (so preflight and
        // health catch it too).
        assert!(
            err.contains("trader.yaml: ") && err.contains(message),
            "{source}: {err}"
        );
        let after = snapshot(&sb);
        assert_eq!(parquet_names(&after), parquet_names(&before));
        for name in parquet_names(&before) {
            assert!(after[name] == before[name], "{name} changed");
        }
    }
    assert!(server.requests().is_empty());
}
