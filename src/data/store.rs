//! The bar store: one parquet file per symbol in `data/bars/`, written atomically.
//!
//! Columns: symbol, date (Date), open, high, low, close, volume, adj_close (nullable),
//! dividend, split_factor, provisional. Files are plain parquet that polars, pandas,
//! pyarrow and DuckDB read. File names come only from a validated [`Symbol`]: the store
//! refuses to build a path from any other string. A multi-symbol write stages and syncs
//! every file first and only then renames them into place, so a failure before the renames
//! leaves the store as it was; a rename failing midway says which files were replaced.
//!
//! Reading many symbols: [`BarStore::read_many`] (all bars, in order) and
//! [`BarStore::map_chunks`] (chunks of symbols read and handed to a closure on every core, the
//! results in order; only the chunks in flight are in memory) for jobs over a large universe.
//! A file is read whole and decoded column by column (`store_read.rs`); every read goes
//! through the same checks (no null date or price, dates strictly ascending).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use polars::prelude::*;

use crate::data::symbol::{Symbol, SymbolError};
use crate::model::Bar;

/// Reading or writing the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    #[error("{path}: cannot write: {message}")]
    Write { path: String, message: String },
    /// A file name was asked for a string that is not a symbol (nothing was read or written).
    #[error("{dir}: no bar file for {source}")]
    Symbol {
        dir: String,
        #[source]
        source: SymbolError,
    },
    /// Some renames of a multi-file replace succeeded before one failed.
    #[error(
        "{path}: cannot replace: {message}; already replaced: {}; not replaced: {}",
        list_or_none(replaced),
        list_or_none(not_replaced)
    )]
    Partial {
        path: String,
        message: String,
        replaced: Vec<String>,
        not_replaced: Vec<String>,
    },
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".to_string()
    } else {
        v.join(", ")
    }
}

const EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// A date as parquet's Date physical value: days since 1970-01-01.
pub fn to_days(d: NaiveDate) -> i32 {
    (d - EPOCH).num_days() as i32
}

/// Day number of 1970-01-01 counted from 0001-01-01 = day 1.
const EPOCH_FROM_CE: i32 = 719_163;

/// The inverse of [`to_days`]; `None` beyond chrono's range (only a corrupt file has that).
pub fn days_to_date(n: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(n.checked_add(EPOCH_FROM_CE)?)
}

/// [`days_to_date`] for values this program wrote (the ledgers); out of range reads as
/// `NaiveDate::MIN` instead of panicking.
pub fn from_days(n: i32) -> NaiveDate {
    days_to_date(n).unwrap_or(NaiveDate::MIN)
}

/// The directory of parquet bar files.
#[derive(Debug, Clone)]
pub struct BarStore {
    pub dir: PathBuf,
}

impl BarStore {
    pub fn new(dir: &Path) -> BarStore {
        BarStore {
            dir: dir.to_path_buf(),
        }
    }

    /// The file of one symbol: only a validated symbol has one.
    pub fn path_of(&self, symbol: &Symbol) -> PathBuf {
        self.dir.join(format!("{symbol}.parquet"))
    }

    /// The file of `symbol` if it is a valid symbol; otherwise an error and no path.
    pub fn checked_path(&self, symbol: &str) -> Result<PathBuf, StoreError> {
        Symbol::parse(symbol)
            .map(|s| self.path_of(&s))
            .map_err(|source| StoreError::Symbol {
                dir: self.dir.display().to_string(),
                source,
            })
    }

    /// Symbols with a file in the store, sorted.
    pub fn symbols(&self) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let sym = name.strip_suffix(".parquet")?;
                crate::data::valid_symbol(sym).then(|| sym.to_string())
            })
            .collect();
        out.sort();
        out
    }

    /// All bars of a symbol, ascending; `Ok(None)` when the symbol has no file.
    pub fn read(&self, symbol: &str) -> Result<Option<Vec<Bar>>, StoreError> {
        let path = self.checked_path(symbol)?;
        if !path.exists() {
            return Ok(None);
        }
        read_file(&path).map(Some)
    }

    /// The price columns of a symbol (what decisions read), with the adjusted close only when
    /// `adj_close` asks for it; `Ok(None)` when the symbol has no file.
    pub fn read_prices(
        &self,
        symbol: &str,
        adj_close: bool,
    ) -> Result<Option<PriceColumns>, StoreError> {
        let path = self.checked_path(symbol)?;
        if !path.exists() {
            return Ok(None);
        }
        read_price_file(&path, adj_close).map(Some)
    }

    /// [`BarStore::read`] of many symbols, spread over the machine's cores (each file is small
    /// and decoded on its reading thread); results in the order of `symbols`.
    pub fn read_many(&self, symbols: &[String]) -> Vec<Result<Option<Vec<Bar>>, StoreError>> {
        self.map_chunks(symbols, 32, |_, reads| reads)
            .into_iter()
            .flatten()
            .collect()
    }

    /// Read `symbols` a chunk of `chunk` symbols at a time and hand each chunk's reads (in
    /// the chunk's order) to `f` on the thread that read them; the chunks are shared out over
    /// the machine's cores (at most 8) and the results come back in the order of the chunks.
    /// Only the chunks in flight are in memory, and the work done on the bars (checks,
    /// signals) runs in parallel with the reading: the bulk read for jobs over a large
    /// universe (preflight's data gates use it).
    pub fn map_chunks<R, F>(&self, symbols: &[String], chunk: usize, f: F) -> Vec<R>
    where
        R: Send,
        F: Fn(&[String], Vec<Result<Option<Vec<Bar>>, StoreError>>) -> R + Sync,
    {
        let chunks: Vec<&[String]> = symbols.chunks(chunk.max(1)).collect();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8)
            .min(chunks.len());
        let run = |part: &[String]| f(part, part.iter().map(|s| self.read(s)).collect());
        if threads <= 1 {
            return chunks.into_iter().map(run).collect();
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut out = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(part) = chunks.get(i) else { break };
                            out.push((i, run(part)));
                        }
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        done.sort_by_key(|(i, _)| *i);
        done.into_iter().map(|(_, r)| r).collect()
    }
}

/// The columns [`read_file`] decodes: all but `symbol`.
const BAR_COLUMNS: [&str; 10] = [
    "date",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "adj_close",
    "dividend",
    "split_factor",
    "provisional",
];

/// Read one bar file and check its invariants (ascending unique dates).
pub fn read_file(path: &Path) -> Result<Vec<Bar>, StoreError> {
    let rerr = |message: String| StoreError::Read {
        path: path.display().to_string(),
        message,
    };
    let df = read::read_frame(path, &BAR_COLUMNS).map_err(rerr)?;
    let bars = from_frame(&df).map_err(rerr)?;
    let dates: Vec<NaiveDate> = bars.iter().map(|b| b.date).collect();
    ascending(&dates).map_err(rerr)?;
    Ok(bars)
}

/// Dates, prices and volume of one bar file, column by column: what the strategy, the risk
/// rules and the simulator read. The corporate-action columns are not decoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceColumns {
    pub dates: Vec<NaiveDate>,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
    pub volume: Vec<f64>,
    /// `None` when not asked for (a strategy on plain closes never reads it).
    pub adj_close: Option<Vec<Option<f64>>>,
}

/// The adjusted close last: it is read only when asked for.
const PRICE_COLUMNS: [&str; 7] = [
    "date",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "adj_close",
];

/// Read the price columns of one bar file, with [`read_file`]'s checks on them (no null
/// date or price, dates strictly ascending).
pub fn read_price_file(path: &Path, adj_close: bool) -> Result<PriceColumns, StoreError> {
    let rerr = |message: String| StoreError::Read {
        path: path.display().to_string(),
        message,
    };
    let wanted = if adj_close {
        &PRICE_COLUMNS[..]
    } else {
        &PRICE_COLUMNS[..PRICE_COLUMNS.len() - 1]
    };
    let df = read::read_frame(path, wanted).map_err(rerr)?;
    let cols = PriceColumns {
        dates: dates_of(&df).map_err(rerr)?,
        open: required_f64(&df, "open").map_err(rerr)?,
        high: required_f64(&df, "high").map_err(rerr)?,
        low: required_f64(&df, "low").map_err(rerr)?,
        close: required_f64(&df, "close").map_err(rerr)?,
        volume: required_f64(&df, "volume").map_err(rerr)?,
        adj_close: if adj_close {
            Some(optional_f64(&df, "adj_close").map_err(rerr)?)
        } else {
            None
        },
    };
    ascending(&cols.dates).map_err(rerr)?;
    Ok(cols)
}

/// Dates strictly ascending, or which pair is not.
fn ascending(dates: &[NaiveDate]) -> Result<(), String> {
    match dates.windows(2).find(|w| w[1] <= w[0]) {
        Some(w) => Err(format!(
            "dates not strictly ascending at {} after {}",
            w[1], w[0]
        )),
        None => Ok(()),
    }
}

/// The `date` column, no nulls.
fn dates_of(df: &DataFrame) -> Result<Vec<NaiveDate>, String> {
    let days = df
        .column("date")
        .map_err(|_| "missing column `date`".to_string())?
        .date()
        .map_err(|e| format!("column `date`: {e}"))?
        .physical();
    // Fast path: one chunk without nulls is read as a plain slice.
    if let Ok(days) = days.cont_slice() {
        return dates_from(days.iter().map(|d| Some(*d)));
    }
    dates_from(days.iter())
}

/// Dates of day numbers since 1970-01-01, in row order; a null or a day chrono cannot
/// represent (only a corrupt file has one) is an error naming the row.
fn dates_from(days: impl Iterator<Item = Option<i32>>) -> Result<Vec<NaiveDate>, String> {
    let mut out = Vec::with_capacity(days.size_hint().0);
    let mut prev: Option<(i32, NaiveDate)> = None;
    for (i, d) in days.enumerate() {
        let n = d.ok_or_else(|| format!("column `date` row {i}: null"))?;
        let date = match prev {
            // Daily bars are a few days apart: stepping from the previous row is far cheaper
            // than converting each day number from scratch (the same date either way).
            Some((p, date)) if n > p && n - p <= 7 => {
                (0..n - p).try_fold(date, |d, _| d.succ_opt())
            }
            _ => days_to_date(n),
        }
        .ok_or_else(|| format!("column `date` row {i}: day {n} is out of range"))?;
        out.push(date);
        prev = Some((n, date));
    }
    Ok(out)
}

/// A column as f64 where nulls are allowed.
fn optional_f64(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>, String> {
    let ca = f64_col(df, name)?;
    Ok(match ca.cont_slice() {
        // One chunk without nulls: no validity to consult.
        Ok(s) => s.iter().map(|v| Some(*v)).collect(),
        Err(_) => ca.iter().collect(),
    })
}

/// A price column as f64 with no nulls.
fn required_f64(df: &DataFrame, name: &str) -> Result<Vec<f64>, String> {
    let ca = f64_col(df, name)?;
    // Fast path: one contiguous chunk without nulls is copied as is.
    if let Ok(s) = ca.cont_slice() {
        return Ok(s.to_vec());
    }
    ca.iter()
        .enumerate()
        .map(|(i, v)| v.ok_or_else(|| format!("column `{name}` row {i}: null")))
        .collect()
}

/// Column `name` as f64 (cast if stored otherwise).
fn f64_col(df: &DataFrame, name: &str) -> Result<Float64Chunked, String> {
    let col = df
        .column(name)
        .map_err(|_| format!("missing column `{name}`"))?
        .cast(&DataType::Float64)
        .map_err(|e| format!("column `{name}`: {e}"))?;
    col.f64()
        .cloned()
        .map_err(|e| format!("column `{name}`: {e}"))
}

fn from_frame(df: &DataFrame) -> Result<Vec<Bar>, String> {
    let dates = dates_of(df)?;
    let need = |name: &str| required_f64(df, name);
    let (open, high, low, close, volume) = (
        need("open")?,
        need("high")?,
        need("low")?,
        need("close")?,
        need("volume")?,
    );
    let adj: Vec<Option<f64>> = f64_col(df, "adj_close")?.iter().collect();
    let dividend = need("dividend")?;
    let split = need("split_factor")?;
    let prov: Vec<Option<bool>> = df
        .column("provisional")
        .map_err(|_| "missing column `provisional`".to_string())?
        .bool()
        .map_err(|e| format!("column `provisional`: {e}"))?
        .iter()
        .collect();
    let mut out = Vec::with_capacity(dates.len());
    for (i, d) in dates.iter().enumerate() {
        out.push(Bar {
            date: *d,
            open: open[i],
            high: high[i],
            low: low[i],
            close: close[i],
            volume: volume[i],
            adj_close: adj[i],
            dividend: dividend[i],
            split_factor: split[i],
            provisional: prov[i].unwrap_or(false),
        });
    }
    Ok(out)
}

/// [`merge`] taking the stored bars by value: in the daily case (every fresh bar after the
/// last stored one) the fresh bars are appended to the stored vector, no copy of the history.
pub fn merge_owned(mut stored: Vec<Bar>, fresh: &[Bar]) -> Vec<Bar> {
    if appends(&stored, fresh) {
        // Exactly the room needed: a doubling would keep ~4,000 half-empty histories alive.
        stored.reserve_exact(fresh.len());
        stored.extend_from_slice(fresh);
        return stored;
    }
    merge(&stored, fresh)
}

/// Both sides strictly ascending and every fresh bar after the last stored one: no date
/// collides and the merge is the concatenation.
fn appends(stored: &[Bar], fresh: &[Bar]) -> bool {
    let ascending = |v: &[Bar]| v.windows(2).all(|w| w[0].date < w[1].date);
    ascending(stored)
        && ascending(fresh)
        && match (stored.last(), fresh.first()) {
            (Some(s), Some(f)) => s.date < f.date,
            _ => true,
        }
}

/// Merge fetched bars into stored ones: a new bar replaces the stored bar of its date,
/// except that a provisional bar never replaces an official one.
pub fn merge(stored: &[Bar], fresh: &[Bar]) -> Vec<Bar> {
    // The daily case: both sides strictly ascending and every fresh bar after the last
    // stored one, so no date collides and the result is the concatenation (what the general
    // path below would build, without a map over every stored bar).
    if appends(stored, fresh) {
        let mut out = Vec::with_capacity(stored.len() + fresh.len());
        out.extend_from_slice(stored);
        out.extend_from_slice(fresh);
        return out;
    }
    let mut by_date: BTreeMap<NaiveDate, Bar> =
        stored.iter().map(|b| (b.date, b.clone())).collect();
    for b in fresh {
        match by_date.get(&b.date) {
            Some(old) if b.provisional && !old.provisional => {}
            _ => {
                by_date.insert(b.date, b.clone());
            }
        }
    }
    by_date.into_values().collect()
}

#[path = "store_read.rs"]
mod read;
#[path = "store_write.rs"]
mod write;
#[cfg(test)]
use write::{rename_all, to_frame};

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
