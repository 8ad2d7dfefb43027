//! Decoding one bar file into a polars `DataFrame` of the wanted columns.
//!
//! The file is read whole with one `read` (the files are small: 1,200 bars are ~100 KB), its
//! footer parsed once, and only the wanted column chunks are decoded by polars-parquet's own
//! page decoders, with no `ParquetReader` around them (no memory map per file, no projection
//! bookkeeping, no thread pool): that reader's per-file overhead was most of the cost of
//! reading 4,000 small files. Any file this path does not take as is (no row groups, a column
//! the decoders reject) is read again by `ParquetReader`, so a bad file gets the same error
//! as before. Either way the frame goes through the same checks in `store.rs`.

use std::io::{Cursor, Read};
use std::path::Path;

use polars::prelude::*;
use polars_buffer::Buffer;
use polars_parquet::read::{BasicDecompressor, PageReader, column_iter_to_arrays};

/// The wanted columns of the bar file at `path` (a column the file lacks is left out, so the
/// caller names it); `Err` is the message for [`super::StoreError::Read`].
pub(super) fn read_frame(path: &Path, wanted: &[&str]) -> Result<DataFrame, String> {
    let mut file = crate::fsutil::open_regular(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::with_capacity(file.metadata().map_or(0, |m| m.len() as usize));
    file.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    let buf = Buffer::from(bytes);
    if let Some(df) = decode(&buf, wanted) {
        return Ok(df);
    }
    // The general reader, for its verdict and its message.
    let bad = |e: PolarsError| format!("not a readable parquet bar file: {e}");
    let mut reader =
        ParquetReader::new(Cursor::new(buf.as_slice())).read_parallel(ParallelStrategy::None);
    let schema = reader.schema().map_err(bad)?;
    let cols: Vec<String> = wanted
        .iter()
        .filter(|c| schema.contains(c))
        .map(|c| c.to_string())
        .collect();
    reader.with_columns(Some(cols)).finish().map_err(bad)
}

/// The direct decode; `None` for anything it does not take as is.
fn decode(buf: &Buffer<u8>, wanted: &[&str]) -> Option<DataFrame> {
    let md = polars_parquet::read::read_metadata(&mut Cursor::new(buf.as_slice())).ok()?;
    if md.row_groups.is_empty() {
        return None;
    }
    let schema = polars_parquet::read::infer_schema(&md).ok()?;
    let mut columns = Vec::with_capacity(wanted.len());
    for name in wanted {
        let Some((_, _, field)) = schema.get_full(name) else {
            continue;
        };
        let mut chunks = Vec::with_capacity(md.row_groups.len());
        for rg in &md.row_groups {
            let mut decoders = Vec::new();
            let mut types = Vec::new();
            for meta in rg.columns_under_root_iter(name)? {
                let range = meta.byte_range();
                let (start, end) = (
                    usize::try_from(range.start).ok()?,
                    usize::try_from(range.end).ok()?,
                );
                if start > end || end > buf.len() {
                    return None;
                }
                let pages = PageReader::new(
                    Cursor::new(buf.clone().sliced(start..end)),
                    meta,
                    Vec::new(),
                    usize::MAX,
                );
                decoders.push(BasicDecompressor::new(pages, Vec::new()));
                types.push(&meta.descriptor().descriptor.primitive_type);
            }
            let (arrays, _) = column_iter_to_arrays(decoders, types, field.clone(), None).ok()?;
            chunks.extend(arrays);
        }
        let series = Series::try_from((field, chunks)).ok()?;
        if series.len() != md.num_rows {
            return None;
        }
        columns.push(series.into_column());
    }
    DataFrame::new(md.num_rows, columns).ok()
}
