//! `trader backtest`: the strategy over history through the same decision, risk,
//! portfolio and simulated-broker code as the daily run; writes parquet tables and
//! prints a summary (or the metrics as JSON).

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use super::Ctx;
use crate::backtest::{self, Fill, FillRow, Outcome, Spec};
use crate::cli::{BacktestArgs, FillArg};
use crate::data::history;
use crate::exit::{Exit, ExitError};
use crate::ledger::{self, Col, Table};
use crate::pipeline::PipelineConfig;
use crate::strategy::{History, Series, Strategy, StrategyError};

#[derive(Serialize)]
struct Bench {
    cagr: f64,
    sharpe: f64,
    max_drawdown: f64,
}

#[derive(Serialize)]
struct Summary {
    start: chrono::NaiveDate,
    end: chrono::NaiveDate,
    final_equity: f64,
    cagr: f64,
    sharpe: f64,
    sortino: f64,
    max_drawdown: f64,
    calmar: f64,
    volatility: f64,
    trades: usize,
    turnover: f64,
    benchmark: Bench,
}

/// Run the backtest. Meant to be the last thing its process does: the run's memory is left to
/// the process exit rather than freed (see the end of this function).
pub fn run(ctx: &Ctx, args: &BacktestArgs) -> Result<Exit> {
    if args.to < args.from {
        return Err(ExitError::new(
            Exit::Usage,
            format!("--to {} is before --from {}", args.to, args.from),
        )
        .into());
    }
    let cfg = &ctx.config;
    let strategy = cfg.strategy_impl();
    let spec = Spec {
        from: args.from,
        to: args.to,
        fill: match args.fill {
            FillArg::Close => Fill::Close,
            FillArg::NextOpen => Fill::NextOpen,
        },
        initial_cents: super::config_cents(
            cfg,
            "backtest.initial_capital",
            cfg.backtest.initial_capital,
        )?,
        risk_free: cfg.backtest.risk_free_rate,
        pipeline: PipelineConfig {
            // Passing rules' messages only matter in risk_checks.parquet.
            terse: args.out.is_none(),
            ..super::dry_run::pipeline_config(cfg, !args.no_risk)
        },
    };
    let tradables = strategy.tradable_symbols();
    let signal = cfg.strategy.params.signal_symbol.clone();
    let (hist, out) = simulate(cfg, &strategy, &spec, &tradables, &signal)?;
    let (Some(first), Some(last)) = (out.equity.first(), out.equity.last()) else {
        return Err(ExitError::new(
            Exit::Usage,
            format!(
                "no trading days with data between {} and {}",
                args.from, args.to
            ),
        )
        .into());
    };
    if let Some(dir) = &args.out {
        write_outputs(dir, &out, &tradables)
            .with_context(|| format!("writing backtest output to {}", dir.display()))?;
    }
    if let Some(dir) = &args.report {
        super::backtest_report::write(
            dir,
            &out,
            cfg.backtest.initial_capital,
            &signal,
            args.log_scale || cfg.report.log_scale,
        )
        .with_context(|| format!("writing the tear sheet to {}", dir.display()))?;
    }
    let m = out.metrics;
    let summary = Summary {
        start: first.date,
        end: last.date,
        final_equity: last.equity,
        cagr: m.cagr,
        sharpe: m.sharpe,
        sortino: m.sortino,
        max_drawdown: m.max_drawdown,
        calmar: m.calmar,
        volatility: m.volatility,
        trades: out.fills.iter().filter(|f| f.status == "filled").count(),
        turnover: out.turnover,
        benchmark: Bench {
            cagr: out.benchmark.cagr,
            sharpe: out.benchmark.sharpe,
            max_drawdown: out.benchmark.max_drawdown,
        },
    };
    if ctx.json {
        super::print_json(&summary)?;
    } else {
        print_summary(&summary, &out, args.no_risk);
    }
    // The process exits next: hand the run's memory (tens of thousands of small allocations:
    // every day's decision, targets and rows) back with it instead of freeing it piece by
    // piece, which took ~8 % of a backtest. Plain memory only; every file is already written.
    std::mem::forget(out);
    std::mem::forget(hist);
    Ok(Exit::Ok)
}

/// Load, decide and simulate, on two threads. The strategy's thread loads the signals' bars
/// and runs the forward pass, handing the days over as it decides them (and first a copy of
/// those signal series the run needs too); this thread loads the other bars and simulates the
/// days, waiting only when it catches up. The same bars, decisions and order as one thread
/// would have, so the same outcome to the bit.
fn simulate(
    cfg: &crate::config::Config,
    strategy: &(impl Strategy + Sync),
    spec: &Spec,
    tradables: &[String],
    benchmark: &str,
) -> Result<(History, Outcome)> {
    let load = |symbols: &[String]| history::load_configured(cfg, symbols, Some(spec.to));
    let signals = strategy.signal_symbols();
    // What the run reads (the tradables and the benchmark, in the strategy's order, so a
    // missing file is named as before): the signals among them come from the strategy's
    // thread, the rest are this thread's to load.
    let mut run_reads: Vec<String> = Vec::new();
    for s in tradables.iter().map(String::as_str).chain([benchmark]) {
        if !run_reads.iter().any(|x| x == s) {
            run_reads.push(s.to_string());
        }
    }
    let (shared, own): (Vec<String>, Vec<String>) =
        run_reads.into_iter().partition(|s| signals.contains(s));
    std::thread::scope(|scope| {
        let (bars_tx, bars_rx) = std::sync::mpsc::channel();
        let (mut feed, decisions) = backtest::feed(spec.from);
        let (signals, shared) = (&signals, &shared);
        let strategy_thread = std::thread::Builder::new().name("strategy".into());
        let strategy_thread =
            strategy_thread.spawn_scoped(scope, move || -> Result<(), StrategyError> {
                let hist = match load(signals) {
                    Ok(h) => h,
                    Err(e) => {
                        let _ = bars_tx.send(Err(e));
                        return Ok(());
                    }
                };
                let copies: Vec<(String, Series)> = hist
                    .series
                    .iter()
                    .filter(|(s, _)| shared.contains(s))
                    .map(|(s, series)| (s.clone(), series.clone()))
                    .collect();
                let _ = bars_tx.send(Ok(copies));
                strategy.decide_each(&hist, &mut |d| feed.push(d))
            });
        let strategy_thread = strategy_thread.context("starting the strategy's thread")?;
        // The signals' errors first: they come first in the strategy's required symbols.
        let mine = load(&own);
        let theirs = bars_rx
            .recv()
            .map_err(|_| anyhow::anyhow!("the strategy thread stopped before loading its bars"))
            .and_then(|r| r.context("loading bars for the backtest"))?;
        let mut hist = mine.context("loading bars for the backtest")?;
        hist.series.extend(theirs);
        let out = backtest::run(spec, &hist, decisions, tradables, benchmark);
        match strategy_thread.join() {
            Ok(result) => result.context("running the strategy")?,
            Err(panic) => std::panic::resume_unwind(panic),
        }
        Ok((hist, out))
    })
}

fn print_summary(s: &Summary, out: &Outcome, no_risk: bool) {
    let mut cells = [0usize; 7];
    for (d, _) in &out.decisions {
        if let Some(c) = d.diagnostics.cell {
            cells[(c as usize).min(6)] += 1;
        }
    }
    outln!(
        "backtest {} .. {}{}",
        s.start,
        s.end,
        if no_risk { " (risk rules off)" } else { "" }
    );
    outln!("  final equity   {:>14.2}", s.final_equity);
    outln!(
        "  CAGR           {:>13.2}%   benchmark {:.2}%",
        s.cagr * 100.0,
        s.benchmark.cagr * 100.0
    );
    outln!(
        "  Sharpe         {:>14.3}   benchmark {:.3}",
        s.sharpe,
        s.benchmark.sharpe
    );
    outln!("  Sortino        {:>14.3}", s.sortino);
    outln!(
        "  max drawdown   {:>13.2}%   benchmark {:.2}%",
        s.max_drawdown * 100.0,
        s.benchmark.max_drawdown * 100.0
    );
    outln!("  Calmar         {:>14.3}", s.calmar);
    outln!("  volatility     {:>13.2}%", s.volatility * 100.0);
    outln!(
        "  trades         {:>14}   on {} rebalance day(s), turnover {:.2}/yr",
        s.trades,
        out.rebalance_dates.len(),
        s.turnover
    );
    outln!(
        "  cell days      1:{} 2:{} 3:{} 4:{} 5:{} 6:{}",
        cells[1],
        cells[2],
        cells[3],
        cells[4],
        cells[5],
        cells[6]
    );
    let trims = out
        .risk
        .iter()
        .filter(|(_, o)| o.verdict != crate::risk::Verdict::Pass)
        .count();
    if trims > 0 {
        outln!("  risk rules     {trims} non-pass outcome(s) (see risk_checks.parquet with --out)");
    }
}

fn write_outputs(dir: &Path, out: &Outcome, tradables: &[String]) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut t =
        super::dry_run::decision_table(out.decisions.iter().map(|(d, w)| (d, &**w)), tradables);
    ledger::write(&dir.join("decisions.parquet"), &t)?;
    t = super::dry_run::orders_table(
        out.orders
            .iter()
            .map(|o| (o.date, o.client_order_id.clone(), &o.order)),
    );
    ledger::write(&dir.join("orders.parquet"), &t)?;
    ledger::write(&dir.join("fills.parquet"), &fills_table(&out.fills))?;
    t = Table::default();
    t.push(
        "date",
        Col::Date(out.equity.iter().map(|e| e.date).collect()),
    )
    .push(
        "equity",
        Col::F64(out.equity.iter().map(|e| Some(e.equity)).collect()),
    )
    .push(
        "cash",
        Col::F64(out.equity.iter().map(|e| Some(e.cash)).collect()),
    )
    .push(
        "holdings_value",
        Col::F64(out.equity.iter().map(|e| Some(e.holdings_value)).collect()),
    )
    .push(
        "benchmark_equity",
        Col::F64(
            out.equity
                .iter()
                .map(|e| Some(e.benchmark_equity))
                .collect(),
        ),
    );
    ledger::write(&dir.join("equity.parquet"), &t)?;
    let rows: Vec<_> = out.risk.iter().collect();
    ledger::write(
        &dir.join("risk_checks.parquet"),
        &super::dry_run::risk_table(rows.iter().map(|(d, o)| (*d, o))),
    )?;
    Ok(())
}

/// The fills table (`date, client_order_id, symbol, side, qty, price, commission, status`),
/// the shape `ledger::read_fills` reads back.
pub fn fills_table(fills: &[FillRow]) -> Table {
    let mut t = Table::default();
    t.push("date", Col::Date(fills.iter().map(|f| f.date).collect()))
        .push(
            "client_order_id",
            Col::Str(fills.iter().map(|f| f.client_order_id.clone()).collect()),
        )
        .push(
            "symbol",
            Col::Str(fills.iter().map(|f| f.symbol.clone()).collect()),
        )
        .push(
            "side",
            Col::Str(fills.iter().map(|f| f.side.as_str().into()).collect()),
        )
        .push("qty", Col::I64(fills.iter().map(|f| f.qty).collect()))
        .push(
            "price",
            Col::F64(fills.iter().map(|f| Some(f.price)).collect()),
        )
        .push(
            "commission",
            Col::F64(fills.iter().map(|f| Some(f.commission)).collect()),
        )
        .push(
            "status",
            Col::Str(fills.iter().map(|f| f.status.clone()).collect()),
        );
    t
}
