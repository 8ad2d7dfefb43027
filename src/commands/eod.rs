//! `trader eod [--date D] [--period week|month] [--log-scale]`: after the close, the day's
//! report from the state (equity history, account, journal, decision, validation, jobs), the
//! ledgers and the official bars, written to `paths.reports_dir/D/` as `report.md`,
//! `report.html` (self-contained), `report.json`, `equity.png` and `drawdown.png`; one row per
//! day in `data/ledger/daily.parquet` (the day's row replaced on a rerun); with `--period`,
//! the rollup `week.md`/`week.json` (or `month.*`) beside them. Job `eod` in the state; the
//! summary goes out as an info alert with the HTML as its body and the PNGs attached.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::NaiveDate;

use super::{Ctx, eod_read};
use crate::cli::{EodArgs, PeriodArg};
use crate::exit::{Exit, ExitError};
use crate::ledger::{self, Col, Table};
use crate::report::period::{self, Period};
use crate::report::{self, DayReport, OrderInput, chart, render};
use crate::state::{JobRecord, JobResult, State};

fn blocked(msg: String) -> anyhow::Error {
    ExitError::new(Exit::Blocked, msg).into()
}

/// Close-auction orders fill at the close and are collected by the next job that touches the
/// broker: collect them first (`sync`'s shared step; nothing happens when none is pending),
/// then warn about any that are still not final, since the report uses the fills recorded.
fn settle_pending_fills(ctx: &Ctx, job: &mut super::Job, date: NaiveDate) -> Result<()> {
    let (collected, _) = super::sync::collect_all(ctx, job, Some(date))
        .context("collecting the pending close-auction orders at the broker")?;
    ctx.log.info(&format!("eod {date}: {collected}"));
    let open: Vec<String> = job
        .state
        .journal
        .get(&date)
        .into_iter()
        .flat_map(|j| &j.orders)
        .filter(|o| !o.status.is_final())
        .map(|o| format!("{} {} ({})", o.side.as_str(), o.symbol, o.status.as_str()))
        .collect();
    if !open.is_empty() {
        ctx.log.warn(&format!(
            "eod {date}: {} order(s) not final yet ({}): the report uses the fills recorded so far; rerun eod once they are in",
            open.len(),
            open.join(", ")
        ));
    }
    Ok(())
}

/// The day's orders: the journal's (paper/live), else the dry-run's hypothetical ones.
fn day_orders(
    ctx: &Ctx,
    state: &State,
    date: NaiveDate,
    closes: &BTreeMap<String, f64>,
) -> Result<(Vec<OrderInput>, bool)> {
    let close = |s: &str| closes.get(s).copied();
    if let Some(j) = state.journal.get(&date) {
        let orders = j
            .orders
            .iter()
            .map(|o| OrderInput {
                symbol: o.symbol.clone(),
                side: o.side,
                qty: o.qty,
                filled_qty: o.filled_qty,
                avg_fill_price: o.avg_fill_price,
                decision_price: o.decision_price,
                official_close: close(&o.symbol),
                commission_cents: o.commission_cents,
                status: o.status.as_str().into(),
            })
            .collect();
        return Ok((orders, false));
    }
    let path = ctx.config.paths.ledger_dir.join("orders.parquet");
    let mut orders = eod_read::ledger_orders(&path, date, "dry-run")
        .with_context(|| format!("reading {}", path.display()))?;
    for o in &mut orders {
        o.official_close = close(&o.symbol);
    }
    Ok((orders, true))
}

/// Write one report file atomically, naming it on failure.
fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    let p = dir.join(name);
    crate::fsutil::write_atomic(&p, bytes).with_context(|| format!("writing {}", p.display()))?;
    Ok(p)
}

/// The day's row of `daily.parquet`.
fn daily_table(r: &DayReport) -> Table {
    let p = &r.performance;
    let e = &r.execution;
    let f = |x: Option<f64>| Col::F64(vec![x.filter(|x| x.is_finite())]);
    let mut t = Table::default();
    t.push("date", Col::Date(vec![r.date]))
        .push("phase", Col::Str(vec![r.phase.clone()]))
        .push("equity", f(Some(p.equity)))
        .push("cash", f(Some(r.cash)))
        .push("daily_pnl", f(Some(p.daily_pnl)))
        .push("daily_return_pct", f(Some(p.daily_return_pct)))
        .push("cumulative_pnl", f(Some(p.cumulative_pnl)))
        .push("drawdown_pct", f(Some(p.drawdown_pct)))
        .push("traded_notional", f(Some(e.traded_notional)))
        .push("fill_rate_pct", f(e.fill_rate_pct))
        .push("commissions", f(Some(e.commissions)))
        .push("shortfall_bps", f(e.shortfall_bps))
        .push("shortfall_close_bps", f(e.shortfall_close_bps))
        .push("es_pct", f(r.risk.es_pct))
        .push("var_pct", f(r.risk.var_pct))
        .push("realised_vol_pct", f(p.realised_vol_pct))
        .push("sharpe_63", f(p.sharpe_63))
        .push("sortino_63", f(p.sortino_63))
        .push("beta", f(p.beta))
        .push("hypothetical", Col::Str(vec![e.hypothetical.to_string()]))
        .push(
            "validation",
            Col::Str(vec![r.validation.clone().unwrap_or_default()]),
        );
    t
}

/// A dated series of values (equity, benchmark).
type Curve = Vec<(NaiveDate, f64)>;

/// The report of `date` (the figures only; no file written).
fn build(ctx: &Ctx, state: &State, date: NaiveDate) -> Result<(DayReport, Curve, Curve)> {
    let cfg = &ctx.config;
    let state_file = cfg.paths.state_dir.join("state.json");
    let equity: Vec<(NaiveDate, f64)> = state
        .equity_history
        .iter()
        .filter(|p| p.date <= date)
        .map(|p| (p.date, p.equity))
        .collect();
    if equity.last().is_none_or(|p| p.0 != date) {
        return Err(blocked(format!(
            "no equity recorded for {date} in {} (equity_history): no dry-run or paper run that day; run `trader dry-run --date {date}` (or paper) first",
            state_file.display()
        )));
    }
    let day = super::daily::load(ctx, state, date, false)?;
    let signal = cfg.strategy.params.signal_symbol.clone();
    let sig: BTreeMap<NaiveDate, f64> = day
        .history
        .series
        .get(&signal)
        .map(|s| {
            s.dates
                .iter()
                .copied()
                .zip(s.close.iter().copied())
                .collect()
        })
        .unwrap_or_default();
    let perf = report::performance(&equity, &sig, cfg.backtest.risk_free_rate)
        .context("no equity history")?;
    let (orders, hypothetical) = day_orders(ctx, state, date, &day.closes)?;
    let exec = report::execution(&orders, hypothetical);
    let rec = state.decisions.get(&date);
    let (held, cash) = match &state.account {
        Some(a) if a.as_of == date => (a.positions.clone(), crate::money::dollars(a.cash_cents)),
        _ => rec.map_or_else(Default::default, |r| {
            (r.positions.clone(), crate::money::dollars(r.cash_cents))
        }),
    };
    let positions = report::positions(
        &held,
        &day.closes,
        rec.and_then(|r| r.targets.as_ref()),
        perf.equity,
    );
    let pcfg = super::dry_run::pipeline_config(cfg, true);
    let rctx = crate::pipeline::build_risk_context(&pcfg, &cfg.risk, &day.inputs());
    let weights: BTreeMap<String, f64> = positions
        .iter()
        .filter(|p| p.qty != 0)
        .map(|p| (p.symbol.clone(), p.weight_pct / 100.0))
        .collect();
    let snap = crate::risk::risk_snapshot(&cfg.risk, &rctx, &weights);
    let rules_path = cfg.paths.ledger_dir.join("risk_checks.parquet");
    let risk_rules = eod_read::risk_rules(&rules_path, date)
        .with_context(|| format!("reading {}", rules_path.display()))?;
    let ev = super::status::paper_slippage(ctx)?;
    let mut phases = vec![cfg.phase];
    phases.extend(crate::gates::next_phase(cfg.phase));
    let gates = phases
        .into_iter()
        .filter_map(|p| crate::gates::progress(state, cfg, p, date, &ev))
        .collect();
    let bench: Vec<(NaiveDate, f64)> = {
        let first = sig.range(equity[0].0..).next().map(|x| *x.1);
        equity
            .iter()
            .filter_map(|(d, _)| Some((*d, sig.get(d)? / first? * equity[0].1)))
            .collect()
    };
    let r = DayReport {
        date,
        phase: rec.map_or(cfg.phase.as_str().to_string(), |r| {
            r.phase.as_str().to_string()
        }),
        signal_symbol: signal,
        cash,
        performance: perf,
        positions,
        execution: exec,
        risk: report::BookRisk::from_snapshot(&snap, cfg.risk.expected_shortfall.confidence_pct),
        risk_rules,
        validation: state
            .validations
            .get(&date)
            .map(|v| v.colour.as_str().to_string()),
        gates,
    };
    Ok((r, equity, bench))
}

/// Report one date.
pub fn run(ctx: &Ctx, args: &EodArgs) -> Result<Exit> {
    let cfg = &ctx.config;
    let date = args.date.unwrap_or_else(|| ctx.today());
    if super::report_closed(date)? {
        return Ok(Exit::Ok);
    }
    let mut job = super::open_job(ctx, "eod")?;
    settle_pending_fills(ctx, &mut job, date)?;
    let (r, equity, bench) = build(ctx, &job.state, date)?;
    let dir = cfg.paths.reports_dir.join(date.to_string());
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let log_scale = args.log_scale || cfg.report.log_scale;
    let eq_png = chart::equity_png(
        &equity,
        &bench,
        log_scale,
        &format!("Equity vs {} buy-and-hold", r.signal_symbol),
    )?;
    let dd_png = chart::drawdown_png(
        &report::stats::drawdown_series(&equity),
        "Drawdown from peak (%)",
    )?;
    let title = format!("trader eod {date}");
    let tables = render::day_tables(&r);
    let html = render::html_page(
        &title,
        &tables,
        &[("equity", &eq_png), ("drawdown", &dd_png)],
    );
    let html_path = write(&dir, "report.html", html.as_bytes())?;
    let eq_path = write(&dir, "equity.png", &eq_png)?;
    let dd_path = write(&dir, "drawdown.png", &dd_png)?;
    write(
        &dir,
        "report.md",
        render::md_page(&title, &tables, &["equity.png", "drawdown.png"]).as_bytes(),
    )?;
    write(&dir, "report.json", &serde_json::to_vec_pretty(&r)?)?;
    let daily = cfg.paths.ledger_dir.join("daily.parquet");
    ledger::append(&daily, &daily_table(&r), Some(date))?;
    if let Some(p) = args.period {
        let period = match p {
            PeriodArg::Week => Period::Week,
            PeriodArg::Month => Period::Month,
        };
        let rows =
            eod_read::daily_rows(&daily).with_context(|| format!("reading {}", daily.display()))?;
        let from = period.start(date);
        let errors = job
            .state
            .jobs
            .range(from..=date)
            .flat_map(|(d, m)| m.values().map(move |j| (d, j)))
            .filter(|(_, j)| matches!(j.result, JobResult::Failed | JobResult::Blocked))
            .map(|(d, j)| format!("{d} {}: {}", j.job, j.detail))
            .collect();
        if let Some(roll) = period::rollup(period, date, &rows, errors) {
            write(
                &dir,
                &format!("{}.md", period.as_str()),
                period::md(&roll).as_bytes(),
            )?;
            write(
                &dir,
                &format!("{}.json", period.as_str()),
                &serde_json::to_vec_pretty(&roll)?,
            )?;
        }
    }
    let p = &r.performance;
    let detail = format!(
        "equity {:.2} ({:+.2}%), drawdown {:.2}%, {} order(s){}, report {}",
        p.equity,
        p.daily_return_pct,
        p.drawdown_pct,
        r.execution.orders.len(),
        if r.execution.hypothetical {
            " (hypothetical)"
        } else {
            ""
        },
        html_path.display()
    );
    job.state.record_job(
        date,
        JobRecord {
            job: "eod".into(),
            phase: Some(cfg.phase),
            started_at: ctx.now,
            finished_at: ctx.clock(),
            result: JobResult::Ok,
            detail: detail.clone(),
            skipped_preflight: false,
        },
    );
    job.save(ctx.now)?;
    ctx.log.info(&format!("eod {date}: {detail}"));
    if cfg.report.email_summary {
        crate::alert::raise_with_files(
            crate::alert::Alert {
                severity: crate::alert::Severity::Info,
                key: format!("eod-{date}"),
                subject: format!(
                    "eod {date}: equity {:.2} ({:+.2}%)",
                    p.equity, p.daily_return_pct
                ),
                body: format!("{detail}\n"),
            },
            vec![html_path.clone(), eq_path, dd_path],
        );
    }
    if ctx.json {
        super::print_json(&r)?;
    } else {
        outln!("eod {date}: {detail}");
    }
    Ok(Exit::Ok)
}
