//! What `emergency-exit` leaves on disk besides the broker: the orders and fills ledger rows
//! of its sales, and the broker's account in the state.

use anyhow::Result;
use chrono::NaiveDate;

use super::liquidate::{Outcome, Placed};
use super::{Ctx, PHASE};
use crate::broker::AccountInfo;
use crate::ledger::{self, Col, Table};
use crate::model::{OrderIntent, Side};
use crate::state::store::{Loaded, StateStore};
use crate::state::{AccountSnapshot, JobRecord, JobResult, State};

/// Orders and fills rows of the liquidation orders, keyed by client order id (every id is
/// new, and a rewrite of one replaces its rows).
///
/// Orders an earlier run of the date sent but did not record (killed before its ledger
/// write) are recorded too, their quote taken back from the limit it was priced at.
pub(super) fn write_ledgers(ctx: &Ctx, date: NaiveDate, out: &Outcome) -> Result<()> {
    let dir = &ctx.config.paths.ledger_dir;
    let recorded: Vec<String> = match ledger::read(&dir.join("orders.parquet"))? {
        Some(df) => df
            .column("client_order_id")
            .and_then(|c| c.str().cloned())
            .map(|c| c.iter().flatten().map(str::to_string).collect())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let collar = ctx.config.execution.emergency_collar_pct;
    let mut placed: Vec<Placed> = out.placed.clone();
    for o in &out.earlier {
        if recorded.contains(&o.client_order_id.0) {
            continue;
        }
        let quote = o
            .limit_price
            .map(|l| (l / (1.0 - collar / 100.0) * 100.0).round() / 100.0)
            .or(o.avg_fill_price)
            .unwrap_or(0.0);
        if quote > 0.0 {
            ctx.log.warn(&format!(
                "recording {} of an earlier run that was not in the ledgers",
                o.client_order_id.0
            ));
            placed.push(Placed {
                order: o.clone(),
                quote,
            });
        }
    }
    if placed.is_empty() {
        return Ok(());
    }
    let intents: Vec<(String, OrderIntent)> = placed
        .iter()
        .map(|p| {
            (
                p.order.client_order_id.0.clone(),
                OrderIntent {
                    symbol: p.order.symbol.clone(),
                    side: p.order.side,
                    qty: p.order.qty,
                    ref_price: p.quote,
                },
            )
        })
        .collect();
    let mut t =
        crate::commands::dry_run::orders_table(intents.iter().map(|(id, o)| (date, id.clone(), o)));
    t.push("phase", Col::Str(vec![PHASE.into(); intents.len()]));
    ledger::append_replacing(&dir.join("orders.parquet"), &t, "client_order_id")?;
    let f = fills_table(date, &placed);
    if f.cols
        .first()
        .is_some_and(|(_, c)| matches!(c, Col::Date(v) if !v.is_empty()))
    {
        ledger::append_replacing(&dir.join("fills.parquet"), &f, "client_order_id")?;
    }
    Ok(())
}

/// One row per execution, in the columns of the engine's fills ledger (h19core's
/// `execution::fills`): date, ids, symbol, side, qty, price, commission (dollars), the quote
/// as the decision price, slippage against it in bps (positive = worse), status `filled`.
/// The phase is in the orders ledger (and in the `emx-` ids).
fn fills_table(date: NaiveDate, placed: &[Placed]) -> Table {
    struct Row<'a> {
        order: &'a crate::broker::BrokerOrder,
        exec: String,
        qty: i64,
        price: f64,
        commission_cents: i64,
        quote: f64,
    }
    let mut rows = Vec::new();
    for p in placed {
        let o = &p.order;
        let row = |exec: String, qty, price, commission_cents| Row {
            order: o,
            exec,
            qty,
            price,
            commission_cents,
            quote: p.quote,
        };
        if o.executions.is_empty() {
            // A venue that reports only the order's totals: one row for them.
            if let Some(px) = o.avg_fill_price.filter(|_| o.filled_qty > 0) {
                rows.push(row(
                    o.broker_order_id.clone(),
                    o.filled_qty,
                    px,
                    o.commission_cents,
                ));
            }
        } else {
            for e in &o.executions {
                rows.push(row(e.id.clone(), e.qty, e.price, e.commission_cents));
            }
        }
    }
    let n = rows.len();
    let s = |f: &dyn Fn(&Row) -> String| Col::Str(rows.iter().map(f).collect());
    let x = |f: &dyn Fn(&Row) -> f64| Col::F64(rows.iter().map(|r| Some(f(r))).collect());
    let mut t = Table::default();
    t.push("date", Col::Date(vec![date; n]))
        .push("client_order_id", s(&|r| r.order.client_order_id.0.clone()))
        .push("broker_order_id", s(&|r| r.order.broker_order_id.clone()))
        .push("execution_id", s(&|r| r.exec.clone()))
        .push("symbol", s(&|r| r.order.symbol.clone()))
        .push("side", s(&|r| r.order.side.as_str().into()))
        .push("qty", Col::I64(rows.iter().map(|r| r.qty).collect()))
        .push("price", x(&|r| r.price))
        .push(
            "commission",
            x(&|r| crate::money::dollars(r.commission_cents)),
        )
        .push("decision_price", x(&|r| r.quote))
        .push(
            "slippage_bps",
            x(&|r| {
                let d = (r.price - r.quote) / r.quote * 10_000.0;
                if r.order.side == Side::Sell { -d } else { d }
            }),
        )
        .push("status", Col::Str(vec!["filled".into(); n]));
    t
}

/// Record the broker's account in the state (holding the lock). Returns the note and
/// whether nothing went wrong (an unusable state left for a person is not a failure).
pub(super) fn record_state(
    ctx: &Ctx,
    date: NaiveDate,
    broker: &str,
    out: &Outcome,
    account: Option<AccountInfo>,
) -> (String, bool) {
    let cfg = &ctx.config;
    let store = StateStore::new(&cfg.paths.state_dir, cfg.state.backups).at(ctx.now);
    let (mut state, how) = match store.open(ctx.now) {
        Ok(Loaded::Ok(s)) => (s, String::new()),
        Ok(Loaded::Fresh) => (
            State::new(ctx.now, cfg.phase),
            " (new state: none existed)".into(),
        ),
        Ok(Loaded::Recovered {
            state,
            from,
            problem,
            moved_to,
        }) => {
            let kept = moved_to.map_or(String::new(), |p| {
                format!(", the unusable file kept as {}", p.display())
            });
            let what = format!(
                "{} was unusable ({problem}): recovered from {}{kept}",
                store.path.display(),
                from.display()
            );
            ctx.log.warn(&format!("STATE RECOVERED: {what}"));
            (state, format!(" ({what})"))
        }
        Err(e) => {
            let msg = format!(
                "NOT recorded: {e} — the file is left as it is for a person; the broker is the record of what was done"
            );
            ctx.log.warn(&msg);
            return (msg, true);
        }
    };
    if let Some(a) = account {
        state.account = Some(AccountSnapshot {
            as_of: date,
            broker: broker.to_string(),
            cash_cents: a.cash_cents,
            positions: out.positions_left.clone(),
            equity_cents: a.equity_cents,
        });
        state.record_equity(date, crate::money::dollars(a.equity_cents));
    }
    // The holdings no longer follow the last rebalance: without this the rebalance gate
    // would compare new targets with the old ones and hold cash after a `resume`.
    state.last_targets = None;
    let open: Vec<&str> = out
        .orders_left
        .iter()
        .map(|o| o.client_order_id.0.as_str())
        .collect();
    state
        .orders_in_flight
        .retain(|o| open.contains(&o.client_order_id.as_str()));
    state.record_job(
        date,
        JobRecord {
            job: PHASE.into(),
            phase: Some(cfg.phase),
            started_at: ctx.now,
            finished_at: ctx.clock(),
            result: if out.flat() {
                JobResult::Ok
            } else {
                JobResult::Failed
            },
            detail: one_line(out),
            skipped_preflight: false,
        },
    );
    match store.save(&mut state, ctx.now) {
        Ok(()) => (format!("recorded as save #{}{how}", state.save_seq), true),
        Err(e) => {
            ctx.log.warn(&format!("state not saved: {e}"));
            (format!("NOT recorded: {e}"), false)
        }
    }
}

pub(super) fn one_line(out: &Outcome) -> String {
    let sold = out.sold();
    if out.flat() && out.canceled.is_empty() && out.placed.is_empty() {
        "nothing to do: no position and no open order at the broker".into()
    } else if out.flat() {
        format!(
            "flat: {} order(s) canceled, {} position(s) sold",
            out.canceled.len(),
            sold.len()
        )
    } else {
        format!(
            "STILL OPEN after {} attempt(s): positions {:?}, {} open order(s)",
            out.attempts,
            out.positions_left,
            out.orders_left.len()
        )
    }
}
