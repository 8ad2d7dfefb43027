//! The Alpaca adapter against the scripted server: one order per client id after every
//! fault, exact cents, whole shares, tick formatting, Retry-After, and key sets per venue.

use std::time::{Duration, Instant};

use trader::broker::alpaca::{AlpacaBroker, AlpacaTradingConfig, Venue};
use trader::broker::{Broker, BrokerError, ClientOrderId, OrderRequest, OrderStatus};
use trader::config::Secrets;
use trader::model::Side;

use crate::alpaca_double::{AlpacaDouble, PostFault};

const KEY: &str = "PKTEST1234";
const SECRET: &str = "paper-secret-abcdef";

fn cfg(d: &AlpacaDouble) -> AlpacaTradingConfig {
    AlpacaTradingConfig {
        paper_url: d.base_url(),
        live_url: d.base_url(),
        timeout_ms: 400,
        backoff_base_ms: 5,
        backoff_max_ms: 20,
        // Env names unique to these tests, so a developer's real keys never matter.
        paper_key_id_env: "T_ALPACA_PAPER_KEY".into(),
        paper_secret_env: "T_ALPACA_PAPER_SECRET".into(),
        live_key_id_env: "T_ALPACA_LIVE_KEY".into(),
        live_secret_env: "T_ALPACA_LIVE_SECRET".into(),
        ..AlpacaTradingConfig::default()
    }
}

fn paper(d: &AlpacaDouble) -> AlpacaBroker {
    let s = Secrets::from_pairs([
        ("T_ALPACA_PAPER_KEY", KEY),
        ("T_ALPACA_PAPER_SECRET", SECRET),
    ]);
    AlpacaBroker::connect(&cfg(d), Venue::Paper, &s).expect("connect")
}

fn buy(id: &str, sym: &str, qty: i64, limit: f64) -> OrderRequest {
    OrderRequest::day(ClientOrderId(id.into()), sym, Side::Buy, qty, Some(limit))
}

#[test]
fn cents_are_parsed_exactly_and_fractional_positions_refused() {
    let d = AlpacaDouble::start(KEY, SECRET);
    d.with(|b| {
        b.account = vec![
            ("cash".into(), "10000.07".into()),
            ("equity".into(), "10000.07".into()),
        ];
        b.positions = vec![("SPY".into(), "10".into(), "500.25".into())];
    });
    let mut br = paper(&d);
    let a = br.account().expect("account");
    assert_eq!(a.cash_cents, 1_000_007);
    assert_eq!(a.buying_power_cents, 24_543_261); // "245432.61" in the fixture
    assert_eq!(
        br.standing().expect("standing").account_id,
        "1d9eed04-be39-4e01-9b84-a48ac5bbafcf"
    );
    assert_eq!(br.positions().expect("positions").get("SPY"), Some(&10));
    assert_eq!(br.quote("SPY").expect("quote"), 500.25);
    d.with(|b| b.positions = vec![("QQQ".into(), "2.5".into(), "400".into())]);
    let e = br.positions().expect_err("fractional");
    let m = e.to_string();
    assert!(m.contains("QQQ") && m.contains("2.5"), "{m}");
}

#[test]
fn limit_price_goes_at_the_tick_inside_the_collar() {
    let d = AlpacaDouble::start(KEY, SECRET);
    let mut br = paper(&d);
    br.submit(&buy("t-1", "SPY", 3, 101.239)).expect("buy");
    let mut sell = buy("t-2", "PENNY", 100, 0.123456);
    sell.side = Side::Sell;
    br.submit(&sell).expect("sell");
    let prices: Vec<Option<String>> =
        d.with(|b| b.orders.iter().map(|o| o.limit_price.clone()).collect());
    assert_eq!(prices, vec![Some("101.23".into()), Some("0.1235".into())]);
    let body = d
        .with(|b| {
            b.seen
                .iter()
                .find(|s| s.method == "POST")
                .map(|s| s.body.clone())
        })
        .expect("post");
    assert!(
        body.contains("\"limit_price\":\"101.23\"") && body.contains("\"qty\":\"3\""),
        "{body}"
    );
}

#[test]
fn one_order_per_client_id_after_every_fault() {
    let d = AlpacaDouble::start(KEY, SECRET);
    let mut br = paper(&d);
    for (id, fault) in [
        ("f-500", PostFault::AcceptThen500),
        ("f-drop", PostFault::AcceptThenDrop),
        ("f-sleep", PostFault::AcceptThenSleep(900)),
    ] {
        d.with(|b| b.post_faults.push_back(fault.clone()));
        let e = br.submit(&buy(id, "SPY", 1, 100.0)).expect_err("fault");
        assert!(matches!(e, BrokerError::OutcomeUnknown { .. }), "{id}: {e}");
        // The caller's rule: look the id up first; it is there, adopted, not resent.
        let o = br
            .order_by_client_id(&ClientOrderId(id.into()))
            .expect("lookup")
            .expect("known");
        assert_eq!(o.client_order_id.0, id);
        // A blind resubmission is answered by the 422 duplicate and adopts the same order.
        let again = br.submit(&buy(id, "SPY", 1, 100.0)).expect("adopt");
        assert_eq!(again.broker_order_id, o.broker_order_id);
        assert_eq!(d.with(|b| b.orders_for(id)), 1, "{id}");
    }
    let posts = d.with(|b| b.seen.iter().filter(|s| s.method == "POST").count());
    assert_eq!(
        posts, 6,
        "a POST is never retried after a 5xx, a drop or a timeout"
    );
}

#[test]
fn rejections_keep_alpacas_message_and_figures() {
    let d = AlpacaDouble::start(KEY, SECRET);
    let mut br = paper(&d);
    d.with(|b| b.post_faults.push_back(PostFault::Reject403));
    let e = br
        .submit(&buy("r-1", "SPY", 1000, 100.0))
        .expect_err("reject");
    let m = e.to_string();
    assert!(matches!(e, BrokerError::Rejected { .. }), "{m}");
    assert!(
        m.contains("insufficient buying power & margin") && m.contains("buying_power 12.50"),
        "{m}"
    );
    assert_eq!(d.with(|b| b.orders.len()), 0);
}

#[test]
fn retry_after_is_honoured_and_gets_retry_500s() {
    let d = AlpacaDouble::start(KEY, SECRET);
    let mut br = paper(&d);
    d.with(|b| b.post_faults.push_back(PostFault::RateLimited(1)));
    let t = Instant::now();
    br.submit(&buy("rl-1", "SPY", 1, 100.0))
        .expect("after the 429");
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(d.with(|b| b.orders_for("rl-1")), 1);
    d.with(|b| b.account_500s = 2);
    br.account().expect("retried");
    d.with(|b| b.account_500s = 10);
    let e = br.account().expect_err("budget");
    assert!(matches!(e, BrokerError::Unavailable { .. }), "{e}");
}

#[test]
fn fills_after_polls_partial_fills_and_cancel_all() {
    let d = AlpacaDouble::start(KEY, SECRET);
    d.with(|b| {
        b.fill_after = 1;
        b.partial = Some(4);
    });
    let mut br = paper(&d);
    let id = ClientOrderId("p-1".into());
    let o = br.submit(&buy("p-1", "SPY", 10, 100.0)).expect("submit");
    assert_eq!(o.status, OrderStatus::New);
    let o = br.order_by_client_id(&id).expect("poll").expect("o");
    assert_eq!(o.status, OrderStatus::New);
    let o = br.order_by_client_id(&id).expect("poll").expect("o");
    assert_eq!(
        (o.status, o.filled_qty, o.executions.len()),
        (OrderStatus::PartiallyFilled, 4, 1)
    );
    let o = br.order_by_client_id(&id).expect("poll").expect("o");
    assert_eq!((o.status, o.filled_qty), (OrderStatus::Filled, 10));
    let ids: Vec<_> = o.executions.iter().map(|e| (e.id.clone(), e.qty)).collect();
    assert_eq!(
        ids,
        vec![
            (format!("{}-4", o.broker_order_id), 4),
            (format!("{}-10", o.broker_order_id), 6)
        ]
    );
    d.with(|b| b.fill_after = 100);
    br.submit(&buy("p-2", "QQQ", 1, 100.0)).expect("submit");
    br.submit(&buy("p-3", "IWM", 1, 100.0)).expect("submit");
    assert_eq!(br.open_orders().expect("open").len(), 2);
    let mut cancelled = br.cancel_all().expect("cancel all");
    cancelled.sort();
    assert_eq!(
        cancelled,
        vec![ClientOrderId("p-2".into()), ClientOrderId("p-3".into())]
    );
    assert!(br.open_orders().expect("open").is_empty());
    assert!(br.clock().expect("clock").is_some());
    let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 9).expect("date");
    let s = br.sessions(day, day).expect("cal").expect("sessions");
    assert_eq!(
        s[0].close,
        chrono::NaiveTime::from_hms_opt(16, 0, 0).expect("t")
    );
    assert!(!br.asset("HALT").expect("asset").expect("a").tradable);
    assert!(!br.asset("NOPE").expect("asset").expect("a").active);
}

#[test]
fn paper_and_live_keys_never_cross() {
    let d = AlpacaDouble::start(KEY, SECRET);
    let only_paper = Secrets::from_pairs([
        ("T_ALPACA_PAPER_KEY", KEY),
        ("T_ALPACA_PAPER_SECRET", SECRET),
    ]);
    let e = AlpacaBroker::connect(&cfg(&d), Venue::Live, &only_paper)
        .err()
        .expect("refused");
    let m = e.to_string();
    assert!(matches!(e, BrokerError::Unauthorized { .. }), "{m}");
    assert!(
        m.contains("T_ALPACA_LIVE_KEY") && m.contains("T_ALPACA_LIVE_SECRET"),
        "{m}"
    );
    assert!(!m.contains(SECRET) && !m.contains(KEY), "{m}");
    let live = Secrets::from_pairs([
        ("T_ALPACA_LIVE_KEY", "AKLIVE999"),
        ("T_ALPACA_LIVE_SECRET", "live-secret-zzz"),
    ]);
    let mut br = AlpacaBroker::connect(&cfg(&d), Venue::Live, &live).expect("live");
    let e = br
        .account()
        .expect_err("the server knows only the paper keys");
    let m = e.to_string();
    assert!(
        matches!(e, BrokerError::Unauthorized { .. }) && m.contains("T_ALPACA_LIVE_KEY"),
        "{m}"
    );
    assert!(!m.contains("live-secret-zzz"), "{m}");
    let seen = d.with(|b| b.seen.clone());
    assert_eq!(
        seen.iter().map(|s| s.target.as_str()).collect::<Vec<_>>(),
        vec!["/v2/account"],
        "one request, not retried after the 401"
    );
    assert!(seen.iter().all(|s| s.key_id.as_deref() == Some("AKLIVE999")
        && s.secret.as_deref() == Some("live-secret-zzz")));
}
