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
        let err = |message: String| BrokerError::Other {
            broker: "sim".into(),
            message,
        };
        let (book, created) = match std::fs::read(&path) {
            Ok(bytes) => (
                serde_json::from_slice(&bytes).map_err(|e| {
                    err(format!(
                        "{}: not a valid simulated account: {e}",
                        path.display()
                    ))
                })?,
                false,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (
                SimBook {
                    cash_cents: initial_cents,
                    ..SimBook::default()
                },
                true,
            ),
            Err(e) => return Err(err(format!("{}: {e}", path.display()))),
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
        let bytes = serde_json::to_vec_pretty(&self.book).map_err(|e| BrokerError::Other {
            broker: "sim".into(),
            message: e.to_string(),
        })?;
        crate::fsutil::write_atomic(path, &bytes).map_err(|e| BrokerError::Other {
            broker: "sim".into(),
            message: format!("{}: {e}", path.display()),
        })
    }

    fn reject(&mut self, o: &OrderRequest, reason: String) -> BrokerOrder {
        let order = BrokerOrder {
            client_order_id: o.client_order_id.clone(),
            symbol: o.symbol.clone(),
            side: o.side,
            qty: o.qty,
            filled_qty: 0,
            avg_fill_price: None,
            commission_cents: 0,
            status: OrderStatus::Rejected,
            reason: Some(reason),
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
        Ok(AccountInfo {
            cash_cents: self.book.cash_cents,
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
        let delta = self.cost.cash_delta_cents(o.side, o.qty, quote);
        let held = self.book.positions.get(&o.symbol).copied().unwrap_or(0);
        match o.side {
            Side::Buy if self.book.cash_cents + delta < 0 => {
                return Ok(self.reject(o, format!("insufficient cash for {} {}", o.qty, o.symbol)));
            }
            Side::Sell if held < o.qty => {
                return Ok(self.reject(
                    o,
                    format!("holds {held} {}, cannot sell {}", o.symbol, o.qty),
                ));
            }
            _ => {}
        }
        self.book.cash_cents += delta;
        let pos = self.book.positions.entry(o.symbol.clone()).or_default();
        *pos += match o.side {
            Side::Buy => o.qty,
            Side::Sell => -o.qty,
        };
        if *pos == 0 {
            self.book.positions.remove(&o.symbol);
        }
        let order = BrokerOrder {
            client_order_id: o.client_order_id.clone(),
            symbol: o.symbol.clone(),
            side: o.side,
            qty: o.qty,
            filled_qty: o.qty,
            avg_fill_price: Some(price),
            commission_cents: self.cost.commission_cents(o.qty),
            status: OrderStatus::Filled,
            reason: None,
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
