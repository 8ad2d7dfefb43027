//! Tests of the bar store: writes and reads, the price columns, bad files.

use super::*;
use crate::model::Bar;

fn day(n: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, n).expect("date")
}

fn date_frame(days: Vec<Option<i32>>) -> DataFrame {
    let col = Series::new("date".into(), days)
        .cast(&DataType::Date)
        .expect("date column");
    DataFrame::new(col.len(), vec![col.into()]).expect("frame")
}

/// Stepping from the previous row gives each day number's own date: over year ends, leap
/// days, gaps of one to seven days, longer gaps and going backwards.
#[test]
fn dates_step_from_row_to_row_exactly() {
    let mut n: i32 = to_days(NaiveDate::from_ymd_opt(1999, 12, 20).expect("date"));
    let mut days = Vec::new();
    for step in [1, 1, 3, 7, 8, 30, 2, 1, 400, 5, -3, 6, 1, 366, 4] {
        for _ in 0..40 {
            n += step;
            days.push(Some(n));
        }
    }
    let got = dates_of(&date_frame(days.clone())).expect("dates");
    let want: Vec<NaiveDate> = days.iter().flatten().map(|d| from_days(*d)).collect();
    assert_eq!(got, want);
    let err = dates_of(&date_frame(vec![Some(1), None])).expect_err("null");
    assert!(err.contains("row 1: null"), "{err}");
    let err = dates_of(&date_frame(vec![Some(1), Some(i32::MAX)])).expect_err("range");
    assert!(
        err.contains("row 1") && err.contains("out of range"),
        "{err}"
    );
}

fn bar(date: NaiveDate, close: f64, adj: Option<f64>) -> Bar {
    Bar {
        date,
        open: close - 1.0,
        high: close + 2.0,
        low: close - 2.0,
        close,
        volume: close * 10.0,
        adj_close: adj,
        dividend: 0.1,
        split_factor: 1.0,
        provisional: false,
    }
}

fn write_frame(path: &Path, mut df: DataFrame) {
    let mut f = std::fs::File::create(path).expect("create");
    ParquetWriter::new(&mut f).finish(&mut df).expect("write");
}

#[test]
fn day_numbers_round_trip_and_refuse_out_of_range() {
    for d in [
        day(2),
        NaiveDate::from_ymd_opt(1970, 1, 1).expect("d"),
        NaiveDate::from_ymd_opt(1900, 3, 1).expect("d"),
    ] {
        assert_eq!(days_to_date(to_days(d)), Some(d));
    }
    assert_eq!(to_days(NaiveDate::from_ymd_opt(1970, 1, 2).expect("d")), 1);
    assert_eq!(days_to_date(i32::MAX), None);
    assert_eq!(from_days(i32::MIN), NaiveDate::MIN);
}

#[test]
fn price_columns_match_the_full_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = BarStore::new(dir.path());
    let bars: Vec<Bar> = (2..20)
        .map(|d| {
            bar(
                day(d),
                f64::from(d) * 3.5,
                (d % 3 == 0).then_some(f64::from(d)),
            )
        })
        .collect();
    store
        .write_many(&BTreeMap::from([("ABC".to_string(), bars)]))
        .expect("write");
    let full = store.read("ABC").expect("read").expect("file");
    let cols = store.read_prices("ABC", true).expect("read").expect("file");
    assert_eq!(cols.dates, full.iter().map(|b| b.date).collect::<Vec<_>>());
    assert_eq!(cols.open, full.iter().map(|b| b.open).collect::<Vec<_>>());
    assert_eq!(cols.high, full.iter().map(|b| b.high).collect::<Vec<_>>());
    assert_eq!(cols.low, full.iter().map(|b| b.low).collect::<Vec<_>>());
    assert_eq!(cols.close, full.iter().map(|b| b.close).collect::<Vec<_>>());
    assert_eq!(
        cols.volume,
        full.iter().map(|b| b.volume).collect::<Vec<_>>()
    );
    assert_eq!(
        cols.adj_close,
        Some(full.iter().map(|b| b.adj_close).collect::<Vec<_>>())
    );
    let plain = store
        .read_prices("ABC", false)
        .expect("read")
        .expect("file");
    assert_eq!(
        plain,
        PriceColumns {
            adj_close: None,
            ..cols
        }
    );
    assert_eq!(store.read_prices("NONE", true).expect("no error"), None);
}

#[test]
fn price_columns_refuse_null_prices_and_unordered_dates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = BarStore::new(dir.path());
    let mut df = to_frame("N", &[bar(day(2), 10.0, None), bar(day(3), 11.0, None)]).expect("frame");
    df.with_column(Column::new("close".into(), [Some(10.0), None]))
        .expect("replace close");
    write_frame(&store.checked_path("N").expect("symbol"), df);
    let e = store.read_prices("N", false).expect_err("null close");
    assert!(
        e.to_string().contains("N.parquet") && e.to_string().contains("column `close` row 1: null"),
        "{e}"
    );
    let df = to_frame("U", &[bar(day(3), 10.0, None), bar(day(2), 11.0, None)]).expect("frame");
    write_frame(&store.checked_path("U").expect("symbol"), df);
    let e = store.read_prices("U", false).expect_err("unordered");
    assert!(
        e.to_string()
            .contains("not strictly ascending at 2024-01-02 after 2024-01-03"),
        "{e}"
    );
    // The full read refuses both files the same way.
    assert!(store.read("N").is_err() && store.read("U").is_err());
}

#[test]
fn read_many_keeps_the_order_and_reports_missing_and_broken_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = BarStore::new(dir.path());
    let bar = |close: f64| Bar {
        date: NaiveDate::from_ymd_opt(2024, 1, 2).expect("date"),
        open: close,
        high: close,
        low: close,
        close,
        volume: 1.0,
        adj_close: None,
        dividend: 0.0,
        split_factor: 1.0,
        provisional: false,
    };
    let items: BTreeMap<String, Vec<Bar>> = (0..40)
        .map(|i| (format!("S{i:02}"), vec![bar(f64::from(i) + 1.0)]))
        .collect();
    store.write_many(&items).expect("write");
    std::fs::write(store.checked_path("S07").expect("symbol"), b"broken").expect("break");
    let mut symbols: Vec<String> = items.keys().cloned().collect();
    symbols.insert(20, "NONE".into());
    let got = store.read_many(&symbols);
    assert_eq!(got.len(), symbols.len());
    for (sym, r) in symbols.iter().zip(&got) {
        match (sym.as_str(), r) {
            ("NONE", Ok(None)) => {}
            ("S07", Err(e)) => assert!(e.to_string().contains("S07.parquet"), "{e}"),
            (s, Ok(Some(b))) => {
                let i: f64 = s[1..].parse().expect("index");
                assert_eq!(b[0].close, i + 1.0, "{s}");
            }
            (s, other) => panic!("{s}: {other:?}"),
        }
    }
}

fn one_bar(close: f64) -> Vec<Bar> {
    vec![Bar {
        date: NaiveDate::from_ymd_opt(2024, 1, 2).expect("date"),
        open: close,
        high: close,
        low: close,
        close,
        volume: 1.0,
        adj_close: None,
        dividend: 0.0,
        split_factor: 1.0,
        provisional: false,
    }]
}

/// Every file name in `dir`, sorted (temp files included).
fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn write_many_is_all_or_nothing_when_one_target_cannot_be_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = BarStore::new(dir.path());
    let old: BTreeMap<String, Vec<Bar>> = ["AAA", "CCC"]
        .iter()
        .map(|s| (s.to_string(), one_bar(1.0)))
        .collect();
    store.write_many(&old).expect("first write");
    let before_a = std::fs::read(dir.path().join("AAA.parquet")).expect("AAA");
    // BBB sorts between AAA and CCC: a directory stands where its file would go.
    std::fs::create_dir(dir.path().join("BBB.parquet")).expect("mkdir");
    std::fs::write(dir.path().join("BBB.parquet/keep"), b"x").expect("fill dir");
    let new: BTreeMap<String, Vec<Bar>> = ["AAA", "BBB", "CCC"]
        .iter()
        .map(|s| (s.to_string(), one_bar(2.0)))
        .collect();
    let e = store.write_many(&new).expect_err("BBB cannot be replaced");
    assert!(e.to_string().contains("BBB.parquet"), "{e}");
    assert_eq!(
        std::fs::read(dir.path().join("AAA.parquet")).expect("AAA"),
        before_a,
        "AAA was replaced although the write failed"
    );
    assert_eq!(store.read("CCC").expect("read").expect("CCC")[0].close, 1.0);
    assert_eq!(
        names(dir.path()),
        ["AAA.parquet", "BBB.parquet", "CCC.parquet"],
        "temp files left behind"
    );
}

#[test]
fn the_store_builds_no_path_from_an_invalid_symbol() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = BarStore::new(&dir.path().join("bars"));
    for bad in ["../../OUTSIDE", "BAD/SYM", "", "a b", ".."] {
        let e = store
            .write_many(&BTreeMap::from([
                ("GOOD".to_string(), one_bar(1.0)),
                (bad.to_string(), one_bar(1.0)),
            ]))
            .expect_err(bad);
        assert!(matches!(e, StoreError::Symbol { .. }), "{bad:?}: {e}");
        assert!(store.read(bad).is_err(), "{bad:?}");
        assert!(store.read_prices(bad, false).is_err(), "{bad:?}");
    }
    assert!(!dir.path().join("bars").exists(), "nothing was created");
    assert!(!dir.path().join("OUTSIDE.parquet").exists());
}

/// A rename that fails midway (here: a directory that appeared where BBB's file goes after
/// the checks) names what was replaced and what was not, and leaves no temp file.
#[test]
fn a_rename_failing_midway_says_what_was_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let staged: Vec<_> = ["AAA", "BBB", "CCC"]
        .iter()
        .map(|s| {
            let tmp = tempfile::Builder::new()
                .prefix(".tmp-")
                .suffix(".partial")
                .tempfile_in(dir.path())
                .expect("temp");
            (tmp, dir.path().join(format!("{s}.parquet")))
        })
        .collect();
    std::fs::create_dir(dir.path().join("BBB.parquet")).expect("mkdir");
    std::fs::write(dir.path().join("BBB.parquet/keep"), b"x").expect("fill dir");
    let e = rename_all(dir.path(), staged).expect_err("BBB cannot be replaced");
    match &e {
        StoreError::Partial {
            replaced,
            not_replaced,
            ..
        } => {
            assert_eq!(replaced, &["AAA.parquet"]);
            assert_eq!(not_replaced, &["BBB.parquet", "CCC.parquet"]);
        }
        other => panic!("{other}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("already replaced: AAA.parquet; not replaced: BBB.parquet, CCC.parquet"),
        "{msg}"
    );
    assert_eq!(
        names(dir.path()),
        ["AAA.parquet", "BBB.parquet"],
        "temp files left"
    );
}

/// The general path of [`merge`] (a map by date), to compare the appending fast path with.
fn merge_by_map(stored: &[Bar], fresh: &[Bar]) -> Vec<Bar> {
    let mut by_date: BTreeMap<NaiveDate, Bar> =
        stored.iter().map(|b| (b.date, b.clone())).collect();
    for b in fresh {
        match by_date.get(&b.date) {
            Some(old) if b.provisional && !old.provisional => {}
            _ => {
                by_date.insert(b.date, b.clone());
            }
        }
    }
    by_date.into_values().collect()
}

#[test]
fn merge_appending_and_overlapping_equal_the_map_merge() {
    let bar = |d: u32, close: f64, provisional: bool| Bar {
        date: day(d),
        open: close,
        high: close,
        low: close,
        close,
        volume: 1.0,
        adj_close: None,
        dividend: 0.0,
        split_factor: 1.0,
        provisional,
    };
    let stored: Vec<Bar> = (1..=5).map(|d| bar(d, d as f64, false)).collect();
    let cases: Vec<Vec<Bar>> = vec![
        vec![],
        vec![bar(6, 60.0, false)],
        vec![bar(6, 60.0, true), bar(7, 70.0, false)],
        vec![bar(5, 50.0, false), bar(6, 60.0, false)],
        vec![bar(5, 50.0, true)],
        vec![bar(7, 70.0, false), bar(6, 60.0, false)],
        vec![bar(3, 30.0, false)],
        vec![bar(8, 80.0, false), bar(8, 81.0, false)],
    ];
    for fresh in &cases {
        assert_eq!(
            merge(&stored, fresh),
            merge_by_map(&stored, fresh),
            "{fresh:?}"
        );
        assert_eq!(merge(&[], fresh), merge_by_map(&[], fresh), "{fresh:?}");
        assert_eq!(
            merge_owned(stored.clone(), fresh),
            merge_by_map(&stored, fresh),
            "{fresh:?}"
        );
    }
    let unsorted = vec![bar(2, 2.0, false), bar(1, 1.0, false)];
    assert_eq!(
        merge(&unsorted, &cases[1]),
        merge_by_map(&unsorted, &cases[1])
    );
}

/// A file another writer made (polars' own `ParquetWriter`: zstd, dictionaries, statistics,
/// several row groups) reads as the same bars as the store's own plain file, through the
/// direct decode; a file with no rows takes the general reader and reads as no bars.
#[test]
fn foreign_files_read_as_the_stores_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = BarStore::new(dir.path());
    let bars: Vec<Bar> = (0..700)
        .map(|i| {
            let mut b = bar(
                from_days(19_000 + i),
                100.0 + f64::from(i % 17),
                (i % 5 != 0).then_some(f64::from(i)),
            );
            b.provisional = i == 699;
            b
        })
        .collect();
    store
        .write_many(&BTreeMap::from([("OWN".to_string(), bars.clone())]))
        .expect("write");
    assert_eq!(store.read("OWN").expect("read"), Some(bars.clone()));
    let mut df = to_frame("ZST", &bars).expect("frame");
    let mut f = std::fs::File::create(dir.path().join("ZST.parquet")).expect("create");
    ParquetWriter::new(&mut f)
        .with_compression(ParquetCompression::Zstd(None))
        .with_row_group_size(Some(128))
        .finish(&mut df)
        .expect("write");
    let frame = read::read_frame(&dir.path().join("ZST.parquet"), &BAR_COLUMNS).expect("frame");
    let close = frame
        .column("close")
        .expect("close")
        .as_materialized_series();
    assert!(close.n_chunks() > 1, "one chunk per row group");
    assert_eq!(store.read("ZST").expect("read"), Some(bars.clone()));
    let cols = store.read_prices("ZST", true).expect("read").expect("file");
    assert_eq!(cols.close, bars.iter().map(|b| b.close).collect::<Vec<_>>());
    write_frame(
        &dir.path().join("NIL.parquet"),
        to_frame("NIL", &[]).expect("frame"),
    );
    assert_eq!(store.read("NIL").expect("read"), Some(Vec::new()));
}

/// `map_chunks` hands every chunk its own reads in order and returns the chunks in order.
#[test]
fn map_chunks_keeps_the_chunks_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = BarStore::new(dir.path());
    let symbols: Vec<String> = (0..50).map(|i| format!("S{i:02}")).collect();
    let items: BTreeMap<String, Vec<Bar>> = symbols
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 7 != 3)
        .map(|(i, s)| (s.clone(), one_bar(i as f64 + 1.0)))
        .collect();
    store.write_many(&items).expect("write");
    let got = store.map_chunks(&symbols, 4, |part, reads| {
        assert_eq!(part.len(), reads.len());
        part.iter()
            .zip(reads)
            .map(|(s, r)| (s.clone(), r.expect("read").map(|b| b[0].close)))
            .collect::<Vec<_>>()
    });
    assert_eq!(got.len(), 13);
    let flat: Vec<(String, Option<f64>)> = got.into_iter().flatten().collect();
    let want: Vec<(String, Option<f64>)> = symbols
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), (i % 7 != 3).then_some(i as f64 + 1.0)))
        .collect();
    assert_eq!(flat, want);
}
