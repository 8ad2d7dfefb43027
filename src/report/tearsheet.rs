//! The backtest tear sheet (`trader backtest --report DIR`): equity against the benchmark,
//! drawdown, monthly and yearly returns, regime occupancy — the eod report's renderers on a
//! backtest's result, so research and live look alike.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::render::{TableText, num};

/// The tear sheet's figures (`report.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TearSheet {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub metrics: crate::metrics::Metrics,
    pub benchmark: crate::metrics::Metrics,
    /// Return of each calendar month, percent, by (year, month).
    pub monthly_returns_pct: BTreeMap<i32, BTreeMap<u32, f64>>,
    pub yearly_returns_pct: BTreeMap<i32, f64>,
    /// Share of days in each regime cell, percent (`none`: no cell, e.g. warm-up).
    pub regime_occupancy_pct: BTreeMap<String, f64>,
}

/// Returns per calendar period of `key`, compounded from the last equity of the previous period
/// (the first period from `start_value`).
fn period_returns<K: Ord + Copy>(
    equity: &[(NaiveDate, f64)],
    start_value: f64,
    key: impl Fn(NaiveDate) -> K,
) -> BTreeMap<K, f64> {
    let mut out = BTreeMap::new();
    let mut base = start_value;
    let mut i = 0;
    while i < equity.len() {
        let k = key(equity[i].0);
        let mut j = i;
        while j + 1 < equity.len() && key(equity[j + 1].0) == k {
            j += 1;
        }
        let end = equity[j].1;
        if base > 0.0 {
            out.insert(k, (end / base - 1.0) * 100.0);
        }
        base = end;
        i = j + 1;
    }
    out
}

/// The tear sheet of an equity curve and the regime cell of each day.
pub fn tear_sheet(
    equity: &[(NaiveDate, f64)],
    start_value: f64,
    cells: &[Option<u8>],
    metrics: crate::metrics::Metrics,
    benchmark: crate::metrics::Metrics,
) -> Option<TearSheet> {
    let from = equity.first()?.0;
    let to = equity.last()?.0;
    let mut monthly: BTreeMap<i32, BTreeMap<u32, f64>> = BTreeMap::new();
    for ((y, m), r) in period_returns(equity, start_value, |d| (d.year(), d.month())) {
        monthly.entry(y).or_default().insert(m, r);
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for c in cells {
        *counts
            .entry(c.map_or("none".into(), |c| format!("cell {c}")))
            .or_default() += 1;
    }
    let n = cells.len().max(1) as f64;
    Some(TearSheet {
        from,
        to,
        metrics,
        benchmark,
        monthly_returns_pct: monthly,
        yearly_returns_pct: period_returns(equity, start_value, |d| d.year()),
        regime_occupancy_pct: counts
            .into_iter()
            .map(|(k, v)| (k, v as f64 / n * 100.0))
            .collect(),
    })
}

/// The tables of a tear sheet.
pub fn tables(t: &TearSheet) -> Vec<TableText> {
    let mut m = TableText::new("Metrics", &["figure", "strategy", "benchmark"]);
    for (k, a, b) in [
        ("CAGR %", t.metrics.cagr * 100.0, t.benchmark.cagr * 100.0),
        ("Sharpe", t.metrics.sharpe, t.benchmark.sharpe),
        ("Sortino", t.metrics.sortino, t.benchmark.sortino),
        (
            "max drawdown %",
            t.metrics.max_drawdown * 100.0,
            t.benchmark.max_drawdown * 100.0,
        ),
        (
            "volatility %",
            t.metrics.volatility * 100.0,
            t.benchmark.volatility * 100.0,
        ),
    ] {
        m.rows
            .push(vec![k.into(), num(Some(a), 2), num(Some(b), 2)]);
    }
    let mut head = vec!["year"];
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    head.extend(months);
    head.push("year %");
    let mut mt = TableText::new("Monthly returns (%)", &head);
    for (y, ms) in &t.monthly_returns_pct {
        let mut row = vec![y.to_string()];
        row.extend((1..=12).map(|m| num(ms.get(&m).copied(), 1)));
        row.push(num(t.yearly_returns_pct.get(y).copied(), 1));
        mt.rows.push(row);
    }
    let mut reg = TableText::new("Regime occupancy", &["regime", "days %"]);
    for (k, v) in &t.regime_occupancy_pct {
        reg.rows.push(vec![k.clone(), num(Some(*v), 1)]);
    }
    vec![m, mt, reg]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_years_compound_from_the_previous_period_end() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("date");
        let eq = [
            (d(2020, 12, 30), 105.0),
            (d(2020, 12, 31), 110.0),
            (d(2021, 1, 4), 121.0),
            (d(2021, 2, 1), 108.9),
        ];
        let cells = [Some(1), Some(1), None, Some(2)];
        let t =
            tear_sheet(&eq, 100.0, &cells, Default::default(), Default::default()).expect("sheet");
        assert!((t.monthly_returns_pct[&2020][&12] - 10.0).abs() < 1e-9);
        assert!((t.monthly_returns_pct[&2021][&1] - 10.0).abs() < 1e-9);
        assert!((t.monthly_returns_pct[&2021][&2] + 10.0).abs() < 1e-9);
        assert!((t.yearly_returns_pct[&2021] + 1.0).abs() < 1e-9);
        assert_eq!(t.regime_occupancy_pct["cell 1"], 50.0);
        assert_eq!(t.regime_occupancy_pct["none"], 25.0);
    }
}
