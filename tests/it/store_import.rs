//! CSV import into the bar store: bad rows are named `file:line: reason` and nothing is
//! half-imported; the parquet files (bars and ledgers) are readable by pyarrow and DuckDB.

use crate::common::{Sandbox, code, stderr, stdout};

fn write(dir: &std::path::Path, name: &str, body: &str) {
    std::fs::write(dir.join(name), body).expect("write csv");
}

#[test]
fn bad_rows_are_named_and_the_store_is_unchanged() {
    let sb = Sandbox::empty("");
    let csv = sb.path().join("csv");
    std::fs::create_dir_all(&csv).expect("mkdir");
    write(
        &csv,
        "AAA.csv",
        "Date,Open,High,Low,Close,AdjClose,Volume,Dividends\n2024-01-02,10,11,9,10.5,10.5,100,0\n2024-01-03,10,11,9,10.5,10.5,100,0\n",
    );
    assert_eq!(
        code(&sb.run(&[
            "fetch",
            "--source",
            "csv",
            "--from",
            csv.to_str().expect("utf8")
        ])),
        0
    );
    let before = std::fs::read(sb.path().join("bars/AAA.parquet")).expect("stored");
    write(
        &csv,
        "AAA.csv",
        "Date,Open,High,Low,Close,AdjClose,Volume,Dividends\n2024-01-02,10,11,9,10.5,10.5,100,0\n2024-01-04,10,11,9,-3,10.5,100,0\n2024-01-05,10,11,9,abc,10.5,100,0\n2024-01-04,10,11,9,10,10,100,0\n",
    );
    write(
        &csv,
        "BBB.csv",
        "Date,Open,High,Low,Close\n2024-01-02,10,9,11,10\n",
    );
    let out = sb.run(&[
        "fetch",
        "--source",
        "csv",
        "--from",
        csv.to_str().expect("utf8"),
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    for want in [
        "AAA.csv:3: close = -3: prices must be > 0",
        "AAA.csv:4: close = `abc` is not a number",
        "BBB.csv:2: OHLC inconsistent",
        "the bar store is unchanged",
    ] {
        assert!(err.contains(want), "missing `{want}` in:\n{err}");
    }
    assert_eq!(
        std::fs::read(sb.path().join("bars/AAA.parquet")).expect("still there"),
        before
    );
    assert!(
        !sb.path().join("bars/BBB.parquet").exists(),
        "nothing half-imported"
    );
}

#[test]
fn import_merges_and_parquet_reads_back_with_pyarrow() {
    let sb = Sandbox::empty("");
    let csv = sb.path().join("csv");
    std::fs::create_dir_all(&csv).expect("mkdir");
    write(
        &csv,
        "ZZZ.csv",
        "timestamp,open,high,low,close,adjusted_close,volume,dividend_amount,split_coefficient\n2024-01-03,20,21,19,20,20,50,0,2.0\n2024-01-02,40,42,38,40,20,25,0.5,1.0\n",
    );
    let out = sb.run(&[
        "--json",
        "fetch",
        "--source",
        "csv",
        "--from",
        csv.to_str().expect("utf8"),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(v["rows_added"], 2);
    let bars =
        trader::data::store::read_file(&sb.path().join("bars/ZZZ.parquet")).expect("read back");
    assert_eq!(bars.len(), 2);
    assert_eq!(
        (bars[0].close, bars[0].volume, bars[0].dividend),
        (20.0, 50.0, 0.25),
        "split-adjusted"
    );
    assert_eq!(bars[1].split_factor, 2.0);
    let py = std::process::Command::new("python3")
        .args(["-c", "import sys, pyarrow.parquet as pq\nt = pq.read_table(sys.argv[1])\nprint(t.num_rows, ','.join(t.schema.names), t.column('close').to_pylist(), str(t.schema.field('date').type))", sb.path().join("bars/ZZZ.parquet").to_str().expect("utf8")])
        .output();
    match py {
        Ok(o) if o.status.success() => {
            let s = String::from_utf8_lossy(&o.stdout);
            assert_eq!(
                s.trim(),
                "2 symbol,date,open,high,low,close,volume,adj_close,dividend,split_factor,provisional [20.0, 20.0] date32[day]"
            );
        }
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("No module named") => {
            eprintln!("skipped: pyarrow is not installed");
        }
        Ok(o) => panic!("pyarrow failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(_) => eprintln!("skipped: python3 is not installed"),
    }
}

/// Run a Python snippet; `None` (test skipped) when Python or `module` is not installed.
fn python(module: &str, code: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(code)
        .args(args)
        .output();
    match out {
        Ok(o) if o.status.success() => Some(String::from_utf8_lossy(&o.stdout).trim().to_string()),
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("No module named") => {
            eprintln!("skipped: {module} is not installed");
            None
        }
        Ok(o) => panic!("{module} failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(_) => {
            eprintln!("skipped: python3 is not installed");
            None
        }
    }
}

#[test]
fn bars_and_ledgers_read_back_with_duckdb() {
    let sb = Sandbox::with_sample("");
    // Rewrite QQQ through the store so DuckDB reads a file our writer made (uncompressed), not
    // the committed sample's.
    let store = trader::data::store::BarStore::new(&sb.path().join("bars"));
    let qqq = store.read("QQQ").expect("read").expect("QQQ stored");
    store
        .write_many(&std::collections::BTreeMap::from([(
            "QQQ".to_string(),
            qqq,
        )]))
        .expect("rewrite");
    let out = sb.run(&["dry-run", "--date", "2026-05-01", "--skip-preflight"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let bars = sb.path().join("bars/QQQ.parquet");
    let ledger = sb.path().join("ledger/decisions.parquet");
    let q = "import sys, duckdb\n\
        c = duckdb.connect()\n\
        b = c.execute(f\"select count(*), min(date)::varchar, max(date)::varchar, typeof(any_value(date)), typeof(any_value(volume)) from read_parquet('{sys.argv[1]}')\").fetchone()\n\
        d = c.execute(f\"select date::varchar, cell, phase, TQQQ + QQQ + TMF + TMV <= 1.0 from read_parquet('{sys.argv[2]}')\").fetchone()\n\
        print(*b, *d)";
    let Some(s) = python(
        "duckdb",
        q,
        &[bars.to_str().expect("utf8"), ledger.to_str().expect("utf8")],
    ) else {
        return;
    };
    let stored = trader::data::store::read_file(&bars).expect("read");
    let want = format!(
        "{} {} {} DATE DOUBLE 2026-05-01 ",
        stored.len(),
        stored[0].date,
        stored[stored.len() - 1].date
    );
    assert!(s.starts_with(&want), "duckdb saw {s:?}, want {want:?}…");
    assert!(s.ends_with("dry-run True"), "{s}");
}

/// A multi-file import where one target is not a regular file (BBB's is a symlink to a bar
/// file elsewhere, which reads fine) replaces nothing: AAA and CCC keep their bytes, the
/// link is left alone and no temp file is left.
#[test]
fn a_multi_file_import_is_all_or_nothing() {
    let sb = Sandbox::empty("");
    let csv = sb.path().join("csv");
    std::fs::create_dir_all(&csv).expect("mkdir");
    let from = csv.to_str().expect("utf8");
    for s in ["AAA", "CCC"] {
        write(&csv, &format!("{s}.csv"), "Date,Close\n2024-01-02,10\n");
    }
    assert_eq!(
        code(&sb.run(&["fetch", "--source", "csv", "--from", from])),
        0
    );
    let bars = sb.path().join("bars");
    let before: Vec<Vec<u8>> = ["AAA", "CCC"]
        .iter()
        .map(|s| std::fs::read(bars.join(format!("{s}.parquet"))).expect("stored"))
        .collect();
    let elsewhere = sb.path().join("elsewhere.parquet");
    std::fs::copy(bars.join("AAA.parquet"), &elsewhere).expect("copy");
    std::os::unix::fs::symlink(&elsewhere, bars.join("BBB.parquet")).expect("symlink");
    for s in ["AAA", "BBB", "CCC"] {
        write(
            &csv,
            &format!("{s}.csv"),
            "Date,Close\n2024-01-02,10\n2024-01-03,11\n",
        );
    }
    let out = sb.run(&["fetch", "--source", "csv", "--from", from]);
    assert_ne!(code(&out), 0);
    let err = stderr(&out);
    assert!(
        err.contains("nothing was replaced")
            && err.contains("BBB.parquet: cannot write: exists and is not a regular file"),
        "{err}"
    );
    assert!(
        bars.join("BBB.parquet").is_symlink(),
        "the link was replaced"
    );
    for (s, b) in ["AAA", "CCC"].iter().zip(&before) {
        assert_eq!(
            &std::fs::read(bars.join(format!("{s}.parquet"))).expect("kept"),
            b,
            "{s}"
        );
    }
    let mut names: Vec<String> = std::fs::read_dir(&bars)
        .expect("bars")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["AAA.parquet", "BBB.parquet", "CCC.parquet"]);
}
