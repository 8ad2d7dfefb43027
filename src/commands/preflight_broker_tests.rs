//! The broker gates against a scripted venue: refused keys, a blocked or different account,
//! a calendar that disagrees, a halted symbol, too little buying power.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveTime};

use super::*;
use crate::broker::{
    AccountInfo, AccountStanding, AssetStatus, BrokerOrder, ClientOrderId, OrderRequest,
    VenueSession,
};

#[derive(Default)]
struct Venue {
    unauthorized: bool,
    blocked: bool,
    account_id: String,
    sessions: Option<Vec<VenueSession>>,
    halted: Vec<String>,
    buying_power: i64,
    equity: i64,
    positions: BTreeMap<String, i64>,
}

fn err(what: &str) -> BrokerError {
    BrokerError::Other {
        broker: "venue".into(),
        message: what.into(),
    }
}

impl Broker for Venue {
    fn name(&self) -> &str {
        "venue"
    }
    fn account(&mut self) -> Result<AccountInfo, BrokerError> {
        if self.unauthorized {
            return Err(BrokerError::Unauthorized {
                broker: "venue".into(),
                detail: "401 from GET /v2/account".into(),
            });
        }
        Ok(AccountInfo {
            cash_cents: self.buying_power,
            buying_power_cents: self.buying_power,
            equity_cents: self.equity,
        })
    }
    fn positions(&mut self) -> Result<BTreeMap<String, i64>, BrokerError> {
        Ok(self.positions.clone())
    }
    fn open_orders(&mut self) -> Result<Vec<BrokerOrder>, BrokerError> {
        Ok(Vec::new())
    }
    fn quote(&mut self, _: &str) -> Result<f64, BrokerError> {
        Err(err("no quotes"))
    }
    fn submit(&mut self, _: &OrderRequest) -> Result<BrokerOrder, BrokerError> {
        Err(err("preflight never submits"))
    }
    fn order_by_client_id(
        &mut self,
        _: &ClientOrderId,
    ) -> Result<Option<BrokerOrder>, BrokerError> {
        Ok(None)
    }
    fn cancel(&mut self, _: &ClientOrderId) -> Result<(), BrokerError> {
        Err(err("preflight never cancels"))
    }
    fn standing(&mut self) -> Result<AccountStanding, BrokerError> {
        Ok(AccountStanding {
            account_id: self.account_id.clone(),
            trading_blocked: self.blocked,
            account_blocked: false,
            status: "ACTIVE".into(),
        })
    }
    fn sessions(
        &mut self,
        _: NaiveDate,
        _: NaiveDate,
    ) -> Result<Option<Vec<VenueSession>>, BrokerError> {
        Ok(self.sessions.clone())
    }
    fn asset(&mut self, symbol: &str) -> Result<Option<AssetStatus>, BrokerError> {
        Ok(Some(AssetStatus {
            symbol: symbol.into(),
            active: true,
            tradable: true,
            halted: self.halted.iter().any(|h| h == symbol),
        }))
    }
}

fn t(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default()
}

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 27).unwrap_or_default()
}

fn venue() -> Venue {
    Venue {
        account_id: "PA-1".into(),
        sessions: Some(vec![VenueSession {
            date: date(),
            open: t(9, 30),
            close: t(13, 0),
        }]),
        buying_power: 500_000,
        equity: 1_000_000,
        positions: BTreeMap::from([("QQQ".to_string(), 10)]),
        ..Venue::default()
    }
}

fn check(v: &mut Venue, ours: OurSession, recorded: Option<&str>, qqq_weight: f64) -> Vec<Gate> {
    let symbols = vec!["QQQ".to_string(), "TQQQ".to_string()];
    let targets = BTreeMap::from([("QQQ".to_string(), qqq_weight)]);
    let prices = BTreeMap::from([("QQQ".to_string(), 500.0), ("TQQQ".to_string(), 80.0)]);
    venue_gates(
        v,
        &VenueExpectations {
            date: date(),
            ours,
            recorded_account: recorded,
            symbols: &symbols,
            targets: &targets,
            prices: &prices,
        },
    )
}

fn failed(gates: &[Gate]) -> Vec<&'static str> {
    gates.iter().filter(|g| !g.pass).map(|g| g.name).collect()
}

#[test]
fn an_agreeing_venue_passes_every_gate() {
    let g = check(&mut venue(), Some((t(9, 30), t(13, 0))), Some("PA-1"), 0.9);
    assert!(failed(&g).is_empty(), "{g:?}");
    assert_eq!(g.len(), 4);
}

#[test]
fn refused_keys_stop_at_the_first_gate() {
    let mut v = venue();
    v.unauthorized = true;
    let g = check(&mut v, Some((t(9, 30), t(13, 0))), None, 0.9);
    assert_eq!(failed(&g), vec!["broker_account"]);
    assert!(
        g[0].detail.contains("check the key variables"),
        "{}",
        g[0].detail
    );
}

#[test]
fn a_blocked_or_different_account_fails_naming_it() {
    let mut v = venue();
    v.blocked = true;
    let g = check(&mut v, Some((t(9, 30), t(13, 0))), Some("PA-0"), 0.9);
    assert_eq!(failed(&g), vec!["broker_account"]);
    assert!(g[0].detail.contains("trading_blocked"), "{}", g[0].detail);
    assert!(g[0].detail.contains("recorded PA-0"), "{}", g[0].detail);
}

#[test]
fn a_calendar_disagreement_names_both_sides() {
    // Our calendar says a full day; the venue says an early close.
    let g = check(&mut venue(), Some((t(9, 30), t(16, 0))), None, 0.9);
    assert_eq!(failed(&g), vec!["broker_calendar"]);
    let d = &g[1].detail;
    assert!(
        d.contains("09:30-13:00") && d.contains("09:30-16:00"),
        "{d}"
    );
    // The venue open on a day we call closed.
    let g = check(&mut venue(), None, None, 0.9);
    assert!(g[1].detail.contains("closed"), "{}", g[1].detail);
}

#[test]
fn a_halted_symbol_fails_the_assets_gate() {
    let mut v = venue();
    v.halted = vec!["TQQQ".into()];
    let g = check(&mut v, Some((t(9, 30), t(13, 0))), None, 0.9);
    assert_eq!(failed(&g), vec!["broker_assets"]);
    assert!(g[2].detail.contains("TQQQ halted"), "{}", g[2].detail);
}

#[test]
fn buying_power_covers_only_the_net_purchase() {
    // Equity 10,000, 10 QQQ held (5,000): 90 % QQQ buys 4,000 net, within 5,000.
    assert_eq!(
        net_purchase_cents(
            1_000_000,
            &BTreeMap::from([("QQQ".to_string(), 10)]),
            &BTreeMap::from([("QQQ".to_string(), 0.9)]),
            &BTreeMap::from([("QQQ".to_string(), 500.0)]),
        ),
        Ok(400_000)
    );
    let mut v = venue();
    v.buying_power = 399_999;
    let g = check(&mut v, Some((t(9, 30), t(13, 0))), None, 0.9);
    assert_eq!(failed(&g), vec!["buying_power"]);
    assert!(
        g[3].detail.contains("4000.00") && g[3].detail.contains("3999.99"),
        "{}",
        g[3].detail
    );
}
