//! Alpaca Market Data API v2: historical daily bars and snapshots (provisional bars).
//!
//! * `GET {base}/v2/stocks/bars?symbols=A,B&timeframe=1Day&start&end&feed&adjustment&limit&sort=asc`
//!   — many symbols per request, pages followed through `next_page_token` until it is null.
//! * `GET {base}/v2/stocks/snapshots?symbols=A,B&feed` — latest trade and today's daily bar,
//!   turned into a provisional [`Bar`] for today.
//!
//! A bar's trading date is the America/New_York date of its timestamp `t` (Alpaca stamps daily
//! bars at New York midnight, `04:00Z`/`05:00Z`). Credentials are passed in by the caller through
//! [`SourceConfig::key_id`]/[`SourceConfig::secret`]; this module never reads the environment.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate};
use chrono_tz::America::New_York;
use serde::{Deserialize, Deserializer, Serialize};
use tokio::task::JoinSet;

mod snapshots;

pub use crate::data::http::FetchResult;
use crate::data::http::{self, FetchError, HttpClient, HttpConfig, Progress, Secret};
use crate::model::Bar;
pub use snapshots::{ProvisionalResult, fetch_provisional};

const PROVIDER: &str = "alpaca";
const BARS_PATH: &str = "/v2/stocks/bars";
/// Upper bound on pages per chunk, so a server that never ends pagination cannot loop forever.
const MAX_PAGES: usize = 100_000;

/// Which exchange feed to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Feed {
    /// Investors Exchange only (free plan).
    #[default]
    Iex,
    /// All US exchanges (paid plan).
    Sip,
}

/// Corporate-action adjustment applied by Alpaca.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Adjustment {
    /// No adjustment.
    Raw,
    /// Split-adjusted prices and volumes.
    Split,
    /// Dividend-adjusted prices.
    Dividend,
    /// Split and dividend adjusted (then `adj_close` = `close`).
    #[default]
    All,
}

impl Feed {
    fn as_str(self) -> &'static str {
        match self {
            Feed::Iex => "iex",
            Feed::Sip => "sip",
        }
    }
}

impl Adjustment {
    fn as_str(self) -> &'static str {
        match self {
            Adjustment::Raw => "raw",
            Adjustment::Split => "split",
            Adjustment::Dividend => "dividend",
            Adjustment::All => "all",
        }
    }
}

/// Alpaca data-source settings (the `alpaca:` block of the config; keys come from the environment).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourceConfig {
    /// Market-data base URL, e.g. `https://data.alpaca.markets`.
    pub base_url: String,
    /// `iex` or `sip`.
    pub feed: Feed,
    /// `raw`, `split`, `dividend` or `all`.
    pub adjustment: Adjustment,
    /// Symbols per bars/snapshots request (Alpaca accepts long lists; 100 keeps URLs short).
    pub symbols_per_request: usize,
    /// `limit` per page: bars across all symbols of the request (1..=10000).
    pub page_limit: u32,
    /// Timeouts, retries, pacing, concurrency.
    pub http: HttpConfig,
    /// `APCA-API-KEY-ID`; not a config field — set by the caller from the environment.
    #[serde(skip)]
    pub key_id: Option<Secret>,
    /// `APCA-API-SECRET-KEY`; not a config field — set by the caller from the environment.
    #[serde(skip)]
    pub secret: Option<Secret>,
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            base_url: "https://data.alpaca.markets".to_string(),
            feed: Feed::Iex,
            adjustment: Adjustment::All,
            symbols_per_request: 100,
            page_limit: 10_000,
            // Free plan: 200 requests/minute.
            http: HttpConfig {
                min_interval_ms: 300,
                ..HttpConfig::default()
            },
            key_id: None,
            secret: None,
        }
    }
}

/// One bar on the wire. Every field optional so a missing one is reported by name.
#[derive(Debug, Deserialize)]
struct RawBar {
    t: Option<String>,
    o: Option<f64>,
    h: Option<f64>,
    l: Option<f64>,
    c: Option<f64>,
    v: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct BarsPage {
    #[serde(deserialize_with = "null_as_empty")]
    bars: BTreeMap<String, Vec<RawBar>>,
    #[serde(default)]
    next_page_token: Option<String>,
}

fn null_as_empty<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Vec<RawBar>>, D::Error> {
    Ok(Option::<BTreeMap<String, Vec<RawBar>>>::deserialize(d)?.unwrap_or_default())
}

/// Daily bars for `symbols` over `start..=end` (New York dates), validated.
pub fn fetch_daily_bars(
    cfg: &SourceConfig,
    symbols: &[String],
    start: NaiveDate,
    end: NaiveDate,
) -> Result<FetchResult, FetchError> {
    fetch_daily_bars_with_progress(cfg, symbols, start, end, &|_, _| {})
}

/// [`fetch_daily_bars`] reporting `(symbols done, symbols total)` after each chunk completes.
pub fn fetch_daily_bars_with_progress(
    cfg: &SourceConfig,
    symbols: &[String],
    start: NaiveDate,
    end: NaiveDate,
    progress: &dyn Fn(usize, usize),
) -> Result<FetchResult, FetchError> {
    if start > end {
        return Err(config_err(format!("start {start} is after end {end}")));
    }
    let windows = [(start, dedup(symbols))];
    fetch_windows(cfg, &windows, end, &|p: Progress| progress(p.done, p.total))
}

/// Daily bars for groups of symbols, each group with its own first date and all ending at
/// `end`: `(start, symbols)` pairs. One client and one pacing for all groups; a symbol in two
/// groups is an error. Progress is reported after each chunk (symbols done, rows so far).
pub fn fetch_windows(
    cfg: &SourceConfig,
    windows: &[(NaiveDate, Vec<String>)],
    end: NaiveDate,
    progress: &dyn Fn(Progress),
) -> Result<FetchResult, FetchError> {
    let (client, headers) = connect(cfg)?;
    let mut seen = BTreeSet::new();
    let mut jobs = Vec::new();
    for (start, symbols) in windows {
        if *start > end {
            return Err(config_err(format!("start {start} is after end {end}")));
        }
        for s in symbols {
            if !seen.insert(s.clone()) {
                return Err(config_err(format!("{s} is in two fetch windows")));
            }
        }
        for c in chunk(symbols, cfg.symbols_per_request)? {
            jobs.push((*start, c));
        }
    }
    let total = seen.len();
    let cfg = Arc::new(cfg.clone());
    let headers = Arc::new(headers);
    let run = async {
        let mut tasks = JoinSet::new();
        for (start, chunk) in jobs {
            let (client, cfg, headers) = (client.clone(), cfg.clone(), headers.clone());
            tasks
                .spawn(async move { bars_chunk(&client, &cfg, &headers, chunk, start, end).await });
        }
        let mut bars = BTreeMap::new();
        let mut p = Progress {
            done: 0,
            total,
            rows: 0,
        };
        progress(p);
        while let Some(joined) = tasks.join_next().await {
            let part = joined.map_err(|e| internal(e.to_string()))??;
            p.done += part.len();
            p.rows += part.values().map(Vec::len).sum::<usize>();
            bars.extend(part);
            progress(p);
        }
        Ok::<_, FetchError>(bars)
    };
    let bars = http::block_on(PROVIDER, run)??;
    Ok(FetchResult {
        bars,
        requests: client.requests(),
        retries: client.retries(),
        unknown: Vec::new(),
    })
}

async fn bars_chunk(
    client: &HttpClient,
    cfg: &SourceConfig,
    headers: &[(&'static str, Secret)],
    chunk: Vec<String>,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<BTreeMap<String, Vec<Bar>>, FetchError> {
    let url = format!("{}{BARS_PATH}", cfg.base_url.trim_end_matches('/'));
    let base_query = vec![
        ("symbols", chunk.join(",")),
        ("timeframe", "1Day".to_string()),
        ("start", ny_instant(start, 0, 0, 0)?),
        ("end", ny_instant(end, 23, 59, 59)?),
        ("feed", cfg.feed.as_str().to_string()),
        ("adjustment", cfg.adjustment.as_str().to_string()),
        ("limit", cfg.page_limit.to_string()),
        ("sort", "asc".to_string()),
    ];
    let mut out: BTreeMap<String, Vec<Bar>> =
        chunk.iter().map(|s| (s.clone(), Vec::new())).collect();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut query = base_query.clone();
        if let Some(t) = &token {
            query.push(("page_token", t.clone()));
        }
        let page: BarsPage = client.get_json(&url, &query, &header_refs(headers)).await?;
        for (symbol, raws) in page.bars {
            let Some(series) = out.get_mut(&symbol) else {
                return Err(FetchError::data(
                    PROVIDER,
                    &symbol,
                    "bars",
                    "symbol was not requested",
                ));
            };
            series.reserve(raws.len());
            for (i, raw) in raws.into_iter().enumerate() {
                series.push(to_bar(
                    &symbol,
                    raw,
                    &format!("bar #{}", i + 1),
                    cfg.adjustment,
                )?);
            }
        }
        match page.next_page_token {
            Some(next) if !next.is_empty() => {
                if token.as_deref() == Some(next.as_str()) {
                    return Err(api_err(
                        BARS_PATH,
                        "next_page_token repeated; pagination does not advance",
                    ));
                }
                token = Some(next);
            }
            _ => {
                for (symbol, bars) in &out {
                    http::check_series(PROVIDER, symbol, bars, start, end)?;
                }
                return Ok(out);
            }
        }
    }
    Err(api_err(BARS_PATH, "too many pages"))
}

/// Converts a wire bar; `item` names it until its date is known.
fn to_bar(
    symbol: &str,
    raw: RawBar,
    item: &str,
    adjustment: Adjustment,
) -> Result<Bar, FetchError> {
    let t = raw
        .t
        .ok_or_else(|| FetchError::data(PROVIDER, symbol, item, "missing field `t`"))?;
    let date = ny_date(&t).ok_or_else(|| {
        FetchError::data(
            PROVIDER,
            symbol,
            item,
            format!("t = {t:?}: not an RFC 3339 timestamp"),
        )
    })?;
    let field = |v: Option<f64>, name: &str| {
        v.ok_or_else(|| {
            FetchError::data(
                PROVIDER,
                symbol,
                format!("bar {date}"),
                format!("missing field `{name}`"),
            )
        })
    };
    let close = field(raw.c, "c")?;
    Ok(Bar {
        date,
        open: field(raw.o, "o")?,
        high: field(raw.h, "h")?,
        low: field(raw.l, "l")?,
        close,
        volume: field(raw.v, "v")?,
        adj_close: (adjustment == Adjustment::All).then_some(close),
        dividend: 0.0,
        split_factor: 1.0,
        provisional: false,
    })
}

/// The America/New_York calendar date of an RFC 3339 timestamp.
fn ny_date(t: &str) -> Option<NaiveDate> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|dt| dt.with_timezone(&New_York).date_naive())
}

/// `date hh:mm:ss` in New York as an RFC 3339 UTC timestamp (the API's `start`/`end`).
fn ny_instant(date: NaiveDate, h: u32, m: u32, s: u32) -> Result<String, FetchError> {
    date.and_hms_opt(h, m, s)
        .and_then(|local| local.and_local_timezone(New_York).earliest())
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        })
        .ok_or_else(|| config_err(format!("no New York time {date} {h:02}:{m:02}:{s:02}")))
}

/// Auth headers (name, value) for every request.
type Headers = Vec<(&'static str, Secret)>;

fn connect(cfg: &SourceConfig) -> Result<(Arc<HttpClient>, Headers), FetchError> {
    let key = cfg
        .key_id
        .clone()
        .ok_or_else(|| config_err("API key id not provided".to_string()))?;
    let secret = cfg
        .secret
        .clone()
        .ok_or_else(|| config_err("API secret key not provided".to_string()))?;
    if cfg.page_limit == 0 || cfg.page_limit > 10_000 {
        return Err(config_err(format!(
            "page_limit = {}: must be 1..=10000",
            cfg.page_limit
        )));
    }
    let client = Arc::new(HttpClient::new(PROVIDER, &cfg.http)?);
    Ok((
        client,
        vec![("APCA-API-KEY-ID", key), ("APCA-API-SECRET-KEY", secret)],
    ))
}

fn header_refs<'a>(headers: &'a [(&'static str, Secret)]) -> Vec<(&'static str, &'a Secret)> {
    headers.iter().map(|(k, v)| (*k, v)).collect()
}

fn dedup(symbols: &[String]) -> Vec<String> {
    let set: BTreeSet<&String> = symbols.iter().collect();
    set.into_iter().cloned().collect()
}

fn chunk(symbols: &[String], size: usize) -> Result<Vec<Vec<String>>, FetchError> {
    if size == 0 {
        return Err(config_err("symbols_per_request must be >= 1".to_string()));
    }
    Ok(symbols.chunks(size).map(<[String]>::to_vec).collect())
}

fn config_err(detail: String) -> FetchError {
    FetchError::Config {
        provider: PROVIDER,
        detail,
    }
}

fn internal(detail: String) -> FetchError {
    FetchError::Internal {
        provider: PROVIDER,
        detail,
    }
}

fn api_err(path: &str, detail: &str) -> FetchError {
    FetchError::Api {
        provider: PROVIDER,
        path: path.to_string(),
        detail: detail.to_string(),
    }
}
