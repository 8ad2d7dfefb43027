//! The backtest engine: day by day over history through the very same decision, risk,
//! portfolio and (simulated) broker code the daily jobs use. Pure: the caller loads
//! bars and writes files.
//!
//! No look-ahead: the strategy's decision for D reads only bars dated ≤ D (tested), the
//! risk context for D is built from closes ≤ D, and fills happen at D's close or at the
//! next bar's open.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::mpsc::Sender;

use chrono::NaiveDate;
use serde::Serialize;

use crate::broker::sim::SimBroker;
use crate::broker::{Broker, ClientOrderId, OrderRequest, OrderStatus};
use crate::metrics::{self, Metrics};
use crate::model::{OrderIntent, Side};
use crate::pipeline::{self, CloseReturns, DayInputs, DayPlan, PipelineConfig};
use crate::portfolio::Holdings;
use crate::strategy::{Decision, History, Series, Targets};

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
    /// Each day's decision with its targets after the risk rules (days with the same targets
    /// share one map).
    pub decisions: Vec<(Decision, Targets)>,
    pub orders: Vec<OrderRow>,
    pub fills: Vec<FillRow>,
    pub equity: Vec<EquityRow>,
    /// Risk rule outcomes; passing ones only when the pipeline is not terse.
    pub risk: Vec<(NaiveDate, crate::risk::RuleOutcome)>,
    pub metrics: Metrics,
    pub benchmark: Metrics,
    /// Days the gate let a rebalance through (targets recorded, orders sent).
    pub rebalance_dates: Vec<NaiveDate>,
    pub turnover: f64,
}

/// One symbol's place in its bars as the days advance: the last bar on or before the day is
/// found by stepping forward (days only move forward), not by searching.
struct Cursor<'h> {
    symbol: &'h str,
    series: Option<&'h Series>,
    /// Bars dated on or before the last day asked for.
    seen: usize,
}

impl<'h> Cursor<'h> {
    fn new(history: &'h History, symbol: &'h str) -> Self {
        Cursor {
            symbol,
            series: history.get(symbol),
            seen: 0,
        }
    }

    /// Close of the last bar on or before `date`, and whether that bar is dated `date`.
    fn advance(&mut self, date: NaiveDate) -> Option<(f64, bool)> {
        let s = self.series?;
        while self.seen < s.dates.len() && s.dates[self.seen] <= date {
            self.seen += 1;
        }
        let i = self.seen.checked_sub(1)?;
        Some((s.close[i], s.dates[i] == date))
    }
}

/// Bring `closes` to the last close on or before `date` of each tradable that has one (the
/// map `History::last_closes` builds). Days only move forward, so a symbol keeps a close once it
/// has one and after the first days this allocates nothing. True when every tradable has a bar
/// on `date`.
fn update_last_closes(
    closes: &mut BTreeMap<String, f64>,
    cursors: &mut [Cursor],
    date: NaiveDate,
) -> bool {
    let mut all_traded = true;
    if closes.len() == cursors.len() {
        // Every cursor has its close in the map, which holds nothing else: the cursors are in
        // symbol order, so the map's values line up with them (no lookups).
        debug_assert!(
            closes
                .keys()
                .zip(cursors.iter())
                .all(|(s, c)| s == c.symbol)
        );
        for (c, v) in cursors.iter_mut().zip(closes.values_mut()) {
            match c.advance(date) {
                Some((close, today)) => {
                    *v = close;
                    all_traded &= today;
                }
                None => all_traded = false,
            }
        }
        return all_traded;
    }
    for c in cursors {
        let Some((close, today)) = c.advance(date) else {
            all_traded = false;
            continue;
        };
        all_traded &= today;
        match closes.get_mut(c.symbol) {
            Some(v) => *v = close,
            None => {
                closes.insert(c.symbol.to_string(), close);
            }
        }
    }
    all_traded
}

/// Prices orders fill at on `fill_date`: each tradable's close (or open) on exactly that date.
/// Filling at today's close when every tradable traded today is the valuation map itself.
fn fill_prices<'a>(
    fill: Fill,
    fill_date: Option<NaiveDate>,
    history: &History,
    tradables: &[String],
    closes: &'a BTreeMap<String, f64>,
    all_traded_today: bool,
) -> Cow<'a, BTreeMap<String, f64>> {
    let Some(fd) = fill_date else {
        return Cow::Owned(BTreeMap::new());
    };
    if fill == Fill::Close && all_traded_today {
        return Cow::Borrowed(closes);
    }
    let on_date = |s: &String| bar_on(history, s, fd);
    Cow::Owned(
        tradables
            .iter()
            .filter_map(|s| {
                on_date(s).map(|(o, c)| (s.clone(), if fill == Fill::Close { c } else { o }))
            })
            .collect(),
    )
}

/// Open and close of `symbol` on exactly `date`.
fn bar_on(history: &History, symbol: &str, date: NaiveDate) -> Option<(f64, f64)> {
    let s = history.get(symbol)?;
    let i = s.dates.binary_search(&date).ok()?;
    Some((s.open[i], s.close[i]))
}

/// Make `dst` equal to `src`. Usually they hold the same symbols (yesterday's quotes or
/// positions): then only the values are copied, and no symbol is cloned again.
fn assign_map<V: Copy>(dst: &mut BTreeMap<String, V>, src: &BTreeMap<String, V>) {
    if dst.len() == src.len() && dst.keys().zip(src.keys()).all(|(a, b)| a == b) {
        dst.values_mut()
            .zip(src.values())
            .for_each(|(d, s)| *d = *s);
    } else {
        dst.clone_from(src);
    }
}

/// Same symbols with bit-identical weights (so a shared map is exactly the day's own).
fn same_weights(a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((s, w), (t, v))| s == t && w.to_bits() == v.to_bits())
}

/// The strategy's side of a run fed from another thread: [`Feed::push`] each decision of the
/// forward pass as it is made; the run's side ([`feed`]'s iterator) gets those from the run's
/// first day on, in order, 64 at a time (one hand-over per 64 days keeps the threads'
/// synchronisation out of the per-day cost). Dropping the feed hands over the rest and ends
/// the iterator.
pub struct Feed {
    tx: Sender<Vec<Decision>>,
    batch: Vec<Decision>,
    from: NaiveDate,
}

const FEED_BATCH: usize = 64;

/// A feed for a run starting on `from`, and the run's iterator over what it hands over.
pub fn feed(from: NaiveDate) -> (Feed, impl Iterator<Item = Decision>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let feed = Feed {
        tx,
        batch: Vec::with_capacity(FEED_BATCH),
        from,
    };
    (feed, rx.into_iter().flatten())
}

impl Feed {
    pub fn push(&mut self, decision: Decision) {
        // Days before the run are of no use to it.
        if decision.date < self.from {
            return;
        }
        self.batch.push(decision);
        if self.batch.len() == FEED_BATCH {
            let full = std::mem::replace(&mut self.batch, Vec::with_capacity(FEED_BATCH));
            // A closed channel means the run stopped: nothing is waiting for these.
            let _ = self.tx.send(full);
        }
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        if !self.batch.is_empty() {
            let _ = self.tx.send(std::mem::take(&mut self.batch));
        }
    }
}

/// Run the backtest over `decisions`: the strategy's forward pass over `history`, ascending
/// (days outside the spec's dates are skipped). They may still be in the making: the next one
/// is asked for only when the day before it is done (with next-open fills, when its own day
/// starts).
pub fn run(
    spec: &Spec,
    history: &History,
    decisions: impl IntoIterator<Item = Decision>,
    tradables: &[String],
    signal: &str,
) -> Outcome {
    let mut sim = SimBroker::in_memory(spec.initial_cents, spec.pipeline.cost);
    let mut out = Outcome::default();
    let mut last_targets: Option<Targets> = None;
    // Yesterday's final targets, handed out again while a day's are the same.
    let no_targets = Targets::default();
    let mut shared = Arc::clone(&no_targets);
    let mut equity_hist: Vec<(NaiveDate, f64)> = Vec::new();
    let mut peak: Option<f64> = None;
    let mut activity = crate::risk::activity::Activity::default();
    let mut traded_cents: i64 = 0;
    let mut bench_base: Option<f64> = None;
    let returns = CloseReturns::new(history);
    let es_memo = returns.es_memo();
    // The account as the decision path sees it; refreshed from the simulator after fills.
    let mut holdings = Holdings {
        cash_cents: sim.book.cash_cents,
        positions: BTreeMap::new(),
    };
    // Valuation prices, updated in place day by day (the same map `History::last_closes` builds).
    let mut closes: BTreeMap<String, f64> = BTreeMap::new();
    // In symbol order, as `closes` holds them.
    let mut cursors: Vec<Cursor> = tradables.iter().map(|s| Cursor::new(history, s)).collect();
    cursors.sort_by(|a, b| a.symbol.cmp(b.symbol));
    cursors.dedup_by(|a, b| a.symbol == b.symbol);
    let mut benchmark = Cursor::new(history, signal);
    let mut days = decisions
        .into_iter()
        .filter(|d| d.date >= spec.from && d.date <= spec.to)
        .peekable();
    // One row per day (a decision per signal bar): sized once, not doubled and copied as they
    // grow.
    let n = history.get(signal).map_or(0, |s| {
        let end = s.dates.partition_point(|d| *d <= spec.to);
        end.saturating_sub(s.dates.partition_point(|d| *d < spec.from))
    });
    out.decisions.reserve_exact(n);
    out.equity.reserve_exact(n);
    equity_hist.reserve_exact(n);
    while let Some(dec) = days.next() {
        let date = dec.date;
        let all_traded = update_last_closes(&mut closes, &mut cursors, date);
        // Fill prices: today's close, or the next decision day's open.
        let fill_date = match spec.fill {
            Fill::Close => Some(date),
            Fill::NextOpen => days.peek().map(|d| d.date),
        };
        let fill_prices = fill_prices(
            spec.fill, fill_date, history, tradables, &closes, all_traded,
        );
        let inputs = DayInputs {
            date,
            decision: &dec,
            holdings: &holdings,
            valuation_prices: &closes,
            trade_prices: &fill_prices,
            last_targets: last_targets.as_deref(),
            history,
            returns: &returns,
            equity_peak: peak,
            previous_close_equity: equity_hist.last().map(|e| e.1),
            orders_already_today: 0,
            activity: &activity,
            es_memo: Some(&es_memo),
        };
        // Only owned parts of the plan are kept, so the day's borrows end here.
        let DayPlan {
            final_targets,
            rebalance,
            orders,
            risk_outcomes,
            ..
        } = pipeline::decide_day(&spec.pipeline, &inputs);
        let final_targets = match final_targets {
            None => Arc::clone(&no_targets),
            Some(t) if Arc::ptr_eq(&t, &shared) || same_weights(&t, &shared) => Arc::clone(&shared),
            Some(t) => {
                shared = Arc::clone(&t);
                t
            }
        };
        // A terse pipeline records no passes in the first place.
        out.risk
            .extend(risk_outcomes.into_iter().map(|o| (date, o)));
        if rebalance && fill_date.is_some() {
            out.rebalance_dates.push(date);
            assign_map(&mut sim.quotes, &fill_prices);
            for o in &orders {
                let id =
                    ClientOrderId::new(&spec.pipeline.strategy_tag, date, &o.symbol, o.side, 1);
                out.orders.push(OrderRow {
                    date,
                    client_order_id: id.0.clone(),
                    order: o.clone(),
                });
                let req = OrderRequest::day(id.clone(), &o.symbol, o.side, o.qty, None);
                if let Ok(f) = sim.submit(&req) {
                    let price = f.avg_fill_price.unwrap_or(0.0);
                    if f.status == OrderStatus::Filled {
                        traded_cents = traded_cents.saturating_add(
                            crate::money::notional_cents(f.filled_qty, price)
                                .unwrap_or(crate::money::MAX_CENTS),
                        );
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
                        status: f.status.as_str().to_string(),
                    });
                }
            }
            holdings.cash_cents = sim.book.cash_cents;
            assign_map(&mut holdings.positions, &sim.book.positions);
            last_targets = Some(final_targets.clone());
        }
        out.decisions.push((dec, final_targets));
        // The backtest's book grows from its own bounded capital through checked fills;
        // sums saturate rather than wrap.
        let holdings_value = sim
            .book
            .positions
            .iter()
            .map(|(s, q)| {
                closes.get(s).map_or(0, |p| {
                    crate::money::notional_cents(*q, *p).unwrap_or(crate::money::MAX_CENTS)
                })
            })
            .fold(0, i64::saturating_add);
        let equity = crate::money::dollars(sim.book.cash_cents.saturating_add(holdings_value));
        let sig_close = benchmark.advance(date).map_or(0.0, |(close, _)| close);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Across a thread, the feed hands over exactly the decisions dated from the run's first
    /// day on, in order, in full batches and then the part batch left when it is dropped.
    #[test]
    fn feed_hands_over_the_run_days_in_order() {
        let start = NaiveDate::from_ymd_opt(2020, 1, 1).expect("date");
        let from = start + chrono::Days::new(37);
        let day = |k: u64| Decision {
            date: start + chrono::Days::new(k),
            targets: None,
            diagnostics: Default::default(),
        };
        for n in [
            0,
            37,
            38,
            37 + FEED_BATCH as u64,
            37 + 3 * FEED_BATCH as u64 + 5,
        ] {
            let (mut feed, decisions) = feed(from);
            let got = std::thread::scope(|scope| {
                scope.spawn(move || (0..n).for_each(|k| feed.push(day(k))));
                decisions.map(|d| d.date).collect::<Vec<_>>()
            });
            let want: Vec<NaiveDate> = (37..n).map(|k| day(k).date).collect();
            assert_eq!(got, want, "{n} decisions");
        }
    }

    /// Three symbols with gaps (and one starting late): stepping the cursors day by day gives
    /// `History::last_closes` exactly, and the fill prices are each symbol's bar on the date.
    /// Assigning a map copies values over the same symbols and replaces a different set.
    #[test]
    fn assign_map_equals_its_source() {
        let m = |pairs: &[(&str, i64)]| -> BTreeMap<String, i64> {
            pairs.iter().map(|(s, v)| (s.to_string(), *v)).collect()
        };
        let mut dst = m(&[("A", 1), ("B", 2)]);
        for src in [
            m(&[("A", 3), ("B", 4)]),
            m(&[("A", 5), ("C", 6)]),
            m(&[("A", 7)]),
            m(&[]),
            m(&[("B", 8), ("D", 9), ("E", 1)]),
        ] {
            assign_map(&mut dst, &src);
            assert_eq!(dst, src);
        }
    }

    #[test]
    fn cursors_match_searching_with_gaps_and_late_starts() {
        let start = NaiveDate::from_ymd_opt(2020, 1, 1).expect("date");
        let mut rng = crate::test_rng::XorShift::new(0x5eed);
        let mut next = |n: u64| rng.below(n);
        let mut history = History::default();
        let tradables: Vec<String> = ["A", "B", "C"].map(String::from).to_vec();
        for (k, sym) in tradables.iter().enumerate() {
            let mut s = Series::default();
            for d in (k as u64 * 30)..400 {
                if next(7) == 0 {
                    continue; // a missing bar
                }
                s.dates.push(start + chrono::Days::new(d));
                s.open.push(100.0 + d as f64);
                s.close.push(200.0 + d as f64 + k as f64);
                s.high.push(300.0);
                s.low.push(50.0);
                s.volume.push(1.0);
            }
            history.series.insert(sym.clone(), s);
        }
        let mut cursors: Vec<Cursor> = tradables.iter().map(|s| Cursor::new(&history, s)).collect();
        let mut closes = BTreeMap::new();
        let days: Vec<NaiveDate> = (0..420).map(|d| start + chrono::Days::new(d)).collect();
        for (i, &date) in days.iter().enumerate() {
            let all = update_last_closes(&mut closes, &mut cursors, date);
            assert_eq!(closes, history.last_closes(&tradables, date), "{date}");
            let traded: Vec<&String> = tradables
                .iter()
                .filter(|s| bar_on(&history, s, date).is_some())
                .collect();
            assert_eq!(all, traded.len() == tradables.len(), "{date}");
            for (fill, fd) in [
                (Fill::Close, Some(date)),
                (Fill::NextOpen, days.get(i + 1).copied()),
            ] {
                let got = fill_prices(fill, fd, &history, &tradables, &closes, all);
                let want: BTreeMap<String, f64> = fd
                    .map(|fd| {
                        tradables
                            .iter()
                            .filter_map(|s| {
                                let (o, c) = bar_on(&history, s, fd)?;
                                Some((s.clone(), if fill == Fill::Close { c } else { o }))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                assert_eq!(*got, want, "{date} {fill:?}");
            }
        }
    }
}
