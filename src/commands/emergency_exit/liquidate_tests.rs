//! The liquidation against a scripted broker: resting orders, partial fills, a lost reply,
//! ids already used, an unreachable broker.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDate;

use super::*;
use crate::broker::{AccountInfo, OrderStatus, OrderType, TimeInForce};

/// A venue that books orders, fills `fill_pct` % of each at the quote when the limit allows
/// and leaves the rest resting; it can lose the reply of the first submission.
#[derive(Default)]
struct Venue {
    cash: i64,
    positions: BTreeMap<String, i64>,
    orders: BTreeMap<ClientOrderId, BrokerOrder>,
    quotes: BTreeMap<String, f64>,
    fill_pct: i64,
    lose_first_reply: bool,
    down: bool,
    submits: Vec<ClientOrderId>,
}

fn order(id: &str, symbol: &str, side: Side, qty: i64, status: OrderStatus) -> BrokerOrder {
    BrokerOrder {
        client_order_id: ClientOrderId(id.into()),
        broker_order_id: format!("v-{id}"),
        symbol: symbol.into(),
        side,
        qty,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Day,
        limit_price: Some(1.0),
        filled_qty: 0,
        avg_fill_price: None,
        commission_cents: 0,
        status,
        reason: None,
        executions: Vec::new(),
        submitted_at: None,
        updated_at: None,
    }
}

impl Venue {
    fn new(positions: &[(&str, i64, f64)]) -> Venue {
        Venue {
            cash: 100_000,
            positions: positions
                .iter()
                .map(|(s, q, _)| (s.to_string(), *q))
                .collect(),
            quotes: positions
                .iter()
                .map(|(s, _, p)| (s.to_string(), *p))
                .collect(),
            fill_pct: 100,
            ..Venue::default()
        }
    }

    fn check(&self) -> Result<(), BrokerError> {
        if self.down {
            return Err(BrokerError::Unavailable {
                broker: "venue".into(),
                detail: "down".into(),
            });
        }
        Ok(())
    }
}

impl Broker for Venue {
    fn name(&self) -> &str {
        "venue"
    }
    fn account(&mut self) -> Result<AccountInfo, BrokerError> {
        self.check()?;
        Ok(AccountInfo {
            cash_cents: self.cash,
            buying_power_cents: self.cash,
            equity_cents: self.cash,
        })
    }
    fn positions(&mut self) -> Result<BTreeMap<String, i64>, BrokerError> {
        self.check()?;
        Ok(self.positions.clone())
    }
    fn open_orders(&mut self) -> Result<Vec<BrokerOrder>, BrokerError> {
        self.check()?;
        Ok(self
            .orders
            .values()
            .filter(|o| !o.status.is_final())
            .cloned()
            .collect())
    }
    fn quote(&mut self, symbol: &str) -> Result<f64, BrokerError> {
        self.quotes
            .get(symbol)
            .copied()
            .ok_or_else(|| BrokerError::NoQuote {
                broker: "venue".into(),
                symbol: symbol.into(),
            })
    }
    fn submit(&mut self, r: &OrderRequest) -> Result<BrokerOrder, BrokerError> {
        self.check()?;
        self.submits.push(r.client_order_id.clone());
        if let Some(o) = self.orders.get(&r.client_order_id) {
            return Ok(o.clone());
        }
        let mut o = order(
            &r.client_order_id.0,
            &r.symbol,
            r.side,
            r.qty,
            OrderStatus::New,
        );
        o.limit_price = r.limit_price;
        let price = self.quotes[&r.symbol] * 0.999;
        let held = self.positions.get(&r.symbol).copied().unwrap_or(0);
        if r.limit_price.is_none_or(|l| price >= l) && held >= r.qty {
            let fill = r.qty * self.fill_pct / 100;
            if fill > 0 {
                o.filled_qty = fill;
                o.avg_fill_price = Some(price);
                o.status = if fill == r.qty {
                    OrderStatus::Filled
                } else {
                    OrderStatus::PartiallyFilled
                };
                self.cash += crate::money::notional_cents(fill, price).unwrap_or(0);
                let left = held - fill;
                if left == 0 {
                    self.positions.remove(&r.symbol);
                } else {
                    self.positions.insert(r.symbol.clone(), left);
                }
            }
        }
        self.orders.insert(r.client_order_id.clone(), o.clone());
        if std::mem::take(&mut self.lose_first_reply) {
            return Err(BrokerError::OutcomeUnknown {
                broker: "venue".into(),
                detail: "reply lost".into(),
            });
        }
        Ok(o)
    }
    fn order_by_client_id(
        &mut self,
        id: &ClientOrderId,
    ) -> Result<Option<BrokerOrder>, BrokerError> {
        self.check()?;
        Ok(self.orders.get(id).cloned())
    }
    fn cancel(&mut self, id: &ClientOrderId) -> Result<(), BrokerError> {
        self.check()?;
        if let Some(o) = self.orders.get_mut(id)
            && !o.status.is_final()
        {
            o.status = OrderStatus::Canceled;
        }
        Ok(())
    }
}

fn settings() -> Settings {
    Settings {
        date: NaiveDate::from_ymd_opt(2026, 5, 1).unwrap_or_default(),
        collar_pct: 5.0,
        poll_interval: Duration::from_millis(1),
        fill_timeout: Duration::from_millis(0),
        max_attempts: MAX_ATTEMPTS,
        symbols: vec!["QQQ".into(), "TLT".into()],
    }
}

fn go(v: &mut Venue) -> Outcome {
    run(v, &settings(), &mut |_| {}).unwrap_or_else(|e| panic!("liquidation failed: {e}"))
}

#[test]
fn collar_is_below_the_quote_rounded_down_to_the_cent() {
    assert_eq!(collar_price(100.0, 5.0), 95.0);
    assert_eq!(collar_price(10.019, 0.0), 10.01);
    assert_eq!(collar_price(0.005, 5.0), 0.01);
}

#[test]
fn resting_orders_are_canceled_and_every_position_sold() {
    let mut v = Venue::new(&[("QQQ", 10, 400.0), ("TLT", 7, 90.0)]);
    v.orders.insert(
        ClientOrderId("hav35b-20260501-TQQQ-buy-1".into()),
        order(
            "hav35b-20260501-TQQQ-buy-1",
            "TQQQ",
            Side::Buy,
            5,
            OrderStatus::New,
        ),
    );
    let plan = plan(&mut v, 5.0).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.cancels.len(), 1);
    assert_eq!(
        plan.sells
            .iter()
            .map(|s| (s.symbol.as_str(), s.qty, s.limit))
            .collect::<Vec<_>>(),
        vec![("QQQ", 10, Some(380.0)), ("TLT", 7, Some(85.5))]
    );
    let out = go(&mut v);
    assert!(out.flat(), "{out:?}");
    assert_eq!(out.canceled.len(), 1);
    assert_eq!(out.canceled[0].status, OrderStatus::Canceled);
    assert_eq!(
        out.sold(),
        BTreeMap::from([("QQQ".into(), 10), ("TLT".into(), 7)])
    );
    assert_eq!(
        v.submits.iter().map(|i| i.0.as_str()).collect::<Vec<_>>(),
        vec!["emx-20260501-QQQ-sell-1", "emx-20260501-TLT-sell-1"]
    );
    let expected = crate::money::notional_cents(10, 400.0 * 0.999).unwrap_or(0)
        + crate::money::notional_cents(7, 90.0 * 0.999).unwrap_or(0);
    assert_eq!(out.proceeds_cents(), Some(expected));
    // Twice in a row: nothing to do the second time.
    let again = go(&mut v);
    assert!(again.flat() && again.placed.is_empty() && again.canceled.is_empty());
    assert_eq!(v.submits.len(), 2);
}

#[test]
fn partial_fills_are_retried_with_new_ids_and_what_is_left_is_reported() {
    let mut v = Venue::new(&[("QQQ", 100, 400.0)]);
    v.fill_pct = 50;
    let out = go(&mut v);
    // 100 → 50 → 25 → 13 left after three rounds; each remainder canceled before the next.
    assert!(!out.flat());
    assert_eq!(out.positions_left, BTreeMap::from([("QQQ".into(), 13)]));
    assert!(out.orders_left.is_empty(), "remainders are canceled");
    let ids: Vec<&str> = v.submits.iter().map(|i| i.0.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "emx-20260501-QQQ-sell-1",
            "emx-20260501-QQQ-sell-2",
            "emx-20260501-QQQ-sell-3"
        ]
    );
    assert_eq!(
        out.placed
            .iter()
            .map(|p| (p.order.qty, p.order.filled_qty, p.order.status))
            .collect::<Vec<_>>(),
        vec![
            (100, 50, OrderStatus::Canceled),
            (50, 25, OrderStatus::Canceled),
            (25, 12, OrderStatus::Canceled)
        ]
    );
    // A second run later the same day goes on with the next id, never an old one, and
    // finds the first run's orders.
    v.fill_pct = 100;
    let out = go(&mut v);
    assert!(out.flat());
    assert_eq!(out.earlier.len(), 3);
    assert_eq!(
        v.submits.last().map(|i| i.0.as_str()),
        Some("emx-20260501-QQQ-sell-4")
    );
}

#[test]
fn a_lost_reply_is_looked_up_and_never_sent_twice() {
    let mut v = Venue::new(&[("QQQ", 10, 400.0)]);
    v.lose_first_reply = true;
    let out = go(&mut v);
    assert!(out.flat(), "{out:?}");
    assert_eq!(v.submits.len(), 1, "{:?}", v.submits);
    assert_eq!(out.placed.len(), 1);
    assert_eq!(out.placed[0].order.status, OrderStatus::Filled);
}

#[test]
fn a_resting_sell_is_not_doubled_when_its_cancel_does_not_take() {
    // A sell the venue will not cancel: the liquidation sells only what it does not cover.
    struct Stubborn(Venue);
    impl Broker for Stubborn {
        fn name(&self) -> &str {
            "stubborn"
        }
        fn account(&mut self) -> Result<AccountInfo, BrokerError> {
            self.0.account()
        }
        fn positions(&mut self) -> Result<BTreeMap<String, i64>, BrokerError> {
            self.0.positions()
        }
        fn open_orders(&mut self) -> Result<Vec<BrokerOrder>, BrokerError> {
            self.0.open_orders()
        }
        fn quote(&mut self, s: &str) -> Result<f64, BrokerError> {
            self.0.quote(s)
        }
        fn submit(&mut self, r: &OrderRequest) -> Result<BrokerOrder, BrokerError> {
            self.0.submit(r)
        }
        fn order_by_client_id(
            &mut self,
            id: &ClientOrderId,
        ) -> Result<Option<BrokerOrder>, BrokerError> {
            self.0.order_by_client_id(id)
        }
        fn cancel(&mut self, id: &ClientOrderId) -> Result<(), BrokerError> {
            if id.0.starts_with("hav35b") {
                return Err(BrokerError::Rejected {
                    broker: "stubborn".into(),
                    symbol: "QQQ".into(),
                    reason: "too late to cancel".into(),
                });
            }
            self.0.cancel(id)
        }
    }
    let mut v = Venue::new(&[("QQQ", 10, 400.0)]);
    v.orders.insert(
        ClientOrderId("hav35b-20260501-QQQ-sell-1".into()),
        order(
            "hav35b-20260501-QQQ-sell-1",
            "QQQ",
            Side::Sell,
            4,
            OrderStatus::New,
        ),
    );
    let mut b = Stubborn(v);
    let out = run(&mut b, &settings(), &mut |_| {}).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.placed[0].order.qty, 6, "{out:?}");
    assert!(
        out.problems
            .iter()
            .any(|p| p.contains("too late to cancel"))
    );
    assert!(!out.flat(), "the stubborn order is still open and reported");
    assert_eq!(out.orders_left.len(), 1);
}

#[test]
fn an_unreachable_broker_stops_the_liquidation() {
    let mut v = Venue::new(&[("QQQ", 10, 400.0)]);
    v.down = true;
    assert!(matches!(
        run(&mut v, &settings(), &mut |_| {}),
        Err(BrokerError::Unavailable { .. })
    ));
}
