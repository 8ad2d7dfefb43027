//! Fuzz of the data inputs (#18): CSV files for `fetch --source csv` and parquet bar files
//! for `preflight`, mutated with a fixed seed (xorshift64), each run of the real binary under
//! a timeout. `TRADER_FUZZ_CASES` sets the number of cases per kind (default 80).
//!
//! Every case asserts: no panic (exit 101 or "panicked" on stderr), no hang (30 s timeout),
//! and the store byte-for-byte unchanged after a refusal. Mutations are of two kinds:
//! * *nonsense*, which must be refused, naming the file and line (CSV) or the symbol, date
//!   and field (bar files): a cell made a non-number, a price made ≤ 0 or non-finite, a
//!   negative volume, dividend or split, a date made garbage or later than today, a row
//!   repeated, two rows swapped, a row with a cell missing;
//! * *unknown* (a random byte flipped, the file cut short), which may be accepted or refused:
//!   accepted, every stored bar must pass the row check; refused, the message must name the
//!   file (CSV) or the symbol (bar file).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use trader::data::store::BarStore;

use crate::common::Sandbox;

mod bars;

const NOW: &str = "2026-05-01T19:50:00Z";
const TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) struct XorShift(pub(crate) u64);

impl XorShift {
    pub(crate) fn next(&mut self) -> u64 {
        let mut s = self.0;
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        self.0 = s;
        s
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

pub(crate) fn cases() -> usize {
    std::env::var("TRADER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(80)
}

pub(crate) struct Run {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Run the binary with a timeout; a hang fails the test.
pub(crate) fn run(sb: &Sandbox, args: &[&str], what: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trader"))
        .arg("--config")
        .arg(sb.config())
        .args(args)
        .env("TRADER_NOW", NOW)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn trader");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let o = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let e = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: hung for more than {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let r = Run {
        code: status.code(),
        stdout: o.join().expect("stdout thread"),
        stderr: e.join().expect("stderr thread"),
    };
    assert!(
        r.code != Some(101) && r.code.is_some() && !r.stderr.contains("panicked"),
        "{what}: crashed ({:?}):\n{}",
        r.code,
        r.stderr
    );
    r
}

/// Every file of `dir` by name with its bytes.
pub(crate) fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd {
            let p = e.expect("entry").path();
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            out.insert(name, std::fs::read(&p).expect("read"));
        }
    }
    out
}

/// The base CSV: 30 sessions of a yfinance-style file, header on line 1.
fn base_rows() -> (String, Vec<Vec<String>>) {
    let header = "Date,Open,High,Low,Close,Adj Close,Volume,Dividends,Stock Splits".to_string();
    let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("date");
    let mut rows = Vec::new();
    let mut d = start;
    let mut i = 0.0;
    while rows.len() < 30 {
        d = d.succ_opt().expect("date");
        if chrono::Datelike::weekday(&d).number_from_monday() > 5 {
            continue;
        }
        let c: f64 = 100.0 + i;
        i += 1.0;
        rows.push(vec![
            d.to_string(),
            format!("{:.2}", c - 0.5),
            format!("{:.2}", c + 1.0),
            format!("{:.2}", c - 1.0),
            format!("{c:.2}"),
            format!("{:.2}", c * 0.98),
            format!("{}", 1_000_000 + rows.len() * 1000),
            "0".into(),
            "0".into(),
        ]);
    }
    (header, rows)
}

fn render(header: &str, rows: &[Vec<String>]) -> String {
    let mut s = format!("{header}\n");
    for r in rows {
        s.push_str(&r.join(","));
        s.push('\n');
    }
    s
}

/// A CSV mutation: the text, the line a refusal must name (`None`: unknown, any outcome
/// allowed), and whether the result must be refused.
struct Mutation {
    label: String,
    bytes: Vec<u8>,
    must_refuse: bool,
    line: Option<usize>,
}

fn mutate_csv(rng: &mut XorShift) -> Mutation {
    let (header, mut rows) = base_rows();
    let r = rng.below(rows.len());
    let line = r + 2;
    let nonsense = |label: String, rows: &[Vec<String>], line| Mutation {
        label,
        bytes: render(&header, rows).into_bytes(),
        must_refuse: true,
        line: Some(line),
    };
    match rng.below(10) {
        0 => {
            let col = 1 + rng.below(8);
            let junk = [
                "abc", "1e", "--1", "", "NaN", "inf", "1.2.3", "0x10", "1,5", "+-3",
            ];
            let j = junk[rng.below(junk.len())];
            rows[r][col] = j.to_string();
            nonsense(format!("row {r} col {col} = {j:?}"), &rows, line)
        }
        1 => {
            let col = 1 + rng.below(5);
            let v = ["0", "-1", "-0.01", "-100"][rng.below(4)];
            rows[r][col] = v.to_string();
            nonsense(format!("row {r} price col {col} = {v}"), &rows, line)
        }
        2 => {
            let (col, v) = [(6, "-5"), (7, "-0.5"), (8, "-2")][rng.below(3)];
            rows[r][col] = v.to_string();
            nonsense(format!("row {r} col {col} = {v}"), &rows, line)
        }
        3 => {
            let v = [
                "2026-05-02",
                "4637-01-01",
                "1899-12-31",
                "2024-13-01",
                "yesterday",
                "2024-02-30",
            ][rng.below(6)];
            rows[r][0] = v.to_string();
            nonsense(format!("row {r} date = {v}"), &rows, line)
        }
        4 => {
            let col = rng.below(9);
            rows[r].remove(col);
            nonsense(format!("row {r} cell {col} removed"), &rows, line)
        }
        5 => {
            // Repeated row: the second copy (one line further down) is the duplicate.
            let copy = rows[r].clone();
            rows.insert(r + 1, copy);
            nonsense(format!("row {r} repeated"), &rows, line + 1)
        }
        6 => {
            // Two neighbours swapped (not the first pair: a file whose first date is after its
            // last reads as newest-first). The line of the later row is named.
            let r = 1 + rng.below(rows.len() - 2);
            rows.swap(r, r + 1);
            Mutation {
                label: format!("rows {r} and {} swapped", r + 1),
                bytes: render(&header, &rows).into_bytes(),
                must_refuse: true,
                line: Some(r + 3),
            }
        }
        7 => {
            // Valid variants that must import: a quoted grouped volume, CRLF, a BOM.
            rows[r][6] = "\"39,055,400\"".into();
            let text = render(&header, &rows).replace('\n', "\r\n");
            let mut bytes = "\u{feff}".as_bytes().to_vec();
            bytes.extend(text.into_bytes());
            Mutation {
                label: format!("row {r} quoted volume, CRLF, BOM"),
                bytes,
                must_refuse: false,
                line: None,
            }
        }
        8 => {
            let mut bytes = render(&header, &rows).into_bytes();
            let i = rng.below(bytes.len());
            let b = (rng.next() & 0xff) as u8;
            bytes[i] = b;
            Mutation {
                label: format!("byte {i} = {b:#04x}"),
                bytes,
                must_refuse: false,
                line: None,
            }
        }
        _ => {
            let mut bytes = render(&header, &rows).into_bytes();
            let cut = 1 + rng.below(bytes.len() - 1);
            bytes.truncate(cut);
            Mutation {
                label: format!("cut at byte {cut}"),
                bytes,
                must_refuse: false,
                line: None,
            }
        }
    }
}

/// A sandbox whose store holds FUZ from the unmutated base file (written in-process).
fn csv_sandbox() -> Sandbox {
    let sb = Sandbox::empty("");
    let (header, rows) = base_rows();
    let base = trader::data::csv_import::import_file(
        Path::new("FUZ.csv"),
        render(&header, &rows).as_bytes(),
        false,
        chrono::NaiveDate::from_ymd_opt(2026, 5, 1).expect("date"),
    )
    .expect("the base file imports");
    BarStore::new(&sb.path().join("bars"))
        .write_many(&base.bars)
        .expect("seed the store");
    std::fs::create_dir_all(sb.path().join("csv")).expect("mkdir");
    sb
}

pub(crate) fn all_usable(dir: &Path) {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 5, 1).expect("date");
    let store = BarStore::new(dir);
    for s in store.symbols() {
        let bars = store.read(&s).expect("readable").expect("stored");
        let bad = trader::model::unusable_bars(&s, &bars, today);
        assert!(bad.is_empty(), "stored unusable bars: {bad:?}");
    }
}

#[test]
fn fuzz_csv_import() {
    let mut rng = XorShift(0x5eed_c5f0_2026_0518);
    let (mut refused, mut accepted) = (0, 0);
    for case in 0..cases() {
        let m = mutate_csv(&mut rng);
        let what = format!("csv case {case} ({})", m.label);
        let sb = csv_sandbox();
        let file = sb.path().join("csv/FUZ.csv");
        std::fs::write(&file, &m.bytes).expect("write csv");
        let bars = sb.path().join("bars");
        let before = snapshot(&bars);
        let from = sb.path().join("csv");
        let r = run(
            &sb,
            &[
                "fetch",
                "--source",
                "csv",
                "--from",
                from.to_str().expect("utf8"),
            ],
            &what,
        );
        if r.code == Some(0) {
            accepted += 1;
            assert!(!m.must_refuse, "{what}: nonsense accepted:\n{}", r.stdout);
            all_usable(&bars);
        } else {
            refused += 1;
            assert!(
                !m.bytes.is_empty() && !m.label.contains("quoted volume"),
                "{what}: a valid file was refused:\n{}",
                r.stderr
            );
            assert_eq!(r.code, Some(2), "{what}: {}", r.stderr);
            assert!(
                r.stderr.contains("FUZ.csv"),
                "{what}: the file is not named:\n{}",
                r.stderr
            );
            if let Some(line) = m.line {
                assert!(
                    r.stderr.contains(&format!("FUZ.csv:{line}: ")),
                    "{what}: line {line} is not named:\n{}",
                    r.stderr
                );
            }
            assert!(
                snapshot(&bars) == before,
                "{what}: the store changed after a refusal"
            );
        }
    }
    eprintln!("fuzz_csv_import: {refused} refused, {accepted} accepted");
}
