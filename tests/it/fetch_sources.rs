//! Market-data download layer against a local HTTP double: Alpaca bars (pagination, snapshots),
//! Yahoo chart (splits, dividends), fault injection (429, 500, timeouts, bad JSON, bad data)
//! and a 505-symbol × 5-year throughput check.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use trader::data::alpaca;
use trader::data::http::{FetchError, HttpConfig, Secret};

use crate::http_double::{HttpDouble, Reply};

mod perf;
mod yahoo;

const KEY_ID: &str = "PKTESTKEYID0000000";
const SECRET: &str = "sEcReT-never-printed-0123456789";

fn fixture(rel: &str) -> String {
    let path = format!("{}/tests/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
}

fn syms(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Tiny backoffs so retry tests stay fast.
fn fast_http() -> HttpConfig {
    HttpConfig {
        timeout_ms: 5_000,
        connect_timeout_ms: 1_000,
        max_attempts: 4,
        backoff_base_ms: 1,
        backoff_max_ms: 5,
        retry_after_max_ms: 5_000,
        min_interval_ms: 0,
        concurrency: 4,
        ..HttpConfig::default()
    }
}

fn alpaca_cfg(server: &HttpDouble) -> alpaca::SourceConfig {
    alpaca::SourceConfig {
        base_url: server.base_url(),
        http: fast_http(),
        key_id: Some(Secret::new(KEY_ID)),
        secret: Some(Secret::new(SECRET)),
        ..alpaca::SourceConfig::default()
    }
}

fn yahoo_cfg(server: &HttpDouble) -> trader::data::yahoo::SourceConfig {
    trader::data::yahoo::SourceConfig {
        base_url: server.base_url(),
        http: fast_http(),
    }
}

/// Fetches AAPL,TSLA 2022-02-01..=2022-03-09 from `replies`; returns the error text.
fn alpaca_err(replies: Vec<Reply>, http: HttpConfig) -> (String, usize) {
    let server = HttpDouble::scripted(replies);
    let cfg = alpaca::SourceConfig {
        http,
        ..alpaca_cfg(&server)
    };
    let res =
        alpaca::fetch_daily_bars(&cfg, &syms(&["AAPL", "TSLA"]), d(2022, 2, 1), d(2022, 3, 9));
    let err = res.expect_err("must fail");
    let text = err.to_string();
    assert!(!text.contains(SECRET) && !text.contains(KEY_ID), "{text}");
    (text, server.requests().len())
}

#[test]
fn alpaca_multi_symbol_bars_follow_next_page_token() {
    let page1 =
        fixture("alpaca/get_v2_stocks_bars.alpaca-py-test.single_symbol_with_next_page_token.json");
    let page2 = fixture("alpaca/get_v2_stocks_bars.alpaca-py-test.multi_symbol.json");
    let server = HttpDouble::scripted(vec![Reply::json(200, page1), Reply::json(200, page2)]);
    let calls = std::cell::RefCell::new(Vec::new());
    let progress = |done: usize, total: usize| calls.borrow_mut().push((done, total));
    let res = alpaca::fetch_daily_bars_with_progress(
        &alpaca_cfg(&server),
        &syms(&["TSLA", "AAPL"]),
        d(2022, 2, 1),
        d(2022, 3, 9),
        &progress,
    )
    .expect("fetch");
    assert_eq!((res.requests, res.retries), (2, 0));
    let aapl = &res.bars["AAPL"];
    let dates: Vec<_> = aapl.iter().map(|b| b.date).collect();
    assert_eq!(dates, vec![d(2022, 2, 1), d(2022, 2, 2), d(2022, 3, 9)]);
    assert_eq!(
        (aapl[0].open, aapl[0].close, aapl[0].volume),
        (174.0, 174.61, 85_998_033.0)
    );
    assert_eq!(aapl[2].adj_close, Some(162.95)); // adjustment=all
    assert_eq!(res.bars["TSLA"].len(), 1);
    assert_eq!(res.bars["TSLA"][0].high, 860.56);
    assert_eq!(calls.borrow().last(), Some(&(2, 2)));

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let first = &reqs[0];
    assert_eq!(first.path(), "/v2/stocks/bars");
    assert_eq!(first.query("symbols").as_deref(), Some("AAPL,TSLA"));
    assert_eq!(first.query("timeframe").as_deref(), Some("1Day"));
    assert_eq!(
        first.query("start").as_deref(),
        Some("2022-02-01T05:00:00Z")
    );
    assert_eq!(first.query("end").as_deref(), Some("2022-03-10T04:59:59Z"));
    assert_eq!(first.query("feed").as_deref(), Some("iex"));
    assert_eq!(first.query("adjustment").as_deref(), Some("all"));
    assert_eq!(first.query("limit").as_deref(), Some("10000"));
    assert_eq!(first.query("page_token"), None);
    assert_eq!(first.header("APCA-API-KEY-ID"), Some(KEY_ID));
    assert_eq!(first.header("APCA-API-SECRET-KEY"), Some(SECRET));
    let token = "QUFQTHxEfDIwMjItMDItMDJUMDU6MDA6MDAuMDAwMDAwMDAwWg==";
    assert_eq!(reqs[1].query("page_token").as_deref(), Some(token));
    assert_eq!(reqs[1].query("symbols").as_deref(), Some("AAPL,TSLA"));
}

#[test]
fn alpaca_empty_response_gives_empty_series_for_every_symbol() {
    let server = HttpDouble::scripted(vec![Reply::json(
        200,
        fixture("alpaca/get_v2_stocks_bars.alpaca-py-test.empty.json"),
    )]);
    let res = alpaca::fetch_daily_bars(
        &alpaca_cfg(&server),
        &syms(&["AAPL", "SPY"]),
        d(2024, 1, 2),
        d(2024, 1, 5),
    )
    .expect("fetch");
    assert_eq!(res.bars.len(), 2);
    assert!(res.bars.values().all(Vec::is_empty));
}

#[test]
fn alpaca_snapshots_give_provisional_bars_for_today_only() {
    let body = fixture("alpaca/get_v2_stocks_snapshots.docs2026.snapshots.json");
    let server = HttpDouble::scripted(vec![Reply::json(200, body.clone()), Reply::json(200, body)]);
    let cfg = alpaca_cfg(&server);
    let res = alpaca::fetch_provisional(&cfg, &syms(&["AAPL", "TSLA", "SPY"]), d(2022, 8, 16))
        .expect("snapshots");
    let aapl = &res.bars["AAPL"];
    assert_eq!(aapl.date, d(2022, 8, 16));
    assert!(aapl.provisional);
    // The latest trade is from 2022-08-17 (NY), not "today", so the daily bar's close stands.
    assert_eq!(
        (aapl.open, aapl.high, aapl.low, aapl.close),
        (172.62, 173.71, 171.6618, 173.03)
    );
    assert_eq!(res.missing, syms(&["SPY"]));
    let next_day = alpaca::fetch_provisional(&cfg, &syms(&["AAPL", "TSLA"]), d(2022, 8, 17))
        .expect("snapshots");
    assert!(next_day.bars.is_empty());
    assert_eq!(next_day.missing, syms(&["AAPL", "TSLA"]));
    assert_eq!(server.requests()[0].path(), "/v2/stocks/snapshots");
}

#[test]
fn alpaca_out_of_order_timestamps_are_rejected() {
    // Real recorded body requested with sort=desc: dates descend.
    let body = fixture("alpaca/get_v2_stocks_bars.alpaca-py-test.sort_desc.json");
    let server = HttpDouble::scripted(vec![Reply::json(
        200,
        body.replace("\"VFNMQXxEfDc1Mjc3NTc2MzYwMDAwMDAwMDA=\"", "null"),
    )]);
    let err = alpaca::fetch_daily_bars(
        &alpaca_cfg(&server),
        &syms(&["TSLA"]),
        d(2023, 9, 1),
        d(2023, 9, 29),
    )
    .expect_err("desc order");
    assert_eq!(
        err.to_string(),
        "alpaca: TSLA bar 2023-09-26: out of order after 2023-09-27"
    );
}

#[test]
fn alpaca_data_errors_name_source_symbol_and_item() {
    let base = fixture("alpaca/get_v2_stocks_bars.alpaca-py-test.multi_symbol.json");
    let cases = [
        (
            base.replace("\"c\": 162.95", "\"c\": -1"),
            "alpaca: AAPL bar 2022-03-09: close = -1: must be > 0",
        ),
        (
            base.replace("\"h\": 860.56", "\"h\": 850"),
            "alpaca: TSLA bar 2022-03-09: high = 850 < max(open, close) = 858.97",
        ),
        (
            base.replace("\"c\": 162.95,", ""),
            "alpaca: AAPL bar 2022-03-09: missing field `c`",
        ),
        (
            base.replace("\"TSLA\"", "\"QQQ\""),
            "alpaca: QQQ bars: symbol was not requested",
        ),
    ];
    for (body, want) in cases {
        let (text, _) = alpaca_err(vec![Reply::json(200, body)], fast_http());
        assert_eq!(text, want);
    }
}

#[test]
fn alpaca_duplicate_dates_across_pages_are_rejected() {
    let page =
        fixture("alpaca/get_v2_stocks_bars.alpaca-py-test.single_symbol_with_next_page_token.json");
    let last = fixture("alpaca/get_v2_stocks_bars.alpaca-py-test.multi_symbol.json")
        .replace("2022-03-09", "2022-02-02");
    let (text, n) = alpaca_err(
        vec![Reply::json(200, page), Reply::json(200, last)],
        fast_http(),
    );
    assert_eq!(text, "alpaca: AAPL bar 2022-02-02: duplicate date");
    assert_eq!(n, 2);
}

#[test]
fn truncated_json_is_an_error_with_path() {
    let body = fixture("alpaca/get_v2_stocks_bars.alpaca-py-test.multi_symbol.json");
    let (text, n) = alpaca_err(vec![Reply::json(200, &body.as_bytes()[..120])], fast_http());
    assert_eq!(
        text,
        "alpaca: GET /v2/stocks/bars: invalid JSON: EOF while parsing an object at line 6 column 27"
    );
    assert_eq!(
        n, 1,
        "a well-formed HTTP response with bad JSON is not retried"
    );
}

#[test]
fn http_500_until_attempts_exhausted() {
    let replies = vec![Reply::json(500, "{\"message\":\"internal\"}"); 10];
    let (text, n) = alpaca_err(replies, fast_http());
    assert_eq!(
        text,
        "alpaca: GET /v2/stocks/bars: HTTP 500 after 4 attempts"
    );
    assert_eq!(n, 4);
}

#[test]
fn http_403_is_not_retried_and_shows_the_message() {
    let (text, n) = alpaca_err(
        vec![Reply::json(403, "{\"message\":\"forbidden.\"}")],
        fast_http(),
    );
    assert_eq!(
        text,
        "alpaca: GET /v2/stocks/bars: HTTP 403 after 1 attempt: forbidden."
    );
    assert_eq!(n, 1);
}

#[test]
fn http_429_retry_after_is_honoured() {
    let ok = fixture("alpaca/get_v2_stocks_bars.alpaca-py-test.multi_symbol.json");
    let server = HttpDouble::scripted(vec![
        Reply::json(429, "{\"message\":\"too many requests.\"}").header("Retry-After", "1"),
        Reply::json(200, ok),
    ]);
    let t0 = Instant::now();
    let res = alpaca::fetch_daily_bars(
        &alpaca_cfg(&server),
        &syms(&["AAPL", "TSLA"]),
        d(2022, 3, 1),
        d(2022, 3, 9),
    )
    .expect("retry succeeds");
    let waited = t0.elapsed();
    assert_eq!((res.requests, res.retries), (2, 1));
    assert!(
        waited >= Duration::from_millis(1000),
        "Retry-After: 1 not honoured ({waited:?})"
    );
    assert!(
        waited < Duration::from_millis(2500),
        "waited too long ({waited:?})"
    );
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn secrets_stay_out_of_debug_and_config() {
    let cfg = alpaca::SourceConfig {
        key_id: Some(Secret::new(KEY_ID)),
        secret: Some(Secret::new(SECRET)),
        ..Default::default()
    };
    let dbg = format!("{cfg:?}");
    assert!(!dbg.contains(SECRET) && !dbg.contains(KEY_ID), "{dbg}");
    let missing = alpaca::SourceConfig {
        secret: None,
        ..cfg
    };
    let err = alpaca::fetch_daily_bars(&missing, &syms(&["AAPL"]), d(2024, 1, 2), d(2024, 1, 3))
        .expect_err("no key");
    assert!(matches!(err, FetchError::Config { .. }), "{err}");
    let parsed: Result<alpaca::SourceConfig, _> =
        serde_json::from_str(r#"{"feed":"sip","secret":"x"}"#);
    assert!(parsed.is_err(), "secrets are not config fields");
    let parsed: alpaca::SourceConfig =
        serde_json::from_str(r#"{"feed":"sip","http":{"max_attempts":2}}"#).expect("cfg");
    assert_eq!(
        (
            parsed.feed,
            parsed.http.max_attempts,
            parsed.http.concurrency
        ),
        (alpaca::Feed::Sip, 2, 4)
    );
}
