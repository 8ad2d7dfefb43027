//! `trader status`, `halt` and `resume` through the binary (#19 items 8 and 9), and the
//! README's demo cycle (`scripts/demo-cycle.sh`) opening the paper gate at 20 validated days.

use std::process::Command;

use serde_json::Value;

use crate::common::{Sandbox, code, stderr, stdout};
use crate::validate_cli::{decide, edit_bar};

const AFTER: &str = "2026-05-01T21:30:00Z";

fn status(sb: &Sandbox) -> Value {
    let out = sb.run_at(AFTER, &["--json", "status"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).expect("json")
}

#[test]
fn status_shows_phase_gate_jobs_account_and_validation() {
    let sb = Sandbox::with_sample("");
    let v = status(&sb);
    assert_eq!(v["phase"], "dry-run");
    assert!(
        !sb.path().join("state/state.json").exists(),
        "status is read-only: no state created"
    );
    decide(&sb, "2026-05-01");
    let out = sb.run_at(AFTER, &["validate", "--date", "2026-05-01"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let before = std::fs::read(sb.path().join("state/state.json")).expect("state");
    let v = status(&sb);
    assert_eq!(v["date"], "2026-05-01");
    assert_eq!(v["recorded_phase"], "dry-run");
    assert_eq!(v["gates"][0]["phase"], "paper");
    assert_eq!(v["gates"][0]["open"], false);
    assert_eq!(v["gates"][0]["counts"][0]["have"], "1");
    let jobs: Vec<&str> = v["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter_map(|j| j["job"].as_str())
        .collect();
    assert_eq!(jobs, ["dry-run", "preflight", "validate"]);
    assert_eq!(v["account"]["cash_cents"], 1_000_000);
    assert_eq!(v["kill_switch"], Value::Null);
    assert_eq!(v["last_validation"]["colour"], "GREEN");
    let out = sb.run_at(AFTER, &["status"]);
    let s = stdout(&out);
    assert!(s.contains("gate     paper: closed"), "{s}");
    assert!(s.contains("19 more dry-run trading day(s)"), "{s}");
    assert!(s.contains("validate 2026-05-01 GREEN"), "{s}");
    assert!(s.contains("kill     absent"), "{s}");
    assert_eq!(
        std::fs::read(sb.path().join("state/state.json")).expect("state"),
        before,
        "status wrote nothing"
    );
}

#[test]
fn halt_creates_the_kill_switch_dry_run_warns_and_resume_removes_it() {
    let sb = Sandbox::with_sample("");
    let kill = sb.path().join("state/KILL");
    // The day's preflight passed before the halt.
    let out = sb.run_at(AFTER, &["preflight", "--date", "2026-05-01"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let out = sb.run_at(AFTER, &["halt", "--reason", "broker outage"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = std::fs::read_to_string(&kill).expect("kill switch created");
    assert!(text.contains("reason: broker outage"), "{text}");
    assert!(text.contains("at: 2026-05-01T21:30:00Z"), "{text}");
    assert!(text.contains("who: "), "{text}");
    // A second halt keeps the first reason and says so.
    let out = sb.run_at(AFTER, &["halt", "--reason", "other"]);
    assert_eq!(code(&out), 0);
    assert!(
        stdout(&out).contains("kept the first reason"),
        "{}",
        stdout(&out)
    );
    assert_eq!(std::fs::read_to_string(&kill).expect("kill"), text);
    // A dry-run (it sends nothing) still runs, and warns with the reason.
    let out2 = sb.run_at(AFTER, &["dry-run", "--date", "2026-05-01"]);
    assert_eq!(code(&out2), 0, "{}", stderr(&out2));
    assert!(
        stderr(&out2).contains("is present (reason: broker outage): no order will be sent"),
        "{}",
        stderr(&out2)
    );
    let v = status(&sb);
    assert_eq!(v["kill_switch"]["reason"], "broker outage");
    let out = sb.run_at(AFTER, &["resume"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("reason: broker outage"),
        "{}",
        stdout(&out)
    );
    assert!(!kill.exists());
    let out = sb.run_at(AFTER, &["resume"]);
    assert_eq!(code(&out), 0);
    assert!(
        stdout(&out).contains("nothing to resume"),
        "{}",
        stdout(&out)
    );
    let st: Value =
        serde_json::from_slice(&std::fs::read(sb.path().join("state/state.json")).expect("state"))
            .expect("json");
    let actions: Vec<&str> = st["halts"]
        .as_array()
        .expect("halts")
        .iter()
        .filter_map(|h| h["action"].as_str())
        .collect();
    assert_eq!(actions, ["halt", "resume"], "{st}");
    assert_eq!(st["halts"][1]["reason"], "broker outage");
    let log = std::fs::read_dir(sb.path().join("logs"))
        .expect("logs")
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .collect::<String>();
    assert!(
        log.contains("HALT: kill switch") && log.contains("RESUME: kill switch"),
        "{log}"
    );
}

/// The README recipe in a temp copy: 19 validated days keep the paper gate closed, the 20th
/// opens it, a RED day closes it again, and an override is printed on every run.
#[test]
fn demo_cycle_opens_the_paper_gate_at_20_days() {
    let sb = Sandbox::with_sample("");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/demo-cycle.sh");
    let cycle = |from: &str, to: &str| {
        let out = Command::new("bash")
            .arg(script)
            .args([from, to])
            .env("CONFIG", sb.config())
            .env("TRADER", env!("CARGO_BIN_EXE_trader"))
            .env("TRADER_NOW", AFTER)
            .output()
            .expect("run the script");
        assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
        stdout(&out)
    };
    // 2026-04-07 .. 2026-05-01: 19 sessions.
    let s = cycle("2026-04-07", "2026-05-01");
    assert_eq!(s.matches("  GREEN  ").count(), 19, "{s}");
    assert!(s.contains("gate     paper: closed"), "{s}");
    assert!(s.contains("1 more dry-run trading day(s)"), "{s}");
    let s = cycle("2026-04-06", "2026-04-06");
    assert!(s.contains("gate     paper: OPEN"), "{s}");
    assert_eq!(status(&sb)["gates"][0]["counts"][0]["have"], "20");
    // A 21st day, then a RED day among the last 5 validated: 20 good days are still
    // enough, the RED day alone closes the gate.
    cycle("2026-04-02", "2026-04-02");
    let traded = status_traded(&sb, "2026-05-01");
    edit_bar(&sb, &traded, "2026-05-01", 1.05, false);
    let out = sb.run_at(AFTER, &["validate", "--date", "2026-05-01"]);
    assert_eq!(code(&out), 6, "{}", stdout(&out));
    let v = status(&sb);
    let gate = &v["gates"][0];
    assert_eq!(gate["open"], false, "{v}");
    assert_eq!(gate["counts"][0]["have"], "20", "{v}");
    assert_eq!(gate["missing"].as_array().map(Vec::len), Some(1), "{v}");
    assert!(
        gate["missing"][0]
            .as_str()
            .is_some_and(|m| m.contains("2026-05-01 RED")),
        "{v}"
    );
    // The override: accepted and printed on every run.
    let cfg = std::fs::read_to_string(sb.config()).expect("config");
    std::fs::write(
        sb.config(),
        format!("{cfg}phase_override:\n  phase: paper\n  reason: demo of the override\n"),
    )
    .expect("config");
    let out = sb.run_at(AFTER, &["status"]);
    assert!(
        stderr(&out).contains("PHASE OVERRIDE") && stderr(&out).contains("demo of the override"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("OVERRIDE phase_override: paper"),
        "{}",
        stdout(&out)
    );
}

/// A symbol traded on `date` (the recorded decision of a dry-run that placed orders) or, on
/// a no-trade day, the first tradable.
fn status_traded(sb: &Sandbox, date: &str) -> String {
    let st: Value =
        serde_json::from_slice(&std::fs::read(sb.path().join("state/state.json")).expect("state"))
            .expect("json");
    let d = &st["decisions"][date];
    d["traded"][0]
        .as_str()
        .or_else(|| {
            d["decision_prices"]
                .as_object()?
                .keys()
                .next()
                .map(String::as_str)
        })
        .expect("a symbol")
        .to_string()
}

/// While another job holds the state lock, `halt` still puts the kill switch in (and says
/// the state did not record it) and `status` still reads; a kill switch made by hand shows
/// its text as the reason.
#[test]
fn halt_works_while_the_lock_is_held_and_a_hand_made_kill_switch_shows_its_text() {
    let sb = Sandbox::with_sample("");
    let out = sb.run_at(AFTER, &["preflight", "--date", "2026-05-01"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let held = trader::state::lock::acquire(
        &sb.path().join("state/trader.lock"),
        "test-holder",
        chrono::Utc::now(),
    )
    .expect("take lock");
    let out = sb.run_at(AFTER, &["halt", "--reason", "runaway job"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the halt is in effect but not recorded in the state"),
        "{}",
        stderr(&out)
    );
    assert_eq!(status(&sb)["kill_switch"]["reason"], "runaway job");
    drop(held);
    let out = sb.run_at(AFTER, &["resume"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let kill = sb.path().join("state/KILL");
    std::fs::write(&kill, "maintenance window\n").expect("hand-made kill switch");
    let v = status(&sb);
    assert_eq!(v["kill_switch"]["reason"], "maintenance window", "{v}");
    let out = sb.run_at(AFTER, &["dry-run", "--date", "2026-05-01"]);
    assert!(
        stderr(&out).contains("(reason: maintenance window)"),
        "{}",
        stderr(&out)
    );
    let out = sb.run_at(AFTER, &["resume"]);
    assert!(
        stdout(&out).contains("reason: maintenance window"),
        "{}",
        stdout(&out)
    );
    assert!(!kill.exists());
}

/// Issue #19's "done when": the whole cycle of `scripts/demo-paper.sh` on the sample data —
/// 22 validated dry-run days, `paper` once the gate is open, `halt`, a `paper` that exits 4,
/// `resume`, `paper`, `emergency-exit --confirm` twice — ends flat and all cash, recorded.
#[test]
fn demo_paper_runs_the_whole_cycle_and_ends_flat() {
    let sb = Sandbox::with_sample("");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/demo-paper.sh");
    let out = Command::new("bash")
        .arg(script)
        .env("CONFIG", sb.config())
        .env("TRADER", env!("CARGO_BIN_EXE_trader"))
        .env("TRADER_NOW", AFTER)
        .output()
        .expect("run the script");
    let s = stdout(&out);
    assert_eq!(code(&out), 0, "{s}{}", stderr(&out));
    assert!(s.contains("gate     paper: OPEN"), "{s}");
    assert!(
        s.contains("order    buy"),
        "paper traded on the first day: {s}"
    );
    assert!(s.contains("exit 4"), "{s}");
    assert!(s.contains("emergency-exit: flat"), "{s}");
    assert!(s.contains("nothing to do"), "{s}");
    let v = status(&sb);
    assert_eq!(v["recorded_phase"], "paper", "{v}");
    let book: serde_json::Value = serde_json::from_slice(
        &std::fs::read(sb.path().join("state/sim/account.json")).expect("venue"),
    )
    .expect("json");
    assert_eq!(
        book["positions"],
        serde_json::json!({}),
        "flat at the venue"
    );
    let fills = crate::common::table(&sb.path().join("ledger/fills.parquet"));
    assert!(
        fills.height() >= 4,
        "paper's buys and the exit's sells are in the fills ledger"
    );
}
