//! `trader status [--json]`: one screen, read-only (no lock, nothing written): the phase
//! (configured and as last recorded), the promotion gates' progress, today's jobs (New York
//! date), the kill switch, positions and cash of the state's account record, the orders in
//! flight and the last validation.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::Serialize;

use super::Ctx;
use super::halt::{KillSwitch, read_kill_switch};
use crate::config::Phase;
use crate::gates::{self, Evidence, Progress};
use crate::state::store::{Loaded, StateStore};
use crate::state::{AccountSnapshot, InFlightOrder, JobRecord, State, ValidationRecord};

#[derive(Serialize)]
struct Status<'a> {
    date: NaiveDate,
    phase: Phase,
    recorded_phase: Option<Phase>,
    phase_override: Option<Override<'a>>,
    /// The gates of the configured phase (if it has one) and of the next.
    gates: Vec<Progress>,
    jobs: Vec<&'a JobRecord>,
    kill_switch: Option<KillSwitch>,
    account: Option<&'a AccountSnapshot>,
    orders_in_flight: &'a [InFlightOrder],
    last_validation: Option<LastValidation<'a>>,
    /// Set when state.json was unusable and a backup is shown instead.
    state_problem: Option<String>,
}

#[derive(Serialize)]
struct Override<'a> {
    phase: Phase,
    reason: &'a str,
}

#[derive(Serialize)]
struct LastValidation<'a> {
    date: NaiveDate,
    #[serde(flatten)]
    record: &'a ValidationRecord,
}

/// `slippage_bps` of the fills ledger's paper rows (the live gate's evidence); a ledger that
/// does not exist yet or has no such column gives none.
pub(crate) fn paper_slippage(ctx: &Ctx) -> Result<Evidence> {
    let path = ctx.config.paths.ledger_dir.join("fills.parquet");
    let Some(df) = crate::ledger::read(&path).context("reading the fills ledger")? else {
        return Ok(Evidence::default());
    };
    let Ok(col) = df.column("slippage_bps") else {
        return Ok(Evidence::default());
    };
    let bps = col
        .cast(&polars::prelude::DataType::Float64)
        .with_context(|| format!("{}: column slippage_bps is not numeric", path.display()))?;
    let bps = bps
        .f64()
        .with_context(|| format!("{}: column slippage_bps", path.display()))?;
    let phase = df.column("phase").ok().and_then(|c| c.str().ok().cloned());
    let rows = (0..df.height())
        .filter(|i| phase.as_ref().is_none_or(|p| p.get(*i) == Some("paper")))
        .filter_map(|i| bps.get(i))
        .collect();
    Ok(Evidence {
        paper_slippage_bps: rows,
    })
}

pub fn run(ctx: &Ctx) -> Result<Exit> {
    let cfg = &ctx.config;
    let date = ctx.today();
    let store = StateStore::new(&cfg.paths.state_dir, cfg.state.backups).at(ctx.now);
    let (state, problem) = match store.load().context("reading the state")? {
        Loaded::Ok(s) => (s, None),
        Loaded::Fresh => (
            State::new(ctx.now, cfg.phase),
            Some("no state yet (no job has run)".to_string()),
        ),
        Loaded::Recovered {
            state,
            from,
            problem,
            ..
        } => (
            state,
            Some(format!(
                "{} is unusable ({problem}); showing backup {} (the next job recovers it)",
                store.path.display(),
                from.display()
            )),
        ),
    };
    let ev = paper_slippage(ctx)?;
    let mut phases = vec![cfg.phase];
    phases.extend(gates::next_phase(cfg.phase));
    let gates: Vec<Progress> = phases
        .into_iter()
        .filter_map(|p| gates::progress(&state, cfg, p, date, &ev))
        .collect();
    let ks = &cfg.paths.kill_switch;
    let kill_switch = std::fs::symlink_metadata(ks)
        .is_ok()
        .then(|| read_kill_switch(ks));
    let status = Status {
        date,
        phase: cfg.phase,
        recorded_phase: state.phase_history.last().map(|c| c.phase),
        phase_override: cfg.phase_override.as_ref().map(|o| Override {
            phase: o.phase,
            reason: &o.reason,
        }),
        gates,
        jobs: state
            .jobs
            .get(&date)
            .map(|m| m.values().collect())
            .unwrap_or_default(),
        kill_switch,
        account: state.account.as_ref(),
        orders_in_flight: &state.orders_in_flight,
        last_validation: state
            .validations
            .last_key_value()
            .map(|(d, r)| LastValidation {
                date: *d,
                record: r,
            }),
        state_problem: problem,
    };
    if ctx.json {
        super::print_json(&status)?;
    } else {
        print_human(ctx, &status);
    }
    Ok(Exit::Ok)
}

use crate::exit::Exit;

fn print_human(ctx: &Ctx, s: &Status) {
    let cents = crate::money::dollars;
    outln!(
        "status {}  (New York date)  state {}",
        s.date,
        ctx.config.state_file().display()
    );
    if let Some(p) = &s.state_problem {
        outln!("  state    {p}");
    }
    outln!(
        "  phase    {} (configured); {} (last recorded in phase_history)",
        s.phase.as_str(),
        s.recorded_phase.map_or("none", Phase::as_str)
    );
    if let Some(o) = &s.phase_override {
        outln!(
            "  OVERRIDE phase_override: {} runs without its gate ({})",
            o.phase.as_str(),
            o.reason
        );
    }
    for g in &s.gates {
        outln!(
            "  gate     {}: {}",
            g.phase.as_str(),
            if g.open { "OPEN" } else { "closed" }
        );
        for c in &g.counts {
            outln!(
                "           {} {}: {} (need {})",
                if c.met { "ok " } else { "-- " },
                c.what,
                c.have,
                c.need
            );
        }
        for m in &g.missing {
            outln!("           missing: {m}");
        }
    }
    if s.jobs.is_empty() {
        outln!("  jobs     none today");
    }
    for j in &s.jobs {
        outln!(
            "  job      {:<10} {:<7} {}",
            j.job,
            format!("{:?}", j.result).to_lowercase(),
            j.detail
        );
    }
    match &s.kill_switch {
        None => outln!("  kill     absent"),
        Some(k) => outln!(
            "  kill     PRESENT {} (reason: {}{}{})",
            ctx.config.paths.kill_switch.display(),
            k.reason.as_deref().unwrap_or("none given"),
            k.who
                .as_deref()
                .map_or(String::new(), |w| format!(", by {w}")),
            k.at.as_deref()
                .map_or(String::new(), |a| format!(", at {a}"))
        ),
    }
    match s.account {
        None => outln!("  account  none recorded yet"),
        Some(a) => {
            let pos: BTreeMap<&String, &i64> =
                a.positions.iter().filter(|(_, q)| **q != 0).collect();
            outln!(
                "  account  {} as of {}: cash {:.2}, equity {:.2}, positions {}",
                a.broker,
                a.as_of,
                cents(a.cash_cents),
                cents(a.equity_cents),
                if pos.is_empty() {
                    "none".to_string()
                } else {
                    pos.iter()
                        .map(|(s, q)| format!("{s} {q}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            );
        }
    }
    if s.orders_in_flight.is_empty() {
        outln!("  orders   none in flight");
    }
    for o in s.orders_in_flight {
        outln!(
            "  order    {} {} {} {} ({})",
            o.date,
            o.side.as_str(),
            o.qty,
            o.symbol,
            o.client_order_id
        );
    }
    match &s.last_validation {
        None => outln!("  validate none yet"),
        Some(v) => outln!(
            "  validate {} {}: match {:.1}%, drift {:.2}%",
            v.date,
            v.record.colour.as_str(),
            v.record.match_pct,
            v.record.drift_pct
        ),
    }
}
