//! `trader emergency-exit` through the real binary on the simulated venue: resting orders
//! canceled and positions sold, kill switch, ledgers, all-cash state; a corrupt state; the
//! lock held by a running job; twice in a row; no terminal; a typed CONFIRM on a
//! pseudo-terminal; partial fills left open; an unusable venue; 50 positions timed.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use trader::broker::sim::SimBook;
use trader::broker::{BrokerOrder, ClientOrderId, OrderStatus, OrderType, TimeInForce};
use trader::model::Side;

use crate::common::{Sandbox, code, stderr, stdout, table, text_column};

const NOW: &str = "2026-05-01T19:50:00Z";
/// Small waits so the suite stays fast.
const FAST: &str =
    "execution:\n  poll_interval_ms: 5\n  fill_timeout_ms: 100\n  lock_wait_ms: 400\n";

fn resting(id: &str, symbol: &str, side: Side, qty: i64, limit: f64) -> BrokerOrder {
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

fn account_path(sb: &Sandbox) -> std::path::PathBuf {
    sb.path().join("state/sim/account.json")
}

fn write_book(sb: &Sandbox, book: &SimBook) {
    let p = account_path(sb);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir sim");
    std::fs::write(&p, serde_json::to_vec_pretty(book).expect("json")).expect("write account");
}

fn read_book(sb: &Sandbox) -> SimBook {
    serde_json::from_slice(&std::fs::read(account_path(sb)).expect("read account"))
        .expect("account json")
}

/// QQQ 10 and TLT 20 held; a resting buy of TQQQ and a resting sell of 3 QQQ (limits far
/// from the market, so they would never fill).
fn book_with_positions_and_orders() -> SimBook {
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

fn exit_confirm(sb: &Sandbox) -> Output {
    run_env(sb, &["emergency-exit", "--confirm"], &[])
}

fn run_env(sb: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Output {
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

fn state_json(sb: &Sandbox) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(sb.path().join("state/state.json")).expect("state"))
        .expect("state json")
}

fn emx_orders(book: &SimBook) -> Vec<&BrokerOrder> {
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
fn a_corrupt_state_without_backup_is_left_as_evidence() {
    let sb = Sandbox::with_sample(FAST);
    write_book(&sb, &book_with_positions_and_orders());
    let state = sb.path().join("state/state.json");
    std::fs::write(&state, b"{\"schema_version\": 1, \"trunc").expect("corrupt state");
    let out = exit_confirm(&sb);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    assert!(read_book(&sb).positions.is_empty());
    assert_eq!(
        std::fs::read(&state).expect("state"),
        b"{\"schema_version\": 1, \"trunc",
        "the unusable file is never overwritten"
    );
    assert!(stdout(&out).contains("NOT recorded"), "{}", stdout(&out));
    assert_eq!(table(&sb.path().join("ledger/fills.parquet")).height(), 2);
}

#[test]
fn a_corrupt_state_with_a_backup_is_recovered_and_the_bad_file_kept() {
    let sb = Sandbox::with_sample(FAST);
    // A first exit with no venue account yet: nothing to do, no account created, and a
    // valid state with its backup left.
    let out = exit_confirm(&sb);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("nothing to do"), "{}", stdout(&out));
    assert!(
        !account_path(&sb).exists(),
        "an exit never opens an account"
    );
    let book = SimBook {
        cash_cents: 500_000,
        positions: BTreeMap::from([("QQQ".into(), 4)]),
        ..SimBook::default()
    };
    write_book(&sb, &book);
    let state = sb.path().join("state/state.json");
    std::fs::write(&state, b"garbage").expect("corrupt");
    let out = exit_confirm(&sb);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let kept: Vec<_> = std::fs::read_dir(sb.path().join("state"))
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("state.json.corrupt-")
        })
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(std::fs::read(kept[0].path()).expect("kept"), b"garbage");
    let st = state_json(&sb);
    assert_eq!(st["account"]["positions"], serde_json::json!({}));
    assert_eq!(
        st["account"]["cash_cents"],
        serde_json::json!(read_book(&sb).cash_cents)
    );
    assert!(stdout(&out).contains("recovered from"), "{}", stdout(&out));
}

/// Holds the state lock as a running job would until the stop file appears (at most 30 s).
#[test]
#[ignore = "run only as the lock holder of emergency_exit::the_lock_held_by_a_running_job"]
fn lock_holder_child() {
    let Ok(dir) = std::env::var("TRADER_EXIT_LOCK_DIR") else {
        return;
    };
    let dir = Path::new(&dir);
    let lock = trader::state::lock::acquire(&dir.join("trader.lock"), "paper", chrono::Utc::now());
    let Ok(_held) = lock else {
        return;
    };
    let _ = std::fs::write(dir.join("holder.ready"), b"");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !dir.join("holder.stop").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_lock_held_by_a_running_job_is_waited_for_then_it_proceeds_and_says_so() {
    let sb = Sandbox::with_sample(FAST);
    write_book(&sb, &book_with_positions_and_orders());
    let dir = sb.path().join("state");
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .args([
            "--exact",
            "emergency_exit::lock_holder_child",
            "--ignored",
            "--nocapture",
        ])
        .env("TRADER_EXIT_LOCK_DIR", &dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn holder");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dir.join("holder.ready").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        dir.join("holder.ready").exists(),
        "the holder never took the lock"
    );
    let t = Instant::now();
    let out = exit_confirm(&sb);
    let took = t.elapsed();
    let _ = std::fs::write(dir.join("holder.stop"), b"");
    let _ = child.wait();
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    assert!(took >= Duration::from_millis(400), "waited {took:?}");
    let err = stderr(&out);
    assert!(
        err.contains("PROCEEDING WITHOUT THE STATE LOCK") && err.contains("`paper`"),
        "{err}"
    );
    assert!(stdout(&out).contains("NOT HELD"), "{}", stdout(&out));
    assert!(dir.join("KILL").exists());
    assert!(read_book(&sb).positions.is_empty());
    // The running job owns the state: it is not written behind its back.
    assert!(!dir.join("state.json").exists());
    assert_eq!(table(&sb.path().join("ledger/fills.parquet")).height(), 2);
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

/// 50 positions of their own symbols, each with a few bars in the store.
fn fifty_positions() -> Sandbox {
    use trader::model::Bar;
    let sb = Sandbox::empty("");
    let mut bars = BTreeMap::new();
    let mut positions = BTreeMap::new();
    for i in 0..50u8 {
        let sym = format!(
            "S{}{}",
            char::from(b'A' + i / 26),
            char::from(b'A' + i % 26)
        );
        let days: Vec<Bar> = (27..=30)
            .map(|d| {
                let px = 20.0 + f64::from(i) + f64::from(d) / 10.0;
                Bar {
                    date: chrono::NaiveDate::from_ymd_opt(2026, 4, d).expect("date"),
                    open: px,
                    high: px + 1.0,
                    low: px - 1.0,
                    close: px,
                    volume: 1e6,
                    adj_close: Some(px),
                    dividend: 0.0,
                    split_factor: 1.0,
                    provisional: false,
                }
            })
            .collect();
        bars.insert(sym.clone(), days);
        positions.insert(sym, 10 + i64::from(i));
    }
    trader::data::store::BarStore::new(&sb.path().join("bars"))
        .write_many(&bars)
        .expect("write bars");
    write_book(
        &sb,
        &SimBook {
            cash_cents: 0,
            positions,
            ..SimBook::default()
        },
    );
    sb
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from)
        .expect("read dir")
        .filter_map(|e| e.ok())
    {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}

/// 50 positions sold in one go with the default (500 ms) poll interval: nothing waits on a
/// poll when the venue fills at once. Runs `TRADER_EXIT_PERF_RUNS` times (default 3) and
/// prints the median; the ≤ 200 ms target is checked on the release build by hand (README).
#[test]
fn perf_emergency_exit_50_positions() {
    let runs: usize = std::env::var("TRADER_EXIT_PERF_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut times = Vec::new();
    if let Ok(dir) = std::env::var("TRADER_EXIT_PERF_TEMPLATE") {
        // For scripts/bench-emergency-exit.sh: leave one sandbox to copy and time.
        let sb = fifty_positions();
        copy_dir(sb.path(), Path::new(&dir));
        return;
    }
    for _ in 0..runs.max(1) {
        let sb = fifty_positions();
        let t = Instant::now();
        let out = exit_confirm(&sb);
        times.push(t.elapsed());
        assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
        let book = read_book(&sb);
        assert!(book.positions.is_empty());
        assert_eq!(emx_orders(&book).len(), 50);
        assert_eq!(table(&sb.path().join("ledger/fills.parquet")).height(), 50);
    }
    times.sort();
    let median = times[times.len() / 2];
    eprintln!("emergency-exit --confirm, 50 positions: median {median:?} of {times:?}");
    // Far above the target, far below one poll interval per order: catches a wait per order.
    assert!(median < Duration::from_secs(5), "median {median:?}");
}

/// After an emergency exit, `halt` lifted and `paper` run the same day: paper reconciles with
/// the account the exit recorded and trades, and its fills rows do not replace the exit's.
#[test]
fn paper_after_an_exit_the_same_day_reconciles_and_keeps_the_exit_s_ledger_rows() {
    use crate::paper::{D1, D2, run_env as paper_env, sandbox};
    let sb = sandbox("");
    let out = paper_env(&sb, &["paper", "--date", D1], &[]);
    assert_eq!(
        code(&out),
        0,
        "paper {D1}: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        !read_book(&sb).positions.is_empty(),
        "paper bought something"
    );
    let out = exit_confirm(&sb);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let sold = emx_orders(&read_book(&sb)).len();
    assert!(sold > 0);
    // Halted: paper sends nothing.
    let out = paper_env(&sb, &["paper", "--date", D2], &[]);
    assert_eq!(code(&out), 4, "{}\n{}", stdout(&out), stderr(&out));
    std::fs::remove_file(sb.path().join("state/KILL")).expect("resume");
    let out = paper_env(&sb, &["paper", "--date", D2], &[]);
    assert_eq!(
        code(&out),
        0,
        "paper {D2}: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let fills = table(&sb.path().join("ledger/fills.parquet"));
    let ids = text_column(&fills, "client_order_id");
    assert_eq!(
        ids.iter().filter(|i| i.starts_with("emx-")).count(),
        sold,
        "{ids:?}"
    );
    assert!(
        ids.iter().any(|i| i.starts_with("hav35b-20260501-")),
        "{ids:?}"
    );
    let orders = table(&sb.path().join("ledger/orders.parquet"));
    let phases = text_column(&orders, "phase");
    assert_eq!(
        phases.iter().filter(|p| *p == "emergency-exit").count(),
        sold
    );
}

/// A run killed after its sales but before its ledger write: the next run finds the sales
/// at the broker by their ids and records them, once.
#[test]
fn sales_an_earlier_run_did_not_record_are_recorded_by_the_next() {
    let sb = Sandbox::with_sample(FAST);
    write_book(&sb, &book_with_positions_and_orders());
    assert_eq!(code(&exit_confirm(&sb)), 0);
    // As if the first run had died before writing them.
    std::fs::remove_dir_all(sb.path().join("ledger")).expect("rm ledgers");
    let out = exit_confirm(&sb);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let orders = table(&sb.path().join("ledger/orders.parquet"));
    let mut ids = text_column(&orders, "client_order_id");
    ids.sort();
    assert_eq!(
        ids,
        vec!["emx-20260501-QQQ-sell-1", "emx-20260501-TLT-sell-1"]
    );
    // The quote is taken back from the limit (5 % below it, rounded down to the cent).
    let refs = orders
        .column("ref_price")
        .and_then(|c| c.f64().cloned())
        .expect("ref");
    let book = read_book(&sb);
    for (id, r) in ids.iter().zip(refs.iter()) {
        let limit = book.orders[&ClientOrderId(id.clone())]
            .limit_price
            .expect("limit");
        let r = r.expect("ref_price");
        assert!(
            r * 0.95 >= limit - 1e-9 && r * 0.95 < limit + 0.011,
            "{id}: {r} vs {limit}"
        );
    }
    assert_eq!(table(&sb.path().join("ledger/fills.parquet")).height(), 2);
    // And not a second time.
    assert_eq!(code(&exit_confirm(&sb)), 0);
    assert_eq!(table(&sb.path().join("ledger/orders.parquet")).height(), 2);
    assert_eq!(table(&sb.path().join("ledger/fills.parquet")).height(), 2);
}
