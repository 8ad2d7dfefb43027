//! `trader fetch`: bring daily bars into the store — from CSV files, Alpaca or Yahoo —
//! incrementally, validated, merged and atomically replaced. A failure leaves the store
//! exactly as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

use super::Ctx;
use crate::cli::{FetchArgs, SourceArg};
use crate::config::DataSource;
use crate::data::csv_import;
use crate::data::store::{self, BarStore};
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
    let mut job = super::open_job(ctx, "fetch")?;
    let bar_store = BarStore::new(&ctx.config.paths.bars_dir);
    let (fetched, skipped) = match source {
        DataSource::Csv => {
            let imp = read_csv_dir(ctx, args)?;
            (imp.bars, imp.skipped)
        }
        DataSource::Alpaca | DataSource::Yahoo => (
            super::fetch_remote::download(ctx, args, source, &bar_store)?,
            Vec::new(),
        ),
    };
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
    bar_store
        .write_many(&merged)
        .context("writing the bar store (nothing was replaced)")?;
    let last_session = crate::calendar::last_completed_session(ctx.now).ok();
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
    let today = ctx.today();
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
    let rd = std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
        .collect();
    files.sort();
    Ok(files)
}

/// Parse every CSV file; any bad row anywhere refuses the whole import (unless skipping).
fn read_csv_dir(ctx: &Ctx, args: &FetchArgs) -> Result<Imports> {
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
    let wanted: Vec<String> = args
        .symbols
        .iter()
        .map(|s| s.to_ascii_uppercase())
        .collect();
    let mut bars = BTreeMap::new();
    let mut problems = Vec::new();
    let mut skipped = Vec::new();
    for f in files {
        let text = crate::fsutil::read_regular_to_string(&f)
            .with_context(|| format!("reading {}", f.display()))?;
        match csv_import::import_file(&f, &text, args.skip_bad_rows) {
            Ok(imp) => {
                if !wanted.is_empty() && !wanted.contains(&imp.symbol) {
                    continue;
                }
                for s in &imp.skipped {
                    ctx.log.warn(&format!("skipped {s}"));
                }
                skipped.extend(imp.skipped);
                if bars.insert(imp.symbol.clone(), imp.bars).is_some() {
                    problems.push(format!(
                        "{}: symbol {} appears in two files",
                        f.display(),
                        imp.symbol
                    ));
                }
            }
            Err(e) => problems.extend(e.problems),
        }
    }
    if !problems.is_empty() {
        let n = problems.len();
        let mut shown: Vec<String> = problems.into_iter().take(50).collect();
        if n > 50 {
            shown.push(format!("… and {} more", n - 50));
        }
        return Err(ExitError::new(
            Exit::Usage,
            format!(
                "CSV import refused, the bar store is unchanged ({n} problem(s)):\n{}",
                shown.join("\n")
            ),
        )
        .into());
    }
    Ok(Imports { bars, skipped })
}
