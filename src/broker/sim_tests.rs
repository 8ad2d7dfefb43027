//! Tests of the simulator: checked fills, never persisting an invalid book.

use super::*;
use crate::money::{MAX_CENTS, MAX_SHARES};

fn order(n: u32, side: Side, qty: i64) -> OrderRequest {
    let date = chrono::NaiveDate::from_ymd_opt(2026, 5, 1).expect("date");
    OrderRequest::day(
        ClientOrderId::new("t", date, "QQQ", side, n),
        "QQQ",
        side,
        qty,
        None,
    )
}

fn sim(cash: i64, held: i64, quote: f64) -> SimBroker {
    let cost = CostModel {
        slippage: 0.0,
        commission_per_share: 0.0,
    };
    let mut s = SimBroker::in_memory(cash, cost);
    if held > 0 {
        s.book.positions.insert("QQQ".into(), held);
    }
    s.quotes.insert("QQQ".into(), quote);
    s
}

#[test]
fn fills_that_would_overflow_are_rejected_not_wrapped() {
    // The position would pass MAX_SHARES.
    let mut s = sim(MAX_CENTS, MAX_SHARES - 1, 0.01);
    let o = s.submit(&order(1, Side::Buy, 10)).expect("submit");
    assert_eq!(o.status, OrderStatus::Rejected, "{o:?}");
    assert_eq!(s.book.positions["QQQ"], MAX_SHARES - 1);
    // The sale's proceeds would pass MAX_CENTS.
    let mut s = sim(MAX_CENTS - 1, 1_000, 1e9);
    let o = s.submit(&order(2, Side::Sell, 1_000)).expect("submit");
    assert_eq!(o.status, OrderStatus::Rejected, "{o:?}");
    assert_eq!(s.book.cash_cents, MAX_CENTS - 1);
    // A non-finite quote books nothing.
    let mut s = sim(1_000_000, 0, f64::NAN);
    let o = s.submit(&order(3, Side::Buy, 1)).expect("submit");
    assert_eq!(o.status, OrderStatus::Rejected, "{o:?}");
    assert_eq!(s.book.cash_cents, 1_000_000);
    // An ordinary fill still books, and the book stays valid (a rejected qty -5 included).
    let mut s = sim(1_000_000, 0, 100.0);
    let o = s.submit(&order(4, Side::Buy, 10)).expect("submit");
    assert_eq!(o.status, OrderStatus::Filled);
    assert_eq!(s.book.cash_cents, 1_000_000 - 100_000);
    let o = s.submit(&order(5, Side::Sell, -5)).expect("submit");
    assert_eq!(o.status, OrderStatus::Rejected);
    assert!(s.book.check().is_empty(), "{:?}", s.book.check());
}

#[test]
fn an_invalid_book_is_never_persisted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cost = CostModel {
        slippage: 0.0,
        commission_per_share: 0.0,
    };
    let (mut s, created) = SimBroker::open(dir.path(), 1_000, cost).expect("open");
    assert!(created);
    let before = std::fs::read(dir.path().join("account.json")).expect("read");
    s.book.cash_cents = -1;
    let e = s.persist().expect_err("invalid");
    assert!(e.to_string().contains("cash_cents = -1"), "{e}");
    assert_eq!(
        std::fs::read(dir.path().join("account.json")).expect("read"),
        before
    );
}

fn limit(n: u32, side: Side, qty: i64, limit: f64) -> OrderRequest {
    OrderRequest {
        limit_price: Some(limit),
        order_type: super::super::OrderType::Limit,
        ..order(n, side, qty)
    }
}

fn costly(cash: i64, quote: f64) -> SimBroker {
    let mut s = sim(cash, 0, quote);
    s.cost = CostModel {
        slippage: 0.001,
        commission_per_share: 0.01,
    };
    s
}

#[test]
fn a_marketable_limit_fills_at_the_quote_with_slippage_and_commission() {
    let mut s = costly(1_000_000, 100.0);
    let o = s.submit(&limit(1, Side::Buy, 10, 101.0)).expect("submit");
    assert_eq!(o.status, OrderStatus::Filled, "{o:?}");
    assert_eq!(o.avg_fill_price, Some(100.1));
    assert_eq!(o.commission_cents, 10);
    assert_eq!(o.executions.len(), 1);
    assert_eq!(s.book.cash_cents, 1_000_000 - 100_100 - 10);
    assert_eq!(s.book.positions["QQQ"], 10);
}

#[test]
fn a_limit_not_reached_rests_new_and_cancel_ends_it() {
    let mut s = costly(1_000_000, 100.0);
    let o = s.submit(&limit(1, Side::Buy, 10, 99.0)).expect("submit");
    assert_eq!(o.status, OrderStatus::New, "{o:?}");
    assert_eq!(s.book.cash_cents, 1_000_000);
    assert_eq!(s.open_orders().expect("open").len(), 1);
    // Resubmitting the id returns the order as it stands, books nothing new.
    let again = s.submit(&limit(1, Side::Buy, 10, 99.0)).expect("submit");
    assert_eq!(again, o);
    assert_eq!(s.book.orders.len(), 1);
    s.cancel(&o.client_order_id).expect("cancel");
    let o = s
        .order_by_client_id(&o.client_order_id)
        .expect("get")
        .expect("known");
    assert_eq!(o.status, OrderStatus::Canceled);
    assert!(s.open_orders().expect("open").is_empty());
    // Cancelling a final order leaves it; an unknown id is an error.
    s.cancel(&o.client_order_id).expect("cancel again");
    assert!(s.cancel(&order(9, Side::Buy, 1).client_order_id).is_err());
}

#[test]
fn faults_partial_reject_lose_reply_and_fill_after() {
    let mut s = costly(1_000_000, 100.0);
    s.faults = SimFaults::parse("partial=50, reject=SPY").expect("faults");
    let o = s.submit(&limit(1, Side::Buy, 11, 101.0)).expect("submit");
    assert_eq!((o.status, o.filled_qty), (OrderStatus::PartiallyFilled, 5));
    // The remainder rests until cancelled; a cancel keeps the filled part.
    s.cancel(&o.client_order_id).expect("cancel");
    let o = s
        .order_by_client_id(&o.client_order_id)
        .expect("get")
        .expect("known");
    assert_eq!((o.status, o.filled_qty), (OrderStatus::Canceled, 5));
    assert_eq!(s.book.positions["QQQ"], 5);
    let spy = OrderRequest {
        symbol: "SPY".into(),
        ..order(2, Side::Buy, 1)
    };
    s.quotes.insert("SPY".into(), 50.0);
    let r = s.submit(&spy).expect("submit");
    assert_eq!(r.status, OrderStatus::Rejected);
    assert!(r.reason.unwrap_or_default().contains("fault reject"));

    let dir = tempfile::tempdir().expect("tempdir");
    let (mut s, _) = SimBroker::open(dir.path(), 1_000_000, CostModel::default()).expect("open");
    s.quotes.insert("QQQ".into(), 100.0);
    s.faults = SimFaults::parse("lose_reply=QQQ,fill_after=2").expect("faults");
    let e = s.submit(&limit(3, Side::Buy, 10, 101.0)).expect_err("lost");
    assert!(matches!(e, BrokerError::OutcomeUnknown { .. }), "{e}");
    // Accepted and persisted: a fresh open of the file knows it, still New.
    let (mut t, created) = SimBroker::open(dir.path(), 0, CostModel::default()).expect("reopen");
    assert!(!created);
    t.quotes = s.quotes.clone();
    t.faults = SimFaults::parse("fill_after=2").expect("faults");
    let id = limit(3, Side::Buy, 10, 101.0).client_order_id;
    assert_eq!(t.book.orders[&id].status, OrderStatus::New);
    let first = t.order_by_client_id(&id).expect("poll").expect("known");
    assert_eq!(first.status, OrderStatus::New);
    let second = t.order_by_client_id(&id).expect("poll").expect("known");
    assert_eq!(second.status, OrderStatus::Filled);
    // The poll counter and the fill are on disk.
    let book = read_book(&dir.path().join("account.json"))
        .expect("read")
        .expect("exists");
    assert_eq!(book.polls[&id], 2);
    assert_eq!(book.positions["QQQ"], 10);
}

#[test]
fn fault_lists_are_checked() {
    for bad in ["partial=150", "fill_after=x", "nonsense=1", "reject"] {
        let e = SimFaults::parse(bad).expect_err(bad);
        assert!(e.contains(bad.split('=').next().unwrap_or(bad)), "{e}");
    }
    let f = SimFaults::parse("reject=qqq+tqqq, fill_after=3").expect("ok");
    assert!(f.reject.contains("QQQ") && f.reject.contains("TQQQ"));
    assert_eq!(f.fill_after, 3);
    assert_eq!(SimFaults::parse("").expect("empty"), SimFaults::default());
}

#[test]
fn a_sale_cannot_commit_shares_an_open_sale_holds() {
    let mut s = sim(0, 10, 100.0);
    let o = s.submit(&limit(1, Side::Sell, 8, 101.0)).expect("submit");
    assert_eq!(o.status, OrderStatus::New);
    let o = s.submit(&limit(2, Side::Sell, 5, 99.0)).expect("submit");
    assert_eq!(o.status, OrderStatus::Rejected, "{o:?}");
}

#[test]
fn a_buy_cannot_use_cash_an_open_buy_holds() {
    let mut s = sim(100_000, 0, 100.0);
    s.faults = SimFaults::parse("fill_after=5").expect("faults");
    let o = s.submit(&limit(1, Side::Buy, 6, 101.0)).expect("submit");
    assert_eq!(o.status, OrderStatus::New);
    // 600 of the 1,000 are committed: 5 more shares do not fit, 4 do.
    let o = s.submit(&limit(2, Side::Buy, 5, 101.0)).expect("submit");
    assert_eq!(o.status, OrderStatus::Rejected, "{o:?}");
    let o = s.submit(&limit(3, Side::Buy, 4, 101.0)).expect("submit");
    assert_eq!(o.status, OrderStatus::New, "{o:?}");
}
