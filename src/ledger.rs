//! Append-only parquet ledgers in `data/ledger/` (decisions, orders, risk checks,
//! preflight results) and plain parquet tables for backtest output.
//!
//! An append reads the table, adds the new rows and replaces the file atomically, so a
//! crash leaves either the old or the new table. `dry-run` always replaces its date's rows
//! (`replace_date`), so a rerun — with `--force`, or after a run killed between its ledger
//! writes and its state save — never duplicates them.

use std::path::Path;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::data::store::{from_days, to_days};

/// A ledger could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct LedgerError {
    pub path: String,
    pub message: String,
}

/// One typed column of a table being built.
pub enum Col {
    Str(Vec<String>),
    F64(Vec<Option<f64>>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
    Date(Vec<NaiveDate>),
}

/// A table as named columns, all of one length.
#[derive(Default)]
pub struct Table {
    pub cols: Vec<(String, Col)>,
}

impl Table {
    pub fn push(&mut self, name: &str, col: Col) -> &mut Self {
        self.cols.push((name.to_string(), col));
        self
    }

    fn to_frame(&self) -> PolarsResult<DataFrame> {
        let mut columns = Vec::with_capacity(self.cols.len());
        for (name, col) in &self.cols {
            let name: PlSmallStr = name.as_str().into();
            let c: Column = match col {
                Col::Str(v) => Column::new(
                    name,
                    v.iter()
                        .map(|s| crate::redact::scrub(s).into_owned())
                        .collect::<Vec<String>>()
                        .as_slice(),
                ),
                Col::F64(v) => Column::new(name, v),
                Col::I64(v) => Column::new(name, v),
                Col::Bool(v) => Column::new(name, v),
                Col::Date(v) => {
                    let days: Vec<i32> = v.iter().map(|d| to_days(*d)).collect();
                    Series::new(name, days).cast(&DataType::Date)?.into()
                }
            };
            columns.push(c);
        }
        DataFrame::new_infer_height(columns)
    }
}

fn err(path: &Path, message: impl ToString) -> LedgerError {
    LedgerError {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// Write `table` as a new parquet file at `path` (atomically).
pub fn write(path: &Path, table: &Table) -> Result<(), LedgerError> {
    let mut df = table.to_frame().map_err(|e| err(path, e))?;
    write_frame(path, &mut df)
}

fn write_frame(path: &Path, df: &mut DataFrame) -> Result<(), LedgerError> {
    crate::fsutil::write_atomic_with(path, |f| {
        // Buffered: the writer emits every page header and chunk as its own small write
        // (3,100 write calls for two small ledgers of emergency-exit, unbuffered).
        let mut w = std::io::BufWriter::with_capacity(64 * 1024, f);
        ParquetWriter::new(&mut w)
            .with_compression(ParquetCompression::Zstd(None))
            .finish(df)
            .map(|_| ())
            .map_err(std::io::Error::other)?;
        std::io::Write::flush(&mut w)
    })
    .map_err(|e| err(path, format!("cannot write: {e}")))
}

/// Read a ledger table.
pub fn read(path: &Path) -> Result<Option<DataFrame>, LedgerError> {
    if !path.exists() {
        return Ok(None);
    }
    let f = crate::fsutil::open_regular(path).map_err(|e| err(path, e))?;
    ParquetReader::new(f)
        .finish()
        .map(Some)
        .map_err(|e| err(path, format!("not a readable ledger: {e}")))
}

/// Dates present in a ledger's `date` column.
pub fn dates(path: &Path) -> Result<Vec<NaiveDate>, LedgerError> {
    let Some(df) = read(path)? else {
        return Ok(Vec::new());
    };
    let col = df.column("date").map_err(|e| err(path, e))?;
    let ca = col.date().map_err(|e| err(path, e))?;
    Ok(ca.physical().iter().flatten().map(from_days).collect())
}

/// Append `table` to the ledger at `path`; rows of `replace_date` already there are dropped first.
pub fn append(
    path: &Path,
    table: &Table,
    replace_date: Option<NaiveDate>,
) -> Result<(), LedgerError> {
    replace_rows(path, table, |old, _| {
        let Some(d) = replace_date else {
            return Ok(None);
        };
        let day = to_days(d);
        let dates = old.column("date")?.date()?.physical();
        Ok(Some(dates.iter().map(|v| Some(v != Some(day))).collect()))
    })
}

/// Append `table` to the ledger at `path`, first dropping the rows of `date` whose `phase`
/// column is `phase` (a ledger `dry-run` and `paper` share keeps each one's rows).
pub fn append_phase(
    path: &Path,
    table: &Table,
    date: NaiveDate,
    phase: &str,
) -> Result<(), LedgerError> {
    replace_rows(path, table, |old, _| {
        let day = to_days(date);
        let dates = old.column("date")?.date()?.physical();
        let phases = old.column("phase")?.str()?;
        Ok(Some(
            dates
                .iter()
                .zip(phases.iter())
                .map(|(d, p)| Some(!(d == Some(day) && p == Some(phase))))
                .collect(),
        ))
    })
}

/// Append `table` to the ledger at `path`, first dropping the rows whose text column `key`
/// (e.g. `client_order_id`) holds a value the new rows hold: rewriting an order's rows
/// replaces them, and the rows of other orders on the same date (another job's, another
/// phase's) are kept.
pub fn append_replacing(path: &Path, table: &Table, key: &str) -> Result<(), LedgerError> {
    replace_rows(path, table, |old, new| {
        let fresh: std::collections::BTreeSet<&str> =
            new.column(key)?.str()?.iter().flatten().collect();
        let keys = old.column(key)?.str()?;
        Ok(Some(
            keys.iter()
                .map(|k| Some(!k.is_some_and(|k| fresh.contains(k))))
                .collect(),
        ))
    })
}

/// The one way a ledger changes: read it, keep the old rows `keep` marks (all of them when it
/// returns `None`), append `table`'s rows and replace the file atomically. A new file is just
/// `table`.
fn replace_rows(
    path: &Path,
    table: &Table,
    keep: impl FnOnce(&DataFrame, &DataFrame) -> PolarsResult<Option<BooleanChunked>>,
) -> Result<(), LedgerError> {
    let new = table.to_frame().map_err(|e| err(path, e))?;
    let mut combined = match read(path)? {
        None => new,
        Some(old) => {
            let old = match keep(&old, &new).map_err(|e| err(path, e))? {
                Some(mask) => old.filter(&mask).map_err(|e| err(path, e))?,
                None => old,
            };
            old.vstack(&new).map_err(|e| {
                err(
                    path,
                    format!(
                        "new rows do not match the ledger's columns ({e}); move the old file aside"
                    ),
                )
            })?
        }
    };
    write_frame(path, &mut combined)
}

/// The executed fills of a fills ledger (`date, symbol, side, qty, price, status`), oldest
/// first, for the compliance rules' activity. Rows with status other than `filled` or
/// `partially_filled` are skipped; a malformed row is an error naming its row and field.
pub fn read_fills(path: &Path) -> Result<Vec<crate::risk::activity::FillEvent>, LedgerError> {
    use crate::model::Side;
    use crate::risk::activity::FillEvent;
    let Some(df) = read(path)? else {
        return Ok(Vec::new());
    };
    let col = |name: &str| df.column(name).map_err(|e| err(path, e));
    let dates = col("date")?.date().map_err(|e| err(path, e))?.clone();
    let symbols = col("symbol")?.str().map_err(|e| err(path, e))?.clone();
    let sides = col("side")?.str().map_err(|e| err(path, e))?.clone();
    let qtys = col("qty")?.i64().map_err(|e| err(path, e))?.clone();
    let prices = col("price")?.f64().map_err(|e| err(path, e))?.clone();
    let status = col("status")?.str().map_err(|e| err(path, e))?.clone();
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        if !matches!(status.get(i), Some("filled" | "partially_filled")) {
            continue;
        }
        let bad = |field: &str, v: String| err(path, format!("row {i}: {field} = {v}: unusable"));
        let side = match sides.get(i) {
            Some("buy") => Side::Buy,
            Some("sell") => Side::Sell,
            v => return Err(bad("side", format!("{v:?}"))),
        };
        let date = dates
            .physical()
            .get(i)
            .map(from_days)
            .ok_or_else(|| bad("date", "null".into()))?;
        out.push(FillEvent {
            date,
            symbol: symbols
                .get(i)
                .ok_or_else(|| bad("symbol", "null".into()))?
                .to_string(),
            side,
            qty: qtys.get(i).ok_or_else(|| bad("qty", "null".into()))?,
            price: prices.get(i).ok_or_else(|| bad("price", "null".into()))?,
        });
    }
    out.sort_by_key(|f| f.date);
    Ok(out)
}
