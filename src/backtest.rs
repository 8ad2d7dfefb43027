//! The backtest engine: day by day over history through the very same decision, risk,
//! portfolio and (simulated) broker code the daily jobs use. Pure: the caller loads
//! bars and writes files.
//!
//! No look-ahead: the strategy's decision for D reads only bars dated ≤ D (tested), the
//! risk context for D is built from closes ≤ D, and fills happen at D's close or at the
//! next bar's open.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::broker::sim::SimBroker;
use crate::broker::{Broker, ClientOrderId, OrderRequest, OrderStatus};
use crate::metrics::{self, Metrics};
use crate::model::{OrderIntent, Side};
use crate::pipeline::{self, DayInputs, PipelineConfig};
use crate::portfolio::Holdings;
use crate::strategy::{Decision, History};

/// When fills happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    Close,
    NextOpen,
}

/// One backtest run.
#[derive(Debug, Clone)]
pub struct Spec {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub fill: Fill,
    pub initial_cents: i64,
    pub risk_free: f64,
    pub pipeline: PipelineConfig,
}

/// A filled (or rejected) order of the backtest.
#[derive(Debug, Clone, Serialize)]
pub struct FillRow {
    pub date: NaiveDate,
    pub client_order_id: String,
    pub symbol: String,
    pub side: Side,
    pub qty: i64,
    pub price: f64,
    pub commission: f64,
    pub status: String,
}

/// An order the backtest sent.
#[derive(Debug, Clone, Serialize)]
pub struct OrderRow {
    pub date: NaiveDate,
    pub client_order_id: String,
    pub order: OrderIntent,
}

/// Equity at one close.
#[derive(Debug, Clone, Serialize)]
pub struct EquityRow {
    pub date: NaiveDate,
    pub equity: f64,
    pub cash: f64,
    pub holdings_value: f64,
    pub benchmark_equity: f64,
}

/// Everything a backtest produced.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub decisions: Vec<(Decision, BTreeMap<String, f64>)>,
    pub orders: Vec<OrderRow>,
    pub fills: Vec<FillRow>,
    pub equity: Vec<EquityRow>,
    pub risk: Vec<(NaiveDate, crate::risk::RuleOutcome)>,
    pub metrics: Metrics,
    pub benchmark: Metrics,
    /// Days the gate let a rebalance through (targets recorded, orders sent).
    pub rebalance_dates: Vec<NaiveDate>,
    pub turnover: f64,
}

/// Open and close of `symbol` on exactly `date`.
fn bar_on(history: &History, symbol: &str, date: NaiveDate) -> Option<(f64, f64)> {
    let s = history.get(symbol)?;
    let i = s.dates.binary_search(&date).ok()?;
    Some((s.open[i], s.close[i]))
}

/// Run the backtest over `decisions` (the strategy's forward pass over `history`).
pub fn run(
    spec: &Spec,
    history: &History,
    decisions: &[Decision],
    tradables: &[String],
    signal: &str,
) -> Outcome {
    let mut sim = SimBroker::in_memory(spec.initial_cents, spec.pipeline.cost);
    let mut out = Outcome::default();
    let mut last_targets: Option<BTreeMap<String, f64>> = None;
    let mut equity_hist: Vec<(NaiveDate, f64)> = Vec::new();
    let mut peak: Option<f64> = None;
    let mut activity = crate::risk::activity::Activity::default();
    let mut traded_cents: i64 = 0;
    let mut bench_base: Option<f64> = None;
    let days: Vec<&Decision> = decisions
        .iter()
        .filter(|d| d.date >= spec.from && d.date <= spec.to)
        .collect();
    for (k, dec) in days.iter().enumerate() {
        let date = dec.date;
        let closes = history.last_closes(tradables, date);
        let holdings = Holdings {
            cash_cents: sim.book.cash_cents,
            positions: sim.book.positions.clone(),
        };
        // Fill prices: today's close, or the next decision day's open.
        let fill_date = match spec.fill {
            Fill::Close => Some(date),
            Fill::NextOpen => days.get(k + 1).map(|d| d.date),
        };
        let fill_prices: BTreeMap<String, f64> = match (spec.fill, fill_date) {
            (_, None) => BTreeMap::new(),
            (Fill::Close, Some(fd)) => tradables
                .iter()
                .filter_map(|s| bar_on(history, s, fd).map(|(_, c)| (s.clone(), c)))
                .collect(),
            (Fill::NextOpen, Some(fd)) => tradables
                .iter()
                .filter_map(|s| bar_on(history, s, fd).map(|(o, _)| (s.clone(), o)))
                .collect(),
        };
        let inputs = DayInputs {
            date,
            decision: dec,
            holdings: &holdings,
            valuation_prices: &closes,
            trade_prices: &fill_prices,
            last_targets: last_targets.as_ref(),
            history,
            equity_peak: peak,
            previous_close_equity: equity_hist.last().map(|e| e.1),
            orders_already_today: 0,
            activity: &activity,
        };
        let day = pipeline::decide_day(&spec.pipeline, &inputs);
        out.risk
            .extend(day.risk_outcomes.iter().map(|o| (date, o.clone())));
        if let Some(t) = &day.final_targets {
            out.decisions.push(((*dec).clone(), t.clone()));
        } else {
            out.decisions.push(((*dec).clone(), BTreeMap::new()));
        }
        if day.rebalance && fill_date.is_some() {
            out.rebalance_dates.push(date);
            sim.quotes = fill_prices.clone();
            for o in &day.orders {
                let id =
                    ClientOrderId::new(&spec.pipeline.strategy_tag, date, &o.symbol, o.side, 1);
                out.orders.push(OrderRow {
                    date,
                    client_order_id: id.0.clone(),
                    order: o.clone(),
                });
                let req = OrderRequest {
                    client_order_id: id.clone(),
                    symbol: o.symbol.clone(),
                    side: o.side,
                    qty: o.qty,
                    limit_price: None,
                };
                if let Ok(f) = sim.submit(&req) {
                    let price = f.avg_fill_price.unwrap_or(0.0);
                    if f.status == OrderStatus::Filled {
                        traded_cents += crate::money::notional_cents(f.filled_qty, price);
                        activity.record(&crate::risk::activity::FillEvent {
                            date: fill_date.unwrap_or(date),
                            symbol: f.symbol.clone(),
                            side: f.side,
                            qty: f.filled_qty,
                            price,
                        });
                    }
                    out.fills.push(FillRow {
                        date: fill_date.unwrap_or(date),
                        client_order_id: id.0,
                        symbol: f.symbol,
                        side: f.side,
                        qty: f.filled_qty,
                        price,
                        commission: crate::money::dollars(f.commission_cents),
                        status: format!("{:?}", f.status).to_lowercase(),
                    });
                }
            }
            if let Some(t) = day.final_targets.clone() {
                last_targets = Some(t);
            }
        }
        let holdings_value: i64 = sim
            .book
            .positions
            .iter()
            .map(|(s, q)| {
                closes
                    .get(s)
                    .map_or(0, |p| crate::money::notional_cents(*q, *p))
            })
            .sum();
        let equity = crate::money::dollars(sim.book.cash_cents + holdings_value);
        let sig_close = history.last_close(signal, date).unwrap_or(0.0);
        let base = *bench_base.get_or_insert(sig_close);
        let initial = crate::money::dollars(spec.initial_cents);
        out.equity.push(EquityRow {
            date,
            equity,
            cash: crate::money::dollars(sim.book.cash_cents),
            holdings_value: crate::money::dollars(holdings_value),
            benchmark_equity: if base > 0.0 {
                initial * sig_close / base
            } else {
                initial
            },
        });
        equity_hist.push((date, equity));
        peak = Some(peak.map_or(equity, |p: f64| p.max(equity)));
    }
    let initial = crate::money::dollars(spec.initial_cents);
    out.metrics = metrics::compute(&equity_hist, initial, spec.risk_free);
    let bench: Vec<(NaiveDate, f64)> = out
        .equity
        .iter()
        .map(|e| (e.date, e.benchmark_equity))
        .collect();
    out.benchmark = metrics::compute(&bench, initial, spec.risk_free);
    let avg_equity = equity_hist.iter().map(|e| e.1).sum::<f64>() / equity_hist.len().max(1) as f64;
    let years = match (equity_hist.first(), equity_hist.last()) {
        (Some(a), Some(b)) => ((b.0 - a.0).num_days() as f64 / 365.25).max(1.0 / 365.25),
        _ => 1.0,
    };
    out.turnover = if avg_equity > 0.0 {
        crate::money::dollars(traded_cents) / 2.0 / avg_equity / years
    } else {
        0.0
    };
    out
}
