//! Bar validation shared by every source: one bar, then a whole series.

use chrono::NaiveDate;

use super::FetchError;
use crate::model::Bar;

/// Checks one bar: prices finite and > 0, volume >= 0, OHLC consistent, adjusted close,
/// dividend and split factor sane.
pub fn check_bar(provider: &'static str, symbol: &str, bar: &Bar) -> Result<(), FetchError> {
    let item = format!("bar {}", bar.date);
    let err = |detail: String| Err(FetchError::data(provider, symbol, item.clone(), detail));
    let adj = bar.adj_close.map(|a| ("adjclose", a));
    for (name, v) in [
        ("open", bar.open),
        ("high", bar.high),
        ("low", bar.low),
        ("close", bar.close),
    ]
    .into_iter()
    .chain(adj)
    {
        if !(v.is_finite() && v > 0.0) {
            return err(format!("{name} = {v}: must be > 0"));
        }
    }
    if !(bar.volume.is_finite() && bar.volume >= 0.0) {
        return err(format!("volume = {}: must be >= 0", bar.volume));
    }
    let (top, bottom) = (bar.open.max(bar.close), bar.open.min(bar.close));
    if bar.high < top {
        return err(format!("high = {} < max(open, close) = {top}", bar.high));
    }
    if bar.low > bottom {
        return err(format!("low = {} > min(open, close) = {bottom}", bar.low));
    }
    if !(bar.dividend.is_finite() && bar.dividend >= 0.0) {
        return err(format!("dividend = {}: must be >= 0", bar.dividend));
    }
    if !(bar.split_factor.is_finite() && bar.split_factor > 0.0) {
        return err(format!("split factor = {}: must be > 0", bar.split_factor));
    }
    Ok(())
}

/// Checks a symbol's series: every bar valid ([`check_bar`]), dates strictly increasing
/// (no duplicates) and inside `start..=end`.
pub fn check_series(
    provider: &'static str,
    symbol: &str,
    bars: &[Bar],
    start: NaiveDate,
    end: NaiveDate,
) -> Result<(), FetchError> {
    let mut prev: Option<NaiveDate> = None;
    for bar in bars {
        let item = format!("bar {}", bar.date);
        if let Some(p) = prev {
            if bar.date == p {
                return Err(FetchError::data(provider, symbol, item, "duplicate date"));
            }
            if bar.date < p {
                return Err(FetchError::data(
                    provider,
                    symbol,
                    item,
                    format!("out of order after {p}"),
                ));
            }
        }
        if bar.date < start || bar.date > end {
            return Err(FetchError::data(
                provider,
                symbol,
                item,
                format!("outside requested range {start}..={end}"),
            ));
        }
        check_bar(provider, symbol, bar)?;
        prev = Some(bar.date);
    }
    Ok(())
}
