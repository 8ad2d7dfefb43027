//! `trader risk`: the risk position for a trading date without changing anything — 1-day ES
//! and VaR (historical, normal, Cornish–Fisher) of the book now and of the strategy's
//! target, the drawdown from the recorded equity peak with its budget tier, and the headroom
//! left under each measurable rule. Read-only: no lock, no ledger, no state write.

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::Serialize;

use super::Ctx;
use crate::cli::RiskArgs;
use crate::exit::Exit;
use crate::pipeline;
use crate::risk::{RiskSnapshot, risk_snapshot};
use crate::state::State;
use crate::state::store::{Loaded, StateStore};

#[derive(Serialize)]
struct Report<'a> {
    date: NaiveDate,
    broker: &'a str,
    equity: f64,
    cash: f64,
    confidence_pct: f64,
    window_days: usize,
    /// The account as it stands.
    book: RiskSnapshot,
    /// The strategy's target for the date, before the risk rules adjust it.
    target: Option<RiskSnapshot>,
    /// Rules in breach (negative headroom) for the book or the target.
    breaches: Vec<String>,
}

/// Show the risk position of `--date` (default: today's trading date, or the last session).
pub fn run(ctx: &Ctx, args: &crate::cli::RiskArgs) -> Result<Exit> {
    let cfg = &ctx.config;
    let date = resolve_date(ctx, args)?;
    let store = StateStore::new(&cfg.paths.state_dir, cfg.state.backups).at(ctx.now);
    let state = match store.load().context("reading the state")? {
        Loaded::Ok(s) => s,
        Loaded::Fresh => State::new(ctx.now, cfg.phase),
        Loaded::Recovered { state, problem, .. } => {
            ctx.log.warn(&format!(
                "{} is unusable ({problem}); showing the newest valid backup",
                store.path.display()
            ));
            state
        }
    };
    let day = super::daily::load(ctx, &state, date, false)?;
    let pcfg = super::dry_run::pipeline_config(cfg, true);
    let rc = &cfg.risk;
    let rctx = pipeline::build_risk_context(&pcfg, rc, &day.inputs());
    let book = risk_snapshot(rc, &rctx, &day.holdings.weights(&day.closes));
    let target = day
        .decision
        .targets
        .as_ref()
        .map(|t| risk_snapshot(rc, &rctx, t));
    let mut breaches = Vec::new();
    for (what, snap) in [("book", Some(&book)), ("target", target.as_ref())] {
        for h in snap.into_iter().flat_map(|s| &s.headroom) {
            if h.headroom < 0.0 {
                breaches.push(format!(
                    "{what}: {} = {:.2} beyond limit {:.2}",
                    h.rule, h.value, h.limit
                ));
            }
        }
    }
    let report = Report {
        date,
        broker: &day.broker,
        equity: rctx.equity,
        cash: rctx.cash,
        confidence_pct: rc.expected_shortfall.confidence_pct,
        window_days: rc.expected_shortfall.window_days,
        book,
        target,
        breaches,
    };
    if ctx.json {
        super::print_json(&report)?;
    } else {
        print_human(&report);
    }
    Ok(Exit::Ok)
}

/// `--date`, or today when it is a trading day, or else the last session before it.
fn resolve_date(ctx: &Ctx, args: &RiskArgs) -> Result<NaiveDate> {
    if let Some(d) = args.date {
        if let Some(why) = super::closed_because(d)? {
            anyhow::bail!(crate::exit::ExitError::new(
                Exit::Usage,
                format!("--date {d}: not a trading day ({why})")
            ));
        }
        return Ok(d);
    }
    let today = ctx.today();
    match super::closed_because(today)? {
        None => Ok(today),
        Some(_) => Ok(crate::calendar::previous_trading_day(today)?),
    }
}

fn pct(v: Option<f64>) -> String {
    // An all-cash book has an ES of −0.0: print it as 0.00%.
    v.map_or("-".into(), |v| {
        format!("{:.2}%", if v.abs() < 5e-5 { 0.0 } else { v })
    })
}

fn print_human(r: &Report) {
    outln!(
        "risk {}  ({} account, equity {:.2}, cash {:.2})",
        r.date,
        r.broker,
        r.equity,
        r.cash
    );
    let t = r.target.as_ref();
    outln!(
        "  1-day, {}% over {} days   {:>10} {:>10}",
        r.confidence_pct,
        r.window_days,
        "book",
        "target"
    );
    type Field = fn(&RiskSnapshot) -> Option<f64>;
    let rows: [(&str, Field); 6] = [
        ("ES  historical", |s| s.es_hist),
        ("ES  normal", |s| s.es_normal),
        ("ES  Cornish-Fisher", |s| s.es_cf),
        ("VaR historical", |s| s.var_hist),
        ("VaR normal", |s| s.var_normal),
        ("VaR Cornish-Fisher", |s| s.var_cf),
    ];
    for (name, f) in rows {
        outln!(
            "  {name:<27} {:>10} {:>10}",
            pct(f(&r.book)),
            pct(t.and_then(f))
        );
    }
    if let Some(e) = &r.book.es_error {
        outln!("  (ES of the book: {e})");
    }
    let b = &r.book;
    outln!(
        "  drawdown {:.2}% from peak {:.2}; tier {}; exposure allowed {:.0}%",
        b.drawdown,
        b.peak_equity,
        b.tier.map_or("none".into(), |t| format!(
            "beyond {}% → {}%",
            t.drawdown_pct, t.exposure_pct
        )),
        b.exposure_pct
    );
    outln!(
        "  {:<28} {:>10} {:>10} {:>10}",
        "rule (headroom of target)",
        "value",
        "limit",
        "headroom"
    );
    for h in t.map_or(&b.headroom, |t| &t.headroom) {
        outln!(
            "  {:<28} {:>10.2} {:>10.2} {:>10.2}{}",
            h.rule,
            h.value,
            h.limit,
            h.headroom,
            if h.headroom < 0.0 { "  BREACH" } else { "" }
        );
    }
    for line in &r.breaches {
        outln!("  breach: {line}");
    }
}
