//! Importing daily bars from CSV files in the formats users actually have.
//!
//! Columns are found by header name, so these all work: Yahoo/yfinance
//! (`Date,Open,High,Low,Close,AdjClose,Volume,Dividends`, also `Adj Close`, `Stock Splits`),
//! Alpha Vantage (`timestamp,...,adjusted_close,volume,dividend_amount,split_coefficient`,
//! newest first, prices as traded), Alpaca-style timestamps at New York midnight
//! (`2020-07-27 04:00:00+00:00`), close-only files (`Date,Close`: O=H=L=C, volume 0) and
//! the Kaggle panel (`date,open,high,low,close,volume,Name`).
//!
//! Alpha Vantage prices are as traded; they are back-adjusted here by the split
//! coefficients so every stored `close` is split-adjusted, and the split stays on record
//! in `split_factor`. Every bad row is reported as `file:line: reason`.

use std::path::Path;

use chrono::{DateTime, NaiveDate};
use chrono_tz::America::New_York;

use crate::model::Bar;

/// A CSV file that cannot be imported: every bad row, or a structural problem.
#[derive(Debug, thiserror::Error)]
#[error("{}", .problems.join("\n"))]
pub struct CsvError {
    pub problems: Vec<String>,
}

/// The bars of one file, plus rows dropped with `skip_bad_rows`.
#[derive(Debug)]
pub struct Imported {
    pub symbol: String,
    pub bars: Vec<Bar>,
    pub skipped: Vec<String>,
}

struct Cols {
    date: usize,
    open: Option<usize>,
    high: Option<usize>,
    low: Option<usize>,
    close: usize,
    adj: Option<usize>,
    volume: Option<usize>,
    dividend: Option<usize>,
    split: Option<usize>,
    /// Prices are as traded (Alpha Vantage) and must be split-adjusted here.
    raw_prices: bool,
    name: Option<usize>,
}

fn find(headers: &[String], names: &[&str]) -> Option<usize> {
    headers.iter().position(|h| names.contains(&h.as_str()))
}

fn columns(file: &str, header: &str) -> Result<Cols, String> {
    let headers: Vec<String> = header
        .split(',')
        .map(|h| h.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    let date = find(&headers, &["date", "timestamp", "datetime", "time", ""])
        .ok_or_else(|| format!("{file}:1: no date column (expected Date or timestamp)"))?;
    let close = find(&headers, &["close"]).ok_or_else(|| format!("{file}:1: no Close column"))?;
    Ok(Cols {
        date,
        open: find(&headers, &["open"]),
        high: find(&headers, &["high"]),
        low: find(&headers, &["low"]),
        close,
        adj: find(
            &headers,
            &["adjclose", "adj close", "adjusted_close", "adj_close"],
        ),
        volume: find(&headers, &["volume"]),
        dividend: find(&headers, &["dividends", "dividend_amount", "dividend"]),
        split: find(
            &headers,
            &["split_coefficient", "stock splits", "split_factor"],
        ),
        raw_prices: headers.iter().any(|h| h == "split_coefficient"),
        name: find(&headers, &["name", "symbol"]),
    })
}

/// Parse a date cell: `YYYY-MM-DD`, or a timestamp whose New York date is the trading date.
fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let s = s.trim().trim_matches('"');
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d);
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%:z",
        "%Y-%m-%dT%H:%M:%S%:z",
        "%Y-%m-%d %H:%M:%S%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Ok(t.with_timezone(&New_York).date_naive());
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&New_York).date_naive());
    }
    Err(format!(
        "date `{s}` is not YYYY-MM-DD or a timestamp with offset"
    ))
}

fn num(cells: &[&str], idx: Option<usize>, what: &str) -> Result<Option<f64>, String> {
    let Some(i) = idx else { return Ok(None) };
    let raw = cells
        .get(i)
        .map(|c| c.trim().trim_matches('"'))
        .unwrap_or("");
    if raw.is_empty() {
        return Err(format!("{what} is empty"));
    }
    let v: f64 = raw
        .parse()
        .map_err(|_| format!("{what} = `{raw}` is not a number"))?;
    if !v.is_finite() {
        return Err(format!("{what} = {raw} is not finite"));
    }
    Ok(Some(v))
}

fn parse_row(cols: &Cols, cells: &[&str]) -> Result<Bar, String> {
    let date = parse_date(cells.get(cols.date).copied().unwrap_or(""))?;
    let close = num(cells, Some(cols.close), "close")?.unwrap_or(f64::NAN);
    let open = num(cells, cols.open, "open")?.unwrap_or(close);
    let high = num(cells, cols.high, "high")?.unwrap_or(close.max(open));
    let low = num(cells, cols.low, "low")?.unwrap_or(close.min(open));
    for (what, v) in [
        ("open", open),
        ("high", high),
        ("low", low),
        ("close", close),
    ] {
        if v <= 0.0 {
            return Err(format!("{what} = {v}: prices must be > 0"));
        }
    }
    if high < open.max(close).max(low) || low > open.min(close) {
        return Err(format!(
            "OHLC inconsistent: open {open}, high {high}, low {low}, close {close}"
        ));
    }
    let volume = num(cells, cols.volume, "volume")?.unwrap_or(0.0);
    if volume < 0.0 {
        return Err(format!("volume = {volume}: must be >= 0"));
    }
    let adj_close = num(cells, cols.adj, "adjusted close")?;
    if adj_close.is_some_and(|a| a <= 0.0) {
        return Err(format!(
            "adjusted close = {}: must be > 0",
            adj_close.unwrap_or(0.0)
        ));
    }
    let dividend = num(cells, cols.dividend, "dividend")?.unwrap_or(0.0);
    let split = num(cells, cols.split, "split")?.unwrap_or(1.0);
    Ok(Bar {
        date,
        open,
        high,
        low,
        close,
        volume,
        adj_close,
        dividend: dividend.max(0.0),
        // yfinance writes 0 for "no split"; a ratio of 0 means none.
        split_factor: if split > 0.0 { split } else { 1.0 },
        provisional: false,
    })
}

/// The symbol a file holds: its `Name` column, else its file name (`QQQ.csv`, `AAPL_data.csv`).
fn symbol_of(path: &Path) -> String {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let stem = stem.strip_suffix(".csv").unwrap_or(stem);
    let stem = stem.strip_suffix("_data").unwrap_or(stem);
    stem.trim_start_matches('_').to_ascii_uppercase()
}

/// Parse one CSV file. Every bad row is reported; with `skip_bad_rows` they are dropped instead.
pub fn import_file(path: &Path, text: &str, skip_bad_rows: bool) -> Result<Imported, CsvError> {
    let file = path.display().to_string();
    let fail = |p: String| CsvError { problems: vec![p] };
    let mut lines = text.lines().enumerate();
    let header = lines
        .next()
        .map(|(_, h)| h.trim_start_matches('\u{feff}'))
        .ok_or_else(|| fail(format!("{file}:1: file is empty")))?;
    let cols = columns(&file, header).map_err(fail)?;
    let mut symbol = symbol_of(path);
    let mut rows: Vec<(usize, Bar)> = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in lines {
        let lineno = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split(',').collect();
        if let Some(n) = cols.name
            && let Some(name) = cells.get(n).map(|c| c.trim())
            && !name.is_empty()
        {
            symbol = name.to_ascii_uppercase();
        }
        match parse_row(&cols, &cells) {
            Ok(bar) => rows.push((lineno, bar)),
            Err(reason) => problems.push(format!("{file}:{lineno}: {reason}")),
        }
    }
    // Newest-first files (Alpha Vantage) are reversed; any other disorder is an error.
    if rows.len() >= 2 && rows[0].1.date > rows[rows.len() - 1].1.date {
        rows.reverse();
    }
    let mut bars: Vec<Bar> = Vec::with_capacity(rows.len());
    for (lineno, bar) in rows {
        if let Some(prev) = bars.last() {
            if bar.date == prev.date {
                problems.push(format!("{file}:{lineno}: duplicate date {}", bar.date));
                continue;
            }
            if bar.date < prev.date {
                problems.push(format!(
                    "{file}:{lineno}: date {} is out of order (after {})",
                    bar.date, prev.date
                ));
                continue;
            }
        }
        bars.push(bar);
    }
    if !crate::data::valid_symbol(&symbol) {
        problems.push(format!("{file}: `{symbol}` is not a valid symbol"));
        return Err(CsvError { problems });
    }
    if !problems.is_empty() && !skip_bad_rows {
        return Err(CsvError { problems });
    }
    if bars.is_empty() {
        return Err(fail(format!("{file}: no bars")));
    }
    if cols.raw_prices {
        split_adjust(&mut bars);
    }
    Ok(Imported {
        symbol,
        bars,
        skipped: problems,
    })
}

/// Back-adjust as-traded prices so that they are comparable across splits: every bar
/// before a split of ratio r has prices divided by r and volume multiplied by r.
fn split_adjust(bars: &mut [Bar]) {
    let mut factor = 1.0;
    for b in bars.iter_mut().rev() {
        if factor != 1.0 {
            b.open /= factor;
            b.high /= factor;
            b.low /= factor;
            b.close /= factor;
            b.volume *= factor;
            b.dividend /= factor;
        }
        if b.split_factor != 1.0 {
            factor *= b.split_factor;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpha_vantage_newest_first_is_reversed_and_split_adjusted() {
        let text = "timestamp,open,high,low,close,adjusted_close,volume,dividend_amount,split_coefficient\n\
            2016-08-26,30,31,29,30,30,100,0,1.0\n\
            2016-08-25,28,29,27,28,28,100,0,4.0\n\
            2016-08-24,120,124,116,120,30,25,0,1.0\n";
        let got = import_file(Path::new("TMF.csv"), text, false).expect("imports");
        assert_eq!(got.symbol, "TMF");
        assert_eq!(got.bars.len(), 3);
        assert_eq!(got.bars[0].date.to_string(), "2016-08-24");
        assert_eq!(got.bars[0].close, 30.0);
        assert_eq!(got.bars[0].volume, 100.0);
        assert_eq!(got.bars[1].split_factor, 4.0);
        assert_eq!(got.bars[2].close, 30.0);
    }

    #[test]
    fn alpaca_timestamps_map_to_new_york_dates() {
        assert_eq!(
            parse_date("2020-07-27 04:00:00+00:00").map(|d| d.to_string()),
            Ok("2020-07-27".to_string())
        );
        assert_eq!(
            parse_date("2020-12-01 05:00:00+00:00").map(|d| d.to_string()),
            Ok("2020-12-01".to_string())
        );
    }
}
