//! `trader fetch`: bring daily bars into the store — from CSV files, Alpaca or Yahoo —
//! incrementally, validated, merged and atomically replaced. A failure leaves the store
//! exactly as it was. `--symbols` is validated before anything is read or downloaded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

use super::Ctx;
use crate::cli::{FetchArgs, SourceArg};
use crate::config::DataSource;
use crate::data::csv_import;
use crate::data::store::{self, BarStore, StoreError};
use crate::data::symbol::Symbol;
use crate::exit::{Exit, ExitError};
use crate::model::Bar;
use crate::state::{JobRecord, JobResult};

/// What a fetch did, for people and for `--json`.
#[derive(Debug, Serialize)]
pub struct FetchSummary {
    pub source: String,
    pub symbols: usize,
    pub rows_added: usize,
    pub rows_replaced: usize,
    /// Share of the fetched symbols with a bar on the last completed session.
    pub coverage: f64,
    pub last_session: Option<chrono::NaiveDate>,
    pub seconds: f64,
    pub skipped_rows: Vec<String>,
}

/// Run the fetch and record it in the state.
pub fn run(ctx: &Ctx, args: &FetchArgs) -> Result<Exit> {
    let started = Instant::now();
    let wanted = requested_symbols(&args.symbols)?;
    let source = match args.source {
        Some(SourceArg::Csv) => DataSource::Csv,
        Some(SourceArg::Alpaca) => DataSource::Alpaca,
        Some(SourceArg::Yahoo) => DataSource::Yahoo,
        None => ctx.config.data.source,
    };
    // Missing keys are a configuration error: report it before the lock or the state is touched.
    if source == DataSource::Alpaca {
        super::fetch_remote::alpaca_keys(ctx)?;
    }
    let today = ctx.today();
    let last_session = crate::calendar::last_completed_session(ctx.now)
        .with_context(|| format!("finding the last completed NYSE session before {today}"))?;
    let mut job = super::open_job(ctx, "fetch")?;
    let bar_store = BarStore::new(&ctx.config.paths.bars_dir);
    let (fetched, skipped) = match source {
        DataSource::Csv => {
            let imp = read_csv_dir(ctx, args, &wanted)?;
            (imp.bars, imp.skipped)
        }
        DataSource::Alpaca | DataSource::Yahoo => (
            super::fetch_remote::download(ctx, args, &wanted, source, &bar_store)?,
            Vec::new(),
        ),
    };
    // The sources check their rows; this is the one rule every bar stored passes, whatever
    // it came from (a bar dated after today in New York included).
    let unusable: Vec<String> = fetched
        .iter()
        .flat_map(|(sym, bars)| crate::model::unusable_bars(sym, bars, today))
        .collect();
    if !unusable.is_empty() {
        return Err(ExitError::new(
            Exit::Unavailable,
            format!(
                "{} sent unusable bars, the bar store is unchanged:\n{}",
                format!("{source:?}").to_lowercase(),
                bounded(unusable).join("\n")
            ),
        )
        .into());
    }
    let mut merged = BTreeMap::new();
    let (mut added, mut replaced) = (0, 0);
    for (symbol, fresh) in &fetched {
        let stored = bar_store
            .read(symbol)
            .with_context(|| format!("reading stored bars of {symbol}"))?
            .unwrap_or_default();
        let known: std::collections::BTreeSet<_> = stored.iter().map(|b| b.date).collect();
        for b in fresh {
            if known.contains(&b.date) {
                replaced += 1;
            } else {
                added += 1;
            }
        }
        merged.insert(symbol.clone(), store::merge(&stored, fresh));
    }
    if let Err(e) = bar_store.write_many(&merged) {
        let what = if matches!(e, StoreError::Partial { .. }) {
            "writing the bar store (some files were replaced, see below)"
        } else {
            "writing the bar store (nothing was replaced)"
        };
        return Err(anyhow::Error::new(e).context(what));
    }
    let last_session = Some(last_session);
    let covered = merged
        .values()
        .filter(|bars| {
            let last = bars.last().map(|b| b.date);
            matches!((last, last_session), (Some(l), Some(s)) if l >= s)
        })
        .count();
    let summary = FetchSummary {
        source: format!("{source:?}").to_lowercase(),
        symbols: merged.len(),
        rows_added: added,
        rows_replaced: replaced,
        coverage: if merged.is_empty() {
            0.0
        } else {
            covered as f64 / merged.len() as f64
        },
        last_session,
        seconds: started.elapsed().as_secs_f64(),
        skipped_rows: skipped,
    };
    let detail = format!(
        "{}: {} symbol(s), {} row(s) added, {} replaced{}",
        summary.source,
        summary.symbols,
        added,
        replaced,
        if args.quotes {
            ", provisional quotes"
        } else {
            ""
        }
    );
    job.state.record_job(
        today,
        JobRecord {
            job: "fetch".into(),
            phase: None,
            started_at: ctx.now,
            finished_at: ctx.clock(),
            result: JobResult::Ok,
            detail: detail.clone(),
            skipped_preflight: false,
        },
    );
    job.save(ctx.now)?;
    ctx.log.info(&format!("fetch: {detail}"));
    if ctx.json {
        super::print_json(&summary)?;
    } else {
        outln!(
            "fetched {} symbol(s) from {}: {} row(s) added, {} replaced, coverage {:.0}% of {} in {:.2}s",
            summary.symbols,
            summary.source,
            added,
            replaced,
            summary.coverage * 100.0,
            last_session.map(|d| d.to_string()).unwrap_or_default(),
            summary.seconds
        );
    }
    Ok(Exit::Ok)
}

struct Imports {
    bars: BTreeMap<String, Vec<Bar>>,
    skipped: Vec<String>,
}

fn csv_files(from: &Path) -> Result<Vec<PathBuf>> {
    if from.is_file() {
        return Ok(vec![from.to_path_buf()]);
    }
    let rd = std::fs::read_dir(from).map_err(|e| {
        ExitError::new(
            Exit::Usage,
            format!(
                "--from {}: not a CSV file or directory: {e}",
                from.display()
            ),
        )
    })?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
        .collect();
    files.sort();
    // Reading a FIFO (or a device) named `x.csv` would block forever: only regular files
    // (or symlinks to them) are read.
    if let Some(odd) = files.iter().find(|p| !p.is_file()) {
        return Err(ExitError::new(
            Exit::Usage,
            format!(
                "{}: not a regular file (nothing was imported)",
                odd.display()
            ),
        )
        .into());
    }
    Ok(files)
}

/// `--symbols` as validated symbols: whitespace trimmed and lower case upper-cased
/// (`"AAPL, msft"` is AAPL and MSFT); anything else that is not a symbol is a usage error
/// before anything is read or downloaded.
fn requested_symbols(given: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(given.len());
    let mut bad = Vec::new();
    for s in given {
        match Symbol::from_user(s) {
            Ok(sym) if !out.contains(&sym.to_string()) => out.push(sym.into_string()),
            Ok(_) => {}
            Err(e) => bad.push(e.to_string()),
        }
    }
    if !bad.is_empty() {
        return Err(ExitError::new(
            Exit::Usage,
            format!(
                "--symbols: {} (nothing was fetched or written)",
                bad.join("; ")
            ),
        )
        .into());
    }
    Ok(out)
}

/// At most 50 lines, then a count of the rest.
fn bounded(problems: Vec<String>) -> Vec<String> {
    let n = problems.len();
    let mut shown: Vec<String> = problems.into_iter().take(50).collect();
    if n > 50 {
        shown.push(format!("… and {} more", n - 50));
    }
    shown
}

/// Parse every CSV file; any bad row anywhere refuses the whole import (unless skipping).
/// With `wanted` symbols, only those are imported and each must be found.
fn read_csv_dir(ctx: &Ctx, args: &FetchArgs, wanted: &[String]) -> Result<Imports> {
    let from = args
        .from
        .clone()
        .or_else(|| {
            ctx.config
                .data
                .csv_dir
                .as_ref()
                .map(|d| crate::config::resolve(&ctx.config.root_dir, d))
        })
        .ok_or_else(|| {
            ExitError::new(
                Exit::Usage,
                "fetch --source csv needs --from DIR (or data.csv_dir in the config)",
            )
        })?;
    let files = csv_files(&from)?;
    if files.is_empty() {
        return Err(
            ExitError::new(Exit::Usage, format!("{}: no .csv files", from.display())).into(),
        );
    }
    let today = ctx.today();
    let mut bars = BTreeMap::new();
    let mut problems = Vec::new();
    let mut skipped = Vec::new();
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut everything = std::collections::BTreeSet::new();
    for f in files {
        // A regular file only: a FIFO named *.csv must not block the import.
        let bytes = crate::fsutil::read_regular(&f).map_err(|e| {
            ExitError::new(Exit::Usage, format!("{}: cannot read: {e}", f.display()))
        })?;
        match csv_import::import_file(&f, &bytes, args.skip_bad_rows, today) {
            Ok(imp) => {
                let mut kept = false;
                for (symbol, series) in imp.bars {
                    everything.insert(symbol.clone());
                    if !wanted.is_empty() && !wanted.contains(&symbol) {
                        continue;
                    }
                    kept = true;
                    if let Some(first) = seen.insert(symbol.clone(), f.clone()) {
                        problems.push(format!(
                            "{}: symbol {symbol} is also in {}",
                            f.display(),
                            first.display()
                        ));
                    }
                    bars.insert(symbol, series);
                }
                if kept {
                    for s in &imp.skipped {
                        ctx.log.warn(&format!("skipped {s}"));
                    }
                    skipped.extend(imp.skipped);
                }
            }
            Err(e) => problems.extend(e.problems),
        }
    }
    if !problems.is_empty() {
        let n = problems.len();
        return Err(ExitError::new(
            Exit::Usage,
            format!(
                "CSV import refused, the bar store is unchanged ({n} problem(s)):\n{}",
                bounded(problems).join("\n")
            ),
        )
        .into());
    }
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|s| !bars.contains_key(*s))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        let found: Vec<&str> = everything.iter().map(String::as_str).take(10).collect();
        return Err(ExitError::new(
            Exit::Usage,
            format!(
                "--symbols {}: no CSV data in {} (it holds {}), the bar store is unchanged",
                missing.join(","),
                from.display(),
                if found.is_empty() {
                    "no other symbols either".to_string()
                } else if everything.len() > 10 {
                    format!("{}, … ({} symbols)", found.join(", "), everything.len())
                } else {
                    found.join(", ")
                }
            ),
        )
        .into());
    }
    Ok(Imports { bars, skipped })
}
