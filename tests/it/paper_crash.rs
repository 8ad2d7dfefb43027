//! SIGKILL of `trader paper` at named steps (`TRADER_KILL_AT`, debug builds) with the sim
//! venue's delayed, partial and lost-reply faults, then reruns: exactly one order per
//! client id at the venue, ledgers without duplicate rows, state equal to the venue.
//! `TRADER_PAPER_KILL_POINTS` randomised kill points (default 120, fixed seed; about 100 of them reached), over two
//! worker threads.

use trader::broker::sim::SimBook;

use super::paper::{D1, D2, assert_state_equals_venue, book, run_env, sandbox};
use crate::common::{code, stderr};

const STEPS: [&str; 8] = [
    "journal_saved",
    "before_send",
    "submitted",
    "polled",
    "partial",
    "buys_planned",
    "cancelled",
    "ledgers_written",
];

/// A venue that holds TMF the strategy does not want: the first day sells, then buys.
fn seed_venue(sb: &crate::common::Sandbox) {
    let dir = sb.path().join("state/sim");
    std::fs::create_dir_all(&dir).expect("mkdir sim");
    let bk = SimBook {
        cash_cents: 900_000,
        positions: [("TMF".to_string(), 40)].into(),
        ..SimBook::default()
    };
    std::fs::write(
        dir.join("account.json"),
        serde_json::to_vec(&bk).expect("json"),
    )
    .expect("write");
}

/// Run `paper` for `date` killed at `kill`, then rerun until it finishes (a kill point the
/// run never reaches lets the first run finish).
fn kill_and_rerun(sb: &crate::common::Sandbox, date: &str, faults: &str, kill: &str) -> bool {
    let env = [("TRADER_SIM_FAULTS", faults), ("TRADER_KILL_AT", kill)];
    let first = run_env(sb, &["paper", "--date", date], &env);
    if first.status.code().is_some() {
        assert_eq!(code(&first), 0, "{kill} {faults}: {}", stderr(&first));
        return false;
    }
    let before = book(sb).orders.len();
    let again = run_env(
        sb,
        &["paper", "--date", date],
        &[("TRADER_SIM_FAULTS", faults)],
    );
    assert_eq!(
        code(&again),
        0,
        "rerun after {kill} with {faults}: {}",
        stderr(&again)
    );
    assert!(book(sb).orders.len() >= before);
    true
}

/// A fresh sandbox with `template`'s state and ledgers (its passed preflights).
fn copy_of(template: &crate::common::Sandbox) -> crate::common::Sandbox {
    let sb = crate::common::Sandbox::with_sample(
        "phase_override: { phase: paper, reason: \"engine tests: the gate is tested in gates_tests and status_halt\" }\nexecution:\n  poll_interval_ms: 5\n  fill_timeout_ms: 150\n",
    );
    for d in ["state", "ledger"] {
        std::fs::create_dir_all(sb.path().join(d)).expect("mkdir");
        for e in std::fs::read_dir(template.path().join(d)).expect("template dir") {
            let p = e.expect("entry").path();
            if p.is_file() {
                std::fs::copy(&p, sb.path().join(d).join(p.file_name().expect("name")))
                    .expect("copy");
            }
        }
    }
    sb
}

#[test]
fn paper_survives_random_sigkills_with_one_order_per_id() {
    let points: u64 = std::env::var("TRADER_PAPER_KILL_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    let worker = |seed: u64, n: u64| {
        // Preflight once; each point starts from a copy of its state and ledgers.
        let template = sandbox("");
        let mut killed = 0u64;
        let mut rng = seed;
        let mut next = move |m: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % m
        };
        for k in 0..n {
            let sb = copy_of(&template);
            seed_venue(&sb);
            let fill_after = [0, 1, 3][next(3) as usize];
            let mut faults = format!("fill_after={fill_after}");
            match next(4) {
                0 => faults.push_str(",partial=50"),
                1 => faults.push_str(",lose_reply=QQQ+TMF"),
                _ => {}
            }
            let step = STEPS[next(STEPS.len() as u64) as usize];
            let kill = format!("{step}:{}", 1 + next(2));
            killed += u64::from(kill_and_rerun(&sb, D1, &faults, &kill));
            assert_state_equals_venue(&sb);
            // Every fourth point goes on to the next day (a hold: no order), killed after
            // its ledgers are written and before its state save.
            if k % 4 == 0 {
                killed += u64::from(kill_and_rerun(&sb, D2, "", "ledgers_written"));
                assert_state_equals_venue(&sb);
            }
            // The day's orders are final and a third run sends nothing.
            let bk = book(&sb);
            let out = run_env(&sb, &["paper", "--date", D1], &[]);
            assert_eq!(code(&out), 0, "{}", stderr(&out));
            assert_eq!(book(&sb), bk, "a finished day sends nothing");
        }
        killed
    };
    let half = points / 2;
    std::thread::scope(|s| {
        let a = s.spawn(move || worker(0x9E37_79B9_7F4A_7C15, half));
        let b = s.spawn(move || worker(0xD1B5_4A32_D192_ED03, points - half));
        let mut killed = 0;
        for h in [a, b] {
            match h.join() {
                Ok(k) => killed += k,
                Err(e) => std::panic::resume_unwind(e),
            }
        }
        // Most drawn points are reached (a step a run never reaches lets it finish).
        assert!(
            killed * 2 >= points,
            "only {killed} of {points} runs were killed"
        );
        eprintln!("paper kill points: {killed} kills over {points} scenarios");
    });
}

/// The named crash points of the issue, each once, deterministic.
#[test]
fn paper_killed_at_each_named_step_recovers() {
    for (step, faults) in [
        ("journal_saved", "fill_after=2"),
        ("submitted", "fill_after=2"),
        ("partial", "partial=50"),
        ("buys_planned", ""),
        ("before_send:2", "fill_after=1"),
    ] {
        let sb = sandbox("");
        seed_venue(&sb);
        let first = run_env(
            &sb,
            &["paper", "--date", D1],
            &[("TRADER_SIM_FAULTS", faults), ("TRADER_KILL_AT", step)],
        );
        assert_eq!(
            first.status.code(),
            None,
            "{step} must be reached with {faults}: {}",
            stderr(&first)
        );
        let again = run_env(
            &sb,
            &["paper", "--date", D1],
            &[("TRADER_SIM_FAULTS", faults)],
        );
        assert_eq!(code(&again), 0, "{step}: {}", stderr(&again));
        assert_state_equals_venue(&sb);
        let bk = book(&sb);
        assert!(
            bk.orders.keys().any(|k| k.0.contains("TMF-sell")),
            "{step}: the sale was made"
        );
        assert!(
            bk.orders.keys().any(|k| k.0.contains("-buy-")),
            "{step}: the buys were made"
        );
    }
}

/// The kill switch appearing while the sells wait for their fills: the buys are never
/// sent and the run exits 4; after `resume` (removing it) the rerun finishes the day.
#[test]
fn a_kill_switch_appearing_mid_run_stops_before_the_next_submission() {
    use std::process::{Command, Stdio};
    let sb = crate::common::Sandbox::with_sample(
        "phase_override: { phase: paper, reason: \"engine tests: the gate is tested in gates_tests and status_halt\" }\nexecution:\n  poll_interval_ms: 5\n  fill_timeout_ms: 1500\n",
    );
    assert_eq!(code(&sb.run(&["preflight", "--date", D1])), 0);
    seed_venue(&sb);
    let mut child = Command::new(env!("CARGO_BIN_EXE_trader"))
        .arg("--config")
        .arg(sb.config())
        .args(["paper", "--date", D1])
        .env("TRADER_NOW", "2026-05-01T19:50:00Z")
        .env("TRADER_SIM_FAULTS", "fill_after=100000")
        .env_remove("TRADER_KILL_AT")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    // Wait until the sale is at the venue (the run now polls it until the timeout).
    let started = std::time::Instant::now();
    while !std::fs::read_to_string(sb.path().join("state/sim/account.json"))
        .is_ok_and(|s| s.contains("TMF-sell"))
    {
        assert!(
            started.elapsed().as_secs() < 20,
            "the sale never reached the venue"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::fs::write(sb.path().join("state/KILL"), "halt").expect("kill switch");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(4));
    let bk = book(&sb);
    assert_eq!(
        bk.orders.len(),
        1,
        "only the sale was sent: {:?}",
        bk.orders.keys()
    );
    assert_state_equals_venue(&sb);
    std::fs::remove_file(sb.path().join("state/KILL")).expect("rm");
    let out = run_env(&sb, &["paper", "--date", D1], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_state_equals_venue(&sb);
}
