//! `trader reconcile [--accept --reason TEXT]`: the broker's positions and cash against the
//! state's account record. Without `--accept` it shows the differences (exit 3 when there
//! are any). With `--accept` the broker's view becomes the state's record (the broker is
//! the source of truth) and who and why are recorded in the state and in
//! `data/ledger/reconciliations.parquet`.

use anyhow::Result;

use super::Ctx;
use crate::cli::ReconcileArgs;
use crate::execution::reconcile;
use crate::exit::{Exit, ExitError};
use crate::state::AccountSnapshot;

pub fn run(ctx: &Ctx, args: &ReconcileArgs) -> Result<Exit> {
    let cfg = &ctx.config;
    let date = ctx.today();
    let mut job = super::open_job(ctx, "reconcile")?;
    // The venue of the configured phase; its quotes value the account's equity.
    let venue = super::venue::Venue::configured(cfg);
    let mut sim = super::venue::open_broker(ctx, venue, date, super::venue::Quotes::Venue)?;
    let unavailable =
        |e: crate::broker::BrokerError| ExitError::new(Exit::Unavailable, e.to_string());
    let positions = sim.positions().map_err(unavailable)?;
    let acct = sim.account().ok();
    let cash = match acct {
        Some(a) => a.cash_cents,
        None => sim.account().map_err(unavailable)?.cash_cents,
    };
    let label = venue.account_label(sim.name());
    let tol = crate::money::try_cents(cfg.execution.reconcile_cash_tolerance).unwrap_or(0);
    let diffs = match &job.state.account {
        Some(a) => reconcile::diff(a, cash, &positions, tol),
        None => reconcile::diff(
            &AccountSnapshot {
                as_of: date,
                broker: label.clone(),
                cash_cents: 0,
                positions: Default::default(),
                equity_cents: 0,
            },
            cash,
            &positions,
            tol,
        ),
    };
    if diffs.is_empty() {
        outln!(
            "reconcile: the {} venue and the state agree (nothing to accept)",
            sim.name()
        );
        return Ok(Exit::Ok);
    }
    outln!(
        "reconcile: the {} venue and the state differ:\n{}",
        sim.name(),
        reconcile::render(&diffs)
    );
    if !args.accept {
        outln!("to adopt the broker's view: trader reconcile --accept --reason \"...\"");
        return Ok(Exit::Blocked);
    }
    let reason = args.reason.clone().unwrap_or_default();
    if reason.trim().is_empty() {
        return Err(ExitError::new(
            Exit::Usage,
            "--reason must say why the broker's view is right",
        )
        .into());
    }
    let by = super::login_name();
    let equity = acct.map_or(cash, |a| a.equity_cents);
    let rec = reconcile::ReconcileRecord {
        at: ctx.clock(),
        date,
        outcome: "accepted".into(),
        by: Some(by.clone()),
        reason: Some(reason.clone()),
        differences: diffs,
    };
    crate::ledger::append(
        &cfg.paths.ledger_dir.join("reconciliations.parquet"),
        &reconcile::ledger_table(&rec),
        None,
    )?;
    let st = &mut job.state;
    st.account = Some(AccountSnapshot {
        as_of: st.account.as_ref().map_or(date, |a| a.as_of),
        broker: label,
        cash_cents: cash,
        positions,
        equity_cents: equity,
    });
    st.reconciliations.push(rec);
    job.save(ctx.clock())?;
    ctx.log.info(&format!(
        "reconcile: broker's view accepted by {by}: {reason}"
    ));
    outln!(
        "accepted: the state now holds the broker's cash and positions (recorded: {by}, \"{reason}\")"
    );
    Ok(Exit::Ok)
}
