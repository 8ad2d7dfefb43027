//! Phase-2 rules: they act on sized orders (see the parent module for the order and why).
//!
//! Each rule takes the live order list and returns the orders that survive, pushing one outcome
//! per order it touched, or a single `pass` when it touched none.

use std::collections::BTreeSet;

use super::config::WashSaleCfg;
use super::{Findings, RiskContext, RuleOutcome, Verdict, exceeds, rule};
use crate::model::{OrderIntent, Side};

pub(crate) type Out = Findings;

pub(crate) fn describe(o: &OrderIntent) -> String {
    format!(
        "{} {} {} @ {:.2}",
        o.side.as_str(),
        o.qty,
        o.symbol,
        o.ref_price
    )
}

pub(crate) fn upper_set<'a>(syms: impl IntoIterator<Item = &'a String>) -> BTreeSet<String> {
    syms.into_iter()
        .map(|s| s.trim().to_ascii_uppercase())
        .collect()
}

/// Orders that cannot be measured (qty ≤ 0, price not a positive number) are blocked.
pub(crate) fn inputs(orders: Vec<OrderIntent>, out: &mut Out) -> Vec<OrderIntent> {
    orders
        .into_iter()
        .filter(|o| {
            let ok = o.qty > 0 && o.ref_price.is_finite() && o.ref_price > 0.0;
            if !ok {
                let msg = format!(
                    "{}: quantity must be > 0 and price a positive number",
                    describe(o)
                );
                out.push(
                    RuleOutcome::new(rule::INPUTS, Verdict::Block, o.qty as f64, 0.0, msg)
                        .sym(&o.symbol),
                );
            }
            ok
        })
        .collect()
}

/// Loss since the previous close beyond the limit: buys blocked, sells allowed, alert a person.
pub(crate) fn circuit_breaker(
    limit_pct: f64,
    ctx: &RiskContext,
    orders: Vec<OrderIntent>,
    out: &mut Out,
) -> Vec<OrderIntent> {
    let id = rule::DAILY_LOSS_CIRCUIT_BREAKER;
    let Some(prev) = ctx
        .previous_close_equity
        .filter(|p| p.is_finite() && *p > 0.0)
    else {
        out.pass(id, 0.0, limit_pct, || "no previous close recorded".into());
        return orders;
    };
    // Unusable equity trips the breaker: we cannot tell how much was lost.
    let loss_pct = if ctx.equity.is_finite() {
        (prev - ctx.equity) / prev * 100.0
    } else {
        f64::NAN
    };
    if loss_pct.is_finite() && !exceeds(loss_pct, limit_pct) {
        out.pass(id, loss_pct, limit_pct, || {
            format!("loss since previous close {loss_pct:.2} % within {limit_pct} %")
        });
        return orders;
    }
    let msg = format!(
        "loss since previous close {loss_pct:.2} % beyond {limit_pct} %: no new buys, sells allowed; alert a person"
    );
    let mut trip = RuleOutcome::new(id, Verdict::Block, loss_pct, limit_pct, msg);
    trip.alert = true;
    out.push(trip);
    orders
        .into_iter()
        .filter(|o| {
            if o.side == Side::Buy {
                let msg = format!("{} blocked by the daily loss circuit breaker", describe(o));
                out.push(
                    RuleOutcome::new(id, Verdict::Block, loss_pct, limit_pct, msg).sym(&o.symbol),
                );
            }
            o.side == Side::Sell
        })
        .collect()
}

/// Buys in a symbol of `set` are blocked; sells pass (they reduce the exposure in question).
pub(crate) fn block_buys(
    id: &'static str,
    set: &BTreeSet<String>,
    why: &str,
    orders: Vec<OrderIntent>,
    out: &mut Out,
) -> Vec<OrderIntent> {
    let start = out.len();
    let kept: Vec<OrderIntent> = orders
        .into_iter()
        .filter(|o| {
            let hit = o.side == Side::Buy && set.contains(&o.symbol.to_ascii_uppercase());
            if hit {
                let msg = format!("{} blocked: {} is {why}", describe(o), o.symbol);
                out.push(
                    RuleOutcome::new(id, Verdict::Block, o.notional(), 0.0, msg).sym(&o.symbol),
                );
            }
            !hit
        })
        .collect();
    if out.len() == start {
        out.pass(id, 0.0, 0.0, || {
            format!("no buy in the {} symbols on the list", set.len())
        });
    }
    kept
}

/// Shared trim: cut to `max_qty` whole shares, drop the order if that is 0.
fn trim_to(
    id: &'static str,
    o: &mut OrderIntent,
    max_qty: i64,
    value: f64,
    limit: f64,
    what: &str,
    out: &mut Out,
) -> bool {
    let before = describe(o);
    if max_qty <= 0 {
        let msg = format!("{before}: {what}; not even one share fits");
        out.push(RuleOutcome::new(id, Verdict::Block, value, limit, msg).sym(&o.symbol));
        return false;
    }
    o.qty = max_qty;
    let msg = format!("{before}: {what}; cut to {max_qty} shares");
    out.push(RuleOutcome::new(id, Verdict::Trim, value, limit, msg).sym(&o.symbol));
    true
}

/// Whole shares that fit in `budget` at `unit` each (1e-9 slack: an exact fit is a fit).
fn whole_shares(budget: f64, unit: f64) -> i64 {
    let q = (budget / unit + 1e-9).floor();
    if q.is_finite() {
        // Checked conversion: within 0..=MAX_SHARES, never a saturating cast.
        crate::money::floor_shares(q.max(0.0)).unwrap_or(crate::money::MAX_SHARES)
    } else {
        0
    }
}

pub(crate) fn max_notional(
    limit: f64,
    orders: Vec<OrderIntent>,
    out: &mut Out,
) -> Vec<OrderIntent> {
    let id = rule::MAX_ORDER_NOTIONAL;
    let start = out.len();
    let mut largest = 0.0f64;
    let kept = orders
        .into_iter()
        .filter_map(|mut o| {
            let n = o.notional();
            largest = largest.max(n);
            let max_qty = whole_shares(limit, o.ref_price);
            if o.qty <= max_qty {
                return Some(o);
            }
            let what = format!("notional {n:.2} over {limit:.2}");
            trim_to(id, &mut o, max_qty, n, limit, &what, out).then_some(o)
        })
        .collect();
    if out.len() == start {
        out.pass(id, largest, limit, || {
            format!("largest order notional {largest:.2} within {limit:.2}")
        });
    }
    kept
}

pub(crate) fn adv_participation(
    limit_pct: f64,
    ctx: &RiskContext,
    orders: Vec<OrderIntent>,
    out: &mut Out,
) -> Vec<OrderIntent> {
    let id = rule::MAX_ADV_PARTICIPATION;
    let start = out.len();
    let mut largest = 0.0f64;
    let kept = orders
        .into_iter()
        .filter_map(|mut o| {
            let Some(adv) = ctx
                .adv20
                .get(o.symbol.as_str())
                .copied()
                .filter(|a| a.is_finite() && *a > 0.0)
            else {
                // Liquidity unknown: do not trade blind.
                let msg = format!("{}: no 20-day average volume; blocked", describe(&o));
                out.push(
                    RuleOutcome::new(id, Verdict::Block, f64::NAN, limit_pct, msg).sym(&o.symbol),
                );
                return None;
            };
            let part = o.qty as f64 / adv * 100.0;
            largest = largest.max(part);
            let max_qty = whole_shares(limit_pct / 100.0 * adv, 1.0);
            if o.qty <= max_qty {
                return Some(o);
            }
            let what = format!("{part:.2} % of ADV20 {adv:.0} over {limit_pct} %");
            trim_to(id, &mut o, max_qty, part, limit_pct, &what, out).then_some(o)
        })
        .collect();
    if out.len() == start {
        out.pass(id, largest, limit_pct, || {
            format!("largest participation {largest:.2} % within {limit_pct} %")
        });
    }
    kept
}

/// Keep sells first, then buys, up to the orders left today; cut the rest. Kept orders stay
/// in their original order.
pub(crate) fn max_orders(
    limit: usize,
    ctx: &RiskContext,
    orders: Vec<OrderIntent>,
    out: &mut Out,
) -> Vec<OrderIntent> {
    let id = rule::MAX_ORDERS_PER_DAY;
    let left = limit.saturating_sub(ctx.orders_already_today);
    let total = ctx.orders_already_today + orders.len();
    if orders.len() <= left {
        out.pass(id, total as f64, limit as f64, || {
            format!("{total} orders today within {limit}")
        });
        return orders;
    }
    let sells = orders.iter().filter(|o| o.side == Side::Sell).count();
    let (mut sells_left, mut buys_left) = (left.min(sells), left.saturating_sub(sells));
    orders
        .into_iter()
        .filter(|o| {
            let slot = if o.side == Side::Sell {
                &mut sells_left
            } else {
                &mut buys_left
            };
            if *slot > 0 {
                *slot -= 1;
                return true;
            }
            let msg = format!(
                "{} cut: {total} orders today over {limit} (sells kept first)",
                describe(o)
            );
            out.push(
                RuleOutcome::new(id, Verdict::Block, total as f64, limit as f64, msg)
                    .sym(&o.symbol),
            );
            false
        })
        .collect()
}

/// Warn when buying a symbol sold at a loss within the lookback (wash-sale rule); never blocks.
pub(crate) fn wash_sale(
    cfg: &WashSaleCfg,
    ctx: &RiskContext,
    orders: &[OrderIntent],
    out: &mut Out,
) {
    let id = rule::WASH_SALE_WARNING;
    let lookback = f64::from(cfg.lookback_days);
    let start = out.len();
    for o in orders.iter().filter(|o| o.side == Side::Buy) {
        // The most recent qualifying loss sale (smallest age) is the one to report.
        let age = ctx
            .recent_loss_sales
            .iter()
            .filter(|(s, _)| s.eq_ignore_ascii_case(&o.symbol))
            .map(|(_, d)| (ctx.date - *d).num_days())
            .filter(|a| (0..=i64::from(cfg.lookback_days)).contains(a))
            .min();
        if let Some(age) = age {
            let msg = format!(
                "{}: {} was sold at a loss {age} days ago; the loss may be disallowed (wash sale)",
                describe(o),
                o.symbol
            );
            out.push(RuleOutcome::new(id, Verdict::Warn, age as f64, lookback, msg).sym(&o.symbol));
        }
    }
    if out.len() == start {
        out.pass(id, 0.0, lookback, || {
            "no buy after a recent loss sale".into()
        });
    }
}

pub(crate) use super::pdt::{pdt_guard, window_start};

#[cfg(test)]
#[path = "orders_tests.rs"]
mod tests;
