//! The sim venue's persistent book (`state/sim/account.json`): cash, positions, every order
//! by client id and a poll counter per order; its invariants and the checked read.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{BrokerError, BrokerOrder, ClientOrderId, OrderStatus};

/// The simulated book: cash, positions and every order ever submitted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimBook {
    pub cash_cents: i64,
    pub positions: BTreeMap<String, i64>,
    pub orders: BTreeMap<ClientOrderId, BrokerOrder>,
    /// How often each open order was looked up (`fill_after` counts these).
    #[serde(default)]
    pub polls: BTreeMap<ClientOrderId, u32>,
    /// The account's id as `standing()` reports it (`sim-paper`, `sim-live` when the factory
    /// created it; `sim` for an account written before ids existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The venue refuses to trade the account (a test of the blocked-account refusal).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub trading_blocked: bool,
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
