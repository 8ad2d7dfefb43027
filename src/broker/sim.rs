//! `sim`: the built-in simulated venue. A marketable order fills at the quote with the cost
//! model's slippage and commission; a limit not reached rests as `New`; it rejects what a
//! real broker would (no cash, no shares). Faults ([`SimFaults`]) make it fill partly, late,
//! reject a symbol or lose a reply. Persistent as `state/sim/account.json` (cash, positions,
//! every order, poll counters; saved after every change) for the daily jobs; in memory for
//! the backtest, so both use one fill model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

pub use super::sim_book::{MAX_PRICE, SimBook, read_book};
pub use super::sim_faults::SimFaults;
use super::{
    AccountInfo, AccountStanding, Broker, BrokerError, BrokerOrder, ClientOrderId, Execution,
    OrderRequest, OrderStatus, TimeInForce,
};
use crate::model::Side;
use crate::portfolio::CostModel;

/// The simulator with the day's quotes.
#[derive(Debug, Clone)]
pub struct SimBroker {
    pub book: SimBook,
    pub quotes: BTreeMap<String, f64>,
    pub cost: CostModel,
    /// Faults in force (none by default).
    pub faults: SimFaults,
    /// The venue's clock for submitted/updated/execution times (the job's clock; the epoch
    /// in a backtest, which has no use for times).
    pub now: DateTime<Utc>,
    /// The close of the session the day's orders belong to: a limit-on-close order fills only
    /// once `now` is at or after it (`None`: no session, it never fills).
    pub session_close: Option<DateTime<Utc>>,
    /// The session's official closes (the bar store's close of the date): the price a
    /// limit-on-close order fills at.
    pub official_closes: BTreeMap<String, f64>,
    path: Option<PathBuf>,
    /// How many orders of the book are not final: the reservations below are only summed
    /// when some are (a backtest's thousands of filled orders are never scanned).
    open: usize,
}

fn other(message: String) -> BrokerError {
    BrokerError::Other {
        broker: "sim".into(),
        message,
    }
}

impl SimBroker {
    /// An in-memory account with `cash_cents` (backtests).
    pub fn in_memory(cash_cents: i64, cost: CostModel) -> SimBroker {
        SimBroker {
            book: SimBook {
                cash_cents,
                ..SimBook::default()
            },
            quotes: BTreeMap::new(),
            cost,
            faults: SimFaults::default(),
            now: DateTime::UNIX_EPOCH,
            session_close: None,
            official_closes: BTreeMap::new(),
            path: None,
            open: 0,
        }
    }

    /// Open the persistent account under `dir`, creating it with `initial_cents` on first use.
    pub fn open(
        dir: &Path,
        initial_cents: i64,
        cost: CostModel,
    ) -> Result<(SimBroker, bool), BrokerError> {
        let path = dir.join("account.json");
        let (book, created) = match read_book(&path)? {
            Some(book) => (book, false),
            None => (
                SimBook {
                    cash_cents: initial_cents,
                    ..SimBook::default()
                },
                true,
            ),
        };
        let open = book
            .orders
            .values()
            .filter(|o| !o.status.is_final())
            .count();
        let sim = SimBroker {
            open,
            book,
            quotes: BTreeMap::new(),
            cost,
            faults: SimFaults::default(),
            now: DateTime::UNIX_EPOCH,
            session_close: None,
            official_closes: BTreeMap::new(),
            path: Some(path),
        };
        if created {
            sim.persist()?;
        }
        Ok((sim, created))
    }

    /// Write the book atomically (no-op in memory). Called after every change: the venue is
    /// a system apart from trader's state, and a crash of trader never loses an order of it.
    pub fn persist(&self) -> Result<(), BrokerError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        // Never write an account the next load would refuse.
        let problems = self.book.check();
        if !problems.is_empty() {
            return Err(other(format!(
                "{}: refusing to save an invalid account ({}); the file is unchanged",
                path.display(),
                problems.join("; ")
            )));
        }
        let bytes = serde_json::to_vec_pretty(&self.book).map_err(|e| other(e.to_string()))?;
        // Replaced atomically after every change (a killed trader never loses a venue-side
        // order), not fsynced: see `fsutil::write_atomic_unsynced`.
        crate::fsutil::write_atomic_unsynced(path, &bytes)
            .map_err(|e| other(format!("{}: {e}", path.display())))
    }

    /// The venue's record of a new order: nothing filled, status `New`.
    fn booked(&self, o: &OrderRequest) -> BrokerOrder {
        BrokerOrder {
            client_order_id: o.client_order_id.clone(),
            broker_order_id: format!("sim-{}", self.book.orders.len() + 1),
            symbol: o.symbol.clone(),
            side: o.side,
            qty: o.qty,
            order_type: o.order_type,
            time_in_force: o.time_in_force,
            limit_price: o.limit_price,
            filled_qty: 0,
            avg_fill_price: None,
            commission_cents: 0,
            status: OrderStatus::New,
            reason: None,
            executions: Vec::new(),
            submitted_at: Some(self.now),
            updated_at: Some(self.now),
        }
    }

    /// The price an account is valued at: the day's quote, else the last fill in the symbol.
    fn mark(&self, symbol: &str) -> Option<f64> {
        self.quotes.get(symbol).copied().or_else(|| {
            self.book
                .orders
                .values()
                .filter(|o| o.symbol == symbol)
                .filter_map(|o| o.avg_fill_price)
                .next_back()
        })
    }

    fn reject(&mut self, o: &OrderRequest, reason: String) -> BrokerOrder {
        let order = BrokerOrder {
            status: OrderStatus::Rejected,
            reason: Some(reason),
            ..self.booked(o)
        };
        self.book
            .orders
            .insert(o.client_order_id.clone(), order.clone());
        order
    }

    /// Shares of `symbol` committed to open sell orders (not yet filled).
    fn reserved_to_sell(&self, symbol: &str) -> i64 {
        if self.open == 0 {
            return 0;
        }
        self.book
            .orders
            .values()
            .filter(|o| o.symbol == symbol && o.side == Side::Sell && !o.status.is_final())
            .map(BrokerOrder::remaining)
            .sum()
    }

    /// The price an open order's rest is valued at: the quote, else its limit.
    fn open_order_price(&self, o: &BrokerOrder) -> f64 {
        self.quotes
            .get(&o.symbol)
            .copied()
            .or(o.limit_price)
            .unwrap_or(0.0)
    }

    /// Cash committed to open buy orders (their unfilled rest at the quote, or at the limit
    /// without one, commission included): buying power a new buy cannot use.
    fn reserved_cash(&self) -> i64 {
        if self.open == 0 {
            return 0;
        }
        self.book
            .orders
            .values()
            .filter(|o| o.side == Side::Buy && !o.status.is_final())
            .map(|o| {
                -self
                    .cost
                    .cash_delta_cents(Side::Buy, o.remaining(), self.open_order_price(o))
            })
            .fold(0, i64::saturating_add)
    }

    /// The cost model of a fill: the closing auction fills at the official close itself (no
    /// slippage), every other order at the quote with the model's slippage.
    fn cost_for(&self, tif: TimeInForce) -> CostModel {
        match tif {
            TimeInForce::Cls => CostModel {
                slippage: 0.0,
                ..self.cost
            },
            _ => self.cost,
        }
    }

    /// What the open limit-on-close sells bring at the quote (their limit without one): a
    /// limit-on-close buy may count on it, since the auction fills the sells first.
    fn cls_sell_credit(&self) -> i64 {
        if self.open == 0 {
            return 0;
        }
        self.book
            .orders
            .values()
            .filter(|o| {
                o.side == Side::Sell && o.time_in_force == TimeInForce::Cls && !o.status.is_final()
            })
            .map(|o| {
                self.cost_for(TimeInForce::Cls).cash_delta_cents(
                    Side::Sell,
                    o.remaining(),
                    self.open_order_price(o),
                )
            })
            .fold(0, i64::saturating_add)
    }

    /// Why an order of `qty` cannot be booked now (cash, shares, range), if it cannot.
    fn refusal(&self, o: &OrderRequest, qty: i64, quote: f64) -> Option<String> {
        self.refusal_with(o, qty, quote, 0)
    }

    /// [`Self::refusal`] with `reserved` cents of the cash already committed elsewhere.
    fn refusal_with(
        &self,
        o: &OrderRequest,
        qty: i64,
        quote: f64,
        reserved: i64,
    ) -> Option<String> {
        let held = self.book.positions.get(&o.symbol).copied().unwrap_or(0);
        let cost = self.cost_for(o.time_in_force);
        let (Some(delta), Some(_)) = (
            cost.try_cash_delta_cents(o.side, qty, quote),
            cost.try_commission_cents(qty),
        ) else {
            return Some(format!("amount of {qty} {} out of range", o.symbol));
        };
        let cash = self
            .book
            .cash_cents
            .checked_sub(reserved)
            .and_then(|c| c.checked_add(delta))
            .filter(|c| crate::money::cents_in_range(*c));
        let after = match o.side {
            Side::Buy => held.checked_add(qty),
            Side::Sell => held.checked_sub(qty),
        }
        .filter(|q| *q <= crate::money::MAX_SHARES);
        match (cash, after) {
            (Some(c), _) if c < 0 => Some(format!("insufficient cash for {qty} {}", o.symbol)),
            (_, Some(a)) if a < 0 => Some(format!("holds {held} {}, cannot sell {qty}", o.symbol)),
            (Some(_), Some(_)) => None,
            _ => Some(format!("amount of {qty} {} out of range", o.symbol)),
        }
    }

    /// Fill what the faults allow of an open order, if its limit is reached at the day's
    /// quote and it was polled often enough. Returns whether the order changed.
    fn try_fill(&mut self, id: &ClientOrderId) -> bool {
        let Some(o) = self.book.orders.get(id) else {
            return false;
        };
        if o.status.is_final() || o.filled_qty > 0 {
            // A partial fill's remainder rests until it is cancelled.
            return false;
        }
        let cls = o.time_in_force == TimeInForce::Cls;
        let polls = self.book.polls.get(id).copied().unwrap_or(0);
        if !cls && polls < self.faults.fill_after {
            return false;
        }
        let (quote, price) = if cls {
            // The closing auction: nothing before the close; then the official close itself.
            if self.session_close.is_none_or(|c| self.now < c) {
                return false;
            }
            let Some(close) = self.official_closes.get(&o.symbol).copied() else {
                return false;
            };
            (close, close)
        } else {
            let Some(quote) = self.quotes.get(&o.symbol).copied() else {
                return false;
            };
            (quote, self.cost.fill_price(o.side, quote))
        };
        if let Some(limit) = o.limit_price {
            let crosses = match o.side {
                Side::Buy => price <= limit,
                Side::Sell => price >= limit,
            };
            if !crosses {
                if cls {
                    // The auction is over: a limit it did not reach expires unfilled.
                    if let Some(o) = self.book.orders.get_mut(id) {
                        o.status = OrderStatus::Expired;
                        o.reason = Some(format!(
                            "closing auction at {close:.2} did not reach the limit {limit:.2}",
                            close = price
                        ));
                        o.updated_at = Some(self.now);
                        self.open = self.open.saturating_sub(1);
                    }
                    return true;
                }
                return false;
            }
        }
        let qty = if cls {
            o.qty
        } else {
            self.faults.fill_qty(o.qty)
        };
        if qty <= 0 {
            return false;
        }
        let req = OrderRequest {
            client_order_id: id.clone(),
            symbol: o.symbol.clone(),
            side: o.side,
            qty,
            limit_price: o.limit_price,
            order_type: o.order_type,
            time_in_force: o.time_in_force,
        };
        if let Some(why) = self.refusal(&req, qty, quote) {
            if let Some(o) = self.book.orders.get_mut(id) {
                o.status = OrderStatus::Rejected;
                o.reason = Some(why);
                o.updated_at = Some(self.now);
                self.open = self.open.saturating_sub(1);
            }
            return true;
        }
        // Checked in `refusal` just above.
        let cost = self.cost_for(o.time_in_force);
        let delta = cost.cash_delta_cents(o.side, qty, quote);
        let commission = cost.commission_cents(qty);
        self.book.cash_cents += delta;
        let pos = self.book.positions.entry(req.symbol.clone()).or_default();
        match req.side {
            Side::Buy => *pos += qty,
            Side::Sell => *pos -= qty,
        }
        if *pos == 0 {
            self.book.positions.remove(&req.symbol);
        }
        let now = self.now;
        if let Some(o) = self.book.orders.get_mut(id) {
            o.filled_qty = qty;
            o.avg_fill_price = Some(price);
            o.commission_cents = commission;
            o.status = if qty == o.qty {
                self.open = self.open.saturating_sub(1);
                OrderStatus::Filled
            } else {
                OrderStatus::PartiallyFilled
            };
            o.executions.push(Execution {
                id: format!("{}-1", o.broker_order_id),
                qty,
                price,
                commission_cents: commission,
                at: now,
            });
            o.updated_at = Some(now);
        }
        true
    }
}

impl Broker for SimBroker {
    fn name(&self) -> &str {
        "sim"
    }

    fn account(&mut self) -> Result<AccountInfo, BrokerError> {
        let mut equity = self.book.cash_cents;
        for (sym, qty) in &self.book.positions {
            let price = self.mark(sym).ok_or_else(|| BrokerError::NoQuote {
                broker: "sim".into(),
                symbol: sym.clone(),
            })?;
            equity = crate::money::notional_cents(*qty, price)
                .and_then(|v| equity.checked_add(v))
                .ok_or_else(|| {
                    other(format!("equity of {qty} {sym} at {price} is out of range"))
                })?;
        }
        Ok(AccountInfo {
            cash_cents: self.book.cash_cents,
            buying_power_cents: self.book.cash_cents.max(0),
            equity_cents: equity,
        })
    }

    fn positions(&mut self) -> Result<BTreeMap<String, i64>, BrokerError> {
        Ok(self.book.positions.clone())
    }

    fn standing(&mut self) -> Result<AccountStanding, BrokerError> {
        Ok(AccountStanding {
            account_id: self.book.account_id.clone().unwrap_or_else(|| "sim".into()),
            trading_blocked: self.book.trading_blocked,
            account_blocked: false,
            status: "ACTIVE".to_string(),
        })
    }

    fn open_orders(&mut self) -> Result<Vec<BrokerOrder>, BrokerError> {
        Ok(self
            .book
            .orders
            .values()
            .filter(|o| !o.status.is_final())
            .cloned()
            .collect())
    }

    fn quote(&mut self, symbol: &str) -> Result<f64, BrokerError> {
        self.quotes
            .get(symbol)
            .copied()
            .ok_or_else(|| BrokerError::NoQuote {
                broker: "sim".into(),
                symbol: symbol.into(),
            })
    }

    fn submit(&mut self, o: &OrderRequest) -> Result<BrokerOrder, BrokerError> {
        if let Some(existing) = self.book.orders.get(&o.client_order_id) {
            return Ok(existing.clone());
        }
        let order = if o.qty <= 0 {
            self.reject(o, format!("qty {} must be > 0", o.qty))
        } else if self.faults.reject.contains(&o.symbol) {
            self.reject(
                o,
                format!("{} rejected by the simulator (fault reject)", o.symbol),
            )
        } else {
            let quote = self.quote(&o.symbol)?;
            // A sale may not commit shares another open sale already holds.
            let free = OrderRequest {
                qty: o.qty
                    + if o.side == Side::Sell {
                        self.reserved_to_sell(&o.symbol)
                    } else {
                        0
                    },
                ..o.clone()
            };
            let reserved = if o.side == Side::Buy && o.time_in_force == TimeInForce::Cls {
                self.reserved_cash().saturating_sub(self.cls_sell_credit())
            } else if o.side == Side::Buy {
                self.reserved_cash()
            } else {
                0
            };
            match self.refusal_with(&free, free.qty, quote, reserved) {
                Some(why) => self.reject(o, why),
                None => {
                    let booked = self.booked(o);
                    self.book.orders.insert(o.client_order_id.clone(), booked);
                    self.open += 1;
                    // Marketable at the quote: fills now (unless the faults delay it); a limit
                    // not reached rests as `New`, as a real venue keeps it.
                    self.try_fill(&o.client_order_id);
                    self.book
                        .orders
                        .get(&o.client_order_id)
                        .cloned()
                        .ok_or_else(|| other(format!("order {} vanished", o.client_order_id.0)))?
                }
            }
        };
        self.persist()?;
        if self.faults.lose_reply.contains(&o.symbol) {
            return Err(BrokerError::OutcomeUnknown {
                broker: "sim".into(),
                detail: format!(
                    "reply to order {} lost (fault lose_reply)",
                    o.client_order_id.0
                ),
            });
        }
        Ok(order)
    }

    fn order_by_client_id(
        &mut self,
        id: &ClientOrderId,
    ) -> Result<Option<BrokerOrder>, BrokerError> {
        let open = match self.book.orders.get(id) {
            None => return Ok(None),
            Some(o) => !o.status.is_final(),
        };
        if open {
            *self.book.polls.entry(id.clone()).or_default() += 1;
            self.try_fill(id);
            self.persist()?;
        }
        Ok(self.book.orders.get(id).cloned())
    }

    fn cancel(&mut self, id: &ClientOrderId) -> Result<(), BrokerError> {
        let now = self.now;
        match self.book.orders.get_mut(id) {
            Some(o) if !o.status.is_final() => {
                o.status = OrderStatus::Canceled;
                o.updated_at = Some(now);
                self.open = self.open.saturating_sub(1);
                self.persist()
            }
            Some(_) => Ok(()),
            None => Err(other(format!("unknown order {}", id.0))),
        }
    }
}

#[cfg(test)]
#[path = "sim_tests.rs"]
mod tests;
