//! `trader live` and the venue factory on the sim venue: the promotion gate and the
//! first-live confirmation, separate paper and live accounts, the capital fraction, a changed
//! account id, and the closing-auction style collected by `trader sync`.

use trader::broker::sim::read_book;
use trader::execution::journal::JournalStatus;

use crate::common::{Sandbox, code, stderr, stdout};
use crate::paper::{D1, D2, state};

/// Both preflights passed, fast polling, `phase_override` for `phase`.
fn sandbox(phase: &str, extra: &str) -> Sandbox {
    let sb = Sandbox::with_sample(&format!(
        "phase_override: {{ phase: {phase}, reason: \"live tests\" }}\nexecution:\n  poll_interval_ms: 5\n  fill_timeout_ms: 150\n{extra}"
    ));
    for d in [D1, D2] {
        let out = sb.run(&["preflight", "--date", d]);
        assert_eq!(code(&out), 0, "preflight {d}: {}", stderr(&out));
    }
    sb
}

fn bought_notional(sb: &Sandbox, date: &str) -> f64 {
    state(sb).journal[&date.parse().expect("date")]
        .orders
        .iter()
        .filter(|o| o.side == trader::model::Side::Buy)
        .map(|o| o.filled_qty as f64 * o.avg_fill_price.unwrap_or(0.0))
        .sum()
}

#[test]
fn live_needs_its_gate_and_a_first_confirmation_then_trades_its_own_account() {
    // The override is for paper: live's gate is not met.
    let sb = sandbox("paper", "");
    let out = sb.run(&["live", "--date", D1]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(!sb.path().join("state/sim-live/account.json").exists());
    let out = sb.run(&["paper", "--date", D1]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let sb = sandbox("live", "");
    let out = sb.run(&["live", "--date", D1]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--confirm-first-live"),
        "{}",
        stderr(&out)
    );
    assert!(
        !sb.path().join("state/sim-live/account.json").exists(),
        "nothing opened"
    );
    let out = sb.run(&["live", "--date", D1, "--confirm-first-live"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let st = state(&sb);
    let conf = st
        .live_confirmation
        .as_ref()
        .expect("confirmation recorded");
    assert!(!conf.by.is_empty());
    assert_eq!(
        st.broker_accounts.get("live").map(String::as_str),
        Some("sim-live")
    );
    assert!(st.job(D1.parse().expect("date"), "live").is_some());
    // The live account traded; the paper account was never opened.
    let live = read_book(&sb.path().join("state/sim-live/account.json"))
        .expect("readable")
        .expect("live book");
    assert!(!live.orders.is_empty());
    assert!(!sb.path().join("state/sim/account.json").exists());
    // The next day needs no confirmation.
    let out = sb.run(&["live", "--date", D2]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn live_sizes_on_the_capital_fraction() {
    let sb = sandbox("live", "live:\n  capital_fraction: 0.25\n");
    let out = sb.run(&["live", "--date", D1, "--confirm-first-live"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let spent = bought_notional(&sb, D1);
    // 10,000 of initial capital: at most a quarter is invested.
    assert!(spent > 1_000.0 && spent <= 2_500.0, "{spent}");
    let st = state(&sb);
    let detail = &st
        .job(D1.parse().expect("date"), "live")
        .expect("job")
        .detail;
    assert!(detail.contains("capital_fraction 0.25"), "{detail}");
    let sb = sandbox("paper", "");
    let out = sb.run(&["paper", "--date", D1]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(bought_notional(&sb, D1) > 5_000.0);
}

#[test]
fn a_different_account_id_stops_the_run_with_nothing_sent() {
    let sb = sandbox("paper", "");
    let out = sb.run(&["paper", "--date", D1]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let path = sb.path().join("state/sim/account.json");
    let mut book = read_book(&path).expect("readable").expect("book");
    assert_eq!(book.account_id.as_deref(), Some("sim-paper"));
    let orders = book.orders.len();
    book.account_id = Some("someone-else".into());
    std::fs::write(&path, serde_json::to_vec(&book).expect("json")).expect("write");
    let out = sb.run(&["paper", "--date", D2]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("someone-else"), "{}", stderr(&out));
    let after = read_book(&path).expect("readable").expect("book");
    assert_eq!(after.orders.len(), orders, "nothing sent");
}

#[test]
fn close_auction_orders_wait_for_the_close_and_sync_adopts_them_once() {
    let sb = sandbox("paper", "  order_style: close_auction\n");
    // 15:51 New York on 2026-05-01 (EDT): after the cut-off.
    let out = sb.run_at("2026-05-01T19:51:00Z", &["paper", "--date", D2]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("15:50 New York"), "{}", stderr(&out));
    assert!(
        !sb.path().join("state/sim/account.json").exists(),
        "nothing sent"
    );
    // 15:40: sent as limit-on-close, pending.
    let out = sb.run_at("2026-05-01T19:40:00Z", &["paper", "--date", D2]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let day: chrono::NaiveDate = D2.parse().expect("date");
    let st = state(&sb);
    let orders = &st.journal[&day].orders;
    assert!(!orders.is_empty());
    assert!(
        orders
            .iter()
            .all(|o| o.at_close && o.status == JournalStatus::New)
    );
    let book = read_book(&sb.path().join("state/sim/account.json"))
        .expect("r")
        .expect("b");
    assert!(
        book.orders
            .values()
            .all(|o| o.time_in_force == trader::broker::TimeInForce::Cls)
    );
    // Before the close: still pending.
    let out = sb.run_at("2026-05-01T19:55:00Z", &["sync"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        state(&sb).journal[&day]
            .orders
            .iter()
            .all(|o| o.filled_qty == 0)
    );
    // After the close: filled at the official close, once.
    let out = sb.run_at("2026-05-01T20:30:00Z", &["sync", "--date", D2]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let st = state(&sb);
    let book = read_book(&sb.path().join("state/sim/account.json"))
        .expect("r")
        .expect("b");
    for o in &st.journal[&day].orders {
        assert_eq!(o.status, JournalStatus::Filled, "{}", o.client_order_id.0);
        assert_eq!(
            o.avg_fill_price,
            Some(o.decision_price),
            "fills at the day's close"
        );
    }
    let acct = st.account.clone().expect("account");
    assert_eq!(
        (acct.cash_cents, &acct.positions),
        (book.cash_cents, &book.positions)
    );
    let out = sb.run_at("2026-05-01T20:40:00Z", &["sync"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let again = state(&sb).account.expect("account");
    assert_eq!(
        (again.cash_cents, again.positions),
        (acct.cash_cents, acct.positions)
    );
    assert!(
        stdout(&out).contains("no pending orders"),
        "{}",
        stdout(&out)
    );
}
