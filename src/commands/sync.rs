//! `trader sync [--date D]`: collect what the broker did with the journal's pending orders
//! (the limit-on-close orders of `execution.order_style: close_auction`, which fill at the
//! official close after the trading run ended). Every journaled order that was sent and is
//! not final is looked up by its client order id; its fills are adopted into the journal and
//! the state's account record (each execution once), the day's fills ledger rows rewritten,
//! and the job recorded under `sync`. A second run finds nothing new and changes nothing.

use anyhow::{Context, Result};
use chrono::NaiveDate;

use super::Ctx;
use super::venue::{self, Quotes, Venue};
use crate::cli::SyncArgs;
use crate::execution::collect;
use crate::exit::{Exit, ExitError};
use crate::state::{JobRecord, JobResult, State};

const JOB: &str = "sync";

pub fn run(ctx: &Ctx, args: &SyncArgs) -> Result<Exit> {
    let today = ctx.today();
    let mut job = super::open_job(ctx, JOB)?;
    let (summary, code) = collect_all(ctx, &mut job, args.date)?;
    job.state.record_job(
        today,
        JobRecord {
            job: JOB.into(),
            phase: Some(ctx.config.phase),
            started_at: ctx.now,
            finished_at: ctx.clock(),
            result: if code == Exit::Ok {
                JobResult::Ok
            } else {
                JobResult::Failed
            },
            detail: summary.clone(),
            skipped_preflight: false,
        },
    );
    job.save(ctx.clock()).context("saving the state")?;
    ctx.log.info(&format!("sync: {summary}"));
    outln!("sync: {summary}");
    Ok(code)
}

/// Collect the pending orders of `only` (every date when `None`) on the configured venue,
/// rewrite the changed days' fills ledger rows and the account record; the shared step of
/// `sync`, `validate` and `eod`. Returns a one-line summary.
pub fn collect_all(
    ctx: &Ctx,
    job: &mut super::Job,
    only: Option<NaiveDate>,
) -> Result<(String, Exit)> {
    let venue = Venue::configured(&ctx.config);
    let mut dates: Vec<NaiveDate> = collect::pending(&job.state, only)
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    dates.dedup();
    if dates.is_empty() {
        return Ok(("no pending orders in the journal".into(), Exit::Ok));
    }
    let (mut settled, mut pending) = (Vec::new(), Vec::new());
    for date in dates {
        let mut broker = venue::open_broker(ctx, venue, date, Quotes::Venue)?;
        if let Some(refused) = venue::check_identity(ctx, &mut *broker, &mut job.state, venue)? {
            return Err(ExitError::new(Exit::Blocked, refused).into());
        }
        let super::Job { store, state, .. } = &mut *job;
        let mut save = |st: &mut State| store.save(st, ctx.clock()).map_err(|e| e.to_string());
        let got = collect::collect(&mut *broker, state, Some(date), ctx.clock(), &mut save)
            .map_err(|e| ExitError::new(Exit::Unavailable, e.to_string()))?;
        if !got.dates.is_empty() {
            let orders = state.journal.get(&date).map_or(&[][..], |j| &j.orders[..]);
            crate::ledger::append_replacing(
                &ctx.config.paths.ledger_dir.join("fills.parquet"),
                &crate::execution::fills::fills_table(date, orders),
                "client_order_id",
            )?;
            if let Ok(a) = broker.account()
                && let Some(rec) = state.account.as_mut()
            {
                rec.equity_cents = a.equity_cents;
            }
        }
        settled.extend(got.settled);
        pending.extend(got.pending);
    }
    let mut s = format!("{} order(s) settled", settled.len());
    if !settled.is_empty() {
        s.push_str(&format!(" ({})", settled.join("; ")));
    }
    s.push_str(&format!(", {} still pending", pending.len()));
    if !pending.is_empty() {
        s.push_str(&format!(" ({})", pending.join("; ")));
    }
    Ok((s, Exit::Ok))
}
