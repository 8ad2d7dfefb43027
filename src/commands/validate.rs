//! `trader validate [--date D]`: after the close, with the official bars, recompute day D's
//! decision through the dry-run's decision path (`daily::load`, `pipeline::decide_day`) from
//! the holdings and previous targets recorded at decision time, and compare it with the
//! recorded decision: logic match of the target weights, price drift of the official closes
//! from the decision prices, the regime side by side. GREEN / YELLOW / RED by the
//! `validation:` thresholds; recorded in the state (job `validate` and `validations`) and in
//! `data/ledger/validations.parquet` (the date's rows replaced). Exit 6 on RED.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::Serialize;

use super::Ctx;
use crate::cli::ValidateArgs;
use crate::config::ValidationConfig;
use crate::data::store::BarStore;
use crate::exit::{Exit, ExitError};
use crate::ledger::{self, Col, Table};
use crate::state::{
    Colour, DecisionRecord, JobRecord, JobResult, RegimeSummary, State, ValidationRecord,
};

fn blocked(msg: String) -> anyhow::Error {
    ExitError::new(Exit::Blocked, msg).into()
}

/// One symbol's row of the report.
#[derive(Debug, Serialize)]
struct SymbolRow {
    symbol: String,
    recorded_weight: Option<f64>,
    official_weight: Option<f64>,
    decision_price: Option<f64>,
    official_close: Option<f64>,
    drift_pct: Option<f64>,
    /// Counted in the price drift (traded, or held on a no-trade day).
    in_drift: bool,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    date: NaiveDate,
    decided_by: &'a str,
    #[serde(flatten)]
    record: &'a ValidationRecord,
    symbols: Vec<SymbolRow>,
}

/// Logic match in percent: max(0, 100 − 50 × Σ|w_recorded − w_official|) over the union of
/// symbols (a missing weight is 0; no targets on either side is an empty set of weights).
pub fn match_pct(
    recorded: Option<&BTreeMap<String, f64>>,
    official: Option<&BTreeMap<String, f64>>,
) -> f64 {
    let empty = BTreeMap::new();
    let (r, o) = (recorded.unwrap_or(&empty), official.unwrap_or(&empty));
    let sum: f64 = r
        .keys()
        .chain(o.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|s| (r.get(s).copied().unwrap_or(0.0) - o.get(s).copied().unwrap_or(0.0)).abs())
        .sum();
    // Rounding of identical weights computed twice is not a logic difference.
    let sum = if sum < 1e-12 { 0.0 } else { sum };
    (100.0 - 50.0 * sum).max(0.0)
}

/// The colour of a match and a drift under the configured thresholds.
pub fn colour(v: &ValidationConfig, match_pct: f64, drift_pct: f64) -> Colour {
    if match_pct >= v.green_min_match_pct && drift_pct < v.green_max_drift_pct {
        Colour::Green
    } else if match_pct >= v.yellow_min_match_pct && drift_pct < v.yellow_max_drift_pct {
        Colour::Yellow
    } else {
        Colour::Red
    }
}

/// The symbols the price drift is measured over: the traded ones, or on a no-trade day the
/// held ones.
pub fn drift_symbols(rec: &DecisionRecord) -> Vec<String> {
    if !rec.traded.is_empty() {
        return rec.traded.clone();
    }
    rec.positions
        .iter()
        .filter(|(_, q)| **q > 0)
        .map(|(s, _)| s.clone())
        .collect()
}

/// The recorded decision of the date: the job that made it and its record, or exit 3
/// naming what is missing.
fn recorded(state: &State, date: NaiveDate, state_file: &str) -> Result<(String, DecisionRecord)> {
    let job = ["paper", "dry-run"]
        .into_iter()
        .find(|j| state.job(date, j).is_some_and(|r| r.result == JobResult::Ok))
        .ok_or_else(|| {
            blocked(format!(
                "no recorded decision for {date} in {state_file}: no dry-run or paper job succeeded that day; run `trader dry-run --date {date}` first"
            ))
        })?;
    let rec = state.decisions.get(&date).cloned().ok_or_else(|| {
        blocked(format!(
            "{job} of {date} in {state_file} has no decision record (decisions.{date}: targets and decision prices), it was recorded by an older trader; rerun `trader dry-run --date {date} --force`"
        ))
    })?;
    Ok((job.to_string(), rec))
}

/// Every tradable has its official bar for the date, or exit 3.
fn require_official_bars(ctx: &Ctx, date: NaiveDate, symbols: &[String]) -> Result<()> {
    let store = BarStore::new(&ctx.config.paths.bars_dir);
    let mut provisional = Vec::new();
    let mut missing = Vec::new();
    for (sym, read) in symbols.iter().zip(store.read_many(symbols)) {
        let bars = read.with_context(|| format!("reading the bars of {sym}"))?;
        match bars
            .as_ref()
            .and_then(|v| v.iter().find(|b| b.date == date))
        {
            Some(b) if b.provisional => provisional.push(sym.clone()),
            Some(_) => {}
            None => missing.push(sym.clone()),
        }
    }
    if !provisional.is_empty() {
        return Err(blocked(format!(
            "the official bar of {date} is not in yet: the bar of {} in {} is provisional (from quotes); run `trader fetch` after the close, then validate",
            provisional.join(", "),
            store.dir.display()
        )));
    }
    if !missing.is_empty() {
        return Err(blocked(format!(
            "no bar of {date} for {} in {}: run `trader fetch` after the close, then validate",
            missing.join(", "),
            store.dir.display()
        )));
    }
    Ok(())
}

/// Validate one date.
pub fn run(ctx: &Ctx, args: &ValidateArgs) -> Result<Exit> {
    let cfg = &ctx.config;
    let date = args.date.unwrap_or_else(|| ctx.today());
    if super::report_closed(date)? {
        return Ok(Exit::Ok);
    }
    let close = crate::calendar::close_instant(date).context("reading the NYSE calendar")?;
    if let Some(close) = close
        && ctx.now < close
    {
        return Err(blocked(format!(
            "the session of {date} closes at {} New York: validate runs after the close, on the official bars",
            close.format("%H:%M")
        )));
    }
    let mut job = super::open_job(ctx, "validate")?;
    // Close-auction fills of the day arrive after the close: collect them before the day is
    // compared (nothing to do when no order is pending).
    let (collected, _) = super::sync::collect_all(ctx, &mut job, Some(date))
        .context("collecting the pending close-auction orders at the broker")?;
    ctx.log.info(&format!("validate {date}: {collected}"));
    let state_file = job.store.path.display().to_string();
    let (decided_by, rec) = recorded(&job.state, date, &state_file)?;
    let strategy = cfg.strategy_impl();
    let tradables = crate::strategy::Strategy::tradable_symbols(&strategy);
    // The symbols the decision reads (signal and tradables; not `data.extra_symbols`).
    require_official_bars(
        ctx,
        date,
        &crate::strategy::Strategy::required_symbols(&strategy),
    )?;
    let mut d = super::daily::load(ctx, &job.state, date, false)?;
    // Recompute from what the decision started from, not from the account as it is now.
    d.holdings.cash_cents = rec.cash_cents;
    d.holdings.positions = rec.positions.clone();
    d.last_targets = rec.previous_targets.clone();
    let pcfg = super::dry_run::pipeline_config(cfg, true);
    let day = crate::pipeline::decide_day(&pcfg, &d.inputs());
    let official = day.final_targets.as_deref();
    let m = match_pct(rec.targets.as_ref(), official);
    let in_drift = drift_symbols(&rec);
    let mut rows = Vec::new();
    let (mut drift, mut drift_symbol) = (0.0_f64, None);
    for sym in &tradables {
        let dp = rec.decision_prices.get(sym).copied();
        let oc = d.closes.get(sym).copied();
        let counted = in_drift.contains(sym);
        let dr = dp.zip(oc).map(|(p, c)| (c - p).abs() / p * 100.0);
        if counted {
            let dr = dr.ok_or_else(|| {
                blocked(format!(
                    "{sym}: no decision price recorded (decisions.{date}.decision_prices) or no official close for {date}"
                ))
            })?;
            if dr > drift || drift_symbol.is_none() {
                drift = dr;
                drift_symbol = Some(sym.clone());
            }
        }
        rows.push(SymbolRow {
            symbol: sym.clone(),
            recorded_weight: rec
                .targets
                .as_ref()
                .map(|t| t.get(sym).copied().unwrap_or(0.0)),
            official_weight: official.map(|t| t.get(sym).copied().unwrap_or(0.0)),
            decision_price: dp,
            official_close: oc,
            drift_pct: dr,
            in_drift: counted,
        });
    }
    let c = colour(&cfg.validation, m, drift);
    let record = ValidationRecord {
        validated_at: ctx.clock(),
        phase: rec.phase,
        colour: c,
        match_pct: m,
        drift_pct: drift,
        drift_symbol: drift_symbol.clone(),
        recorded_regime: rec.regime.clone(),
        official_regime: super::dry_run::regime_summary(&d.decision),
    };
    let detail = format!(
        "{}: logic match {m:.1}%, price drift {drift:.2}%{} ({decided_by} decision)",
        c.as_str(),
        drift_symbol
            .as_ref()
            .map_or(String::new(), |s| format!(" ({s})"))
    );
    // The ledger first, its date's rows replaced: a crash before the state save leaves a
    // ledger the rerun rewrites, never a duplicate.
    ledger::append(
        &cfg.paths.ledger_dir.join("validations.parquet"),
        &ledger_table(date, &record),
        Some(date),
    )?;
    job.state.validations.insert(date, record.clone());
    job.state.record_job(
        date,
        JobRecord {
            job: "validate".into(),
            phase: Some(rec.phase),
            started_at: ctx.now,
            finished_at: ctx.clock(),
            result: if c == Colour::Red {
                JobResult::Failed
            } else {
                JobResult::Ok
            },
            detail: detail.clone(),
            skipped_preflight: false,
        },
    );
    job.save(ctx.now)?;
    if c == Colour::Red {
        ctx.log.warn(&format!("validate {date}: {detail}"));
        crate::alert::raise(crate::alert::Alert {
            severity: crate::alert::Severity::Critical,
            key: format!("validation-red-{date}"),
            subject: format!("validation RED for {date}"),
            body: format!("{detail}\n"),
        });
    } else {
        ctx.log.info(&format!("validate {date}: {detail}"));
    }
    let report = Report {
        date,
        decided_by: &decided_by,
        record: &record,
        symbols: rows,
    };
    if ctx.json {
        super::print_json(&report)?;
    } else {
        print_human(&report);
    }
    Ok(if c == Colour::Red {
        Exit::ValidationRed
    } else {
        Exit::Ok
    })
}

fn ledger_table(date: NaiveDate, r: &ValidationRecord) -> Table {
    let s = |v: String| Col::Str(vec![v]);
    let regime = |g: &RegimeSummary| {
        (
            Some(g.cell.map_or(f64::NAN, f64::from)).filter(|x| x.is_finite()),
            g.trend.clone().unwrap_or_default(),
            g.vol_state.clone(),
        )
    };
    let (rc, rt, rv) = regime(&r.recorded_regime);
    let (oc, ot, ov) = regime(&r.official_regime);
    let mut t = Table::default();
    t.push("date", Col::Date(vec![date]))
        .push("phase", s(r.phase.as_str().into()))
        .push("colour", s(r.colour.as_str().into()))
        .push("match_pct", Col::F64(vec![Some(r.match_pct)]))
        .push("drift_pct", Col::F64(vec![Some(r.drift_pct)]))
        .push(
            "drift_symbol",
            s(r.drift_symbol.clone().unwrap_or_default()),
        )
        .push("recorded_cell", Col::F64(vec![rc]))
        .push("official_cell", Col::F64(vec![oc]))
        .push("recorded_trend", s(rt))
        .push("official_trend", s(ot))
        .push("recorded_vol_state", s(rv))
        .push("official_vol_state", s(ov))
        .push(
            "validated_at",
            s(r.validated_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
    t
}

fn print_human(r: &Report) {
    let v = r.record;
    let opt = |x: Option<f64>, f: &dyn Fn(f64) -> String| x.map_or("-".to_string(), f);
    outln!(
        "validate {}  {}  ({} decision vs the official bars)",
        r.date,
        v.colour.as_str(),
        r.decided_by
    );
    outln!("  logic match  {:.1}%", v.match_pct);
    outln!(
        "  price drift  {:.2}%{}",
        v.drift_pct,
        v.drift_symbol
            .as_ref()
            .map_or(" (no traded or held symbol)".to_string(), |s| format!(
                " (largest: {s})"
            ))
    );
    outln!(
        "  {:<6} {:>9} {:>9} {:>10} {:>10} {:>7}",
        "symbol",
        "recorded",
        "official",
        "decided @",
        "close",
        "drift"
    );
    for s in &r.symbols {
        outln!(
            "  {:<6} {:>9} {:>9} {:>10} {:>10} {:>7}{}",
            s.symbol,
            opt(s.recorded_weight, &|w| format!("{:.1}%", w * 100.0)),
            opt(s.official_weight, &|w| format!("{:.1}%", w * 100.0)),
            opt(s.decision_price, &|p| format!("{p:.2}")),
            opt(s.official_close, &|p| format!("{p:.2}")),
            opt(s.drift_pct, &|p| format!("{p:.2}%")),
            if s.in_drift { "" } else { "  (not traded)" }
        );
    }
    let (a, b) = (&v.recorded_regime, &v.official_regime);
    let f = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:+.3}"));
    outln!("  regime       recorded        official");
    for (name, x, y) in [
        (
            "cell",
            a.cell.map_or("-".into(), |c| c.to_string()),
            b.cell.map_or("-".into(), |c| c.to_string()),
        ),
        (
            "trend",
            a.trend.clone().unwrap_or("-".into()),
            b.trend.clone().unwrap_or("-".into()),
        ),
        ("vol", a.vol_state.clone(), b.vol_state.clone()),
        ("t_norm", f(a.t_norm), f(b.t_norm)),
        ("z", f(a.z_score), f(b.z_score)),
    ] {
        outln!(
            "  {name:<12} {x:<15} {y}{}",
            if x == y { "" } else { "  (differs)" }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(v: &[(&str, f64)]) -> BTreeMap<String, f64> {
        v.iter().map(|(s, x)| (s.to_string(), *x)).collect()
    }

    #[test]
    fn match_is_100_minus_50_times_the_weight_distance() {
        let a = w(&[("QQQ", 0.8), ("TQQQ", 0.2)]);
        assert_eq!(match_pct(Some(&a), Some(&a)), 100.0);
        let b = w(&[("QQQ", 0.78), ("TQQQ", 0.2)]);
        assert!((match_pct(Some(&a), Some(&b)) - 99.0).abs() < 1e-9);
        // A symbol on one side only counts in full.
        let c = w(&[("QQQ", 0.8), ("TMF", 0.2)]);
        assert!((match_pct(Some(&a), Some(&c)) - 80.0).abs() < 1e-9);
        assert_eq!(match_pct(None, None), 100.0);
        assert_eq!(
            match_pct(Some(&w(&[("QQQ", 1.0)])), Some(&w(&[("TMF", 1.0)]))),
            0.0
        );
    }

    #[test]
    fn colours_follow_the_thresholds() {
        let v = ValidationConfig::default();
        assert_eq!(colour(&v, 100.0, 0.49), Colour::Green);
        assert_eq!(colour(&v, 100.0, 0.5), Colour::Yellow);
        assert_eq!(colour(&v, 99.0, 0.0), Colour::Yellow);
        assert_eq!(colour(&v, 95.0, 1.99), Colour::Yellow);
        assert_eq!(colour(&v, 94.9, 0.0), Colour::Red);
        assert_eq!(colour(&v, 100.0, 2.0), Colour::Red);
    }
}
