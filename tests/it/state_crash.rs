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
