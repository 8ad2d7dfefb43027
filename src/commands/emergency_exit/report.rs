//! What `emergency-exit` prints: the plan it asks to confirm and the summary (text or JSON).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::liquidate::{Outcome, Plan};
use crate::broker::AccountInfo;
use crate::state::lock;

pub(super) fn print_plan(kill_switch: &Path, broker: &str, plan: &Plan) {
    outln!("emergency-exit on {broker} will:");
    outln!("  1. create the kill switch {}", kill_switch.display());
    if plan.cancels.is_empty() {
        outln!("  2. cancel: no open order");
    }
    for o in &plan.cancels {
        outln!(
            "  2. cancel {} ({} {} {}, {} filled, {})",
            o.client_order_id.0,
            o.side.as_str(),
            o.qty,
            o.symbol,
            o.filled_qty,
            o.status.as_str()
        );
    }
    if plan.sells.is_empty() {
        outln!("  3. sell: no position");
    }
    for s in &plan.sells {
        match (s.quote, s.limit) {
            (Some(q), Some(l)) => outln!(
                "  3. sell {} {} at limit {l:.2} (quote {q:.2})",
                s.qty,
                s.symbol
            ),
            _ => outln!(
                "  3. sell {} {}: NO QUOTE, cannot be priced",
                s.qty,
                s.symbol
            ),
        }
    }
    outln!("  (positions are re-read from the broker before acting)");
}

#[derive(Serialize)]
pub(super) struct Report {
    pub(super) result: String,
    flat: bool,
    kill_switch: String,
    lock: String,
    canceled: Vec<String>,
    sold: BTreeMap<String, i64>,
    proceeds: Option<f64>,
    cash: Option<f64>,
    positions_left: BTreeMap<String, i64>,
    orders_left: Vec<String>,
    problems: Vec<String>,
    ledgers: String,
    state: String,
}

impl Report {
    pub(super) fn new(
        out: &Outcome,
        account: Option<AccountInfo>,
        kill_switch: String,
        held: &std::result::Result<lock::StateLock, String>,
        ledgers: String,
        state: String,
    ) -> Report {
        Report {
            result: super::record::one_line(out),
            flat: out.flat(),
            kill_switch,
            lock: match held {
                Ok(_) => "held".into(),
                Err(why) => format!("NOT HELD: {why}"),
            },
            canceled: out
                .canceled
                .iter()
                .map(|o| {
                    format!(
                        "{} ({} {} {}) {}",
                        o.client_order_id.0,
                        o.side.as_str(),
                        o.qty,
                        o.symbol,
                        o.status.as_str()
                    )
                })
                .collect(),
            sold: out.sold(),
            proceeds: out.proceeds_cents().map(crate::money::dollars),
            cash: account.map(|a| crate::money::dollars(a.cash_cents)),
            positions_left: out.positions_left.clone(),
            orders_left: out
                .orders_left
                .iter()
                .map(|o| {
                    format!(
                        "{} ({} {} {}) {}",
                        o.client_order_id.0,
                        o.side.as_str(),
                        o.remaining(),
                        o.symbol,
                        o.status.as_str()
                    )
                })
                .collect(),
            problems: out.problems.clone(),
            ledgers,
            state,
        }
    }
}

pub(super) fn print_report(r: &Report, out: &Outcome) {
    outln!("emergency-exit: {}", r.result);
    outln!("  kill switch  {}", r.kill_switch);
    outln!("  lock         {}", r.lock);
    if r.canceled.is_empty() {
        outln!("  canceled     no open order");
    }
    for c in &r.canceled {
        outln!("  canceled     {c}");
    }
    if out.placed.is_empty() {
        outln!("  sold         nothing to sell");
    }
    for p in &out.placed {
        let o = &p.order;
        outln!(
            "  sell         {} {} {}: {} filled{} (limit {}, quote {:.2})",
            o.client_order_id.0,
            o.qty,
            o.symbol,
            o.filled_qty,
            o.avg_fill_price
                .map_or(String::new(), |px| format!(" at {px:.4}")),
            o.limit_price.map_or("-".into(), |l| format!("{l:.2}")),
            p.quote
        );
    }
    outln!(
        "  proceeds     {}",
        r.proceeds.map_or("out of range".into(), |p| format!(
            "{p:.2} after commission"
        ))
    );
    if let Some(c) = r.cash {
        outln!("  cash         {c:.2}");
    }
    for (s, q) in &r.positions_left {
        outln!("  STILL HELD   {q} {s}");
    }
    for o in &r.orders_left {
        outln!("  STILL OPEN   {o}");
    }
    for p in &r.problems {
        outln!("  problem      {p}");
    }
    outln!("  ledgers      {}", r.ledgers);
    outln!("  state        {}", r.state);
}
