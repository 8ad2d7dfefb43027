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
    match lock::acquire(std::path::Path::new(&path), "lock-child", Utc::now()) {
        Ok(_held) => {
            println!("RESULT acquired");
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

#[test]
fn two_processes_race_and_exactly_one_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("trader.lock");
    let exe = std::env::current_exe().expect("exe");
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
        .map(|c| String::from_utf8_lossy(&c.wait_with_output().expect("wait").stdout).into_owned())
        .collect();
    let won = outs
        .iter()
        .filter(|o| o.contains("RESULT acquired"))
        .count();
    let lost: Vec<&String> = outs
        .iter()
        .filter(|o| o.contains("RESULT refused"))
        .collect();
    assert_eq!(won, 1, "{outs:?}");
    assert_eq!(lost.len(), 1, "{outs:?}");
    assert!(
        lost[0].contains("pid ") && lost[0].contains("`lock-child`"),
        "{}",
        lost[0]
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
    drop(held);
    let out = sb.run(&["preflight", "--date", "2026-05-01"]);
    assert_eq!(
        crate::common::code(&out),
        0,
        "{}",
        crate::common::stdout(&out)
    );
}
