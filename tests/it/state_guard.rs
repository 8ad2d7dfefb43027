//! #18 items 4 and 6 through the binary: states and simulated accounts that break an
//! invariant are refused naming the file, field and value (recovered from a backup where one
//! exists, the unusable file kept aside). Shared helpers for the other state tests.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Sandbox, code, stderr, stdout};

pub const NOW: &str = "2026-05-01T19:50:00Z";
pub const DATE: &str = "2026-05-01";

/// Run the binary with a deadline; `None` when it had to be killed (a hang).
pub fn run_with_timeout(sb: &Sandbox, args: &[&str], limit: Duration) -> Option<Output> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trader"))
        .arg("--config")
        .arg(sb.config())
        .args(args)
        .env("TRADER_NOW", NOW)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn trader");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return Some(child.wait_with_output().expect("output"));
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A sandbox after one preflight and one dry-run of [`DATE`]: a valid state with backups and
/// a simulated account.
pub fn after_one_day(extra: &str) -> Sandbox {
    let sb = Sandbox::with_sample(extra);
    let out = sb.run(&["preflight", "--date", DATE]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let out = sb.run(&["dry-run", "--date", DATE]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    sb
}

pub fn state_path(sb: &Sandbox) -> std::path::PathBuf {
    sb.path().join("state/state.json")
}

pub fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).expect("read")).expect("json")
}

pub fn write_json(p: &Path, v: &serde_json::Value) {
    std::fs::write(p, serde_json::to_vec_pretty(v).expect("json")).expect("write");
}

pub fn files_named(dir: &Path, prefix: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

pub fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.to_str().expect("utf8")).expect("cstr");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// Each broken invariant of state.json: health is critical naming the field and value; the
/// next job continues from the newest backup, keeps the bad file aside byte for byte, and
/// saves past the highest save number.
#[test]
fn state_invariants_are_refused_and_recovered_with_evidence() {
    type Mutation = (&'static str, fn(&mut serde_json::Value), &'static str);
    let cases: [Mutation; 9] = [
        (
            "negative cash",
            |v| v["account"]["cash_cents"] = (-5).into(),
            "account.cash_cents = -5",
        ),
        (
            "i64::MAX cash",
            |v| v["account"]["cash_cents"] = i64::MAX.into(),
            "account.cash_cents = 9223372036854775807",
        ),
        (
            "weights sum to 3",
            |v| {
                for s in ["QQQ", "TQQQ", "TMF"] {
                    v["last_targets"]["weights"][s] = 1.0.into();
                }
            },
            "last_targets.weights sum to 3",
        ),
        (
            "order qty -5",
            |v| {
                v["orders_in_flight"] = serde_json::json!([{
                    "client_order_id": "x", "date": "2026-05-01", "symbol": "QQQ",
                    "side": "buy", "qty": -5, "submitted_at": "2026-05-01T19:50:00Z"
                }])
            },
            "orders_in_flight[0].qty = -5",
        ),
        (
            "updated_at in 2099",
            |v| v["updated_at"] = "2099-01-01T00:00:00Z".into(),
            "updated_at = 2099-01-01T00:00:00Z",
        ),
        (
            "unsorted equity history",
            |v| {
                v["equity_history"] = serde_json::json!([
                    {"date": "2026-04-30", "equity": 1.0}, {"date": "2026-04-29", "equity": 1.0}
                ])
            },
            "equity_history[1].date = 2026-04-29",
        ),
        (
            "duplicated equity date",
            |v| {
                v["equity_history"] = serde_json::json!([
                    {"date": "2026-04-30", "equity": 1.0}, {"date": "2026-04-30", "equity": 2.0}
                ])
            },
            "equity_history[1].date = 2026-04-30: duplicates",
        ),
        (
            "1e300 peak",
            |v| v["equity_history"][0]["equity"] = 1e300.into(),
            "equity = 1e300",
        ),
        (
            "schema_version 2",
            |v| v["schema_version"] = 2.into(),
            "schema_version = 2",
        ),
    ];
    let sb = after_one_day("");
    let path = state_path(&sb);
    let good = read_json(&path);
    for (name, mutate, needle) in cases {
        let mut v = good.clone();
        mutate(&mut v);
        write_json(&path, &v);
        let bad = std::fs::read(&path).expect("read");
        let seq_before = read_json(&path)["save_seq"].as_u64().expect("seq");
        let out = sb.run(&["health"]);
        assert_eq!(code(&out), 3, "{name}: {}", stdout(&out));
        assert!(
            stdout(&out).contains("state.json") && stdout(&out).contains(needle),
            "{name}: health must name the file and `{needle}`: {}",
            stdout(&out)
        );
        let out = sb.run(&["dry-run", "--date", DATE, "--force"]);
        assert_eq!(code(&out), 0, "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("STATE RECOVERED") && stderr(&out).contains(needle),
            "{name}: {}",
            stderr(&out)
        );
        let kept: Vec<_> = files_named(&sb.path().join("state"), "state.json.corrupt-")
            .into_iter()
            .filter(|p| std::fs::read(p).is_ok_and(|b| b == bad))
            .collect();
        assert_eq!(
            kept.len(),
            1,
            "{name}: the unusable file is kept aside once"
        );
        let now = read_json(&path);
        assert!(
            now["save_seq"].as_u64().expect("seq") > seq_before,
            "{name}: save_seq must grow past {seq_before}: {}",
            now["save_seq"]
        );
        let out = sb.run(&["health"]);
        assert!(
            stdout(&out)
                .lines()
                .any(|l| l.starts_with("state") && l.contains(" ok ")),
            "{name}: recovered state is valid: {}",
            stdout(&out)
        );
    }
}

/// Without any valid backup the bad state is refused and left exactly as it was.
#[test]
fn an_unrecoverable_state_is_refused_and_left_in_place() {
    let sb = after_one_day("");
    let path = state_path(&sb);
    let mut v = read_json(&path);
    v["account"]["cash_cents"] = (-1).into();
    write_json(&path, &v);
    for b in files_named(&sb.path().join("state/backups"), "state-") {
        write_json(&b, &v);
    }
    let bad = std::fs::read(&path).expect("read");
    let out = sb.run(&["dry-run", "--date", DATE, "--force"]);
    assert_ne!(code(&out), 0, "{}", stdout(&out));
    assert!(
        stderr(&out).contains("account.cash_cents = -1")
            && stderr(&out).contains("no valid backup"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&path).expect("read"), bad, "nothing changed");
    assert!(files_named(&sb.path().join("state"), "state.json.corrupt-").is_empty());
}

/// A state or a simulated account holding a symbol outside the config's universe is refused
/// (exit 2) naming the file, symbol and config; health says so too.
#[test]
fn symbols_outside_the_universe_are_refused() {
    let sb = after_one_day("");
    let path = state_path(&sb);
    let good = std::fs::read(&path).expect("read");
    let mut v = read_json(&path);
    v["account"]["positions"]["XYZ"] = 5.into();
    write_json(&path, &v);
    let out = sb.run(&["dry-run", "--date", DATE, "--force"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("state.json: account.positions.XYZ = 5 not in the universe")
            && stderr(&out).contains("trader.yaml"),
        "{}",
        stderr(&out)
    );
    let out = sb.run(&["health"]);
    assert_eq!(code(&out), 3);
    assert!(
        stdout(&out).contains("account.positions.XYZ"),
        "{}",
        stdout(&out)
    );
    std::fs::write(&path, good).expect("restore");
    let acct = sb.path().join("state/sim/account.json");
    std::fs::write(
        &acct,
        r#"{"cash_cents": 100, "positions": {"XYZ": 5}, "orders": {}}"#,
    )
    .expect("write");
    let out = sb.run(&["dry-run", "--date", DATE, "--force"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("account.json: positions.XYZ = 5 not in the universe"),
        "{}",
        stderr(&out)
    );
}

/// A simulated account with an absurd position or cash is refused (exit 5) naming the file,
/// field and value, by the jobs and by health; the account file is not touched, and no equity
/// wrapped to a negative number is saved.
#[test]
fn absurd_sim_accounts_are_refused_not_wrapped() {
    let sb = after_one_day("");
    let acct = sb.path().join("state/sim/account.json");
    let state_before = std::fs::read(state_path(&sb)).expect("read");
    for (body, needle) in [
        (
            format!(
                r#"{{"cash_cents": 100, "positions": {{"QQQ": {}}}, "orders": {{}}}}"#,
                i64::MAX
            ),
            format!("positions.QQQ = {}", i64::MAX),
        ),
        (
            r#"{"cash_cents": -5, "positions": {}, "orders": {}}"#.to_string(),
            "cash_cents = -5".to_string(),
        ),
        (
            format!(
                r#"{{"cash_cents": {}, "positions": {{}}, "orders": {{}}}}"#,
                i64::MAX
            ),
            format!("cash_cents = {}", i64::MAX),
        ),
    ] {
        std::fs::write(&acct, &body).expect("write");
        let out = sb.run(&["dry-run", "--date", DATE, "--force"]);
        assert_eq!(code(&out), 5, "{body}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("account.json") && stderr(&out).contains(&needle),
            "{body}: {}",
            stderr(&out)
        );
        let out = sb.run(&["health"]);
        assert_eq!(code(&out), 3, "{body}");
        assert!(
            stdout(&out).contains("sim_account") && stdout(&out).contains(&needle),
            "{}",
            stdout(&out)
        );
        assert_eq!(std::fs::read(&acct).expect("read"), body.as_bytes());
        assert_eq!(std::fs::read(state_path(&sb)).expect("read"), state_before);
    }
}
