//! Yahoo v8 chart: recorded bodies with splits and dividends, nulls, error documents, timeouts.

use std::time::{Duration, Instant};

use trader::data::http::HttpConfig;
use trader::data::yahoo;

use super::{d, fast_http, fixture, syms, yahoo_cfg};
use crate::http_double::{HttpDouble, Reply};

#[test]
fn slow_response_times_out_after_retries() {
    let body = fixture("yahoo/chart_AAPL_1d_2020-08-31_2020-11-07_split_and_dividend.json");
    let slow = Reply::json(200, body).delay(Duration::from_millis(600));
    let server = HttpDouble::scripted(vec![slow; 3]);
    let http = HttpConfig {
        timeout_ms: 150,
        max_attempts: 3,
        ..fast_http()
    };
    let cfg = yahoo::SourceConfig {
        http,
        ..yahoo_cfg(&server)
    };
    let t0 = Instant::now();
    let err = yahoo::fetch_daily_bars(&cfg, &syms(&["AAPL"]), d(2020, 8, 31), d(2020, 11, 6))
        .expect_err("timeout");
    assert_eq!(
        err.to_string(),
        "yahoo: GET /v8/finance/chart/AAPL: timed out after 3 attempts"
    );
    assert!(err.is_unavailable());
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn yahoo_split_and_dividend_land_on_their_dates() {
    let server = HttpDouble::with_handler(|_, req| {
        let file = match req.path() {
            "/v8/finance/chart/AAPL" => {
                "chart_AAPL_1d_2020-08-31_2020-11-07_split_and_dividend.json"
            }
            "/v8/finance/chart/NVDA" => "chart_NVDA_1d_2021-02-01_2022-01-31_events-split.json",
            "/v8/finance/chart/MSFT" => "chart_MSFT_1d_2021-02-01_2022-01-31_events-div.json",
            _ => return Reply::json(404, "{}"),
        };
        Reply::json(200, fixture(&format!("yahoo/{file}")))
    });
    let cfg = yahoo_cfg(&server);
    let res = yahoo::fetch_daily_bars(&cfg, &syms(&["AAPL"]), d(2020, 8, 31), d(2020, 11, 6))
        .expect("aapl");
    let aapl = &res.bars["AAPL"];
    assert_eq!(aapl.len(), 49);
    assert_eq!((aapl[0].date, aapl[0].split_factor), (d(2020, 8, 31), 4.0));
    let last = aapl.last().expect("bars");
    assert_eq!((last.date, last.dividend), (d(2020, 11, 6), 0.205));
    assert!(aapl.iter().filter(|b| b.split_factor != 1.0).count() == 1);
    assert!(aapl.iter().all(|b| b.adj_close.is_some() && !b.provisional));
    let req = &server.requests()[0];
    assert_eq!(req.query("interval").as_deref(), Some("1d"));
    assert_eq!(req.query("events").as_deref(), Some("div,splits"));
    assert_eq!(req.query("period1").as_deref(), Some("1598846400")); // 2020-08-31 00:00 EDT
    assert_eq!(req.query("period2").as_deref(), Some("1604725200")); // 2020-11-07 00:00 EST

    let res = yahoo::fetch_daily_bars(
        &cfg,
        &syms(&["NVDA", "MSFT"]),
        d(2021, 2, 1),
        d(2022, 1, 31),
    )
    .expect("2021");
    let split: Vec<_> = res.bars["NVDA"]
        .iter()
        .filter(|b| b.split_factor != 1.0)
        .map(|b| (b.date, b.split_factor))
        .collect();
    assert_eq!(split, vec![(d(2021, 7, 20), 4.0)]);
    let divs: Vec<_> = res.bars["MSFT"]
        .iter()
        .filter(|b| b.dividend > 0.0)
        .map(|b| (b.date, b.dividend))
        .collect();
    assert_eq!(
        divs,
        vec![
            (d(2021, 2, 17), 0.56),
            (d(2021, 5, 19), 0.56),
            (d(2021, 8, 18), 0.56),
            (d(2021, 11, 17), 0.62)
        ]
    );
    assert_eq!(res.bars["MSFT"].len(), 252);
}

#[test]
fn yahoo_errors_and_nulls() {
    let ok = fixture("yahoo/chart_AAPL_1d_2020-08-31_2020-11-07_split_and_dividend.json");
    let v: serde_json::Value = serde_json::from_str(&ok).expect("fixture json");
    let with_quote = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = v.clone();
        f(&mut v["chart"]["result"][0]["indicators"]["quote"][0]);
        v.to_string()
    };
    let (start, end) = (d(2020, 8, 31), d(2020, 11, 6));
    let parse = |body: &str| yahoo::parse_chart_json("AAPL", body.as_bytes(), start, end);
    // A row with every value null is skipped.
    let all_null = with_quote(&|q| {
        ["open", "high", "low", "close", "volume"]
            .iter()
            .for_each(|k| q[*k][1] = serde_json::Value::Null)
    });
    assert_eq!(parse(&all_null).expect("skip").len(), 48);
    let part_null = with_quote(&|q| q["volume"][1] = serde_json::Value::Null);
    assert_eq!(
        parse(&part_null).expect_err("null").to_string(),
        "yahoo: AAPL bar 2020-09-01: volume is null"
    );
    let negative = with_quote(&|q| q["low"][2] = serde_json::json!(-3.5));
    assert_eq!(
        parse(&negative).expect_err("neg").to_string(),
        "yahoo: AAPL bar 2020-09-02: low = -3.5: must be > 0"
    );
    let error = r#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#;
    let server = HttpDouble::scripted(vec![Reply::json(404, error), Reply::json(200, error)]);
    let cfg = yahoo_cfg(&server);
    let err = yahoo::fetch_daily_bars(&cfg, &syms(&["XYZ"]), start, end)
        .expect_err("404")
        .to_string();
    assert_eq!(
        err,
        "yahoo: GET /v8/finance/chart/XYZ: HTTP 404 after 1 attempt: Not Found: No data found, symbol may be delisted"
    );
    let err = yahoo::fetch_daily_bars(&cfg, &syms(&["XYZ"]), start, end)
        .expect_err("200")
        .to_string();
    assert_eq!(
        err,
        "yahoo: GET /v8/finance/chart/XYZ: Not Found: No data found, symbol may be delisted"
    );
    let empty = fixture("yahoo/chart_AAPL_1m_2025-02-01_weekend_no_timestamps.json");
    assert!(parse(&empty).expect("weekend").is_empty());
    let other = parse(&ok.replace("\"symbol\": \"AAPL\"", "\"symbol\": \"MSFT\""))
        .expect_err("sym")
        .to_string();
    assert_eq!(
        other,
        "yahoo: AAPL chart: response is for symbol MSFT, which was not requested"
    );
}
