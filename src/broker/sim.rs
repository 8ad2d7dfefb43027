//! `sim`: the built-in simulated account. Fills immediately at the quote with the cost
//! model's slippage and commission; rejects what a real broker would (no cash, no
//! shares, limit not marketable). Persistent as `state/sim/account.json` for the daily
//! jobs; in memory for the backtest, so both use one fill model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{
    AccountInfo, Broker, BrokerError, BrokerOrder, ClientOrderId, OrderRequest, OrderStatus,
};
use crate::model::Side;
use crate::portfolio::CostModel;

/// The simulated book: cash, positions and every order ever submitted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimBook {
    pub cash_cents: i64,
    pub positions: BTreeMap<String, i64>,
    pub orders: BTreeMap<ClientOrderId, BrokerOrder>,
}

impl SimBook {
    /// Invariants of a loaded account; each problem names its field and value.
    pub fn check(&self) -> Vec<String> {
        let mut out = Vec::new();
        crate::state::check_cents(&mut out, "cash_cents", self.cash_cents);
        for (sym, q) in &self.positions {
            crate::state::check_shares(&mut out, &format!("positions.{sym}"), *q, 1);
        }
        for (id, o) in &self.orders {
            let f = |k: &str| format!("orders.{}.{k}", id.0);
            if o.client_order_id != *id {
                out.push(format!(
                    "{} = {}: differs from its key",
                    f("client_order_id"),
                    o.client_order_id.0
                ));
            }
            // A rejected request is kept as it came (even qty -5); it filled nothing.
            if o.status != OrderStatus::Rejected {
                crate::state::check_shares(&mut out, &f("qty"), o.qty, 0);
            }
            if !(0..=o.qty.max(0)).contains(&o.filled_qty) {
                out.push(format!(
                    "{} = {}: must be between 0 and qty ({})",
                    f("filled_qty"),
                    o.filled_qty,
                    o.qty
                ));
            }
            crate::state::check_cents(&mut out, &f("commission_cents"), o.commission_cents);
            if let Some(p) = o.avg_fill_price
                && !(p.is_finite() && p > 0.0 && p <= MAX_PRICE)
            {
                out.push(format!(
                    "{} = {}: must be a finite price between 0 and {MAX_PRICE:e}",
                    f("avg_fill_price"),
                    crate::state::show_num(p)
                ));
            }
        }
        out
    }

    /// Symbols held that the config's universe does not hold.
    pub fn check_universe(&self, universe: &[String]) -> Vec<String> {
        self.positions
            .iter()
            .filter(|(s, _)| !universe.iter().any(|u| u == *s))
            .map(|(s, q)| format!("positions.{s} = {q}"))
            .collect()
    }
}

/// The highest fill price an account file may record, in dollars.
pub const MAX_PRICE: f64 = 1e9;

/// Read and check the account file at `path`: `Ok(None)` when it does not exist; an error
/// naming the file, field and value otherwise.
pub fn read_book(path: &Path) -> Result<Option<SimBook>, BrokerError> {
    let err = |message: String| BrokerError::Other {
        broker: "sim".into(),
        message,
    };
    let bytes = match crate::fsutil::read_regular(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(format!("{}: {e}", path.display()))),
    };
    let book: SimBook = crate::state::store::from_json(&bytes).map_err(|e| {
        err(format!(
            "{}: not a valid simulated account: {e}",
            path.display()
        ))
    })?;
    let problems = book.check();
    if !problems.is_empty() {
        return Err(err(format!(
            "{}: invalid simulated account: {} (fix or remove the file by hand; nothing was changed)",
            path.display(),
            problems.join("; ")
        )));
    }
    Ok(Some(book))
}

/// The simulator with the day's quotes.
#[derive(Debug, Clone)]
pub struct SimBroker {
    pub book: SimBook,
    pub quotes: BTreeMap<String, f64>,
    pub cost: CostModel,
    path: Option<PathBuf>,
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
            path: None,
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
        let sim = SimBroker {
            book,
            quotes: BTreeMap::new(),
            cost,
            path: Some(path),
        };
        if created {
            sim.persist()?;
        }
        Ok((sim, created))
    }

    /// Write the book atomically (no-op in memory).
    pub fn persist(&self) -> Result<(), BrokerError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        // Never write an account the next load would refuse.
        let problems = self.book.check();
        if !problems.is_empty() {
            return Err(BrokerError::Other {
                broker: "sim".into(),
                message: format!(
                    "{}: refusing to save an invalid account ({}); the file is unchanged",
                    path.display(),
                    problems.join("; ")
                ),
            });
        }
        let bytes = serde_json::to_vec_pretty(&self.book).map_err(|e| BrokerError::Other {
            broker: "sim".into(),
            message: e.to_string(),
        })?;
        crate::fsutil::write_atomic(path, &bytes).map_err(|e| BrokerError::Other {
            broker: "sim".into(),
            message: format!("{}: {e}", path.display()),
        })
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
            submitted_at: None,
            updated_at: None,
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
                .ok_or_else(|| BrokerError::Other {
                    broker: "sim".into(),
                    message: format!("equity of {qty} {sym} at {price} is out of range"),
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

    fn open_orders(&mut self) -> Result<Vec<BrokerOrder>, BrokerError> {
        // Fills are immediate, so nothing is ever left open.
        Ok(Vec::new())
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
        if o.qty <= 0 {
            return Ok(self.reject(o, format!("qty {} must be > 0", o.qty)));
        }
        let quote = self.quote(&o.symbol)?;
        let price = self.cost.fill_price(o.side, quote);
        if let Some(limit) = o.limit_price {
            let crosses = match o.side {
                Side::Buy => price <= limit,
                Side::Sell => price >= limit,
            };
            if !crosses {
                return Ok(self.reject(o, format!("fill {price} outside limit {limit}")));
            }
        }
        // Checked: an amount or a position that would leave the representable range is
        // rejected like any order a broker cannot book, never wrapped.
        let held = self.book.positions.get(&o.symbol).copied().unwrap_or(0);
        let (Some(delta), Some(commission)) = (
            self.cost.try_cash_delta_cents(o.side, o.qty, quote),
            self.cost.try_commission_cents(o.qty),
        ) else {
            return Ok(self.reject(o, format!("amount of {} {} out of range", o.qty, o.symbol)));
        };
        let cash = self
            .book
            .cash_cents
            .checked_add(delta)
            .filter(|c| crate::money::cents_in_range(*c));
        let after = match o.side {
            Side::Buy => held.checked_add(o.qty),
            Side::Sell => held.checked_sub(o.qty),
        }
        .filter(|q| *q <= crate::money::MAX_SHARES);
        let (cash, after) = match (cash, after) {
            (Some(c), _) if c < 0 => {
                return Ok(self.reject(o, format!("insufficient cash for {} {}", o.qty, o.symbol)));
            }
            (_, Some(a)) if a < 0 => {
                return Ok(self.reject(
                    o,
                    format!("holds {held} {}, cannot sell {}", o.symbol, o.qty),
                ));
            }
            (Some(c), Some(a)) => (c, a),
            _ => {
                return Ok(self.reject(o, format!("amount of {} {} out of range", o.qty, o.symbol)));
            }
        };
        self.book.cash_cents = cash;
        if after == 0 {
            self.book.positions.remove(&o.symbol);
        } else {
            self.book.positions.insert(o.symbol.clone(), after);
        }
        let order = BrokerOrder {
            filled_qty: o.qty,
            avg_fill_price: Some(price),
            commission_cents: commission,
            status: OrderStatus::Filled,
            ..self.booked(o)
        };
        self.book
            .orders
            .insert(o.client_order_id.clone(), order.clone());
        Ok(order)
    }

    fn order_by_client_id(
        &mut self,
        id: &ClientOrderId,
    ) -> Result<Option<BrokerOrder>, BrokerError> {
        Ok(self.book.orders.get(id).cloned())
    }

    fn cancel(&mut self, id: &ClientOrderId) -> Result<(), BrokerError> {
        match self.book.orders.get(id) {
            Some(o) if o.status == OrderStatus::New => Err(BrokerError::Other {
                broker: "sim".into(),
                message: format!("order {} cannot be open in the simulator", id.0),
            }),
            Some(_) => Ok(()),
            None => Err(BrokerError::Other {
                broker: "sim".into(),
                message: format!("unknown order {}", id.0),
            }),
        }
    }
}

#[cfg(test)]
#[path = "sim_tests.rs"]
mod tests;
