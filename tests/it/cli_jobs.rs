//! The daily jobs end to end on the committed sample data: health, preflight, dry-run
//! (prerequisites, idempotency, --force), and dry-run agreeing with the backtest.

use crate::common::{Sandbox, code, stderr, stdout};

#[test]
fn help_lists_only_working_subcommands() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trader")).arg("--help").output().expect("run");
    let s = stdout(&out);
    for c in ["fetch", "preflight", "dry-run", "backtest", "risk", "health"] {
        assert!(s.contains(c), "{c} missing from --help");
    }
    for absent in ["paper", "live", "emergency-exit", "eod", "validate"] {
        assert!(!s.contains(&format!("  {absent} ")), "{absent} must not be offered before it works");
    }
}

#[test]
fn health_is_ok_on_fresh_sample_and_critical_when_stale() {
    let sb = Sandbox::with_sample("");
    let out = sb.run_at("2026-05-04T15:00:00Z", &["--json", "health"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_ne!(v["status"], "critical", "{v}");
    assert_eq!(code(&out), 0);
    let names: Vec<&str> = v["checks"].as_array().expect("checks").iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["config", "state", "lock", "disk", "bars", "kill_switch"]);
    let out = sb.run_at("2026-06-01T15:00:00Z", &["--json", "health"]);
    assert_eq!(code(&out), 3, "stale bars are critical");
    std::fs::create_dir_all(sb.path().join("state")).expect("mkdir");
    std::fs::write(sb.path().join("state/KILL"), "").expect("kill");
    let out = sb.run_at("2026-05-04T15:00:00Z", &["health"]);
    assert!(stdout(&out).contains("kill_switch  warn"), "{}", stdout(&out));
}

#[test]
fn dry_run_needs_preflight_then_is_idempotent() {
    let sb = Sandbox::with_sample("");
    let out = sb.run(&["dry-run", "--date", "2026-05-01"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("no preflight for 2026-05-01"));
    let out = sb.run(&["preflight", "--date", "2026-05-01"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let out = sb.run(&["dry-run", "--date", "2026-05-01"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("regime   cell"), "{}", stdout(&out));
    let ledger = sb.path().join("ledger/decisions.parquet");
    let rows = || trader::ledger::dates(&ledger).expect("ledger").len();
    assert_eq!(rows(), 1);
    let out = sb.run(&["dry-run", "--date", "2026-05-01"]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains("already recorded"), "{}", stdout(&out));
    assert_eq!(rows(), 1, "a second run appends nothing");
    let out = sb.run(&["dry-run", "--date", "2026-05-01", "--force"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(rows(), 1, "--force replaces the date's rows");
}

#[test]
fn non_trading_day_exits_0_with_reason() {
    let sb = Sandbox::with_sample("");
    let out = sb.run(&["dry-run", "--date", "2025-12-25"]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains("not a trading day (Christmas)"), "{}", stdout(&out));
}

#[test]
fn skip_preflight_is_recorded() {
    let sb = Sandbox::with_sample("");
    let out = sb.run(&["dry-run", "--date", "2026-04-30", "--skip-preflight"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(sb.path().join("state/state.json")).expect("state")).expect("json");
    assert_eq!(state["jobs"]["2026-04-30"]["dry-run"]["skipped_preflight"], true);
}

#[test]
fn preflight_fails_on_missing_bars_and_kill_switch() {
    let sb = Sandbox::with_sample("");
    std::fs::remove_file(sb.path().join("bars/TMV.parquet")).expect("rm");
    std::fs::create_dir_all(sb.path().join("state")).expect("mkdir");
    std::fs::write(sb.path().join("state/KILL"), "").expect("kill");
    let out = sb.run(&["--json", "preflight", "--date", "2026-05-01"]);
    assert_eq!(code(&out), 3);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    let failed: Vec<&str> = v["gates"].as_array().expect("gates").iter().filter(|g| g["pass"] == false).filter_map(|g| g["name"].as_str()).collect();
    assert_eq!(failed, ["coverage", "kill_switch"], "{v}");
}
