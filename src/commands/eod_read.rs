//! What `trader eod` reads from the ledgers: a dry-run's hypothetical orders, the day's risk
//! rule outcomes, and the daily ledger's rows for the rollups. Each error names the file.

use std::path::Path;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use polars::prelude::DataFrame;

use crate::data::store::{from_days, to_days};
use crate::model::Side;
use crate::report::period::DayRow;
use crate::report::{OrderInput, RuleRow};

fn rows_of(df: &DataFrame, path: &Path, date: NaiveDate) -> Result<Vec<usize>> {
    let day = to_days(date);
    let dates = df
        .column("date")
        .and_then(|c| c.date().cloned())
        .with_context(|| format!("{}: column date", path.display()))?;
    Ok((0..df.height())
        .filter(|i| dates.physical().get(*i) == Some(day))
        .collect())
}

fn str_col(df: &DataFrame, path: &Path, name: &str) -> Result<polars::prelude::StringChunked> {
    df.column(name)
        .and_then(|c| c.str().cloned())
        .with_context(|| format!("{}: column {name}", path.display()))
}

fn f64_col(df: &DataFrame, path: &Path, name: &str) -> Result<polars::prelude::Float64Chunked> {
    df.column(name)
        .and_then(|c| c.cast(&polars::prelude::DataType::Float64))
        .and_then(|c| c.f64().cloned())
        .with_context(|| format!("{}: column {name}", path.display()))
}

/// The orders of `date` and `phase` in `orders.parquet` (a dry-run's are never sent).
pub fn ledger_orders(path: &Path, date: NaiveDate, phase: &str) -> Result<Vec<OrderInput>> {
    let Some(df) = crate::ledger::read(path)? else {
        return Ok(Vec::new());
    };
    let rows = rows_of(&df, path, date)?;
    let phases = str_col(&df, path, "phase")?;
    let (sym, side) = (str_col(&df, path, "symbol")?, str_col(&df, path, "side")?);
    let (qty, price) = (f64_col(&df, path, "qty")?, f64_col(&df, path, "ref_price")?);
    let mut out = Vec::new();
    for i in rows.into_iter().filter(|i| phases.get(*i) == Some(phase)) {
        let bad =
            |f: &str| anyhow::anyhow!("{}: row {i}: {f} is missing or unusable", path.display());
        out.push(OrderInput {
            symbol: sym.get(i).ok_or_else(|| bad("symbol"))?.to_string(),
            side: match side.get(i) {
                Some("buy") => Side::Buy,
                Some("sell") => Side::Sell,
                _ => return Err(bad("side")),
            },
            qty: qty.get(i).ok_or_else(|| bad("qty"))? as i64,
            filled_qty: 0,
            avg_fill_price: None,
            decision_price: price.get(i).ok_or_else(|| bad("ref_price"))?,
            official_close: None,
            commission_cents: 0,
            status: "hypothetical".into(),
        });
    }
    Ok(out)
}

/// The risk rule outcomes of `date` in `risk_checks.parquet`.
pub fn risk_rules(path: &Path, date: NaiveDate) -> Result<Vec<RuleRow>> {
    let Some(df) = crate::ledger::read(path)? else {
        return Ok(Vec::new());
    };
    let rows = rows_of(&df, path, date)?;
    let cols: Vec<_> = ["rule", "verdict", "symbol", "message"]
        .iter()
        .map(|c| str_col(&df, path, c))
        .collect::<Result<_>>()?;
    let g = |c: usize, i: usize| cols[c].get(i).unwrap_or_default().to_string();
    Ok(rows
        .into_iter()
        .map(|i| RuleRow {
            rule: g(0, i),
            verdict: g(1, i),
            symbol: g(2, i),
            message: g(3, i),
        })
        .collect())
}

/// Every row of `daily.parquet`, oldest first.
pub fn daily_rows(path: &Path) -> Result<Vec<DayRow>> {
    let Some(df) = crate::ledger::read(path)? else {
        return Ok(Vec::new());
    };
    let dates = df
        .column("date")
        .and_then(|c| c.date().cloned())
        .with_context(|| format!("{}: column date", path.display()))?;
    let eq = f64_col(&df, path, "equity")?;
    let notional = f64_col(&df, path, "traded_notional")?;
    let bps = f64_col(&df, path, "shortfall_bps")?;
    let mut out: Vec<DayRow> = (0..df.height())
        .filter_map(|i| {
            Some(DayRow {
                date: from_days(dates.physical().get(i)?),
                equity: eq.get(i)?,
                traded_notional: notional.get(i).unwrap_or(0.0),
                shortfall_bps: bps.get(i),
            })
        })
        .collect();
    out.sort_by_key(|r| r.date);
    Ok(out)
}
