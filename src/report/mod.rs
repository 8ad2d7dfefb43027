//! The after-the-close report (`trader eod`) and the backtest tear sheet: pure computations of
//! the figures from plain inputs (no I/O here; the command gathers the state, ledgers and bars),
//! and their renderers ([`render`]: Markdown, self-contained HTML; [`chart`]: PNG). ES/VaR and
//! the drawdown tier come from [`crate::risk`], slippage from the execution journal's formula.

pub mod chart;
pub mod period;
pub mod render;
pub mod stats;
pub mod tearsheet;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::model::Side;
pub use stats::{Performance, performance};

/// One order of the day as the report reads it (a journaled paper/live order, or a dry-run's
/// hypothetical one).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderInput {
    pub symbol: String,
    pub side: Side,
    pub qty: i64,
    pub filled_qty: i64,
    pub avg_fill_price: Option<f64>,
    pub decision_price: f64,
    pub official_close: Option<f64>,
    pub commission_cents: i64,
    pub status: String,
}

/// The execution figures of one order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderFigures {
    pub symbol: String,
    pub side: Side,
    pub qty: i64,
    pub filled_qty: i64,
    pub status: String,
    pub fill_price: Option<f64>,
    pub decision_price: f64,
    pub official_close: Option<f64>,
    /// Fill against the decision price, bps, positive = adverse.
    pub slippage_bps: Option<f64>,
    /// Fill against the official close, bps, positive = adverse.
    pub vs_close_bps: Option<f64>,
    pub commission: f64,
}

/// The day's execution quality.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Execution {
    /// The orders are a dry-run's, not sent: assumed filled at the official close.
    pub hypothetical: bool,
    pub orders: Vec<OrderFigures>,
    /// Filled shares over ordered shares, percent (`None`: no order).
    pub fill_rate_pct: Option<f64>,
    pub commissions: f64,
    /// Traded notional at the fill prices, dollars.
    pub traded_notional: f64,
    /// Perold's implementation shortfall against the decision prices, bps of the decided
    /// notional: slippage of the filled shares, the close's move on the unfilled ones, and the
    /// commissions.
    pub shortfall_bps: Option<f64>,
    /// Shares-weighted slippage of the fills against the official closes, bps.
    pub shortfall_close_bps: Option<f64>,
}

fn sgn(side: Side) -> f64 {
    match side {
        Side::Buy => 1.0,
        Side::Sell => -1.0,
    }
}

/// The execution figures of the day's orders. Hypothetical orders (a dry-run's) are taken as
/// filled in full at the official close.
pub fn execution(orders: &[OrderInput], hypothetical: bool) -> Execution {
    use crate::execution::journal::slippage_bps;
    let mut rows = Vec::new();
    let (mut ordered, mut filled) = (0i64, 0i64);
    let (mut cost, mut paper, mut commissions, mut notional) = (0.0, 0.0, 0.0, 0.0);
    let (mut close_cost, mut close_paper) = (0.0, 0.0);
    for o in orders {
        let (fq, price) = if hypothetical {
            (o.qty, o.official_close)
        } else {
            (o.filled_qty, o.avg_fill_price)
        };
        let commission = crate::money::dollars(o.commission_cents);
        ordered += o.qty;
        filled += fq;
        commissions += commission;
        let s = sgn(o.side);
        paper += o.decision_price * o.qty as f64;
        if let Some(p) = price.filter(|_| fq > 0) {
            cost += s * (p - o.decision_price) * fq as f64;
            notional += p * fq as f64;
            if let Some(c) = o.official_close {
                close_cost += s * (p - c) * fq as f64;
                close_paper += c * fq as f64;
            }
        }
        if let Some(c) = o.official_close {
            cost += s * (c - o.decision_price) * (o.qty - fq) as f64;
        }
        cost += commission;
        rows.push(OrderFigures {
            symbol: o.symbol.clone(),
            side: o.side,
            qty: o.qty,
            filled_qty: fq,
            status: if hypothetical {
                "hypothetical".into()
            } else {
                o.status.clone()
            },
            fill_price: price.filter(|_| fq > 0),
            decision_price: o.decision_price,
            official_close: o.official_close,
            slippage_bps: price
                .filter(|_| fq > 0)
                .map(|p| slippage_bps(o.side, o.decision_price, p)),
            vs_close_bps: price
                .filter(|_| fq > 0)
                .zip(o.official_close)
                .map(|(p, c)| slippage_bps(o.side, c, p)),
            commission,
        });
    }
    Execution {
        hypothetical,
        orders: rows,
        fill_rate_pct: (ordered > 0).then(|| filled as f64 / ordered as f64 * 100.0),
        commissions,
        traded_notional: notional,
        shortfall_bps: (paper > 0.0).then(|| cost / paper * 10_000.0),
        shortfall_close_bps: (close_paper > 0.0).then(|| close_cost / close_paper * 10_000.0),
    }
}

/// A position against its target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PositionRow {
    pub symbol: String,
    pub qty: i64,
    pub close: Option<f64>,
    pub value: f64,
    /// Percent of equity.
    pub weight_pct: f64,
    /// The decision's target, percent (`None`: no target that day).
    pub target_pct: Option<f64>,
}

/// Positions valued at the official closes against the day's targets (symbols of either).
pub fn positions(
    held: &BTreeMap<String, i64>,
    closes: &BTreeMap<String, f64>,
    targets: Option<&BTreeMap<String, f64>>,
    equity: f64,
) -> Vec<PositionRow> {
    let mut syms: Vec<&String> = held
        .keys()
        .chain(targets.into_iter().flatten().map(|t| t.0))
        .collect();
    syms.sort();
    syms.dedup();
    syms.into_iter()
        .map(|s| {
            let qty = held.get(s).copied().unwrap_or(0);
            let close = closes.get(s).copied();
            let value = close.map_or(0.0, |c| c * qty as f64);
            PositionRow {
                symbol: s.clone(),
                qty,
                close,
                value,
                weight_pct: if equity > 0.0 {
                    value / equity * 100.0
                } else {
                    0.0
                },
                target_pct: targets.map(|t| t.get(s).copied().unwrap_or(0.0) * 100.0),
            }
        })
        .filter(|r| r.qty != 0 || r.target_pct.is_some_and(|t| t > 0.0))
        .collect()
}

/// Risk of the book: ES/VaR (from [`crate::risk::risk_snapshot`]) and the drawdown tier.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BookRisk {
    pub confidence_pct: f64,
    pub es_pct: Option<f64>,
    pub var_pct: Option<f64>,
    pub es_error: Option<String>,
    pub drawdown_pct: f64,
    /// The active drawdown-budget tier (its drawdown threshold, percent), if any.
    pub tier_drawdown_pct: Option<f64>,
    pub exposure_pct: f64,
}

impl BookRisk {
    pub fn from_snapshot(s: &crate::risk::RiskSnapshot, confidence_pct: f64) -> BookRisk {
        BookRisk {
            confidence_pct,
            es_pct: s.es_hist,
            var_pct: s.var_hist,
            es_error: s.es_error.clone(),
            drawdown_pct: s.drawdown,
            tier_drawdown_pct: s.tier.map(|t| t.drawdown_pct),
            exposure_pct: s.exposure_pct,
        }
    }
}

/// One risk rule's outcome of the day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleRow {
    pub rule: String,
    pub verdict: String,
    pub symbol: String,
    pub message: String,
}

/// Everything `trader eod` reports for one date (`report.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayReport {
    pub date: NaiveDate,
    pub phase: String,
    pub signal_symbol: String,
    pub cash: f64,
    pub performance: Performance,
    pub positions: Vec<PositionRow>,
    pub execution: Execution,
    pub risk: BookRisk,
    pub risk_rules: Vec<RuleRow>,
    /// The validation colour of the date (`None`: not validated).
    pub validation: Option<String>,
    pub gates: Vec<crate::gates::Progress>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(side: Side, qty: i64, filled: i64, fill: Option<f64>) -> OrderInput {
        OrderInput {
            symbol: "QQQ".into(),
            side,
            qty,
            filled_qty: filled,
            avg_fill_price: fill,
            decision_price: 100.0,
            official_close: Some(101.0),
            commission_cents: 100,
            status: "filled".into(),
        }
    }

    #[test]
    fn shortfall_counts_slippage_unfilled_moves_and_commission() {
        // 10 bought at 100.5 of 20 decided at 100; the close is 101.
        let e = execution(&[o(Side::Buy, 20, 10, Some(100.5))], false);
        assert_eq!(e.fill_rate_pct, Some(50.0));
        let r = &e.orders[0];
        assert!((r.slippage_bps.expect("slip") - 50.0).abs() < 1e-9);
        assert!((r.vs_close_bps.expect("close") - (-0.5 / 101.0 * 1e4)).abs() < 1e-9);
        // cost = 10 × 0.5 + 10 × 1.0 + 1.00 = 16 on 2,000 decided.
        assert!((e.shortfall_bps.expect("is") - 80.0).abs() < 1e-9);
    }

    #[test]
    fn hypothetical_orders_fill_at_the_close() {
        let e = execution(&[o(Side::Sell, 10, 0, None)], true);
        assert_eq!(e.fill_rate_pct, Some(100.0));
        // A sale at 101 decided at 100 is 100 bps favourable.
        assert!((e.orders[0].slippage_bps.expect("slip") + 100.0).abs() < 1e-9);
        assert_eq!(e.orders[0].vs_close_bps, Some(0.0));
    }
}
