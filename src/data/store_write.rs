//! [`BarStore::write_many`]: the all-or-nothing replace of several bar files.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use tempfile::NamedTempFile;

use super::{BarStore, StoreError, to_days};
use crate::model::Bar;

impl BarStore {
    /// Replace the files of several symbols at once. Every symbol is validated and every
    /// file written to a temp file and synced before any is renamed into place; a failure
    /// before the renames removes the temp files and leaves the store as it was. A rename
    /// failing midway (a disk fault) is a [`StoreError::Partial`] naming what was replaced.
    pub fn write_many(&self, items: &BTreeMap<String, Vec<Bar>>) -> Result<(), StoreError> {
        let werr = |path: &Path, message: String| StoreError::Write {
            path: path.display().to_string(),
            message,
        };
        let paths = items
            .keys()
            .map(|s| self.checked_path(s))
            .collect::<Result<Vec<_>, _>>()?;
        std::fs::create_dir_all(&self.dir).map_err(|e| werr(&self.dir, e.to_string()))?;
        // A directory (or anything but a file) where a bar file belongs cannot be replaced by
        // a rename: refuse before anything is staged rather than midway through the renames.
        for path in &paths {
            if let Ok(m) = std::fs::symlink_metadata(path)
                && !m.file_type().is_file()
            {
                return Err(werr(path, "exists and is not a regular file".into()));
            }
        }
        // Dropping a staged NamedTempFile removes it: an error below leaves no temp behind.
        // Encoding is CPU work on small files: two threads (the hosts this runs on have 2+
        // cores), each staging a contiguous half so the staged list keeps the symbols' order.
        let jobs: Vec<(&String, &Vec<Bar>, PathBuf)> = items
            .iter()
            .zip(paths)
            .map(|((s, b), p)| (s, b, p))
            .collect();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 2);
        let staged = if threads == 1 || jobs.len() < 16 {
            stage_all(&self.dir, jobs)?
        } else {
            let half = jobs.len().div_ceil(2);
            let mut jobs = jobs;
            let second = jobs.split_off(half);
            let dir = &self.dir;
            let (a, b) = std::thread::scope(|scope| {
                let h = scope.spawn(move || stage_all(dir, second));
                let a = stage_all(dir, jobs);
                let b = h
                    .join()
                    .unwrap_or_else(|_| Err(werr(dir, "the encoding thread panicked".into())));
                (a, b)
            });
            let mut staged = a?;
            staged.extend(b?);
            staged
        };
        // One durability barrier for all staged files instead of an fsync each (4,000 fsyncs
        // were most of a daily fetch's wall time): every temp file's data is on disk before
        // the first rename, as with per-file syncs.
        crate::fsutil::sync_files_of_dir(&self.dir, staged.iter().map(|(t, _)| t.as_file()))
            .map_err(|e| werr(&self.dir, format!("cannot sync the staged files: {e}")))?;
        rename_all(&self.dir, staged)
    }
}

/// Encode and stage (unsynced) the temp file of each item, in order; the first failure drops
/// (removes) what was staged so far.
fn stage_all(
    dir: &Path,
    jobs: Vec<(&String, &Vec<Bar>, PathBuf)>,
) -> Result<Vec<(NamedTempFile, PathBuf)>, StoreError> {
    let werr = |path: &Path, message: String| StoreError::Write {
        path: path.display().to_string(),
        message,
    };
    let mut staged = Vec::with_capacity(jobs.len());
    for (symbol, bars, path) in jobs {
        let df = to_frame(symbol, bars).map_err(|e| werr(&path, e.to_string()))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .suffix(".partial")
            .tempfile_in(dir)
            .map_err(|e| werr(&path, e.to_string()))?;
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, tmp.as_file_mut());
        encode(&mut out, &df).map_err(|e| werr(&path, e.to_string()))?;
        out.flush().map_err(|e| werr(&path, e.to_string()))?;
        drop(out);
        staged.push((tmp, path));
    }
    Ok(staged)
}

/// Write `df` as one parquet file (one row group) to `out`.
///
/// Through polars' parquet writer (the same schema and `ARROW:schema` metadata as
/// `ParquetWriter`) with the encodings chosen here: `ParquetWriter` tries a dictionary for
/// every numeric column, estimating its cardinality first, and that estimate was the largest
/// single cost of a 4,000-file daily fetch. Prices are nearly all distinct, so numbers are
/// written plain; the `symbol` column (one value repeated) keeps its dictionary.
/// Uncompressed: every job reads these files and none is large (the 4,438 daily bars of an
/// ETF take 300 KB); decoding LZ4 was 6 % of the sample backtest's instructions and zstd
/// slower still. No statistics: every reader takes whole files. pyarrow and DuckDB read
/// these files (tests/it/store_import.rs).
fn encode<W: std::io::Write>(out: W, df: &DataFrame) -> PolarsResult<()> {
    use polars_parquet::write::{
        CompressionOptions, Encoding, FileWriter, RowGroupIterator, StatisticsOptions, Version,
        WriteOptions,
    };
    let schema = df.schema().to_arrow(CompatLevel::newest());
    let encodings: Vec<Vec<Encoding>> = df
        .columns()
        .iter()
        .map(|c| {
            vec![if c.dtype() == &DataType::String {
                Encoding::RleDictionary
            } else {
                Encoding::Plain
            }]
        })
        .collect();
    let options = WriteOptions {
        statistics: StatisticsOptions::empty(),
        version: Version::V1,
        compression: CompressionOptions::Uncompressed,
        data_page_size: None,
    };
    // One row group per chunk (a frame built by `to_frame` has one).
    let batches: Vec<_> = df.iter_chunks(CompatLevel::newest(), false).collect();
    let rows: Vec<u64> = batches.iter().map(|b| b.len() as u64).collect();
    let groups = RowGroupIterator::try_new(
        batches.into_iter().map(Ok),
        &schema,
        options,
        encodings.into(),
    )?;
    let mut writer = FileWriter::try_new(out, schema, options)?;
    for (group, n) in groups.zip(rows) {
        writer.write(n, group?)?;
    }
    writer.end(None)?;
    Ok(())
}

/// Rename every staged temp file onto its target, in order, then sync the directory. The
/// first failure stops: the staged files not yet renamed are removed (dropping a
/// `NamedTempFile` deletes it) and the error says which targets were already replaced.
pub(super) fn rename_all(
    dir: &Path,
    staged: Vec<(NamedTempFile, PathBuf)>,
) -> Result<(), StoreError> {
    let name = |p: &Path| {
        p.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    };
    let mut replaced = Vec::with_capacity(staged.len());
    let mut rest = staged.into_iter();
    while let Some((tmp, path)) = rest.next() {
        if let Err(e) = tmp.persist(&path) {
            // `e.file` (and the rest of `rest`) drop here: their temp files are removed.
            let message = e.error.to_string();
            let not_replaced: Vec<String> = std::iter::once(name(&path))
                .chain(rest.map(|(_, p)| name(&p)))
                .collect();
            if replaced.is_empty() {
                return Err(StoreError::Write {
                    path: path.display().to_string(),
                    message,
                });
            }
            // Best effort: the renames that happened are made durable before reporting.
            let _ = crate::fsutil::sync_dir(dir);
            return Err(StoreError::Partial {
                path: path.display().to_string(),
                message,
                replaced,
                not_replaced,
            });
        }
        replaced.push(name(&path));
    }
    crate::fsutil::sync_dir(dir).map_err(|e| StoreError::Write {
        path: dir.display().to_string(),
        message: e.to_string(),
    })
}

pub(super) fn to_frame(symbol: &str, bars: &[Bar]) -> PolarsResult<DataFrame> {
    let n = bars.len();
    let dates: Vec<i32> = bars.iter().map(|b| to_days(b.date)).collect();
    let date = Series::new("date".into(), dates).cast(&DataType::Date)?;
    let f = |name: &str, g: &dyn Fn(&Bar) -> f64| {
        Column::new(name.into(), bars.iter().map(g).collect::<Vec<f64>>())
    };
    DataFrame::new(
        n,
        vec![
            Column::new("symbol".into(), vec![symbol; n]),
            date.into(),
            f("open", &|b| b.open),
            f("high", &|b| b.high),
            f("low", &|b| b.low),
            f("close", &|b| b.close),
            f("volume", &|b| b.volume),
            Column::new(
                "adj_close".into(),
                bars.iter()
                    .map(|b| b.adj_close)
                    .collect::<Vec<Option<f64>>>(),
            ),
            f("dividend", &|b| b.dividend),
            f("split_factor", &|b| b.split_factor),
            Column::new(
                "provisional".into(),
                bars.iter().map(|b| b.provisional).collect::<Vec<bool>>(),
            ),
        ],
    )
}
