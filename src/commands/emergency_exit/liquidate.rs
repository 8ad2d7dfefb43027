//! The broker side of `emergency-exit`: cancel every open order, sell every position with
//! marketable limits, poll until flat, retry what is left. Knows only the [`Broker`] trait
//! (no state, no files), so it is tested against a scripted broker.
//!
//! Never resubmits a client order id: each liquidation order gets the next free attempt
//! number of `emx-<date>-<symbol>-sell-<n>` (ids already known to the broker are skipped), and
//! a sell is sized from the broker's position minus what open sell orders still cover, so an
//! order whose reply was lost is never doubled.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::NaiveDate;

use crate::broker::{Broker, BrokerError, BrokerOrder, ClientOrderId, OrderRequest};
use crate::model::Side;

/// Tag of emergency-exit orders in client order ids.
pub const TAG: &str = "emx";

/// Rounds of "sell what is left" before giving up.
pub const MAX_ATTEMPTS: u32 = 3;

/// Immediate resends of a request that did not reach the broker (`Retryable`).
const RESENDS: u32 = 3;

/// How the liquidation runs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub date: NaiveDate,
    pub collar_pct: f64,
    pub poll_interval: Duration,
    pub fill_timeout: Duration,
    pub max_attempts: u32,
    /// Symbols to look up earlier liquidation orders of the date in (besides those held or
    /// with an open order): the universe.
    pub symbols: Vec<String>,
}

/// One sell the plan (or a retry) makes.
#[derive(Debug, Clone, PartialEq)]
pub struct Sell {
    pub symbol: String,
    pub qty: i64,
    /// `None` when the broker has no quote for it (it cannot be priced).
    pub quote: Option<f64>,
    pub limit: Option<f64>,
}

/// What emergency-exit will do, from the broker's view right now.
#[derive(Debug, Clone)]
pub struct Plan {
    pub cancels: Vec<BrokerOrder>,
    pub sells: Vec<Sell>,
}

/// A liquidation order as it ended, with the quote it was priced from.
#[derive(Debug, Clone)]
pub struct Placed {
    pub order: BrokerOrder,
    pub quote: f64,
}

/// What the liquidation did and what it left.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Open orders found and asked to cancel, as they ended.
    pub canceled: Vec<BrokerOrder>,
    /// Every liquidation order sent, as it ended.
    pub placed: Vec<Placed>,
    /// Positions the broker still reports at the end.
    pub positions_left: BTreeMap<String, i64>,
    /// Orders the broker still reports open at the end.
    pub orders_left: Vec<BrokerOrder>,
    /// What went wrong on the way, one line each (per symbol or order).
    pub problems: Vec<String>,
    /// Rounds of selling used.
    pub attempts: u32,
    /// Liquidation orders of the date an earlier run sent (found by their ids), as they
    /// stand: a run killed before its ledger write leaves them for the next one to record.
    pub earlier: Vec<BrokerOrder>,
}

impl Outcome {
    pub fn flat(&self) -> bool {
        self.positions_left.is_empty() && self.orders_left.is_empty()
    }

    /// Shares sold per symbol.
    pub fn sold(&self) -> BTreeMap<String, i64> {
        let mut out = BTreeMap::new();
        for p in self.placed.iter().filter(|p| p.order.filled_qty > 0) {
            *out.entry(p.order.symbol.clone()).or_insert(0) += p.order.filled_qty;
        }
        out
    }

    /// Sale proceeds after commission, in cents (`None` if out of range).
    pub fn proceeds_cents(&self) -> Option<i64> {
        let mut total: i64 = 0;
        for p in &self.placed {
            let o = &p.order;
            if o.filled_qty == 0 {
                continue;
            }
            let gross = crate::money::notional_cents(o.filled_qty, o.avg_fill_price?)?;
            total = total.checked_add(gross)?.checked_sub(o.commission_cents)?;
        }
        Some(total)
    }
}

/// The sell limit: `collar_pct` below the quote, rounded down to the cent (more marketable),
/// at least one cent.
pub fn collar_price(quote: f64, collar_pct: f64) -> f64 {
    let p = quote * (1.0 - collar_pct / 100.0);
    ((p * 100.0).floor() / 100.0).max(0.01)
}

/// A broker error that means the broker cannot be used at all: stop (exit 5).
fn fatal(e: &BrokerError) -> bool {
    matches!(
        e,
        BrokerError::Unauthorized { .. } | BrokerError::Unavailable { .. }
    )
}

/// What to do, without doing anything.
pub fn plan(broker: &mut dyn Broker, collar_pct: f64) -> Result<Plan, BrokerError> {
    let cancels = broker.open_orders()?;
    let positions = broker.positions()?;
    Ok(Plan {
        sells: sells_for(broker, &positions, &cancels, collar_pct, false)?,
        cancels,
    })
}

/// The sells that flatten `positions`, less what open sell orders in `open` still cover
/// (`net`; the plan shows whole positions since it cancels those orders first).
fn sells_for(
    broker: &mut dyn Broker,
    positions: &BTreeMap<String, i64>,
    open: &[BrokerOrder],
    collar_pct: f64,
    net: bool,
) -> Result<Vec<Sell>, BrokerError> {
    let mut out = Vec::new();
    for (sym, held) in positions {
        let covered: i64 = if net {
            open.iter()
                .filter(|o| o.symbol == *sym && o.side == Side::Sell)
                .map(BrokerOrder::remaining)
                .sum()
        } else {
            0
        };
        let qty = held.saturating_sub(covered);
        if qty <= 0 {
            continue;
        }
        let quote = match broker.quote(sym) {
            Ok(q) if q.is_finite() && q > 0.0 => Some(q),
            Ok(_) | Err(BrokerError::NoQuote { .. }) => None,
            Err(e) if fatal(&e) => return Err(e),
            Err(_) => None,
        };
        out.push(Sell {
            symbol: sym.clone(),
            qty,
            quote,
            limit: quote.map(|q| collar_price(q, collar_pct)),
        });
    }
    Ok(out)
}

/// Cancel everything, sell everything, poll, retry; then read what is left.
pub fn run(
    broker: &mut dyn Broker,
    s: &Settings,
    log: &mut dyn FnMut(&str),
) -> Result<Outcome, BrokerError> {
    let mut out = Outcome::default();
    let open = broker.open_orders()?;
    let ids: Vec<ClientOrderId> = open.iter().map(|o| o.client_order_id.clone()).collect();
    cancel_each(broker, &ids, &mut out.problems)?;
    let ended = wait_final(broker, &ids, s)?;
    out.canceled = open
        .into_iter()
        .map(|o| ended.get(&o.client_order_id).cloned().unwrap_or(o))
        .collect();
    let mut next_n: BTreeMap<String, u32> = BTreeMap::new();
    let mut scan: Vec<String> = s.symbols.clone();
    scan.extend(broker.positions()?.into_keys());
    scan.extend(out.canceled.iter().map(|o| o.symbol.clone()));
    scan.sort();
    scan.dedup();
    for sym in scan {
        let mut n = 1;
        loop {
            let id = ClientOrderId::new(TAG, s.date, &sym, Side::Sell, n);
            match broker.order_by_client_id(&id)? {
                Some(o) => out.earlier.push(o),
                None => break,
            }
            n += 1;
        }
        next_n.insert(sym, n);
    }
    for attempt in 1..=s.max_attempts.max(1) {
        let positions = broker.positions()?;
        let open = broker.open_orders()?;
        if positions.is_empty() && open.is_empty() {
            break;
        }
        if attempt > 1 {
            log(&format!(
                "attempt {attempt}: {} position(s) and {} open order(s) left",
                positions.len(),
                open.len()
            ));
        }
        out.attempts = attempt;
        // Orders still open from a cancel that did not take: ask again.
        let stale: Vec<ClientOrderId> = open.iter().map(|o| o.client_order_id.clone()).collect();
        if attempt > 1 {
            cancel_each(broker, &stale, &mut out.problems)?;
        }
        let mut sent = Vec::new();
        for sell in sells_for(broker, &positions, &open, s.collar_pct, true)? {
            let (Some(quote), Some(limit)) = (sell.quote, sell.limit) else {
                out.problems.push(format!(
                    "{}: no quote, {} share(s) not sold",
                    sell.symbol, sell.qty
                ));
                continue;
            };
            let id = next_id(broker, s.date, &sell.symbol, &mut next_n)?;
            let req =
                OrderRequest::day(id.clone(), &sell.symbol, Side::Sell, sell.qty, Some(limit));
            match submit(broker, &req, s)? {
                Ok(order) => {
                    if let Some(r) = order.reason.as_deref().filter(|_| order.status.is_final())
                        && order.filled_qty == 0
                    {
                        out.problems.push(format!(
                            "{}: {} {}: {r}",
                            sell.symbol,
                            id.0,
                            order.status.as_str()
                        ));
                    }
                    sent.push(Placed { order, quote });
                }
                Err(problem) => out
                    .problems
                    .push(format!("{}: {} {problem}", sell.symbol, id.0)),
            }
        }
        let ids: Vec<ClientOrderId> = sent
            .iter()
            .filter(|p| !p.order.status.is_final())
            .map(|p| p.order.client_order_id.clone())
            .collect();
        let mut ended = wait_final(broker, &ids, s)?;
        let unfilled: Vec<ClientOrderId> = ids
            .iter()
            .filter(|id| ended.get(*id).is_none_or(|o| !o.status.is_final()))
            .cloned()
            .collect();
        if !unfilled.is_empty() {
            cancel_each(broker, &unfilled, &mut out.problems)?;
            ended.extend(wait_final(broker, &unfilled, s)?);
        }
        out.placed.extend(sent.into_iter().map(|p| {
            Placed {
                order: ended
                    .get(&p.order.client_order_id)
                    .cloned()
                    .unwrap_or(p.order),
                quote: p.quote,
            }
        }));
    }
    out.positions_left = broker.positions()?;
    out.orders_left = broker.open_orders()?;
    Ok(out)
}

/// Submit, resending a request that did not reach the broker; a lost reply is looked up by
/// its id, never resent under another. `Ok(Err(problem))` is a per-symbol failure.
fn submit(
    broker: &mut dyn Broker,
    req: &OrderRequest,
    s: &Settings,
) -> Result<Result<BrokerOrder, String>, BrokerError> {
    let mut tries = 0;
    loop {
        tries += 1;
        match broker.submit(req) {
            Ok(o) => return Ok(Ok(o)),
            Err(e) if fatal(&e) => return Err(e),
            Err(BrokerError::Retryable { detail, .. }) => {
                if tries >= RESENDS {
                    return Ok(Err(format!("not sent after {tries} tries: {detail}")));
                }
                std::thread::sleep(s.poll_interval);
            }
            Err(BrokerError::OutcomeUnknown { detail, .. }) => {
                for _ in 0..RESENDS {
                    match broker.order_by_client_id(&req.client_order_id) {
                        Ok(Some(o)) => return Ok(Ok(o)),
                        Ok(None) => {}
                        Err(e) if fatal(&e) => return Err(e),
                        Err(_) => {}
                    }
                    std::thread::sleep(s.poll_interval);
                }
                return Ok(Err(format!(
                    "outcome unknown ({detail}) and not found by its id: not resent"
                )));
            }
            Err(e) => return Ok(Err(e.to_string())),
        }
    }
}

/// The next client order id for a sell of `symbol` that the broker has never seen.
fn next_id(
    broker: &mut dyn Broker,
    date: NaiveDate,
    symbol: &str,
    next_n: &mut BTreeMap<String, u32>,
) -> Result<ClientOrderId, BrokerError> {
    let n = next_n.entry(symbol.to_string()).or_insert(1);
    loop {
        let id = ClientOrderId::new(TAG, date, symbol, Side::Sell, *n);
        *n += 1;
        match broker.order_by_client_id(&id) {
            Ok(None) => return Ok(id),
            Ok(Some(_)) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Ask each order to cancel; a refusal is noted (the order may have filled meanwhile).
fn cancel_each(
    broker: &mut dyn Broker,
    ids: &[ClientOrderId],
    problems: &mut Vec<String>,
) -> Result<(), BrokerError> {
    for id in ids {
        match broker.cancel(id) {
            Ok(()) => {}
            Err(e) if fatal(&e) => return Err(e),
            Err(e) => problems.push(format!("cancel {}: {e}", id.0)),
        }
    }
    Ok(())
}

/// Poll the orders until each is final or `fill_timeout` has passed; returns the last seen.
fn wait_final(
    broker: &mut dyn Broker,
    ids: &[ClientOrderId],
    s: &Settings,
) -> Result<BTreeMap<ClientOrderId, BrokerOrder>, BrokerError> {
    let mut seen = BTreeMap::new();
    let mut pending: Vec<ClientOrderId> = ids.to_vec();
    let deadline = Instant::now() + s.fill_timeout;
    loop {
        let mut still = Vec::new();
        for id in pending {
            match broker.order_by_client_id(&id) {
                Ok(Some(o)) => {
                    let done = o.status.is_final();
                    seen.insert(id.clone(), o);
                    if !done {
                        still.push(id);
                    }
                }
                Ok(None) => {}
                Err(e) if fatal(&e) => return Err(e),
                Err(_) => still.push(id),
            }
        }
        pending = still;
        if pending.is_empty() || Instant::now() >= deadline {
            return Ok(seen);
        }
        std::thread::sleep(
            s.poll_interval
                .min(deadline.saturating_duration_since(Instant::now())),
        );
    }
}

#[cfg(test)]
#[path = "liquidate_tests.rs"]
mod tests;
