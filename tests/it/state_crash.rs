//! Crash safety of state.json: a child process saves in a loop and is SIGKILLed at
//! random moments; every load afterwards must give a valid, non-empty, recent state.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use trader::config::Phase;
use trader::state::State;
use trader::state::store::{Loaded, StateStore};

/// Not a test on its own: the body of the child process the crash test kills.
#[test]
#[ignore = "run only as the crash test's child process"]
fn crash_child() {
    let Ok(dir) = std::env::var("TRADER_CRASH_DIR") else {
        return;
    };
    let store = StateStore::new(std::path::Path::new(&dir), 5);
    let mut state = match store.load() {
        Ok(Loaded::Ok(s)) | Ok(Loaded::Recovered { state: s, .. }) => s,
        _ => State::new(Utc::now(), Phase::DryRun),
    };
    loop {
        // Grow the file a little so writes are not trivially small.
        let d = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).expect("date")
            + chrono::Duration::days((state.save_seq % 3000) as i64);
        state.record_equity(d, 10_000.0 + state.save_seq as f64);
        store.save(&mut state, Utc::now()).expect("save");
        println!("saved {}", state.save_seq);
    }
}

#[test]
fn state_survives_200_random_sigkills() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test exe");
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut last_seen = 0u64;
    for round in 0..200 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "state_crash::crash_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("TRADER_CRASH_DIR", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let out = child.stdout.take().expect("stdout");
        let seen = Arc::new(Mutex::new(0u64));
        let seen2 = Arc::clone(&seen);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(n) = line
                    .strip_prefix("saved ")
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    *seen2.lock().expect("lock") = n;
                }
            }
        });
        // Wait until this child has saved at least once (process start-up can take long on a
        // loaded machine), then kill it at a random moment of its save loop.
        let started = std::time::Instant::now();
        while *seen.lock().expect("lock") <= last_seen
            && started.elapsed() < Duration::from_secs(20)
        {
            std::thread::sleep(Duration::from_micros(200));
        }
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_micros(rng % 20_000));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        reader.join().expect("reader");
        let confirmed = *seen.lock().expect("lock");
        let store = StateStore::new(dir.path(), 5);
        let state = match store.load() {
            Ok(Loaded::Ok(s)) => s,
            Ok(Loaded::Fresh) if round == 0 && confirmed == 0 => continue,
            other => panic!("round {round}: load after SIGKILL gave {other:?}"),
        };
        assert!(state.check().is_empty(), "round {round}: invalid state");
        assert!(
            state.save_seq >= confirmed,
            "round {round}: lost saves: {} < {confirmed}",
            state.save_seq
        );
        assert!(
            state.save_seq >= last_seen,
            "round {round}: state went backwards"
        );
        assert!(
            !state.equity_history.is_empty() || state.save_seq == 1,
            "round {round}: empty state"
        );
        last_seen = state.save_seq;
    }
    assert!(
        last_seen > 200,
        "the child saved too rarely ({last_seen}) for the test to mean anything"
    );
}

#[test]
fn corrupt_state_recovers_from_newest_backup_never_empty() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = StateStore::new(dir.path(), 3);
    let mut s = State::new(Utc::now(), Phase::DryRun);
    for i in 0..5 {
        s.record_equity(
            chrono::NaiveDate::from_ymd_opt(2024, 1, 2 + i).expect("date"),
            100.0 + i as f64,
        );
        store.save(&mut s, Utc::now()).expect("save");
    }
    assert_eq!(
        store.backup_files().len(),
        3,
        "backups rotate to the configured count"
    );
    std::fs::write(&store.path, b"{\"schema_version\": 1, \"trunc").expect("corrupt");
    match store.load().expect("recovers") {
        Loaded::Recovered { state, problem, .. } => {
            assert_eq!(state.save_seq, 5);
            assert!(problem.contains("not a valid state"), "{problem}");
        }
        other => panic!("expected recovery, got {other:?}"),
    }
    for b in store.backup_files() {
        std::fs::write(b, b"garbage").expect("corrupt backup");
    }
    let err = store.load().expect_err("no valid copy left");
    assert!(err.to_string().contains("no valid backup"), "{err}");
}

/// Rows of a ledger table, or 0 when it does not exist yet; it must always be readable.
fn ledger_rows(path: &std::path::Path) -> Option<polars::prelude::DataFrame> {
    trader::ledger::read(path).unwrap_or_else(|e| panic!("unreadable ledger after a kill: {e}"))
}

fn text_keys(df: &polars::prelude::DataFrame, cols: &[&str]) -> Vec<String> {
    let series: Vec<Vec<String>> = cols
        .iter()
        .map(|c| {
            let col = df.column(c).expect("column");
            (0..df.height())
                .map(|i| col.get(i).map(|v| v.to_string()).unwrap_or_default())
                .collect()
        })
        .collect();
    (0..df.height())
        .map(|i| {
            series
                .iter()
                .map(|s| s[i].as_str())
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

fn partials(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    ["state", "state/backups", "state/sim", "ledger", "bars"]
        .iter()
        .flat_map(|d| {
            std::fs::read_dir(root.join(d))
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(".tmp-") && n.ends_with(".partial"))
        })
        .collect()
}

/// SIGKILL of the real binary at random moments of `dry-run` (ledger appends, account,
/// state save) and `fetch --source csv` (bar import): `TRADER_KILL_POINTS` kills (default
/// 1000). After every kill: the state loads valid without a recovery and its save number never
/// goes back, every ledger, bar file and the account are readable, and no ledger row is there
/// twice. Every tenth kill a run completes, after which no temp file is left anywhere and the
/// backups directory holds exactly the configured count.
#[test]
fn jobs_survive_random_sigkills_without_orphans_or_duplicate_rows() {
    use std::time::Instant;
    let points: usize = std::env::var("TRADER_KILL_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    const DATE: &str = "2026-05-01";
    const KEEP: usize = 5;
    let sb = crate::common::Sandbox::with_sample(&format!("state:\n  backups: {KEEP}\n"));
    let root = sb.path().to_path_buf();
    // A CSV import of a symbol the strategy does not read (so the decision stays the same),
    // made from the sample's QQQ bars.
    let csv_dir = root.join("csv");
    std::fs::create_dir_all(&csv_dir).expect("mkdir csv");
    let bars = trader::data::store::read_file(&root.join("bars/QQQ.parquet")).expect("bars");
    let mut csv = String::from("Date,Open,High,Low,Close,Volume\n");
    for b in &bars {
        csv.push_str(&format!(
            "{},{},{},{},{},{}\n",
            b.date, b.open, b.high, b.low, b.close, b.volume
        ));
    }
    std::fs::write(csv_dir.join("ZZZ.csv"), csv).expect("csv");
    let csv_arg = csv_dir.display().to_string();
    let commands: [Vec<&str>; 3] = [
        vec!["dry-run", "--date", DATE, "--skip-preflight", "--force"],
        vec!["dry-run", "--date", DATE, "--skip-preflight"],
        vec!["fetch", "--source", "csv", "--from", &csv_arg],
    ];
    let spawn = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_trader"))
            .arg("--config")
            .arg(sb.config())
            .args(args)
            .env("TRADER_NOW", "2026-05-01T19:50:00Z")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn trader")
    };
    // How long each command takes whole: kills are spread over that time.
    let mut full = Vec::new();
    for args in &commands {
        let t = Instant::now();
        let status = spawn(args).wait().expect("wait");
        assert!(status.success(), "{args:?} must succeed when not killed");
        full.push(t.elapsed());
    }
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let store = StateStore::new(&root.join("state"), KEEP);
    let mut last_seq = 0u64;
    let mut risk_rows: Option<usize> = None;
    let csv_rows = bars.len();
    let started = Instant::now();
    for k in 0..points {
        if k > 0 && k % 250 == 0 {
            // A fresh start now and then, so runs without --force do the whole job again.
            for d in ["state", "ledger"] {
                std::fs::remove_dir_all(root.join(d)).expect("wipe");
            }
            last_seq = 0;
        }
        let which = (next() % 3) as usize;
        let limit = full[which].as_micros() as u64 * 11 / 10;
        let mut child = spawn(&commands[which]);
        std::thread::sleep(Duration::from_micros(next() % limit.max(1)));
        let _ = child.kill();
        child.wait().expect("reap");
        let at = format!("kill {k} ({:?})", commands[which]);
        match store.load() {
            Ok(Loaded::Ok(s)) => {
                assert!(s.check().is_empty(), "{at}: invalid state");
                assert!(s.save_seq >= last_seq, "{at}: save_seq went back");
                last_seq = s.save_seq;
            }
            Ok(Loaded::Fresh) => assert_eq!(last_seq, 0, "{at}: the state vanished"),
            other => panic!("{at}: state after the kill: {other:?}"),
        }
        let ledger = root.join("ledger");
        if let Some(df) = ledger_rows(&ledger.join("decisions.parquet")) {
            assert_eq!(df.height(), 1, "{at}: decisions of {DATE} twice");
        }
        if let Some(df) = ledger_rows(&ledger.join("orders.parquet")) {
            let mut ids = text_keys(&df, &["date", "client_order_id"]);
            let n = ids.len();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), n, "{at}: an order row twice");
        }
        if let Some(df) = ledger_rows(&ledger.join("risk_checks.parquet"))
            && let Some(want) = risk_rows
        {
            assert_eq!(df.height(), want, "{at}: risk rows added twice");
        }
        let acct = root.join("state/sim/account.json");
        trader::broker::sim::read_book(&acct)
            .unwrap_or_else(|e| panic!("{at}: account after the kill: {e}"));
        let zzz = root.join("bars/ZZZ.parquet");
        if zzz.exists() {
            let got = trader::data::store::read_file(&zzz).expect("ZZZ bars readable");
            assert_eq!(got.len(), csv_rows, "{at}: torn bar file");
        }
        if k % 10 == 9 {
            let status = spawn(&commands[1]).wait().expect("wait");
            assert!(status.success(), "{at}: the run after the kill failed");
            assert_eq!(
                partials(&root),
                Vec::<std::path::PathBuf>::new(),
                "{at}: orphans"
            );
            // Never more than the configured count (a kill between a save and its pruning
            // is pruned by the next job); exactly the count is tested in state_guard.
            let n = store.backup_files().len();
            assert!((1..=KEEP).contains(&n), "{at}: {n} backups");
            let df = ledger_rows(&ledger.join("risk_checks.parquet")).expect("risk ledger");
            match risk_rows {
                None => risk_rows = Some(df.height()),
                Some(want) => assert_eq!(df.height(), want, "{at}: risk rows"),
            }
        }
    }
    eprintln!(
        "{points} SIGKILL(s) over dry-run and fetch in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// `save_seq` only grows: after a recovery from an older backup the next save goes past the
/// number of the unusable file too; backups are ordered by that number even when the clock
/// stepped back, so the newest save is never pruned first.
#[test]
fn save_seq_never_reused_and_backups_follow_it_not_the_clock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = StateStore::new(dir.path(), 3);
    let t0 = Utc::now();
    let mut s = State::new(t0, Phase::DryRun);
    for _ in 0..3 {
        store.save(&mut s, t0).expect("save");
    }
    // Saved 4 and 5 whose backups are gone, then broken.
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&store.path).expect("read")).expect("json");
    v["save_seq"] = 5.into();
    v["schema_version"] = 2.into();
    std::fs::write(&store.path, serde_json::to_vec(&v).expect("json")).expect("write");
    let mut state = match store.open(t0).expect("recovers") {
        Loaded::Recovered {
            state, moved_to, ..
        } => {
            let kept = moved_to.expect("moved aside");
            assert!(
                kept.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("state.json.corrupt-5-")),
                "{kept:?}"
            );
            assert_eq!(
                serde_json::from_slice::<serde_json::Value>(&std::fs::read(&kept).expect("kept"))
                    .expect("json"),
                v
            );
            state
        }
        other => panic!("expected a recovery, got {other:?}"),
    };
    // The clock steps back a day: the new save's backup still counts as the newest.
    let back = t0 - chrono::Duration::days(1);
    store.save(&mut state, back).expect("save");
    assert_eq!(
        state.save_seq, 6,
        "past the unusable file's 5, not the backup's 3"
    );
    let names: Vec<u64> = store
        .backup_files()
        .iter()
        .filter_map(|p| trader::state::store::backup_seq(p))
        .collect();
    assert_eq!(names, [2, 3, 6]);
    match store.load().expect("load") {
        Loaded::Ok(s) => assert_eq!(s.save_seq, 6),
        other => panic!("{other:?}"),
    }
}
