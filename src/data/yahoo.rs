//! Yahoo Finance v8 chart API: daily bars with dividends and splits, one request per symbol.
//!
//! `GET {base}/v8/finance/chart/{SYM}?period1&period2&interval=1d&events=div,splits&includePrePost=false`
//! → `chart.result[0]`: `timestamp[]` (session open, epoch seconds), `indicators.quote[0]`
//! (`open/high/low/close/volume` arrays), `indicators.adjclose[0].adjclose`, `events.dividends`
//! and `events.splits` keyed by timestamp. A row whose five values are all null is skipped; a
//! partly null row is an error. Dates are taken in the exchange's time zone
//! (`meta.exchangeTimezoneName`, else `meta.gmtoffset`, else America/New_York), which for US
//! listings is the New York trading date. Prices are split-adjusted as Yahoo serves them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{NaiveDate, TimeZone};
use chrono_tz::America::New_York;
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;

mod events;

pub use crate::data::http::FetchResult;
use crate::data::http::{self, FetchError, HttpClient, HttpConfig, Progress};
use crate::model::Bar;
use events::{Zone, apply_events};

const PROVIDER: &str = "yahoo";

/// Yahoo data-source settings (the `yahoo:` block of the config).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourceConfig {
    /// Base URL, e.g. `https://query2.finance.yahoo.com`.
    pub base_url: String,
    /// Timeouts, retries, pacing, concurrency.
    pub http: HttpConfig,
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            base_url: "https://query2.finance.yahoo.com".to_string(),
            http: HttpConfig {
                min_interval_ms: 250,
                concurrency: 2,
                ..HttpConfig::default()
            },
        }
    }
}

#[derive(Debug, Deserialize)]
struct Envelope {
    chart: Chart,
}

#[derive(Debug, Deserialize)]
struct Chart {
    result: Option<Vec<ChartResult>>,
    error: Option<ChartError>,
}

#[derive(Debug, Deserialize)]
struct ChartError {
    code: Option<String>,
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChartResult {
    meta: Option<Meta>,
    timestamp: Option<Vec<i64>>,
    events: Option<Events>,
    indicators: Option<Indicators>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    symbol: Option<String>,
    exchange_timezone_name: Option<String>,
    gmtoffset: Option<i32>,
}

type Column = Option<Vec<Option<f64>>>;

#[derive(Debug, Deserialize)]
struct Indicators {
    quote: Option<Vec<Quote>>,
    adjclose: Option<Vec<AdjClose>>,
}

#[derive(Debug, Deserialize)]
struct Quote {
    open: Column,
    high: Column,
    low: Column,
    close: Column,
    volume: Column,
}

#[derive(Debug, Deserialize)]
struct AdjClose {
    adjclose: Column,
}

#[derive(Debug, Deserialize)]
struct Events {
    dividends: Option<HashMap<String, Dividend>>,
    splits: Option<HashMap<String, Split>>,
}

#[derive(Debug, Deserialize)]
struct Dividend {
    amount: Option<f64>,
    date: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Split {
    date: Option<i64>,
    numerator: Option<f64>,
    denominator: Option<f64>,
}

/// Daily bars for `symbols` over `start..=end` (exchange-local dates), validated.
pub fn fetch_daily_bars(
    cfg: &SourceConfig,
    symbols: &[String],
    start: NaiveDate,
    end: NaiveDate,
) -> Result<FetchResult, FetchError> {
    fetch_daily_bars_with_progress(cfg, symbols, start, end, &|_, _| {})
}

/// [`fetch_daily_bars`] reporting `(symbols done, symbols total)` after each symbol.
pub fn fetch_daily_bars_with_progress(
    cfg: &SourceConfig,
    symbols: &[String],
    start: NaiveDate,
    end: NaiveDate,
    progress: &dyn Fn(usize, usize),
) -> Result<FetchResult, FetchError> {
    let mut symbols = symbols.to_vec();
    symbols.sort();
    symbols.dedup();
    fetch_windows_inner(
        cfg,
        &[(start, symbols)],
        end,
        &|p: Progress| progress(p.done, p.total),
        false,
    )
}

/// Daily bars for groups of symbols, each group from its own first date to `end` (one request
/// per symbol either way); progress after each symbol (symbols done, rows so far). A symbol
/// Yahoo answers 404 for is listed in [`FetchResult::unknown`] instead of failing the fetch.
pub fn fetch_windows(
    cfg: &SourceConfig,
    windows: &[(NaiveDate, Vec<String>)],
    end: NaiveDate,
    progress: &dyn Fn(Progress),
) -> Result<FetchResult, FetchError> {
    fetch_windows_inner(cfg, windows, end, progress, true)
}

fn fetch_windows_inner(
    cfg: &SourceConfig,
    windows: &[(NaiveDate, Vec<String>)],
    end: NaiveDate,
    progress: &dyn Fn(Progress),
    unknown_ok: bool,
) -> Result<FetchResult, FetchError> {
    let client = Arc::new(HttpClient::new(PROVIDER, &cfg.http)?);
    let mut jobs = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (start, symbols) in windows {
        if *start > end {
            let detail = format!("start {start} is after end {end}");
            return Err(FetchError::Config {
                provider: PROVIDER,
                detail,
            });
        }
        let period = (
            ny_midnight(*start)?,
            ny_midnight(end + chrono::Days::new(1))?,
        );
        for s in symbols {
            if !seen.insert(s.clone()) {
                return Err(FetchError::Config {
                    provider: PROVIDER,
                    detail: format!("{s} is in two fetch windows"),
                });
            }
            jobs.push((s.clone(), *start, period));
        }
    }
    let total = jobs.len();
    let base = cfg.base_url.trim_end_matches('/').to_string();
    let run = async {
        let mut tasks = JoinSet::new();
        for (symbol, start, (period1, period2)) in jobs {
            let (client, base) = (client.clone(), base.clone());
            tasks.spawn(async move {
                let url = format!("{base}/v8/finance/chart/{}", encode_path(&symbol));
                let query = [
                    ("period1", period1.to_string()),
                    ("period2", period2.to_string()),
                    ("interval", "1d".to_string()),
                    ("events", "div,splits".to_string()),
                    ("includePrePost", "false".to_string()),
                ];
                let body = match client.get_bytes(&url, &query, &[]).await {
                    Err(FetchError::Status { status: 404, .. }) if unknown_ok => {
                        return Ok((symbol, None));
                    }
                    other => other?,
                };
                let bars = parse_chart_json(&symbol, &body, start, end)?;
                Ok::<_, FetchError>((symbol, Some(bars)))
            });
        }
        let mut out = BTreeMap::new();
        let mut unknown = Vec::new();
        let mut p = Progress {
            done: 0,
            total,
            rows: 0,
        };
        progress(p);
        while let Some(joined) = tasks.join_next().await {
            let internal = |e: tokio::task::JoinError| FetchError::Internal {
                provider: PROVIDER,
                detail: e.to_string(),
            };
            let (symbol, bars) = joined.map_err(internal)??;
            p.done += 1;
            match bars {
                Some(bars) => {
                    p.rows += bars.len();
                    out.insert(symbol, bars);
                }
                None => unknown.push(symbol),
            }
            progress(p);
        }
        unknown.sort();
        Ok::<_, FetchError>((out, unknown))
    };
    let (bars, unknown) = http::block_on(PROVIDER, run)??;
    Ok(FetchResult {
        bars,
        requests: client.requests(),
        retries: client.retries(),
        unknown,
    })
}

/// Parses and validates one v8 chart body for `symbol` (public so recorded bodies can be checked
/// offline). Errors name the URL path `/v8/finance/chart/{SYM}` for document-level problems.
pub fn parse_chart_json(
    symbol: &str,
    body: &[u8],
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<Bar>, FetchError> {
    let path = format!("/v8/finance/chart/{}", encode_path(symbol));
    let env: Envelope = serde_json::from_slice(body).map_err(|e| FetchError::Json {
        provider: PROVIDER,
        path: path.clone(),
        detail: e.to_string(),
    })?;
    parse_chart(symbol, &path, env, start, end)
}

fn parse_chart(
    symbol: &str,
    path: &str,
    env: Envelope,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<Bar>, FetchError> {
    let chart_err = |detail: String| FetchError::data(PROVIDER, symbol, "chart", detail);
    if let Some(e) = env.chart.error {
        let code = e.code.unwrap_or_else(|| "error".to_string());
        let detail = format!("{code}: {}", e.description.unwrap_or_default());
        return Err(FetchError::Api {
            provider: PROVIDER,
            path: path.to_string(),
            detail,
        });
    }
    let Some(result) = env.chart.result.and_then(|r| r.into_iter().next()) else {
        return Err(chart_err("no result".to_string()));
    };
    let meta = result.meta;
    if let Some(got) = meta.as_ref().and_then(|m| m.symbol.as_deref())
        && !got.eq_ignore_ascii_case(symbol)
    {
        return Err(chart_err(format!(
            "response is for symbol {got}, which was not requested"
        )));
    }
    let zone = Zone::from_meta(meta.as_ref());
    let Some(stamps) = result.timestamp else {
        return Ok(Vec::new());
    };
    let indicators = result
        .indicators
        .ok_or_else(|| chart_err("missing indicators".to_string()))?;
    let quote = indicators.quote.and_then(|q| q.into_iter().next());
    let quote = quote.ok_or_else(|| chart_err("missing indicators.quote".to_string()))?;
    let n = stamps.len();
    let column = |c: Column, name: &str| -> Result<Vec<Option<f64>>, FetchError> {
        let c = c.ok_or_else(|| chart_err(format!("missing {name}")))?;
        if c.len() != n {
            return Err(chart_err(format!(
                "{name} has {} values for {n} timestamps",
                c.len()
            )));
        }
        Ok(c)
    };
    let open = column(quote.open, "quote.open")?;
    let high = column(quote.high, "quote.high")?;
    let low = column(quote.low, "quote.low")?;
    let close = column(quote.close, "quote.close")?;
    let volume = column(quote.volume, "quote.volume")?;
    let adj = match indicators.adjclose.and_then(|a| a.into_iter().next()) {
        Some(a) => Some(column(a.adjclose, "adjclose")?),
        None => None,
    };
    let mut bars = Vec::with_capacity(n);
    for i in 0..n {
        let date = zone
            .date(stamps[i])
            .ok_or_else(|| chart_err(format!("timestamp {} out of range", stamps[i])))?;
        let row = [open[i], high[i], low[i], close[i], volume[i]];
        if row.iter().all(Option::is_none) {
            continue;
        }
        let names = ["open", "high", "low", "close", "volume"];
        let mut vals = [0.0; 5];
        for (k, v) in row.iter().enumerate() {
            vals[k] = v.ok_or_else(|| {
                FetchError::data(
                    PROVIDER,
                    symbol,
                    format!("bar {date}"),
                    format!("{} is null", names[k]),
                )
            })?;
        }
        bars.push(Bar {
            date,
            open: vals[0],
            high: vals[1],
            low: vals[2],
            close: vals[3],
            volume: vals[4],
            adj_close: adj.as_ref().and_then(|a| a[i]),
            dividend: 0.0,
            split_factor: 1.0,
            provisional: false,
        });
    }
    if let Some(events) = result.events {
        apply_events(symbol, &zone, events, &mut bars)?;
    }
    http::check_series(PROVIDER, symbol, &bars, start, end)?;
    Ok(bars)
}

/// Epoch seconds of New York midnight starting `date`.
fn ny_midnight(date: NaiveDate) -> Result<i64, FetchError> {
    let local = date.and_hms_opt(0, 0, 0);
    let t = local.and_then(|l| New_York.from_local_datetime(&l).earliest());
    t.map(|t| t.timestamp()).ok_or_else(|| FetchError::Config {
        provider: PROVIDER,
        detail: format!("no New York midnight on {date}"),
    })
}

/// Percent-encodes a symbol for a URL path segment (`^GSPC` → `%5EGSPC`; `BRK-B` unchanged).
fn encode_path(symbol: &str) -> String {
    let mut out = String::with_capacity(symbol.len());
    for b in symbol.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'=') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
