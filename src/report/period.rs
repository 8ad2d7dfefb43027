//! The weekly and monthly rollups of the daily reports (`trader eod --period week|month`):
//! the return and drawdown over the period, turnover, the slippage trend, the error count.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

/// A rollup period ending on a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Week,
    Month,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Week => "week",
            Period::Month => "month",
        }
    }

    /// First calendar day of the period holding `d` (Monday of its week, 1st of its month).
    pub fn start(self, d: NaiveDate) -> NaiveDate {
        match self {
            Period::Week => {
                d - chrono::Duration::days(i64::from(d.weekday().num_days_from_monday()))
            }
            Period::Month => d.with_day(1).unwrap_or(d),
        }
    }
}

/// One day of the daily ledger as the rollup reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayRow {
    pub date: NaiveDate,
    pub equity: f64,
    /// Traded notional, dollars.
    pub traded_notional: f64,
    pub shortfall_bps: Option<f64>,
}

/// The rollup figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rollup {
    pub period: Period,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: usize,
    /// Equity at the close before the period (or its first day's when none is older).
    pub start_equity: f64,
    pub end_equity: f64,
    pub return_pct: f64,
    /// Deepest drawdown from the running peak inside the period (start included), percent.
    pub max_drawdown_pct: f64,
    /// Traded notional over the mean equity, percent.
    pub turnover_pct: f64,
    /// The implementation shortfall of each day with trades, in order (the slippage trend).
    pub slippage_bps: Vec<(NaiveDate, f64)>,
    pub mean_slippage_bps: Option<f64>,
    /// Failed or blocked jobs in the period (`date job: detail`).
    pub errors: Vec<String>,
}

/// The rollup of `period` ending on `to` from the daily rows (ascending dates) and the
/// failed/blocked jobs of the period.
pub fn rollup(
    period: Period,
    to: NaiveDate,
    rows: &[DayRow],
    errors: Vec<String>,
) -> Option<Rollup> {
    let from = period.start(to);
    let inside: Vec<&DayRow> = rows
        .iter()
        .filter(|r| r.date >= from && r.date <= to)
        .collect();
    let last = inside.last()?;
    let before = rows.iter().rev().find(|r| r.date < from);
    let start_equity = before.unwrap_or(inside[0]).equity;
    let mut peak = start_equity;
    let mut mdd: f64 = 0.0;
    for r in &inside {
        peak = peak.max(r.equity);
        if peak > 0.0 {
            mdd = mdd.max((1.0 - r.equity / peak) * 100.0);
        }
    }
    let mean_eq = inside.iter().map(|r| r.equity).sum::<f64>() / inside.len() as f64;
    let slippage: Vec<(NaiveDate, f64)> = inside
        .iter()
        .filter_map(|r| r.shortfall_bps.map(|b| (r.date, b)))
        .collect();
    Some(Rollup {
        period,
        from,
        to,
        days: inside.len(),
        start_equity,
        end_equity: last.equity,
        return_pct: if start_equity > 0.0 {
            (last.equity / start_equity - 1.0) * 100.0
        } else {
            0.0
        },
        max_drawdown_pct: mdd,
        turnover_pct: if mean_eq > 0.0 {
            inside.iter().map(|r| r.traded_notional).sum::<f64>() / mean_eq * 100.0
        } else {
            0.0
        },
        mean_slippage_bps: (!slippage.is_empty())
            .then(|| slippage.iter().map(|s| s.1).sum::<f64>() / slippage.len() as f64),
        slippage_bps: slippage,
        errors,
    })
}

/// The rollup as Markdown.
pub fn md(r: &Rollup) -> String {
    use std::fmt::Write;
    let mut s = format!(
        "# {} review {} to {}\n\n| figure | value |\n|---|---|\n",
        r.period.as_str(),
        r.from,
        r.to
    );
    let _ = writeln!(s, "| trading days | {} |", r.days);
    let _ = writeln!(
        s,
        "| equity | {:.2} → {:.2} |",
        r.start_equity, r.end_equity
    );
    let _ = writeln!(s, "| return | {:+.2}% |", r.return_pct);
    let _ = writeln!(s, "| max drawdown | {:.2}% |", r.max_drawdown_pct);
    let _ = writeln!(s, "| turnover | {:.1}% |", r.turnover_pct);
    let _ = writeln!(
        s,
        "| mean shortfall | {} bps |",
        super::render::num(r.mean_slippage_bps, 1)
    );
    let _ = writeln!(s, "| errors | {} |\n", r.errors.len());
    s.push_str("## Slippage trend\n\n");
    for (d, b) in &r.slippage_bps {
        let _ = writeln!(s, "- {d}: {b:.1} bps");
    }
    s.push_str("\n## Errors\n\n");
    for e in &r.errors {
        let _ = writeln!(s, "- {e}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, day).expect("date")
    }

    #[test]
    fn week_rollup_starts_from_the_previous_close() {
        let row = |date, equity, n, b| DayRow {
            date,
            equity,
            traded_notional: n,
            shortfall_bps: b,
        };
        // 2026-03-06 is a Friday; its week starts on Monday 03-02.
        let rows = [
            row(d(2, 27), 100.0, 0.0, None),
            row(d(3, 2), 110.0, 50.0, Some(4.0)),
            row(d(3, 3), 99.0, 0.0, None),
            row(d(3, 6), 104.5, 50.0, Some(2.0)),
        ];
        let r = rollup(Period::Week, d(3, 6), &rows, vec!["x".into()]).expect("rollup");
        assert_eq!((r.from, r.days, r.start_equity), (d(3, 2), 3, 100.0));
        assert!((r.return_pct - 4.5).abs() < 1e-9);
        assert!((r.max_drawdown_pct - 10.0).abs() < 1e-9);
        assert_eq!(r.mean_slippage_bps, Some(3.0));
        assert!((r.turnover_pct - 100.0 / (313.5 / 3.0) * 100.0).abs() < 1e-9);
        assert_eq!(Period::Month.start(d(3, 6)), d(3, 1));
        assert!(rollup(Period::Week, d(2, 20), &rows, vec![]).is_none());
    }
}
