//! `trader dry-run`: the daily job without sending anything. For the New York trading
//! date (or `--date`), load bars, read the account, decide, size hypothetical orders,
//! append decision, orders and risk outcomes to the ledgers, save the state, and print
//! a summary a person reads in five seconds. Idempotent per date.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::NaiveDate;
use serde::Serialize;

use super::Ctx;
use crate::broker::ClientOrderId;
use crate::cli::DryRunArgs;
use crate::config::Config;
use crate::exit::Exit;
use crate::ledger::{self, Col, Table};
use crate::model::OrderIntent;
use crate::pipeline::{self, DayPlan, PipelineConfig};
use crate::portfolio::CostModel;
use crate::risk::RuleOutcome;
use crate::state::{
    AccountSnapshot, DecisionRecord, JobRecord, JobResult, RegimeSummary, TargetRecord,
};
use crate::strategy::Decision;

/// Tag of the flagship strategy in client order ids.
pub const STRATEGY_TAG: &str = "hav35b";

/// The cost model of a config (the simulator fills with it).
pub fn cost_model(cfg: &Config) -> CostModel {
    CostModel {
        slippage: cfg.portfolio.slippage_pct / 100.0,
        commission_per_share: cfg.portfolio.commission_per_share,
    }
}

/// The pipeline settings of a config (`with_risk` = false for `backtest --no-risk`).
pub fn pipeline_config(cfg: &Config, with_risk: bool) -> PipelineConfig {
    PipelineConfig {
        strategy_tag: STRATEGY_TAG.into(),
        cost: cost_model(cfg),
        rebalance_threshold: cfg.strategy.params.rebalance_threshold,
        drift_pct: cfg.portfolio.drift_rebalance_pct,
        risk: with_risk.then(|| cfg.risk.clone()),
        stale_symbols: Default::default(),
        corporate_action_symbols: Default::default(),
        terse: false,
    }
}

#[derive(Serialize)]
struct Summary<'a> {
    date: NaiveDate,
    recorded: bool,
    decision: &'a Decision,
    plan: &'a DayPlan<'a>,
    equity: f64,
    skipped_preflight: bool,
}

/// Run the daily decision for one date.
pub fn run(ctx: &Ctx, args: &DryRunArgs) -> Result<Exit> {
    let cfg = &ctx.config;
    let date = args.date.unwrap_or_else(|| ctx.today());
    if super::report_closed(date)? {
        return Ok(Exit::Ok);
    }
    let mut job = super::open_job(ctx, "dry-run")?;
    if let Some(rec) = job
        .state
        .job(date, "dry-run")
        .filter(|r| r.result == JobResult::Ok)
        && !args.force
    {
        outln!(
            "dry-run for {date} already recorded at {}: {}\n(nothing appended; use --force to recompute and replace it)",
            rec.finished_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            rec.detail
        );
        return Ok(Exit::Ok);
    }
    if !args.skip_preflight {
        super::preflight::require_passed(&job.state, date)?;
    } else {
        ctx.log.warn(&format!("dry-run for {date} runs WITHOUT a passed preflight (--skip-preflight); recorded as such"));
    }
    let d = super::daily::load(ctx, &job.state, date, true)?;
    let pcfg = pipeline_config(cfg, true);
    let day = pipeline::decide_day(&pcfg, &d.inputs());
    let decision = &d.decision;
    let holdings = &d.holdings;
    let equity_cents = d.equity_cents();
    let orders = orders_table(day.orders.iter().map(|o| {
        let id = ClientOrderId::new(STRATEGY_TAG, date, &o.symbol, o.side, 1).0;
        (date, id, o)
    }));
    write_ledgers(ctx, date, "dry-run", decision, &day, &d.tradables, orders)?;
    let st = &mut job.state;
    st.account = Some(AccountSnapshot {
        as_of: date,
        broker: d.broker.clone(),
        cash_cents: holdings.cash_cents,
        positions: holdings.positions.clone(),
        equity_cents,
    });
    record_decision(st, date, decision, &day, equity_cents);
    st.decisions.insert(
        date,
        decision_record("dry-run", cfg.phase, ctx.clock(), &d, &day),
    );
    let detail = one_line(decision, &day);
    st.record_job(
        date,
        JobRecord {
            job: "dry-run".into(),
            phase: Some(cfg.phase),
            started_at: ctx.now,
            finished_at: ctx.clock(),
            result: JobResult::Ok,
            detail: detail.clone(),
            skipped_preflight: args.skip_preflight,
        },
    );
    job.save(ctx.now)?;
    ctx.log.info(&format!("dry-run {date}: {detail}"));
    if ctx.json {
        super::print_json(&Summary {
            date,
            recorded: true,
            decision,
            plan: &day,
            equity: crate::money::dollars(equity_cents),
            skipped_preflight: args.skip_preflight,
        })?;
    } else {
        print_human(date, decision, &day, equity_cents);
    }
    Ok(Exit::Ok)
}

/// The regime of a decision as the state keeps it.
pub fn regime_summary(decision: &Decision) -> RegimeSummary {
    let dg = &decision.diagnostics;
    RegimeSummary {
        date: decision.date,
        cell: dg.cell,
        trend: dg.trend.map(|t| format!("{t:?}")),
        vol_state: format!("{:?}", dg.vol_state),
        t_norm: dg.t_norm,
        z_score: dg.z_score,
    }
}

/// Record a decided day in the state: the targets of a rebalance, the regime and the
/// equity (shared by `dry-run` and `paper`).
pub fn record_decision(
    st: &mut crate::state::State,
    date: NaiveDate,
    decision: &Decision,
    day: &DayPlan,
    equity_cents: i64,
) {
    if day.rebalance
        && let Some(t) = &day.final_targets
    {
        st.last_targets = Some(TargetRecord {
            date,
            weights: BTreeMap::clone(t),
        });
    }
    st.regime = Some(regime_summary(decision));
    st.record_equity(date, crate::money::dollars(equity_cents));
}

/// What `validate` needs of a decision: targets, the price of each tradable it was decided
/// at, the symbols traded, the holdings it started from (`paper` records the same).
pub fn decision_record(
    job: &str,
    phase: crate::config::Phase,
    at: chrono::DateTime<chrono::Utc>,
    d: &super::daily::Day,
    day: &DayPlan,
) -> DecisionRecord {
    let mut traded: Vec<String> = day.orders.iter().map(|o| o.symbol.clone()).collect();
    traded.sort();
    traded.dedup();
    DecisionRecord {
        job: job.into(),
        phase,
        decided_at: at,
        targets: day.final_targets.as_deref().cloned(),
        previous_targets: d.last_targets.clone(),
        decision_prices: d.closes.clone(),
        traded,
        cash_cents: d.holdings.cash_cents,
        positions: d.holdings.positions.clone(),
        regime: regime_summary(&d.decision),
    }
}

/// The one-line summary of a decided day.
pub fn one_line(d: &Decision, day: &DayPlan) -> String {
    let g = &d.diagnostics;
    let cell = g
        .cell
        .map_or("none (not enough history)".to_string(), |c| c.to_string());
    format!(
        "cell {cell}, {} order(s), {}",
        day.orders.len(),
        day.gate
            .as_ref()
            .map_or("no targets".to_string(), |g| g.reason.to_string())
    )
}

fn print_human(date: NaiveDate, d: &Decision, day: &DayPlan, equity_cents: i64) {
    let g = &d.diagnostics;
    outln!("dry-run {date}  (no order is sent)");
    outln!(
        "  regime   cell {}  trend {}  vol {:?}{}  t_norm {}  z {}",
        g.cell.map_or("-".into(), |c| c.to_string()),
        g.trend.map_or("-".into(), |t| format!("{t:?}")),
        g.vol_state,
        if g.vol_crush { " (crush)" } else { "" },
        g.t_norm.map_or("-".into(), |t| format!("{t:+.3}")),
        g.z_score.map_or("-".into(), |z| format!("{z:+.2}"))
    );
    match &day.final_targets {
        Some(t) => {
            let parts: Vec<String> = t
                .iter()
                .filter(|(_, w)| **w > 0.0)
                .map(|(s, w)| format!("{s} {:.1}%", w * 100.0))
                .collect();
            let cash = 1.0 - t.values().sum::<f64>();
            outln!("  targets  {}  cash {:.1}%", parts.join("  "), cash * 100.0);
        }
        None => outln!("  targets  none: not enough history, hold"),
    }
    if let Some(gate) = &day.gate {
        outln!("  gate     {}", gate.reason);
    }
    if day.orders.is_empty() {
        outln!("  orders   none");
    }
    for o in &day.orders {
        outln!(
            "  order    {:<4} {:>7} {:<5} @ {:.2}  ≈ {:.2}",
            o.side.as_str(),
            o.qty,
            o.symbol,
            o.ref_price,
            o.notional()
        );
    }
    if let Some(p) = &day.plan {
        outln!(
            "  cash     {:.2} left after orders ({:.2}% of equity {:.2})",
            crate::money::dollars(p.cash_after_cents),
            p.cash_after_pct,
            crate::money::dollars(p.equity_cents)
        );
    } else {
        outln!("  equity   {:.2}", crate::money::dollars(equity_cents));
    }
    let flagged: Vec<&RuleOutcome> = day
        .risk_outcomes
        .iter()
        .filter(|o| o.verdict != crate::risk::Verdict::Pass)
        .collect();
    outln!(
        "  risk     {} rule(s) checked, {} not passed{}",
        day.risk_outcomes.len(),
        flagged.len(),
        flagged
            .iter()
            .map(|o| format!("\n           {} {:?}: {}", o.rule, o.verdict, o.message))
            .collect::<String>()
    );
}

/// The decisions table: diagnostics and one target-weight column per tradable.
pub fn decision_table<'a>(
    rows: impl Iterator<Item = (&'a Decision, &'a BTreeMap<String, f64>)>,
    tradables: &[String],
) -> Table {
    let rows: Vec<_> = rows.collect();
    let mut t = Table::default();
    let g =
        |f: &dyn Fn(&Decision) -> Option<f64>| Col::F64(rows.iter().map(|(d, _)| f(d)).collect());
    t.push(
        "date",
        Col::Date(rows.iter().map(|(d, _)| d.date).collect()),
    )
    .push(
        "cell",
        Col::F64(
            rows.iter()
                .map(|(d, _)| d.diagnostics.cell.map(f64::from))
                .collect(),
        ),
    )
    .push(
        "trend",
        Col::Str(
            rows.iter()
                .map(|(d, _)| {
                    d.diagnostics
                        .trend
                        .map_or(String::new(), |t| format!("{t:?}"))
                })
                .collect(),
        ),
    )
    .push(
        "vol_state",
        Col::Str(
            rows.iter()
                .map(|(d, _)| format!("{:?}", d.diagnostics.vol_state))
                .collect(),
        ),
    )
    .push("t_norm", g(&|d| d.diagnostics.t_norm))
    .push("z_score", g(&|d| d.diagnostics.z_score))
    .push("sma_fast", g(&|d| d.diagnostics.sma_fast))
    .push("sma_slow", g(&|d| d.diagnostics.sma_slow))
    .push("bond_sma_fast", g(&|d| d.diagnostics.bond_sma_fast))
    .push("bond_sma_slow", g(&|d| d.diagnostics.bond_sma_slow))
    .push(
        "vol_crush",
        Col::Bool(rows.iter().map(|(d, _)| d.diagnostics.vol_crush).collect()),
    );
    for s in tradables {
        t.push(
            s,
            Col::F64(
                rows.iter()
                    .map(|(d, w)| d.targets.as_ref().map(|_| w.get(s).copied().unwrap_or(0.0)))
                    .collect(),
            ),
        );
    }
    t
}

/// The orders table: date, client order id, symbol, side, qty, reference price.
pub fn orders_table<'a>(rows: impl Iterator<Item = (NaiveDate, String, &'a OrderIntent)>) -> Table {
    let rows: Vec<_> = rows.collect();
    let mut t = Table::default();
    t.push("date", Col::Date(rows.iter().map(|r| r.0).collect()))
        .push(
            "client_order_id",
            Col::Str(rows.iter().map(|r| r.1.clone()).collect()),
        )
        .push(
            "symbol",
            Col::Str(rows.iter().map(|r| r.2.symbol.clone()).collect()),
        )
        .push(
            "side",
            Col::Str(rows.iter().map(|r| r.2.side.as_str().into()).collect()),
        )
        .push("qty", Col::I64(rows.iter().map(|r| r.2.qty).collect()))
        .push(
            "ref_price",
            Col::F64(rows.iter().map(|r| Some(r.2.ref_price)).collect()),
        );
    t
}

/// The risk-check ledger rows.
pub fn risk_table<'a>(rows: impl Iterator<Item = (NaiveDate, &'a RuleOutcome)>) -> Table {
    let rows: Vec<_> = rows.collect();
    let mut t = Table::default();
    t.push("date", Col::Date(rows.iter().map(|(d, _)| *d).collect()))
        .push(
            "rule",
            Col::Str(rows.iter().map(|(_, o)| o.rule.to_string()).collect()),
        )
        .push(
            "verdict",
            Col::Str(
                rows.iter()
                    .map(|(_, o)| format!("{:?}", o.verdict).to_lowercase())
                    .collect(),
            ),
        )
        .push(
            "symbol",
            Col::Str(
                rows.iter()
                    .map(|(_, o)| o.symbol.clone().unwrap_or_default())
                    .collect(),
            ),
        )
        .push(
            "value",
            Col::F64(rows.iter().map(|(_, o)| Some(o.value)).collect()),
        )
        .push(
            "limit",
            Col::F64(rows.iter().map(|(_, o)| Some(o.limit)).collect()),
        )
        .push(
            "message",
            Col::Str(rows.iter().map(|(_, o)| o.message.clone()).collect()),
        );
    t
}

/// The decision, orders and risk-check rows of a date. Always replacing the date's rows
/// (of this `phase` in the decisions and orders ledgers, which `dry-run` and `paper`
/// share): a run killed after these writes but before its state save left them without a
/// job record, and its rerun must not add them a second time. `orders` gets the phase
/// column here.
pub fn write_ledgers(
    ctx: &Ctx,
    date: NaiveDate,
    phase: &str,
    d: &Decision,
    day: &DayPlan,
    tradables: &[String],
    mut orders: Table,
) -> Result<()> {
    let dir = &ctx.config.paths.ledger_dir;
    let empty = BTreeMap::new();
    let weights = day.final_targets.as_deref().unwrap_or(&empty);
    let mut t = decision_table(std::iter::once((d, weights)), tradables);
    t.push("phase", Col::Str(vec![phase.into()]));
    ledger::append_phase(&dir.join("decisions.parquet"), &t, date, phase)?;
    if !orders.cols.iter().any(|(n, _)| n == "phase") {
        let n = match orders.cols.first() {
            Some((_, Col::Date(v))) => v.len(),
            _ => 0,
        };
        orders.push("phase", Col::Str(vec![phase.into(); n]));
    }
    ledger::append_phase(&dir.join("orders.parquet"), &orders, date, phase)?;
    let r = risk_table(day.risk_outcomes.iter().map(|o| (date, o)));
    ledger::append(&dir.join("risk_checks.parquet"), &r, Some(date))?;
    Ok(())
}
