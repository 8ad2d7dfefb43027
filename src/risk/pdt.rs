//! The `pdt_guard` order rule: accounts under the pattern-day-trader threshold may make at most
//! `max_day_trades` day trades in `window_business_days` business days.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate, Weekday};

use super::config::PdtCfg;
use super::orders::{Out, describe};
use super::{RiskContext, RuleOutcome, Verdict, rule};
use crate::model::{OrderIntent, Side};

/// First day of the `n`-business-day window ending on `date` (Mon–Fri; exchange holidays are
/// not known here, which only makes the window longer, i.e. stricter).
pub(crate) fn window_start(date: NaiveDate, n: u32) -> NaiveDate {
    let mut d = date;
    let mut left = n.saturating_sub(1);
    while left > 0 {
        d = d.checked_sub_days(Days::new(1)).unwrap_or(d);
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    d
}

/// Accounts under the threshold: block an order that would create a day trade beyond the cap.
/// A day trade = a buy and a sell of the same symbol on the same day (counted once per symbol
/// and day) within this order list; past day trades come from `ctx.day_trades`.
pub(crate) fn pdt_guard(
    cfg: &PdtCfg,
    ctx: &RiskContext,
    orders: Vec<OrderIntent>,
    out: &mut Out,
) -> Vec<OrderIntent> {
    let id = rule::PDT_GUARD;
    let max = cfg.max_day_trades as f64;
    // NaN equity is treated as small: the guard applies.
    if ctx.equity >= cfg.equity_threshold {
        out.pass(id, ctx.equity, cfg.equity_threshold, || {
            format!(
                "equity {:.2} at or above {:.2}: guard inactive",
                ctx.equity, cfg.equity_threshold
            )
        });
        return orders;
    }
    let start = window_start(ctx.date, cfg.window_business_days);
    let mut count = ctx
        .day_trades
        .iter()
        .filter(|d| **d >= start && **d <= ctx.date)
        .count();
    // Per symbol: (bought today, sold today), from this order list. Fills earlier today are not
    // in the context: the daily cycle places one batch per day and never reruns it (spec,
    // "Orders: safety rules" 2); a day trade completed earlier today is in `ctx.day_trades`.
    let mut sides: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    let first = out.len();
    let mut kept = Vec::with_capacity(orders.len());
    for o in orders {
        let e = sides.entry(o.symbol.clone()).or_default();
        let creates = match o.side {
            Side::Buy => e.1 && !e.0,
            Side::Sell => e.0 && !e.1,
        };
        if creates {
            let n = (count + 1) as f64;
            if n > max {
                let msg = format!(
                    "{} would be day trade {n} in {} business days (max {max}): blocked",
                    describe(&o),
                    cfg.window_business_days
                );
                out.push(RuleOutcome::new(id, Verdict::Block, n, max, msg).sym(&o.symbol));
                continue;
            }
            count += 1;
            let msg = format!("{} is day trade {n} of {max} allowed", describe(&o));
            out.push(RuleOutcome::new(id, Verdict::Warn, n, max, msg).sym(&o.symbol));
        }
        if o.side == Side::Buy {
            e.0 = true
        } else {
            e.1 = true
        }
        kept.push(o);
    }
    if out.len() == first {
        out.pass(id, count as f64, max, || {
            format!("{count} day trades in the window, max {max}")
        });
    }
    kept
}
