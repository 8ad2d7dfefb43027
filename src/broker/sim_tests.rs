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
