//! `trader paper`, `preflight` and `emergency-exit` with `account.broker: alpaca` against the
//! scripted Alpaca double (which keeps the books: fills move its positions and cash):
//! orders arrive once per client id after a SIGKILL between submission and the journal, a
//! rerun sends nothing, the account at the broker is flattened by `emergency-exit --confirm`,
//! and a calendar that disagrees with ours is a NO-GO naming both.

use std::process::{Command, Output};

use crate::alpaca_double::AlpacaDouble;
use crate::common::{Sandbox, code, stderr, stdout};

pub const KEY: &str = "PKTESTPAPERKEY";
pub const SECRET: &str = "paper-secret-value-123";
const DATE: &str = "2026-05-01";
const NOW: &str = "2026-05-01T19:50:00Z";

/// A paper sandbox trading at `server`, which keeps its books from 10,000 of cash.
pub fn sandbox(server: &AlpacaDouble) -> Sandbox {
    server.with(|b| {
        b.ledger = true;
        b.account = vec![
            ("cash".into(), "10000.00".into()),
            ("buying_power".into(), "10000.00".into()),
            ("equity".into(), "10000.00".into()),
        ];
    });
    Sandbox::with_sample(&format!(
        "phase: paper\nphase_override: {{ phase: paper, reason: \"alpaca double\" }}\naccount:\n  broker: alpaca\n  alpaca:\n    paper_url: {}\n    live_url: http://127.0.0.1:9\nexecution:\n  poll_interval_ms: 5\n  fill_timeout_ms: 2000\n",
        server.base_url()
    ))
}

fn run(sb: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trader"));
    c.arg("--config")
        .arg(sb.config())
        .args(args)
        .env("TRADER_NOW", NOW)
        .env("APCA_API_KEY_ID", KEY)
        .env("APCA_API_SECRET_KEY", SECRET)
        .env_remove("APCA_LIVE_API_KEY_ID")
        .env_remove("APCA_LIVE_API_SECRET_KEY")
        .env_remove("TRADER_KILL_AT")
        .env_remove("TRADER_SIM_FAULTS");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run trader")
}

fn posts(server: &AlpacaDouble) -> usize {
    server.with(|b| {
        b.seen
            .iter()
            .filter(|s| s.method == "POST" && s.target.starts_with("/v2/orders"))
            .count()
    })
}

/// Every client order id is at the server exactly once.
fn assert_single(server: &AlpacaDouble) {
    server.with(|b| {
        for o in &b.orders {
            assert_eq!(b.orders_for(&o.client_order_id), 1, "{}", o.client_order_id);
        }
    });
}

#[test]
fn paper_trades_at_alpaca_once_even_after_a_kill_and_emergency_exit_flattens_it() {
    let server = AlpacaDouble::start(KEY, SECRET);
    let sb = sandbox(&server);
    let pre = run(&sb, &["preflight", "--date", DATE], &[]);
    assert_eq!(code(&pre), 0, "{}{}", stdout(&pre), stderr(&pre));
    for g in [
        "broker_account",
        "broker_calendar",
        "broker_assets",
        "buying_power",
    ] {
        assert!(stdout(&pre).contains(g), "{g}: {}", stdout(&pre));
    }
    // Killed right after the first order was accepted, before the journal knew its reply.
    let killed = run(
        &sb,
        &["paper", "--date", DATE],
        &[("TRADER_KILL_AT", "submitted")],
    );
    assert_eq!(
        killed.status.code(),
        None,
        "not killed: {}",
        stderr(&killed)
    );
    let accepted = server.with(|b| b.orders.len());
    assert_eq!(accepted, 1, "one order was accepted before the kill");
    let again = run(&sb, &["paper", "--date", DATE], &[]);
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    assert_single(&server);
    let (orders, held) = server.with(|b| (b.orders.len(), b.positions.clone()));
    assert!(orders >= 1 && !held.is_empty(), "{orders} orders, {held:?}");
    // The state's account is the broker's, keys never reach the state or the logs.
    let state = std::fs::read_to_string(sb.path().join("state/state.json")).expect("state");
    assert!(!state.contains(SECRET) && !state.contains(KEY));
    assert!(!crate::common::log_text(&sb).contains(SECRET));
    let v: serde_json::Value = serde_json::from_str(&state).expect("json");
    for (sym, qty, _) in &held {
        assert_eq!(
            v["account"]["positions"][sym].as_i64(),
            qty.parse::<i64>().ok(),
            "{sym}"
        );
    }
    // A second run of the finished day sends nothing.
    let before = posts(&server);
    let third = run(&sb, &["paper", "--date", DATE], &[]);
    assert_eq!(code(&third), 0, "{}", stderr(&third));
    assert_eq!(posts(&server), before, "a finished day sent more orders");
    // Get out: every position is sold at the server, and the state records all cash.
    let exit = run(&sb, &["emergency-exit", "--confirm"], &[]);
    assert_eq!(code(&exit), 0, "{}{}", stdout(&exit), stderr(&exit));
    assert_single(&server);
    assert!(
        server.with(|b| b.positions.is_empty()),
        "{:?}",
        server.with(|b| b.positions.clone())
    );
}

#[test]
fn preflight_is_no_go_when_alpacas_calendar_disagrees_with_ours() {
    let server = AlpacaDouble::start(KEY, SECRET);
    let sb = sandbox(&server);
    server.with(|b| b.calendar_close = Some("13:00".into()));
    let out = run(&sb, &["preflight", "--date", DATE], &[]);
    assert_eq!(code(&out), 3, "{}{}", stdout(&out), stderr(&out));
    let s = stdout(&out);
    let line = s
        .lines()
        .find(|l| l.contains("broker_calendar"))
        .unwrap_or_default();
    assert!(
        line.contains("FAIL") && line.contains("09:30-13:00") && line.contains("09:30-16:00"),
        "{s}"
    );
    assert_eq!(posts(&server), 0);
}

#[test]
fn refused_paper_keys_are_exit_5_naming_the_variables() {
    let server = AlpacaDouble::start(KEY, "another-secret-xyz");
    let sb = sandbox(&server);
    let out = run(&sb, &["emergency-exit", "--confirm"], &[]);
    assert_eq!(code(&out), 5, "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("APCA_API_KEY_ID"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(SECRET));
}
