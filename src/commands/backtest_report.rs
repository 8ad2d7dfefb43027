//! `trader backtest --report DIR`: the tear sheet of a backtest (report.html self-contained,
//! report.md, report.json, equity.png, drawdown.png) with the eod report's renderers.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::NaiveDate;

use crate::backtest::Outcome;
use crate::report::{chart, render, stats, tearsheet};

/// Write the tear sheet of `out` to `dir` (created if missing).
pub fn write(
    dir: &Path,
    out: &Outcome,
    start_value: f64,
    signal: &str,
    log_scale: bool,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let equity: Vec<(NaiveDate, f64)> = out.equity.iter().map(|r| (r.date, r.equity)).collect();
    let bench: Vec<(NaiveDate, f64)> = out
        .equity
        .iter()
        .map(|r| (r.date, r.benchmark_equity))
        .collect();
    let cell: BTreeMap<NaiveDate, Option<u8>> = out
        .decisions
        .iter()
        .map(|(d, _)| (d.date, d.diagnostics.cell))
        .collect();
    let cells: Vec<Option<u8>> = equity
        .iter()
        .map(|(d, _)| cell.get(d).copied().flatten())
        .collect();
    let Some(sheet) =
        tearsheet::tear_sheet(&equity, start_value, &cells, out.metrics, out.benchmark)
    else {
        return Ok(());
    };
    let eq_png = chart::equity_png(
        &equity,
        &bench,
        log_scale,
        &format!("Backtest equity vs {signal} buy-and-hold"),
    )?;
    let dd_png = chart::drawdown_png(&stats::drawdown_series(&equity), "Drawdown from peak (%)")?;
    let title = format!("trader backtest {} to {}", sheet.from, sheet.to);
    let tables = tearsheet::tables(&sheet);
    let files: [(&str, Vec<u8>); 5] = [
        (
            "report.html",
            render::html_page(
                &title,
                &tables,
                &[("equity", &eq_png), ("drawdown", &dd_png)],
            )
            .into_bytes(),
        ),
        (
            "report.md",
            render::md_page(&title, &tables, &["equity.png", "drawdown.png"]).into_bytes(),
        ),
        ("report.json", serde_json::to_vec_pretty(&sheet)?),
        ("equity.png", eq_png.clone()),
        ("drawdown.png", dd_png.clone()),
    ];
    for (name, bytes) in files {
        let p = dir.join(name);
        crate::fsutil::write_atomic_unsynced(&p, &bytes)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}
