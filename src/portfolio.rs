//! From target weights to whole-share orders, shared by every strategy and phase.
//!
//! Shares = floor(equity × weight / price); a minimum cash buffer is kept by scaling
//! buys down; sells come before buys, and buys are sized with the cash the sells
//! actually leave (after slippage and commission). The remainder stays cash and is
//! reported in dollars and percent. Pure: no I/O, no clock.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{OrderIntent, Side};
use crate::money;

/// Slippage and commission assumed for every fill.
#[derive(Debug, Clone, Copy, Default)]
pub struct CostModel {
    /// Adverse slippage as a fraction of price (0.001 = 0.1 %).
    pub slippage: f64,
    /// Dollars per share.
    pub commission_per_share: f64,
}

impl CostModel {
    /// The price a fill gets: adverse slippage, rounded at broker precision.
    pub fn fill_price(&self, side: Side, price: f64) -> f64 {
        let p = match side {
            Side::Buy => price * (1.0 + self.slippage),
            Side::Sell => price * (1.0 - self.slippage),
        };
        money::round_price(p)
    }

    /// Commission of a fill, in cents; `None` beyond ±[`money::MAX_CENTS`] or for a
    /// non-finite rate.
    pub fn try_commission_cents(&self, qty: i64) -> Option<i64> {
        money::try_cents(qty as f64 * self.commission_per_share)
    }

    /// Cash a fill moves: negative for buys, positive for sells, commission included;
    /// `None` when an amount is not representable (checked, never wrapped).
    pub fn try_cash_delta_cents(&self, side: Side, qty: i64, price: f64) -> Option<i64> {
        let gross = money::notional_cents(qty, self.fill_price(side, price))?;
        let fee = self.try_commission_cents(qty)?;
        match side {
            Side::Buy => gross.checked_neg()?.checked_sub(fee),
            Side::Sell => gross.checked_sub(fee),
        }
    }

    /// Commission of a fill for the sizing path, whose inputs passed the load checks
    /// ([`Holdings::try_equity_cents`]); an unrepresentable amount saturates at
    /// [`money::MAX_CENTS`] (an order that costs "everything"), never wraps.
    pub fn commission_cents(&self, qty: i64) -> i64 {
        self.try_commission_cents(qty).unwrap_or(money::MAX_CENTS)
    }

    /// [`Self::try_cash_delta_cents`] for the sizing path: an unrepresentable amount counts
    /// as the most a buy could cost or the least a sale could bring (nothing), so sizing stays
    /// on the safe side instead of wrapping.
    pub fn cash_delta_cents(&self, side: Side, qty: i64, price: f64) -> i64 {
        self.try_cash_delta_cents(side, qty, price)
            .unwrap_or(match side {
                Side::Buy => -money::MAX_CENTS,
                Side::Sell => 0,
            })
    }
}

/// What the account holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Holdings {
    pub cash_cents: i64,
    pub positions: BTreeMap<String, i64>,
}

impl Holdings {
    /// Cash plus positions at `prices`, in cents, checked: `None` when a price is not finite
    /// or an amount or the total is beyond ±[`money::MAX_CENTS`]. A position without a price
    /// counts 0. The daily jobs call this on what they load and refuse the day on `None`.
    pub fn try_equity_cents(&self, prices: &BTreeMap<String, f64>) -> Option<i64> {
        let mut total = self.cash_cents;
        for (s, q) in &self.positions {
            if let Some(p) = prices.get(s) {
                total = total.checked_add(money::notional_cents(*q, *p)?)?;
            }
        }
        money::cents_in_range(total).then_some(total)
    }

    /// [`Self::try_equity_cents`] for holdings that passed it (the jobs check on load; a
    /// backtest starts from its own bounded capital): sums saturate, never wrap.
    pub fn equity_cents(&self, prices: &BTreeMap<String, f64>) -> i64 {
        self.try_equity_cents(prices).unwrap_or_else(|| {
            self.positions
                .iter()
                .filter_map(|(s, q)| Some(money::notional_cents(*q, *prices.get(s)?).unwrap_or(0)))
                .fold(self.cash_cents, i64::saturating_add)
        })
    }

    /// Actual weight of each position at `prices`.
    pub fn weights(&self, prices: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
        let eq = self.equity_cents(prices) as f64;
        self.positions
            .iter()
            .filter_map(|(s, q)| {
                let p = prices.get(s)?;
                let v = money::notional_cents(*q, *p)?;
                (eq > 0.0).then(|| (s.clone(), v as f64 / eq))
            })
            .collect()
    }
}

/// Sum of absolute weight changes over the union of symbols.
pub fn weight_change(new: &BTreeMap<String, f64>, old: &BTreeMap<String, f64>) -> f64 {
    // Usually both hold the same symbols (often they are one shared map): walk them side by
    // side (the same terms, summed in the same order as below) instead of looking each one up.
    if std::ptr::eq(new, old)
        || (new.len() == old.len() && new.keys().zip(old.keys()).all(|(a, b)| a == b))
    {
        return new
            .values()
            .zip(old.values())
            .fold(0.0, |total, (w, o)| total + (w - o).abs());
    }
    let mut total = 0.0;
    for (s, w) in new {
        total += (w - old.get(s).copied().unwrap_or(0.0)).abs();
    }
    for (s, w) in old {
        if !new.contains_key(s) {
            total += w.abs();
        }
    }
    total
}

/// Why the portfolio does or does not trade today.
#[derive(Debug, Clone, Serialize)]
pub struct Gate {
    pub rebalance: bool,
    /// Σ|w_target − w_last_target|.
    pub weight_change: f64,
    /// Shown and recorded as one line of text.
    pub reason: GateReason,
}

/// The gate's reason, kept as numbers and written as text only when shown or recorded (a
/// backtest decides thousands of days and reads none of them).
#[derive(Debug, Clone, PartialEq)]
pub enum GateReason {
    NoPreviousTargets,
    Changed {
        change: f64,
        threshold: f64,
    },
    Drifted {
        symbol: String,
        drift: f64,
        limit_pct: f64,
    },
    Hold {
        change: f64,
        threshold: f64,
    },
}

impl std::fmt::Display for GateReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GateReason::NoPreviousTargets => f.write_str("no previous targets"),
            GateReason::Changed { change, threshold } => {
                write!(f, "targets changed by {change:.3} > {threshold}")
            }
            GateReason::Drifted {
                symbol,
                drift,
                limit_pct,
            } => write!(
                f,
                "{symbol} drifted {:.1} pp from target (limit {limit_pct})",
                drift * 100.0
            ),
            GateReason::Hold { change, threshold } => {
                write!(f, "targets changed by {change:.3} <= {threshold}: hold")
            }
        }
    }
}

impl Serialize for GateReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The rebalance gate: trade when the targets moved by more than `threshold`, when there
/// are no previous targets, or (optionally) when a symbol drifted too far from target.
pub fn rebalance_gate(
    new: &BTreeMap<String, f64>,
    last: Option<&BTreeMap<String, f64>>,
    actual: &BTreeMap<String, f64>,
    threshold: f64,
    drift_pct: Option<f64>,
) -> Gate {
    let Some(last) = last else {
        return Gate {
            rebalance: true,
            weight_change: weight_change(new, &BTreeMap::new()),
            reason: GateReason::NoPreviousTargets,
        };
    };
    let change = weight_change(new, last);
    if change > threshold {
        return Gate {
            rebalance: true,
            weight_change: change,
            reason: GateReason::Changed { change, threshold },
        };
    }
    if let Some(d) = drift_pct {
        for (s, w) in new {
            let a = actual.get(s).copied().unwrap_or(0.0);
            if (a - w).abs() * 100.0 > d {
                return Gate {
                    rebalance: true,
                    weight_change: change,
                    reason: GateReason::Drifted {
                        symbol: s.clone(),
                        drift: a - w,
                        limit_pct: d,
                    },
                };
            }
        }
    }
    Gate {
        rebalance: false,
        weight_change: change,
        reason: GateReason::Hold { change, threshold },
    }
}

/// The orders that move `holdings` to `targets`, and what is left as cash.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Sells first, then buys, each group in symbol order.
    pub orders: Vec<OrderIntent>,
    /// Shares held after the orders fill.
    pub shares_after: BTreeMap<String, i64>,
    /// Estimated cash after the fills (slippage and commission included).
    pub cash_after_cents: i64,
    pub cash_after_pct: f64,
    pub equity_cents: i64,
}

/// Size whole-share orders for `targets` (weights of equity; the rest is cash) at `prices`.
/// `min_cash_pct` of equity is kept as cash by scaling buys down.
pub fn plan_orders(
    holdings: &Holdings,
    prices: &BTreeMap<String, f64>,
    targets: &BTreeMap<String, f64>,
    cost: &CostModel,
    min_cash_pct: f64,
) -> Plan {
    let equity = holdings.equity_cents(prices);
    let eq = money::dollars(equity);
    let mut desired: BTreeMap<String, i64> = BTreeMap::new();
    for (s, w) in targets {
        if let Some(p) = prices.get(s).filter(|p| **p > 0.0) {
            // Checked conversion: a share count that is not finite or beyond MAX_SHARES (a
            // price near zero) is capped at MAX_SHARES, which the budget then scales down.
            let shares = (eq * w.max(0.0)) / p;
            let n = money::floor_shares(shares).unwrap_or(if shares > 0.0 {
                money::MAX_SHARES
            } else {
                0
            });
            desired.insert(s.clone(), n);
        }
    }
    // Held symbols without a target go to zero; without a price they cannot be sized and stay.
    for (s, q) in &holdings.positions {
        if !desired.contains_key(s) {
            let keep = if prices.contains_key(s) { 0 } else { *q };
            desired.insert(s.clone(), keep);
        }
    }
    let mut cash = holdings.cash_cents;
    let mut sells = Vec::new();
    let mut buys: Vec<(String, i64, f64)> = Vec::new();
    for (s, want) in &desired {
        let have = holdings.positions.get(s).copied().unwrap_or(0);
        let Some(&p) = prices.get(s) else { continue };
        if *want < have {
            let qty = have - want;
            cash = cash.saturating_add(cost.cash_delta_cents(Side::Sell, qty, p));
            sells.push(OrderIntent {
                symbol: s.clone(),
                side: Side::Sell,
                qty,
                ref_price: p,
            });
        } else if *want > have {
            buys.push((s.clone(), want - have, p));
        }
    }
    let floor_cash = money::try_cents(eq * min_cash_pct / 100.0).unwrap_or(money::MAX_CENTS);
    let budget = cash.saturating_sub(floor_cash).max(0);
    let cost_of = |b: &[(String, i64, f64)]| -> i64 {
        b.iter()
            .map(|(_, q, p)| -cost.cash_delta_cents(Side::Buy, *q, *p))
            .fold(0, i64::saturating_add)
    };
    let total = cost_of(&buys);
    if total > budget && total > 0 {
        let scale = budget as f64 / total as f64;
        for b in &mut buys {
            // scale is in [0, 1), so the product stays within 0..=b.1.
            b.1 = money::floor_shares(b.1 as f64 * scale)
                .unwrap_or(0)
                .min(b.1);
        }
        // Flooring can still leave a few cents over budget: trim the largest buy share by share.
        while cost_of(&buys) > budget {
            let Some(big) = buys
                .iter_mut()
                .filter(|b| b.1 > 0)
                .max_by(|a, b| (a.1 as f64 * a.2).total_cmp(&(b.1 as f64 * b.2)))
            else {
                break;
            };
            big.1 -= 1;
        }
    }
    let mut shares_after = holdings.positions.clone();
    for o in &sells {
        *shares_after.entry(o.symbol.clone()).or_default() -= o.qty;
    }
    let mut orders = sells;
    for (s, q, p) in buys.into_iter().filter(|b| b.1 > 0) {
        cash = cash.saturating_add(cost.cash_delta_cents(Side::Buy, q, p));
        *shares_after.entry(s.clone()).or_default() += q;
        orders.push(OrderIntent {
            symbol: s,
            side: Side::Buy,
            qty: q,
            ref_price: p,
        });
    }
    shares_after.retain(|_, q| *q != 0);
    Plan {
        orders,
        shares_after,
        cash_after_cents: cash,
        cash_after_pct: if equity > 0 {
            cash as f64 / equity as f64 * 100.0
        } else {
            0.0
        },
        equity_cents: equity,
    }
}

#[cfg(test)]
#[path = "portfolio_tests.rs"]
mod tests;
