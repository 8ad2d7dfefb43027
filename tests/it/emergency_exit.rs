//! `trader emergency-exit` through the real binary on the simulated venue: resting orders
//! canceled and positions sold, kill switch, ledgers, all-cash state; twice in a row; no
//! terminal; a typed CONFIRM on a pseudo-terminal; partial fills left open; an unusable
//! venue. The shared helpers; recovery cases are in `emergency_exit_recovery`.

use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use trader::broker::sim::SimBook;
use trader::broker::{BrokerOrder, ClientOrderId, OrderStatus, OrderType, TimeInForce};
use trader::model::Side;

use crate::common::{Sandbox, code, stderr, stdout, table, text_column};

pub const NOW: &str = "2026-05-01T19:50:00Z";
/// Small waits so the suite stays fast.
pub const FAST: &str = "phase_override: { phase: paper, reason: \"engine tests: the gate is tested in gates_tests and status_halt\" }\nexecution:\n  poll_interval_ms: 5\n  fill_timeout_ms: 100\n  lock_wait_ms: 400\n";

pub fn resting(id: &str, symbol: &str, side: Side, qty: i64, limit: f64) -> BrokerOrder {
    BrokerOrder {
        client_order_id: ClientOrderId(id.into()),
        broker_order_id: format!("sim-{id}"),
        symbol: symbol.into(),
        side,
        qty,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Day,
        limit_price: Some(limit),
        filled_qty: 0,
        avg_fill_price: None,
        commission_cents: 0,
        status: OrderStatus::New,
        reason: None,
        executions: Vec::new(),
        submitted_at: None,
        updated_at: None,
    }
}

pub fn account_path(sb: &Sandbox) -> std::path::PathBuf {
    sb.path().join("state/sim/account.json")
}

pub fn write_book(sb: &Sandbox, book: &SimBook) {
    let p = account_path(sb);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir sim");
    std::fs::write(&p, serde_json::to_vec_pretty(book).expect("json")).expect("write account");
}

pub fn read_book(sb: &Sandbox) -> SimBook {
    serde_json::from_slice(&std::fs::read(account_path(sb)).expect("read account"))
        .expect("account json")
}

/// QQQ 10 and TLT 20 held; a resting buy of TQQQ and a resting sell of 3 QQQ (limits far
/// from the market, so they would never fill).
pub fn book_with_positions_and_orders() -> SimBook {
    let mut b = SimBook {
        cash_cents: 100_000,
        positions: BTreeMap::from([("QQQ".into(), 10), ("TLT".into(), 20)]),
        ..SimBook::default()
    };
    for o in [
        resting("hav35b-20260501-TQQQ-buy-1", "TQQQ", Side::Buy, 5, 1.0),
        resting("hav35b-20260501-QQQ-sell-1", "QQQ", Side::Sell, 3, 1e6),
    ] {
        b.orders.insert(o.client_order_id.clone(), o);
    }
    b
}

pub fn exit_confirm(sb: &Sandbox) -> Output {
    run_env(sb, &["emergency-exit", "--confirm"], &[])
}

pub fn run_env(sb: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trader"))
        .arg("--config")
        .arg(sb.config())
        .args(args)
        .env("TRADER_NOW", NOW)
        .env_remove("TRADER_SIM_FAULTS")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run trader")
}

pub fn state_json(sb: &Sandbox) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(sb.path().join("state/state.json")).expect("state"))
        .expect("state json")
}

pub fn emx_orders(book: &SimBook) -> Vec<&BrokerOrder> {
    book.orders
        .values()
        .filter(|o| o.client_order_id.0.starts_with("emx-"))
        .collect()
}

#[test]
fn cancels_resting_orders_sells_positions_and_records_all_cash() {
    let sb = Sandbox::with_sample(FAST);
    write_book(&sb, &book_with_positions_and_orders());
    let out = exit_confirm(&sb);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let kill = std::fs::read_to_string(sb.path().join("state/KILL")).expect("kill switch");
    assert!(
        kill.starts_with("emergency-exit by ") && kill.contains(" at 2026-05-01T"),
        "{kill}"
    );
    let book = read_book(&sb);
    assert!(book.positions.is_empty(), "{:?}", book.positions);
    for id in ["hav35b-20260501-TQQQ-buy-1", "hav35b-20260501-QQQ-sell-1"] {
        assert_eq!(
            book.orders[&ClientOrderId(id.into())].status,
            OrderStatus::Canceled,
            "{id}"
        );
    }
    let sells = emx_orders(&book);
    let mut sold: Vec<(&str, i64)> = sells
        .iter()
        .map(|o| (o.symbol.as_str(), o.filled_qty))
        .collect();
    sold.sort();
    assert_eq!(sold, vec![("QQQ", 10), ("TLT", 20)]);
    assert!(sells.iter().all(|o| o.status == OrderStatus::Filled));
    assert!(
        sells
            .iter()
            .all(|o| o.side == Side::Sell && o.limit_price.is_some())
    );
    assert!(book.cash_cents > 100_000);
    // Ledgers: one order row and one fill row per sale, phase emergency-exit.
    let orders = table(&sb.path().join("ledger/orders.parquet"));
    assert_eq!(text_column(&orders, "phase"), vec!["emergency-exit"; 2]);
    let fills = table(&sb.path().join("ledger/fills.parquet"));
    assert_eq!(fills.height(), 2);
    // The sim fills 0.1 % (portfolio.slippage_pct) below the quote, rounded to the cent:
    // about 10 bps against it.
    let bps = fills
        .column("slippage_bps")
        .and_then(|c| c.f64().cloned())
        .expect("bps");
    for b in bps.iter() {
        assert!(b.is_some_and(|b| (b - 10.0).abs() < 1.5), "{b:?}");
    }
    let mut ids = text_column(&fills, "client_order_id");
    ids.sort();
    assert_eq!(
        ids,
        vec!["emx-20260501-QQQ-sell-1", "emx-20260501-TLT-sell-1"]
    );
    // The state is the broker's account: all cash.
    let st = state_json(&sb);
    assert_eq!(
        st["account"]["cash_cents"],
        serde_json::json!(book.cash_cents)
    );
    assert_eq!(
        st["account"]["equity_cents"],
        serde_json::json!(book.cash_cents)
    );
    assert_eq!(st["account"]["positions"], serde_json::json!({}));
    assert_eq!(st["jobs"]["2026-05-01"]["emergency-exit"]["result"], "ok");
    let text = stdout(&out);
    assert!(text.contains("emergency-exit: flat"), "{text}");
    assert!(text.contains("proceeds"), "{text}");
}

#[test]
fn twice_in_a_row_the_second_finds_nothing_to_do() {
    let sb = Sandbox::with_sample(FAST);
    write_book(&sb, &book_with_positions_and_orders());
    assert_eq!(code(&exit_confirm(&sb)), 0);
    let book = read_book(&sb);
    let out = exit_confirm(&sb);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("nothing to do"), "{text}");
    assert!(
        text.contains("no open order") && text.contains("nothing to sell"),
        "{text}"
    );
    assert!(text.contains("already present"), "{text}");
    // The other commands' notice would be false here: emergency-exit sends regardless.
    assert!(
        !stderr(&out).contains("no order will be sent"),
        "{}",
        stderr(&out)
    );
    let again = read_book(&sb);
    assert_eq!(again.orders.len(), book.orders.len(), "no new order");
    assert_eq!(again.cash_cents, book.cash_cents);
    assert_eq!(table(&sb.path().join("ledger/orders.parquet")).height(), 2);
    assert_eq!(table(&sb.path().join("ledger/fills.parquet")).height(), 2);
}

#[test]
fn without_a_terminal_and_without_confirm_nothing_is_done() {
    let sb = Sandbox::with_sample(FAST);
    let book = book_with_positions_and_orders();
    write_book(&sb, &book);
    let before = std::fs::read(account_path(&sb)).expect("account");
    let out = run_env(&sb, &["emergency-exit"], &[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("--confirm"), "{}", stderr(&out));
    assert_eq!(std::fs::read(account_path(&sb)).expect("account"), before);
    assert!(!sb.path().join("state/KILL").exists());
    assert!(!sb.path().join("state/state.json").exists());
    assert!(!sb.path().join("ledger").exists());
}

#[test]
fn partial_fills_left_open_after_the_retries_exit_1_and_are_reported() {
    let sb = Sandbox::with_sample(FAST);
    let book = SimBook {
        cash_cents: 0,
        positions: BTreeMap::from([("QQQ".into(), 100)]),
        ..SimBook::default()
    };
    write_book(&sb, &book);
    let out = run_env(
        &sb,
        &["emergency-exit", "--confirm"],
        &[("TRADER_SIM_FAULTS", "partial=50")],
    );
    assert_eq!(code(&out), 1, "{}\n{}", stdout(&out), stderr(&out));
    // 100 → 50 → 25 → 13: three attempts, each remainder canceled, ids never reused.
    let after = read_book(&sb);
    assert_eq!(after.positions, BTreeMap::from([("QQQ".into(), 13)]));
    let mut ids: Vec<&str> = emx_orders(&after)
        .iter()
        .map(|o| o.client_order_id.0.as_str())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![
            "emx-20260501-QQQ-sell-1",
            "emx-20260501-QQQ-sell-2",
            "emx-20260501-QQQ-sell-3"
        ]
    );
    assert!(
        emx_orders(&after)
            .iter()
            .all(|o| o.status == OrderStatus::Canceled)
    );
    assert!(
        stdout(&out).contains("STILL HELD   13 QQQ"),
        "{}",
        stdout(&out)
    );
    let st = state_json(&sb);
    assert_eq!(st["account"]["positions"], serde_json::json!({"QQQ": 13}));
    assert_eq!(
        st["jobs"]["2026-05-01"]["emergency-exit"]["result"],
        "failed"
    );
    assert_eq!(table(&sb.path().join("ledger/fills.parquet")).height(), 3);
}

#[test]
fn an_unusable_venue_exits_5_after_the_kill_switch() {
    let sb = Sandbox::with_sample(FAST);
    let p = account_path(&sb);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(&p, b"{\"cash_cents\": -5}").expect("bad account");
    let out = exit_confirm(&sb);
    assert_eq!(code(&out), 5, "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        sb.path().join("state/KILL").exists(),
        "jobs are stopped all the same"
    );
    assert_eq!(std::fs::read(&p).expect("account"), b"{\"cash_cents\": -5}");
}

/// `script` (util-linux) gives the command a pseudo-terminal; what is piped into `script`
/// is typed on it.
fn on_a_terminal(sb: &Sandbox, typed: &str) -> Option<Output> {
    let probe = Command::new("script").arg("--version").output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED: no `script` (util-linux) to give the command a terminal");
        return None;
    }
    let cmd = format!(
        "'{}' --config '{}' emergency-exit",
        env!("CARGO_BIN_EXE_trader"),
        sb.config().display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("TRADER_NOW", NOW)
        .env_remove("TRADER_SIM_FAULTS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn script");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        // Typed once the prompt is up; the terminal buffers it either way.
        std::thread::sleep(Duration::from_millis(300));
        stdin.write_all(typed.as_bytes()).expect("type");
    }
    Some(child.wait_with_output().expect("wait script"))
}

#[test]
fn on_a_terminal_it_shows_the_plan_and_acts_only_after_confirm() {
    let sb = Sandbox::with_sample(FAST);
    write_book(&sb, &book_with_positions_and_orders());
    let before = std::fs::read(account_path(&sb)).expect("account");
    let Some(out) = on_a_terminal(&sb, "no\n") else {
        return;
    };
    let text = stdout(&out);
    assert_eq!(code(&out), 2, "{text}");
    assert!(text.contains("cancel hav35b-20260501-TQQQ-buy-1"), "{text}");
    assert!(text.contains("sell 10 QQQ at limit"), "{text}");
    assert!(text.contains("sell 20 TLT at limit"), "{text}");
    assert!(text.contains("not confirmed: nothing was done"), "{text}");
    assert_eq!(std::fs::read(account_path(&sb)).expect("account"), before);
    assert!(!sb.path().join("state/KILL").exists());
    let Some(out) = on_a_terminal(&sb, "CONFIRM\n") else {
        return;
    };
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(read_book(&sb).positions.is_empty());
    assert!(sb.path().join("state/KILL").exists());
}
