//! #18 items 2 and 9 through the binary: symbols are validated at every edge before
//! anything is downloaded or written (`fetch --symbols`, config keys), and the CSV importer
//! parses quoted fields, panels with a `Name` column, and refuses what it cannot store
//! honestly, naming the file and line, with the store unchanged.

use std::process::{Command, Output};

use crate::common::{Sandbox, code, stderr, stdout};
use crate::http_double::{HttpDouble, Reply};

/// After the close of Wednesday 2022-03-09 in New York.
const ALPACA_NOW: &str = "2022-03-10T03:00:00Z";

fn fixture(rel: &str) -> String {
    let path = format!("{}/tests/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn alpaca_sandbox(base: &str) -> Sandbox {
    Sandbox::empty(&format!(
        "data:\n  source: alpaca\n  history_start: 2022-02-01\n  alpaca:\n    base_url: {base}\n    \
         http: {{ timeout_ms: 2000, connect_timeout_ms: 500, max_attempts: 1, backoff_base_ms: 1, \
         backoff_max_ms: 5, min_interval_ms: 0 }}\n"
    ))
}

fn run_alpaca(sb: &Sandbox, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trader"))
        .arg("--config")
        .arg(sb.config())
        .args(args)
        .env("TRADER_NOW", ALPACA_NOW)
        .env("APCA_API_KEY_ID", "PKSYMBOLTEST")
        .env("APCA_API_SECRET_KEY", "symbol-test-secret")
        .output()
        .expect("run trader")
}

/// Every path under `dir`, relative, sorted.
fn tree(dir: &std::path::Path) -> Vec<String> {
    fn walk(base: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd {
            let p = e.expect("entry").path();
            out.push(p.strip_prefix(base).expect("under").display().to_string());
            if p.is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn fetch_symbols_that_are_not_symbols_exit_2_before_any_request_or_write() {
    let double = HttpDouble::scripted(vec![Reply::json(
        200,
        fixture("alpaca/get_v2_stocks_bars.alpaca-py-test.multi_symbol.json"),
    )]);
    // The sandbox's bars dir is two levels below a directory of our own, so `../../OUTSIDE`
    // would land inside `outer` if it were used as a file name.
    let outer = tempfile::tempdir().expect("tempdir");
    let sb = alpaca_sandbox(&double.base_url());
    let cfg = std::fs::read_to_string(sb.config()).expect("config");
    let nested = outer.path().join("a/b");
    std::fs::create_dir_all(&nested).expect("mkdir");
    std::fs::write(
        sb.config(),
        cfg.replace("bars_dir: bars", &format!("bars_dir: {}", nested.display())),
    )
    .expect("config");
    for bad in ["../../OUTSIDE", "BAD/SYM", "AAPL,,TSLA", "+MSFT"] {
        let out = run_alpaca(&sb, &["fetch", "--symbols", bad]);
        assert_eq!(code(&out), 2, "{bad}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("--symbols:") && err.contains("is not a valid symbol"),
            "{bad}: {err}"
        );
        assert!(err.contains("nothing was fetched or written"), "{err}");
    }
    assert!(double.requests().is_empty(), "{:?}", double.requests());
    assert_eq!(tree(outer.path()), ["a", "a/b"], "nothing written outside");
    assert!(!sb.path().join("state/state.json").exists(), "no job ran");
    // CSV too: refused before any file is read.
    let out = run_alpaca(
        &sb,
        &[
            "fetch",
            "--source",
            "csv",
            "--from",
            "/nonexistent",
            "--symbols",
            "../../OUTSIDE",
        ],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("\"../../OUTSIDE\" is not a valid symbol"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn fetch_symbols_are_trimmed_and_upper_cased_before_the_request() {
    let double = HttpDouble::scripted(vec![Reply::json(
        200,
        fixture("alpaca/get_v2_stocks_bars.alpaca-py-test.multi_symbol.json"),
    )]);
    let sb = alpaca_sandbox(&double.base_url());
    let out = run_alpaca(&sb, &["--json", "fetch", "--symbols", "AAPL, tsla "]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let reqs = double.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(reqs[0].query("symbols").as_deref(), Some("AAPL,TSLA"));
    for s in ["AAPL", "TSLA"] {
        assert!(sb.path().join(format!("bars/{s}.parquet")).exists(), "{s}");
    }
}

#[test]
fn a_config_symbol_that_is_a_path_is_a_config_error_naming_key_and_value() {
    for (yaml, key, value) in [
        (
            "strategy:\n  params:\n    signal_symbol: ../../../../tmp/x\n",
            "strategy.params.signal_symbol",
            "\"../../../../tmp/x\"",
        ),
        (
            "strategy:\n  params:\n    bull: TQ/QQ\n",
            "strategy.params.bull",
            "\"TQ/QQ\"",
        ),
        (
            "data:\n  extra_symbols: [QQQ, ..]\n",
            "data.extra_symbols[1]",
            "\"..\"",
        ),
        (
            "risk:\n  restricted_symbols:\n    symbols: [\"../x\"]\n",
            "risk.restricted_symbols.symbols[0]",
            "\"../x\"",
        ),
    ] {
        let sb = Sandbox::empty(yaml);
        for args in [
            &["preflight"][..],
            &["fetch", "--source", "csv", "--from", "."],
        ] {
            let out = sb.run(args);
            assert_eq!(code(&out), 2, "{yaml}{args:?}: {}", stderr(&out));
            let err = stderr(&out);
            assert!(
                err.contains(&format!("{key} = {value}: must be a symbol")),
                "{err}"
            );
        }
        assert_eq!(tree(sb.path()), ["trader.yaml"], "nothing created");
    }
}

fn csv_sandbox(files: &[(&str, &str)]) -> (Sandbox, String) {
    let sb = Sandbox::empty("");
    let dir = sb.path().join("csv");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for (name, body) in files {
        std::fs::write(dir.join(name), body).expect("write csv");
    }
    let from = dir.to_str().expect("utf8").to_string();
    (sb, from)
}

#[test]
fn a_quoted_volume_is_one_number_and_bom_crlf_files_import() {
    let (sb, from) = csv_sandbox(&[
        (
            "AAPL.csv",
            "Date,Open,High,Low,Close,Volume,Dividends,Stock Splits\n\
             2024-01-02,10,11,9,10.5,\"39,055,400\",0,0\n",
        ),
        (
            "MSFT.csv",
            "\u{feff}Date,Open,High,Low,Close,Volume\r\n2024-01-02,10,11,9,10.5,100\r\n",
        ),
    ]);
    let out = sb.run(&["fetch", "--source", "csv", "--from", &from]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let bars = trader::data::store::read_file(&sb.path().join("bars/AAPL.parquet")).expect("read");
    assert_eq!(
        (bars[0].volume, bars[0].dividend, bars[0].split_factor),
        (39_055_400.0, 0.0, 1.0)
    );
    let bars = trader::data::store::read_file(&sb.path().join("bars/MSFT.parquet")).expect("read");
    assert_eq!((bars.len(), bars[0].volume), (1, 100.0));
}

#[test]
fn a_panel_file_with_a_name_column_is_split_per_symbol() {
    let (sb, from) = csv_sandbox(&[(
        "all_stocks_5yr.csv",
        "date,open,high,low,close,volume,Name\n\
         2024-01-02,10,11,9,10,100,AAA\n2024-01-03,10,11,9,11,100,AAA\n\
         2024-01-02,20,21,19,20,100,BBB\n2024-01-03,20,22,19,21,100,BBB\n",
    )]);
    let out = sb.run(&["--json", "fetch", "--source", "csv", "--from", &from]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(
        (v["symbols"].as_u64(), v["rows_added"].as_u64()),
        (Some(2), Some(4))
    );
    let closes = |s: &str| -> Vec<f64> {
        trader::data::store::read_file(&sb.path().join(format!("bars/{s}.parquet")))
            .expect("read")
            .iter()
            .map(|b| b.close)
            .collect()
    };
    assert_eq!(closes("AAA"), [10.0, 11.0]);
    assert_eq!(closes("BBB"), [20.0, 21.0]);
    // `--symbols` picks symbols out of the panel.
    let (sb2, from2) = csv_sandbox(&[(
        "all_stocks_5yr.csv",
        "date,close,Name\n2024-01-02,10,AAA\n2024-01-02,20,BBB\n",
    )]);
    let out = sb2.run(&[
        "fetch",
        "--source",
        "csv",
        "--from",
        &from2,
        "--symbols",
        "bbb",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(sb2.path().join("bars/BBB.parquet").exists());
    assert!(!sb2.path().join("bars/AAA.parquet").exists());
}

#[test]
fn csv_rows_that_cannot_be_stored_honestly_are_refused_by_line() {
    let good = "Date,Close,Dividends,Stock Splits\n2024-01-02,10,0,0\n";
    let (sb, from) = csv_sandbox(&[("QQQ.csv", good)]);
    assert_eq!(
        code(&sb.run(&["fetch", "--source", "csv", "--from", &from])),
        0
    );
    let before = std::fs::read(sb.path().join("bars/QQQ.parquet")).expect("stored");
    let state_before = std::fs::read(sb.path().join("state/state.json")).expect("state");
    std::fs::write(
        sb.path().join("csv/QQQ.csv"),
        "Date,Close,Dividends,Stock Splits\n2024-01-02,10,0,0\n2024-01-03,10,-0.5,0\n\
         2024-01-04,10,0,-2\n4637-01-05,10,0,0\n1899-01-03,10,0,0\n",
    )
    .expect("write");
    let out = sb.run(&["fetch", "--source", "csv", "--from", &from]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    for want in [
        "QQQ.csv:3: dividend = -0.5",
        "QQQ.csv:4: split factor = -2",
        "QQQ.csv:5: date 4637-01-05 is after today",
        "QQQ.csv:6: date 1899-01-03 is before 1900-01-01",
        "the bar store is unchanged",
    ] {
        assert!(err.contains(want), "missing `{want}` in:\n{err}");
    }
    assert_eq!(
        std::fs::read(sb.path().join("bars/QQQ.parquet")).expect("kept"),
        before
    );
    // The state changes only by the refused fetch's own record (#17: every fetch is recorded).
    let after: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.path().join("state/state.json")).expect("state"))
            .expect("json");
    let before: serde_json::Value = serde_json::from_slice(&state_before).expect("json");
    let fetch = &after["jobs"]["2026-05-01"]["fetch"];
    assert_eq!(fetch["result"], "failed", "{fetch}");
    assert!(
        fetch["detail"]
            .as_str()
            .is_some_and(|d| d.contains("CSV import refused")),
        "{fetch}"
    );
    assert_eq!(after["account"], before["account"]);
    assert_eq!(after["equity_history"], before["equity_history"]);
}

#[test]
fn fetch_csv_symbols_that_match_nothing_exit_2_and_record_nothing() {
    let (sb, from) = csv_sandbox(&[("QQQ.csv", "Date,Close\n2024-01-02,10\n")]);
    let out = sb.run(&[
        "fetch",
        "--source",
        "csv",
        "--from",
        &from,
        "--symbols",
        "NOPE",
    ]);
    assert_eq!(code(&out), 2, "{}{}", stdout(&out), stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("--symbols NOPE: no CSV data in"), "{err}");
    assert!(err.contains("(it holds QQQ)"), "{err}");
    assert!(!stdout(&out).contains("fetched"), "{}", stdout(&out));
    assert!(!sb.path().join("bars/QQQ.parquet").exists());
    let state = std::fs::read_to_string(sb.path().join("state/state.json")).unwrap_or_default();
    assert!(!state.contains("\"ok\""), "a success was recorded: {state}");
}

/// #18 item 10: a clock outside the NYSE calendar (1990..2099) is reported, not turned into
/// a guessed window: nothing is requested or written.
#[test]
fn a_calendar_error_is_reported_before_any_request() {
    let double = HttpDouble::scripted(vec![Reply::json(
        200,
        fixture("alpaca/get_v2_stocks_bars.alpaca-py-test.multi_symbol.json"),
    )]);
    let sb = alpaca_sandbox(&double.base_url());
    let out = Command::new(env!("CARGO_BIN_EXE_trader"))
        .arg("--config")
        .arg(sb.config())
        .args(["fetch", "--symbols", "AAPL"])
        .env("TRADER_NOW", "2150-01-05T20:00:00Z")
        .env("APCA_API_KEY_ID", "PKSYMBOLTEST")
        .env("APCA_API_SECRET_KEY", "symbol-test-secret")
        .output()
        .expect("run trader");
    assert_ne!(code(&out), 0, "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("outside the supported NYSE calendar range"),
        "{err}"
    );
    assert!(double.requests().is_empty(), "{:?}", double.requests());
    assert!(!sb.path().join("bars").exists());
}

/// A FIFO named like a CSV file is refused at once instead of blocking the import.
#[test]
fn a_fifo_among_the_csv_files_is_refused_without_blocking() {
    let (sb, from) = csv_sandbox(&[("QQQ.csv", "Date,Close\n2024-01-02,10\n")]);
    let fifo = sb.path().join("csv/TLT.csv");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("skipped: mkfifo is not available");
        return;
    }
    let r = crate::fuzz_data::run(&sb, &["fetch", "--source", "csv", "--from", &from], "fifo");
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("TLT.csv: not a regular file"),
        "{}",
        r.stderr
    );
    assert!(!sb.path().join("bars/QQQ.parquet").exists());
    let missing = sb.path().join("nowhere");
    let r = crate::fuzz_data::run(
        &sb,
        &[
            "fetch",
            "--source",
            "csv",
            "--from",
            missing.to_str().expect("utf8"),
        ],
        "missing dir",
    );
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("nowhere: not a CSV file or directory"),
        "{}",
        r.stderr
    );
}
