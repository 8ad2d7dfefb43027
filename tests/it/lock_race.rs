//! The single-writer lock: two processes race, exactly one wins, the other is told who holds it.

use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use trader::state::lock;

#[test]
#[ignore = "run only as the lock race's child process"]
fn lock_child() {
    let Ok(path) = std::env::var("TRADER_LOCK_PATH") else {
        return;
    };
    // The winner holds the lock until the loser has tried (it leaves a marker), so the race
    // does not depend on how fast a loaded machine starts the second process.
    let tried = format!("{path}.tried");
    if std::env::var_os("TRADER_LOCK_CHURN").is_some() {
        // Take and release the lock over and over (a job starting again and again) until the
        // stop file appears, so a prober keeps hitting the moment between flock and record.
        let stop = format!("{path}.stop");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !std::path::Path::new(&stop).exists() && std::time::Instant::now() < deadline {
            if let Ok(held) = lock::acquire(std::path::Path::new(&path), "churn", Utc::now()) {
                std::thread::sleep(Duration::from_micros(300));
                drop(held);
            }
        }
        return;
    }
    match lock::acquire(std::path::Path::new(&path), "lock-child", Utc::now()) {
        Ok(_held) => {
            println!("RESULT acquired pid {}", std::process::id());
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while !std::path::Path::new(&tried).exists() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Err(e) => {
            println!("RESULT refused: {e}");
            let _ = std::fs::write(&tried, b"");
        }
    }
}

/// Races (default 30, `TRADER_LOCK_RACES` to change) of two processes over a lock file that
/// still holds the record of a holder long dead: exactly one wins, and the loser names the
/// winner (its pid), never the dead previous holder.
#[test]
fn two_processes_race_and_exactly_one_wins() {
    let races: usize = std::env::var("TRADER_LOCK_RACES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("trader.lock");
    let exe = std::env::current_exe().expect("exe");
    // A pid that is certainly not running: a child that has exited and been reaped.
    let mut dead = Command::new("true").spawn().expect("spawn true");
    let dead_pid = dead.id();
    dead.wait().expect("reap");
    for race in 0..races {
        let _ = std::fs::remove_file(format!("{}.tried", path.display()));
        std::fs::write(
            &path,
            format!(
                r#"{{"pid":{dead_pid},"command":"dead-holder","since":"2020-01-01T00:00:00Z"}}"#
            ),
        )
        .expect("stale record");
        let spawn = || {
            Command::new(&exe)
                .args([
                    "--exact",
                    "lock_race::lock_child",
                    "--ignored",
                    "--nocapture",
                ])
                .env("TRADER_LOCK_PATH", &path)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn")
        };
        let (a, b) = (spawn(), spawn());
        let outs: Vec<String> = [a, b]
            .into_iter()
            .map(|c| {
                String::from_utf8_lossy(&c.wait_with_output().expect("wait").stdout).into_owned()
            })
            .collect();
        let winner: Vec<&str> = outs
            .iter()
            .filter_map(|o| o.split("RESULT acquired pid ").nth(1))
            .map(|rest| rest.split_whitespace().next().unwrap_or(""))
            .collect();
        let lost: Vec<&String> = outs
            .iter()
            .filter(|o| o.contains("RESULT refused"))
            .collect();
        assert_eq!(winner.len(), 1, "race {race}: {outs:?}");
        assert_eq!(lost.len(), 1, "race {race}: {outs:?}");
        assert!(
            lost[0].contains(&format!("pid {},", winner[0])) && lost[0].contains("`lock-child`"),
            "race {race}: the loser must name the winner (pid {}), not the dead holder {dead_pid}: {}",
            winner[0],
            lost[0]
        );
    }
}

/// `health`'s lock probe while jobs take and release the lock back to back: it never reports
/// a holder that is not running (pid 0 or a dead pid), and never takes the lock itself.
#[test]
fn probing_a_busy_lock_never_names_a_dead_holder() {
    let probes: usize = std::env::var("TRADER_LOCK_PROBES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("trader.lock");
    let exe = std::env::current_exe().expect("exe");
    let mut child = Command::new(&exe)
        .args([
            "--exact",
            "lock_race::lock_child",
            "--ignored",
            "--nocapture",
        ])
        .env("TRADER_LOCK_PATH", &path)
        .env("TRADER_LOCK_CHURN", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let started = std::time::Instant::now();
    while !path.exists() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut held = 0;
    for i in 0..probes {
        if let Some(h) = lock::probe(&path).expect("probe") {
            held += 1;
            assert_eq!(h.pid, child.id(), "probe {i}: {h:?}");
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    std::fs::write(format!("{}.stop", path.display()), b"").expect("stop");
    child.wait().expect("reap");
    assert!(
        held > 0,
        "the churning child never held the lock during a probe"
    );
}

#[test]
fn a_second_command_exits_7_naming_the_holder() {
    let sb = crate::common::Sandbox::with_sample("");
    let path = sb.path().join("state/trader.lock");
    let held = lock::acquire(&path, "test-holder", Utc::now()).expect("take lock");
    let out = sb.run(&["preflight", "--date", "2026-05-01"]);
    assert_eq!(
        crate::common::code(&out),
        7,
        "{}",
        crate::common::stderr(&out)
    );
    let err = crate::common::stderr(&out);
    assert!(
        err.contains(&format!("pid {}", std::process::id())) && err.contains("`test-holder`"),
        "{err}"
    );
    // health probes the held lock without taking it and names the live holder: not critical.
    let out = sb.run(&["--json", "health"]);
    let v: serde_json::Value =
        serde_json::from_str(&crate::common::stdout(&out)).expect("health json");
    let lock_check = v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "lock")
        .expect("lock check")
        .clone();
    assert_eq!(lock_check["status"], "ok", "{lock_check}");
    assert!(
        lock_check["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("pid {}", std::process::id()))),
        "{lock_check}"
    );
    drop(held);
    let out = sb.run(&["preflight", "--date", "2026-05-01"]);
    assert_eq!(
        crate::common::code(&out),
        0,
        "{}",
        crate::common::stdout(&out)
    );
}

/// `trader health` while jobs take and release the lock back to back (`TRADER_HEALTH_PROBES`
/// runs, default 40): its lock check is never critical.
#[test]
fn health_during_busy_jobs_never_reports_a_false_critical_lock() {
    let runs: usize = std::env::var("TRADER_HEALTH_PROBES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let sb = crate::common::Sandbox::with_sample("");
    let path = sb.path().join("state/trader.lock");
    std::fs::create_dir_all(sb.path().join("state")).expect("mkdir");
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .args([
            "--exact",
            "lock_race::lock_child",
            "--ignored",
            "--nocapture",
        ])
        .env("TRADER_LOCK_PATH", &path)
        .env("TRADER_LOCK_CHURN", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let started = std::time::Instant::now();
    while !path.exists() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut held = 0;
    for i in 0..runs {
        let out = sb.run_at("2026-05-04T15:00:00Z", &["--json", "health"]);
        let v: serde_json::Value =
            serde_json::from_str(&crate::common::stdout(&out)).expect("health json");
        let lock_check = v["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["name"] == "lock")
            .expect("lock check")
            .clone();
        assert_eq!(lock_check["status"], "ok", "run {i}: {lock_check}");
        if lock_check["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("held"))
        {
            held += 1;
        }
    }
    std::fs::write(format!("{}.stop", path.display()), b"").expect("stop");
    child.wait().expect("reap");
    assert!(held > 0, "health never saw the lock held");
}
