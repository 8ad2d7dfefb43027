//! Importing daily bars from CSV files in the formats users actually have.
//!
//! Columns are found by header name, so these all work: Yahoo/yfinance
//! (`Date,Open,High,Low,Close,AdjClose,Volume,Dividends`, also `Adj Close`, `Stock Splits`),
//! Alpha Vantage (`timestamp,...,adjusted_close,volume,dividend_amount,split_coefficient`,
//! newest first, prices as traded), Alpaca-style timestamps at New York midnight
//! (`2020-07-27 04:00:00+00:00`), close-only files (`Date,Close`: O=H=L=C, volume 0) and
//! the Kaggle panel (`date,open,high,low,close,volume,Name`): a `Name` (or `Symbol`) column
//! splits one file into one series per symbol.
//!
//! Files are parsed by the `csv` crate: quoted fields (`"39,055,400"`), CRLF line ends and a
//! UTF-8 byte-order mark are handled; numbers may group thousands with commas. Alpha Vantage
//! prices are as traded; they are back-adjusted here by the split coefficients so every
//! stored `close` is split-adjusted, and the split stays on record in `split_factor`.
//! Every bad row is reported as `file:line: reason`: non-numbers, prices ≤ 0, inconsistent
//! OHLC, negative volume, dividend or split, dates before 1900 or after today (New York),
//! duplicate or unordered dates, and symbols that are not [`Symbol`]s.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, NaiveDate};
use chrono_tz::America::New_York;

use crate::data::symbol::Symbol;
use crate::model::Bar;

/// A CSV file that cannot be imported: every bad row, or a structural problem.
#[derive(Debug, thiserror::Error)]
#[error("{}", .problems.join("\n"))]
pub struct CsvError {
    pub problems: Vec<String>,
}

/// The bars of one file by symbol, plus rows dropped with `skip_bad_rows`.
#[derive(Debug)]
pub struct Imported {
    pub bars: BTreeMap<String, Vec<Bar>>,
    pub skipped: Vec<String>,
}

struct Cols {
    /// Number of header fields: every row must have as many.
    width: usize,
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

fn columns(file: &str, header: &csv::StringRecord) -> Result<Cols, String> {
    let headers: Vec<String> = header.iter().map(|h| h.to_ascii_lowercase()).collect();
    let date = find(&headers, &["date", "timestamp", "datetime", "time", ""])
        .ok_or_else(|| format!("{file}:1: no date column (expected Date or timestamp)"))?;
    let close = find(&headers, &["close"]).ok_or_else(|| format!("{file}:1: no Close column"))?;
    Ok(Cols {
        width: headers.len(),
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
        "date `{}` is not YYYY-MM-DD or a timestamp with offset",
        shown(s)
    ))
}

/// A cell as shown in an error: at most 40 characters, control characters escaped.
fn shown(s: &str) -> String {
    let mut v: String = s.chars().take(40).flat_map(char::escape_default).collect();
    if s.chars().count() > 40 {
        v.push('…');
    }
    v
}

/// A number as people write them: `1234.5`, or with thousands grouped by commas
/// (`39,055,400`, `1,234.50`). Anything else with a comma is not a number.
fn parse_number(raw: &str) -> Option<f64> {
    if !raw.contains(',') {
        return raw.parse().ok();
    }
    let (int, frac) = raw.split_once('.').unwrap_or((raw, ""));
    let digits = int.strip_prefix('-').unwrap_or(int);
    let mut groups = digits.split(',');
    let first = groups.next()?;
    let grouped = (1..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_digit())
        && groups.all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()))
        && frac.bytes().all(|b| b.is_ascii_digit());
    if !grouped {
        return None;
    }
    raw.replace(',', "").parse().ok()
}

fn num(cells: &csv::StringRecord, idx: Option<usize>, what: &str) -> Result<Option<f64>, String> {
    let Some(i) = idx else { return Ok(None) };
    let raw = cells.get(i).unwrap_or("");
    if raw.is_empty() {
        return Err(format!("{what} is empty"));
    }
    let v =
        parse_number(raw).ok_or_else(|| format!("{what} = `{}` is not a number", shown(raw)))?;
    if !v.is_finite() {
        return Err(format!("{what} = {} is not finite", shown(raw)));
    }
    Ok(Some(v))
}

fn parse_row(cols: &Cols, cells: &csv::StringRecord, today: NaiveDate) -> Result<Bar, String> {
    if cells.len() != cols.width {
        return Err(format!(
            "{} field(s), the header has {}",
            cells.len(),
            cols.width
        ));
    }
    let date = parse_date(cells.get(cols.date).unwrap_or(""))?;
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
    let volume = num(cells, cols.volume, "volume")?.unwrap_or(0.0);
    if volume < 0.0 {
        return Err(format!("volume = {volume}: must be >= 0"));
    }
    let adj_close = num(cells, cols.adj, "adjusted close")?;
    let dividend = num(cells, cols.dividend, "dividend")?.unwrap_or(0.0);
    let split = num(cells, cols.split, "split")?.unwrap_or(1.0);
    let bar = Bar {
        date,
        open,
        high,
        low,
        close,
        volume,
        adj_close,
        dividend,
        // yfinance writes 0 for "no split"; a negative ratio is refused below.
        split_factor: if split == 0.0 { 1.0 } else { split },
        provisional: false,
    };
    match bar.unusable(today) {
        Some(why) => Err(why),
        None => Ok(bar),
    }
}

/// The symbol of a file without a `Name` column: its file name (`QQQ.csv`, `AAPL_data.csv`).
fn symbol_of(path: &Path) -> String {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let stem = stem.strip_suffix(".csv").unwrap_or(stem);
    let stem = stem.strip_suffix("_data").unwrap_or(stem);
    stem.trim_start_matches('_').to_ascii_uppercase()
}

/// Parse one CSV file. Every bad row is reported; with `skip_bad_rows` they are dropped
/// instead. `today` is the New York date: no bar may be dated after it.
pub fn import_file(
    path: &Path,
    bytes: &[u8],
    skip_bad_rows: bool,
    today: NaiveDate,
) -> Result<Imported, CsvError> {
    let file = path.display().to_string();
    let fail = |p: String| CsvError { problems: vec![p] };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        fail(format!("{file}:{line}: not UTF-8 text ({e})"))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut records = rdr.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(fail(format!("{file}:1: {e}"))),
        None => return Err(fail(format!("{file}:1: file is empty"))),
    };
    let cols = columns(&file, &header).map_err(fail)?;
    let file_symbol = symbol_of(path);
    // Rows by symbol, each with its line; symbols judged once each.
    let mut rows: BTreeMap<String, Vec<(u64, Bar)>> = BTreeMap::new();
    let mut verdicts: BTreeMap<String, bool> = BTreeMap::new();
    let mut problems = Vec::new();
    for rec in records {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                problems.push(format!("{file}:{line}: {e}"));
                continue;
            }
        };
        let lineno = rec.position().map_or(0, |p| p.line());
        if rec.iter().all(str::is_empty) {
            continue;
        }
        let symbol = match cols.name {
            Some(n) => match rec.get(n).unwrap_or("") {
                "" => {
                    problems.push(format!("{file}:{lineno}: Name is empty"));
                    continue;
                }
                name => name.to_ascii_uppercase(),
            },
            None => file_symbol.clone(),
        };
        let ok = *verdicts.entry(symbol.clone()).or_insert_with(|| {
            let what = if cols.name.is_some() {
                format!("{file}:{lineno}: Name")
            } else {
                format!("{file}: the file name gives")
            };
            match Symbol::parse(&symbol) {
                Ok(_) => true,
                Err(e) => {
                    problems.push(format!("{what} {e}"));
                    false
                }
            }
        });
        if !ok {
            continue;
        }
        match parse_row(&cols, &rec, today) {
            Ok(bar) => rows.entry(symbol).or_default().push((lineno, bar)),
            Err(reason) => problems.push(format!("{file}:{lineno}: {reason}")),
        }
    }
    let mut out = BTreeMap::new();
    for (symbol, rows) in rows {
        let bars = ordered(&file, rows, &mut problems);
        out.insert(symbol, bars);
    }
    if !problems.is_empty() && !skip_bad_rows {
        return Err(CsvError { problems });
    }
    out.retain(|_, bars| !bars.is_empty());
    if out.is_empty() {
        problems.push(format!("{file}: no bars"));
        return Err(CsvError { problems });
    }
    if cols.raw_prices {
        for bars in out.values_mut() {
            split_adjust(bars);
        }
    }
    Ok(Imported {
        bars: out,
        skipped: problems,
    })
}

/// One symbol's rows in date order: newest-first files (Alpha Vantage) are reversed; any
/// other disorder, and every repeated date, is a problem naming its line.
fn ordered(file: &str, mut rows: Vec<(u64, Bar)>, problems: &mut Vec<String>) -> Vec<Bar> {
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
    bars
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
#[path = "csv_import_tests.rs"]
mod tests;
