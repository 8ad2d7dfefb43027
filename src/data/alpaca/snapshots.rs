//! `GET /v2/stocks/snapshots`: provisional bars for today from the latest trade and daily bar.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Deserialize;

use super::{PROVIDER, RawBar, SourceConfig, chunk, connect, dedup, header_refs, ny_date, to_bar};
use crate::data::http::{self, FetchError};
use crate::model::Bar;

const SNAPSHOTS_PATH: &str = "/v2/stocks/snapshots";

/// Provisional bars for today built from snapshots.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProvisionalResult {
    /// One provisional bar per symbol that has a daily bar dated today.
    pub bars: BTreeMap<String, Bar>,
    /// Requested symbols without a snapshot or whose daily bar is not today's.
    pub missing: Vec<String>,
    /// HTTP requests sent (attempts, including retries).
    pub requests: usize,
    /// Retries among those requests.
    pub retries: usize,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Snapshot {
    latest_trade: Option<Trade>,
    daily_bar: Option<RawBar>,
}

#[derive(Debug, Deserialize)]
struct Trade {
    t: Option<String>,
    p: Option<f64>,
}

/// Provisional bars for `today` (New York date) from `GET /v2/stocks/snapshots`: open/high/low/
/// volume of today's daily bar, close = latest trade price when that trade is from today
/// (high/low widened to include it), `provisional = true`.
pub fn fetch_provisional(
    cfg: &SourceConfig,
    symbols: &[String],
    today: NaiveDate,
) -> Result<ProvisionalResult, FetchError> {
    let (client, headers) = connect(cfg)?;
    let symbols = dedup(symbols);
    let chunks = chunk(&symbols, cfg.symbols_per_request)?;
    let url = format!("{}{SNAPSHOTS_PATH}", cfg.base_url.trim_end_matches('/'));
    let run = async {
        let mut out = ProvisionalResult::default();
        for chunk in chunks {
            let query = vec![
                ("symbols", chunk.join(",")),
                ("feed", cfg.feed.as_str().to_string()),
            ];
            let page: BTreeMap<String, Option<Snapshot>> = client
                .get_json(&url, &query, &header_refs(&headers))
                .await?;
            let wanted: BTreeSet<&String> = chunk.iter().collect();
            let mut seen = BTreeSet::new();
            for (symbol, snap) in page {
                if !wanted.contains(&symbol) {
                    return Err(FetchError::data(
                        PROVIDER,
                        &symbol,
                        "snapshot",
                        "symbol was not requested",
                    ));
                }
                seen.insert(symbol.clone());
                match snap
                    .map(|s| provisional_bar(&symbol, s, today))
                    .transpose()?
                    .flatten()
                {
                    Some(bar) => {
                        out.bars.insert(symbol, bar);
                    }
                    None => out.missing.push(symbol),
                }
            }
            out.missing
                .extend(chunk.iter().filter(|s| !seen.contains(*s)).cloned());
        }
        Ok::<_, FetchError>(out)
    };
    let mut out = http::block_on(PROVIDER, run)??;
    out.missing.sort();
    out.requests = client.requests();
    out.retries = client.retries();
    Ok(out)
}

fn provisional_bar(
    symbol: &str,
    snap: Snapshot,
    today: NaiveDate,
) -> Result<Option<Bar>, FetchError> {
    let Some(raw) = snap.daily_bar else {
        return Ok(None);
    };
    let mut bar = to_bar(symbol, raw, "daily bar", super::Adjustment::Raw)?;
    if bar.date != today {
        return Ok(None);
    }
    if let Some(Trade {
        t: Some(t),
        p: Some(p),
    }) = snap.latest_trade
        && p.is_finite()
        && p > 0.0
        && ny_date(&t).is_some_and(|d| d == today)
    {
        bar.close = p;
        bar.high = bar.high.max(p);
        bar.low = bar.low.min(p);
    }
    bar.provisional = true;
    http::check_bar(PROVIDER, symbol, &bar)?;
    Ok(Some(bar))
}
