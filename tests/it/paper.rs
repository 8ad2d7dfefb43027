//! `trader paper` on the sim venue through the real binary: trading and the second run,
//! a lost reply, partial fills, a rejected symbol, the kill switch, and a reconciliation
//! mismatch that blocks until `reconcile --accept`.

use std::collections::BTreeSet;
use std::process::{Command, Output};

use trader::broker::sim::{SimBook, read_book};
use trader::execution::journal::JournalStatus;
use trader::state::State;

use crate::common::{Sandbox, code, stderr, stdout, table, text_column};

pub const D1: &str = "2026-04-30";
pub const D2: &str = "2026-05-01";

/// A sandbox on the sample data with fast polling and both dates' preflight passed.
pub fn sandbox(extra: &str) -> Sandbox {
    let sb = Sandbox::with_sample(&format!(
        "phase_override: {{ phase: paper, reason: \"engine tests: the gate is tested in gates_tests and status_halt\" }}\nexecution:\n  poll_interval_ms: 5\n  fill_timeout_ms: 150\n{extra}"
    ));
    for d in [D1, D2] {
        let out = sb.run(&["preflight", "--date", d]);
        assert_eq!(code(&out), 0, "preflight {d}: {}", stderr(&out));
    }
    sb
}

/// Run with extra environment variables (faults, kill points).
pub fn run_env(sb: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trader"));
    c.arg("--config")
        .arg(sb.config())
        .args(args)
        .env("TRADER_NOW", "2026-05-01T19:50:00Z")
        .env_remove("TRADER_SIM_FAULTS")
        .env_remove("TRADER_KILL_AT");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run trader")
}

pub fn book(sb: &Sandbox) -> SimBook {
    read_book(&sb.path().join("state/sim/account.json"))
        .expect("readable book")
        .expect("book exists")
}

pub fn state(sb: &Sandbox) -> State {
    let bytes = std::fs::read(sb.path().join("state/state.json")).expect("state.json");
    serde_json::from_slice(&bytes).expect("valid state")
}

/// The state equals the venue: account cash and shares; every journaled order not
/// `intended` is at the venue with the same status and fills; the venue has no order the
/// journal does not know; no ledger row twice.
pub fn assert_state_equals_venue(sb: &Sandbox) {
    let (st, bk) = (state(sb), book(sb));
    let acct = st.account.as_ref().expect("account record");
    assert_eq!(acct.cash_cents, bk.cash_cents, "cash");
    assert_eq!(acct.positions, bk.positions, "positions");
    let mut ids = BTreeSet::new();
    let mut executions = 0;
    for (date, day) in &st.journal {
        for o in &day.orders {
            assert!(
                ids.insert(o.client_order_id.clone()),
                "{} journaled twice",
                o.client_order_id.0
            );
            executions += o.executions.len();
            match bk.orders.get(&o.client_order_id) {
                None => assert_eq!(
                    o.status,
                    JournalStatus::Intended,
                    "{date} {o:?} not at the venue"
                ),
                Some(v) => {
                    assert_eq!(
                        o.status,
                        JournalStatus::from(v.status),
                        "{date} {}",
                        o.client_order_id.0
                    );
                    assert_eq!(o.filled_qty, v.filled_qty);
                    assert_eq!(o.executions, v.executions);
                }
            }
        }
    }
    for id in bk.orders.keys() {
        assert!(ids.contains(id), "venue order {} not in the journal", id.0);
    }
    let fills = sb.path().join("ledger/fills.parquet");
    if fills.exists() {
        let t = table(&fills);
        let ex = text_column(&t, "execution_id");
        assert_eq!(
            ex.iter().collect::<BTreeSet<_>>().len(),
            ex.len(),
            "fill rows twice: {ex:?}"
        );
        assert_eq!(ex.len(), executions, "one fills row per execution");
    }
    let orders = sb.path().join("ledger/orders.parquet");
    if orders.exists() {
        let t = table(&orders);
        let keys: Vec<String> = text_column(&t, "client_order_id")
            .into_iter()
            .zip(text_column(&t, "phase"))
            .map(|(a, b)| format!("{a}|{b}"))
            .collect();
        assert_eq!(
            keys.iter().collect::<BTreeSet<_>>().len(),
            keys.len(),
            "order rows twice: {keys:?}"
        );
    }
}

#[test]
fn paper_trades_and_a_second_run_sends_nothing() {
    let sb = sandbox("");
    let out = run_env(&sb, &["paper", "--date", D1], &[]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("first paper run on the sim venue"),
        "{}",
        stdout(&out)
    );
    let bk = book(&sb);
    assert!(!bk.orders.is_empty(), "the sample's first day buys");
    assert!(
        bk.orders
            .values()
            .all(|o| o.status == trader::broker::OrderStatus::Filled)
    );
    assert_state_equals_venue(&sb);
    let fills = table(&sb.path().join("ledger/fills.parquet"));
    assert_eq!(fills.height(), bk.orders.len());
    for c in [
        "date",
        "client_order_id",
        "broker_order_id",
        "symbol",
        "side",
        "qty",
        "price",
        "commission",
        "slippage_bps",
    ] {
        assert!(fills.column(c).is_ok(), "fills.parquet lacks {c}");
    }
    // Slippage = the sim's 0.1 % = 10 bps adverse.
    let bps = fills
        .column("slippage_bps")
        .expect("col")
        .f64()
        .expect("f64")
        .clone();
    assert!(
        bps.iter().flatten().all(|b| (b - 10.0).abs() < 1.0),
        "{bps:?}"
    );
    // The limit is the collar of 1 % around the decision price.
    let st = state(&sb);
    for o in &st.journal[&D1.parse().expect("date")].orders {
        let want = trader::money::round_price(o.decision_price * 1.01);
        assert_eq!(o.limit_price, want);
    }
    let again = run_env(&sb, &["paper", "--date", D1], &[]);
    assert_eq!(code(&again), 0);
    assert!(
        stdout(&again).contains("already done"),
        "{}",
        stdout(&again)
    );
    assert_eq!(book(&sb), bk, "the second run sent nothing");
    // The next day's plan starts from the venue's position and reconciles.
    let next = run_env(&sb, &["paper", "--date", D2], &[]);
    assert_eq!(code(&next), 0, "{}", stderr(&next));
    assert_state_equals_venue(&sb);
}

#[test]
fn a_lost_reply_is_adopted_by_the_rerun_and_nothing_new_is_sent() {
    let sb = sandbox("");
    // The venue books QQQ and the reply is lost; the process dies before it saves anything.
    let out = run_env(
        &sb,
        &["paper", "--date", D1],
        &[
            ("TRADER_SIM_FAULTS", "lose_reply=QQQ"),
            ("TRADER_KILL_AT", "submitted"),
        ],
    );
    assert_eq!(out.status.code(), None, "killed: {}", stderr(&out));
    let booked = book(&sb);
    assert_eq!(booked.orders.len(), 1, "{:?}", booked.orders.keys());
    let out = run_env(&sb, &["paper", "--date", D1], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let after = book(&sb);
    let id = booked.orders.keys().next().expect("one");
    assert_eq!(
        after.orders[id].executions, booked.orders[id].executions,
        "adopted as it was"
    );
    assert_eq!(after.orders.keys().filter(|k| *k == id).count(), 1);
    assert_state_equals_venue(&sb);
    // Without a kill the run itself asks again and adopts (status unknown → filled).
    let sb = sandbox("");
    let out = run_env(
        &sb,
        &["paper", "--date", D1],
        &[("TRADER_SIM_FAULTS", "lose_reply=QQQ+TQQQ")],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_state_equals_venue(&sb);
    assert!(
        state(&sb)
            .journal
            .values()
            .flat_map(|d| &d.orders)
            .all(|o| o.status == JournalStatus::Filled)
    );
}

#[test]
fn a_partial_fill_is_cancelled_after_the_timeout_and_recorded() {
    let sb = sandbox("");
    let out = run_env(
        &sb,
        &["paper", "--date", D1],
        &[("TRADER_SIM_FAULTS", "partial=50")],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let st = state(&sb);
    let orders = &st.journal[&D1.parse().expect("date")].orders;
    assert!(!orders.is_empty());
    for o in orders {
        assert_eq!(o.status, JournalStatus::Canceled, "{o:?}");
        assert_eq!(o.filled_qty, o.qty / 2, "{o:?}");
    }
    assert!(stdout(&out).contains("canceled"), "{}", stdout(&out));
    assert!(
        st.job(D1.parse().expect("date"), "paper")
            .expect("job")
            .detail
            .contains("partly filled")
    );
    assert_state_equals_venue(&sb);
    // The next day starts from the real (half) position: reconciled, no mismatch.
    let next = run_env(&sb, &["paper", "--date", D2], &[]);
    assert_eq!(code(&next), 0, "{}", stderr(&next));
    assert_state_equals_venue(&sb);
    assert_eq!(
        state(&sb).account.expect("acct").positions,
        book(&sb).positions
    );
}

#[test]
fn a_rejected_symbol_is_reported_and_the_others_trade() {
    let sb = sandbox("");
    let out = run_env(
        &sb,
        &["paper", "--date", D1],
        &[("TRADER_SIM_FAULTS", "reject=TQQQ")],
    );
    assert_eq!(
        code(&out),
        0,
        "a rejection is exit 0 with a warning: {}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("WARNING  1 order(s) rejected"),
        "{}",
        stdout(&out)
    );
    let st = state(&sb);
    let orders = &st.journal[&D1.parse().expect("date")].orders;
    let by = |s: &str| orders.iter().find(|o| o.symbol == s).expect(s).status;
    assert_eq!(by("TQQQ"), JournalStatus::Rejected);
    assert_eq!(by("QQQ"), JournalStatus::Filled);
    assert!(
        st.job(D1.parse().expect("date"), "paper")
            .expect("job")
            .detail
            .contains("1 rejected")
    );
    assert_state_equals_venue(&sb);
}

#[test]
fn the_kill_switch_stops_submissions_with_exit_4() {
    let sb = sandbox("");
    std::fs::write(sb.path().join("state/KILL"), "halt").expect("kill switch");
    let out = run_env(&sb, &["paper", "--date", D1], &[]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    // Halted before the venue is touched (it is checked again before every submission).
    let venue = sb.path().join("state/sim/account.json");
    assert!(
        !venue.exists() || book(&sb).orders.is_empty(),
        "nothing sent"
    );
    std::fs::remove_file(sb.path().join("state/KILL")).expect("rm");
    let out = run_env(&sb, &["paper", "--date", D1], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_state_equals_venue(&sb);
}

#[test]
fn a_reconciliation_mismatch_blocks_until_accepted() {
    let sb = sandbox("");
    assert_eq!(code(&run_env(&sb, &["paper", "--date", D1], &[])), 0);
    // Someone trades at the venue behind trader's back.
    let path = sb.path().join("state/sim/account.json");
    let mut bk = book(&sb);
    bk.cash_cents -= 50_000;
    *bk.positions.entry("QQQ".into()).or_default() += 1;
    std::fs::write(&path, serde_json::to_vec(&bk).expect("json")).expect("write");
    let out = run_env(&sb, &["paper", "--date", D2], &[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("cash") && err.contains("QQQ"), "{err}");
    assert!(err.contains("trader reconcile --accept --reason"), "{err}");
    assert_eq!(book(&sb).orders.len(), bk.orders.len(), "nothing sent");
    let rec = table(&sb.path().join("ledger/reconciliations.parquet"));
    assert_eq!(text_column(&rec, "outcome"), ["mismatch", "mismatch"]);
    assert_eq!(
        state(&sb)
            .job(D2.parse().expect("date"), "paper")
            .expect("job")
            .result,
        trader::state::JobResult::Blocked
    );
    // Showing is read-only and exits 3; --accept needs a reason.
    assert_eq!(code(&run_env(&sb, &["reconcile"], &[])), 3);
    assert_eq!(code(&run_env(&sb, &["reconcile", "--accept"], &[])), 2);
    let out = run_env(
        &sb,
        &[
            "reconcile",
            "--accept",
            "--reason",
            "manual trade at the venue",
        ],
        &[("USER", "alice")],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let st = state(&sb);
    let last = st.reconciliations.last().expect("recorded");
    assert_eq!(last.outcome, "accepted");
    assert_eq!(last.by.as_deref(), Some("alice"));
    assert_eq!(last.reason.as_deref(), Some("manual trade at the venue"));
    let out = run_env(&sb, &["paper", "--date", D2], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_state_equals_venue(&sb);
}

#[test]
fn bad_execution_keys_and_fault_lists_are_usage_errors() {
    let sb = Sandbox::with_sample("execution:\n  max_slippage_pct: 50\n");
    let out = sb.run(&["paper", "--date", D1]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("execution.max_slippage_pct"),
        "{}",
        stderr(&out)
    );
    let sb = Sandbox::with_sample("account:\n  sim_faults: partial=150\n");
    let out = sb.run(&["paper", "--date", D1]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("account.sim_faults"),
        "{}",
        stderr(&out)
    );
    let sb = sandbox("");
    let out = run_env(
        &sb,
        &["paper", "--date", D1],
        &[("TRADER_SIM_FAULTS", "explode=1")],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("TRADER_SIM_FAULTS = explode=1"),
        "{}",
        stderr(&out)
    );
    assert!(book(&sb).orders.is_empty());
}

/// Without 20 validated dry-run days (and no override), the promotion gate refuses `paper`
/// with exit 3 before the venue is touched, shows the counts, and records the refusal.
#[test]
fn paper_is_refused_by_the_promotion_gate_without_validated_dry_run_days() {
    let sb = Sandbox::with_sample("execution:\n  poll_interval_ms: 5\n  fill_timeout_ms: 150\n");
    let out = sb.run(&["preflight", "--date", D2]);
    assert_eq!(code(&out), 0, "preflight: {}", stderr(&out));
    let out = sb.run(&["paper", "--date", D2]);
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "{err}");
    assert!(err.contains("(need >= 20)"), "{err}");
    assert!(
        !sb.path().join("state/sim/account.json").exists(),
        "the venue was touched"
    );
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.path().join("state/state.json")).expect("state"))
            .expect("json");
    assert_eq!(state["jobs"][D2]["paper"]["result"], "blocked");
}
