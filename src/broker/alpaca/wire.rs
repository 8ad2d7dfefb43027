//! The JSON bodies of the Alpaca Trading API v2 and their translation to the broker types.
//! Decimals arrive as strings (sometimes as bare numbers in older bodies); both are kept as
//! text and parsed exactly by [`super::price`].

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Deserializer};

use super::price::{parse_price, parse_whole_shares};
use crate::broker::{BrokerOrder, ClientOrderId, Execution, OrderStatus, OrderType, TimeInForce};
use crate::model::Side;

/// A decimal as its text, whether the JSON had `"12.5"` or `12.5`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dec(pub String);

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dec, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Ok(Dec(s)),
            serde_json::Value::Number(n) => Ok(Dec(n.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "expected a decimal string, got {other}"
            ))),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct WireAccount {
    pub id: String,
    #[serde(default)]
    pub status: String,
    pub cash: Dec,
    pub buying_power: Dec,
    pub equity: Dec,
    #[serde(default)]
    pub trading_blocked: bool,
    #[serde(default)]
    pub account_blocked: bool,
}

#[derive(Debug, Deserialize)]
pub struct WirePosition {
    pub symbol: String,
    pub qty: Dec,
    #[serde(default)]
    pub current_price: Option<Dec>,
}

#[derive(Debug, Deserialize)]
pub struct WireOrder {
    pub id: String,
    pub client_order_id: String,
    pub symbol: String,
    pub side: String,
    #[serde(rename = "type", default)]
    pub order_type: Option<String>,
    #[serde(default)]
    pub time_in_force: Option<String>,
    #[serde(default)]
    pub qty: Option<Dec>,
    #[serde(default)]
    pub filled_qty: Option<Dec>,
    #[serde(default)]
    pub filled_avg_price: Option<Dec>,
    #[serde(default)]
    pub limit_price: Option<Dec>,
    pub status: String,
    #[serde(default)]
    pub submitted_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub filled_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
pub struct WireClock {
    pub timestamp: DateTime<Utc>,
    pub is_open: bool,
    pub next_open: DateTime<Utc>,
    pub next_close: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
pub struct WireSession {
    pub date: NaiveDate,
    pub open: String,
    pub close: String,
}

#[derive(Debug, Deserialize)]
pub struct WireAsset {
    pub symbol: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub tradable: bool,
    /// Not in every body; a halted asset shows as `status: inactive` or `tradable: false` too.
    #[serde(default)]
    pub halted: bool,
}

/// One entry of the 207 multi-status body of `DELETE /v2/orders`.
#[derive(Debug, Deserialize)]
pub struct WireCancelled {
    pub id: String,
    pub status: u16,
    #[serde(default)]
    pub body: Option<serde_json::Value>,
}

/// `"09:30"` (or `"0930"`) as a time.
pub fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H%M"))
        .ok()
}

/// Alpaca's order statuses in ours. `replaced` is final for the old order (its
/// replacement carries on under a new id); `done_for_day` and the pending states are open.
pub fn status(s: &str) -> Option<OrderStatus> {
    Some(match s {
        "new"
        | "accepted"
        | "pending_new"
        | "accepted_for_bidding"
        | "calculated"
        | "done_for_day"
        | "held"
        | "suspended"
        | "stopped"
        | "pending_replace" => OrderStatus::New,
        "partially_filled" => OrderStatus::PartiallyFilled,
        "filled" => OrderStatus::Filled,
        "canceled" | "replaced" => OrderStatus::Canceled,
        "expired" => OrderStatus::Expired,
        "rejected" => OrderStatus::Rejected,
        "pending_cancel" => OrderStatus::PendingCancel,
        _ => return None,
    })
}

fn tif(s: Option<&str>) -> TimeInForce {
    match s {
        Some("cls") => TimeInForce::Cls,
        Some("opg") => TimeInForce::Opg,
        Some("ioc") => TimeInForce::Ioc,
        _ => TimeInForce::Day,
    }
}

/// The fills seen so far of one order: (cumulative shares, cumulative notional in
/// ten-thousandths of a dollar) per step.
pub type FillSteps = Vec<(i64, i128)>;

/// Translate an order. `steps` are the fill levels this process saw before; a new
/// `filled_qty` adds one execution `<order id>-<cumulative qty>` for the increment, priced so
/// the executions average to `filled_avg_price`.
pub fn order(w: &WireOrder, steps: &mut FillSteps) -> Result<BrokerOrder, String> {
    let side = match w.side.as_str() {
        "buy" => Side::Buy,
        "sell" => Side::Sell,
        other => return Err(format!("order {} has side {other:?}", w.id)),
    };
    let shares = |d: &Option<Dec>, field: &str| -> Result<i64, String> {
        match d {
            None => Ok(0),
            Some(Dec(s)) => parse_whole_shares(s).map_err(|v| {
                format!(
                    "{} order {}: {field} {v} is not a whole number of shares (we trade whole shares)",
                    w.symbol, w.id
                )
            }),
        }
    };
    let qty = shares(&w.qty, "qty")?;
    let filled = shares(&w.filled_qty, "filled_qty")?;
    let price = |d: &Option<Dec>, field: &str| -> Result<Option<f64>, String> {
        match d {
            None => Ok(None),
            Some(Dec(s)) => parse_price(s).map(Some).ok_or_else(|| {
                format!("{} order {}: {field} {s:?} is not a price", w.symbol, w.id)
            }),
        }
    };
    let avg = price(&w.filled_avg_price, "filled_avg_price")?;
    let limit = price(&w.limit_price, "limit_price")?;
    let status = status(&w.status)
        .ok_or_else(|| format!("{} order {}: unknown status {:?}", w.symbol, w.id, w.status))?;
    let at = w
        .filled_at
        .or(w.updated_at)
        .or(w.submitted_at)
        .unwrap_or_default();
    if filled > 0 {
        let last = steps.last().copied().unwrap_or((0, 0));
        if filled > last.0 {
            // Notional from the average in ten-thousandths, rounded once per level.
            let avg4 = (avg.unwrap_or(0.0) * 10_000.0).round() as i128;
            steps.push((filled, avg4 * i128::from(filled)));
        }
    }
    let mut executions = Vec::with_capacity(steps.len());
    let mut prev = (0i64, 0i128);
    for &(cum, notional) in steps.iter() {
        let q = cum - prev.0;
        if q > 0 {
            let px = (notional - prev.1) as f64 / 10_000.0 / q as f64;
            executions.push(Execution {
                id: format!("{}-{cum}", w.id),
                qty: q,
                price: (px * 10_000.0).round() / 10_000.0,
                commission_cents: 0,
                at,
            });
        }
        prev = (cum, notional);
    }
    Ok(BrokerOrder {
        client_order_id: ClientOrderId(w.client_order_id.clone()),
        broker_order_id: w.id.clone(),
        symbol: w.symbol.clone(),
        side,
        qty,
        order_type: if w.order_type.as_deref() == Some("market") {
            OrderType::Market
        } else {
            OrderType::Limit
        },
        time_in_force: tif(w.time_in_force.as_deref()),
        limit_price: limit,
        filled_qty: filled,
        avg_fill_price: avg,
        commission_cents: 0,
        status,
        reason: None,
        executions,
        submitted_at: w.submitted_at,
        updated_at: w.updated_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(filled: &str, avg: Option<&str>, status: &str) -> WireOrder {
        WireOrder {
            id: "o1".into(),
            client_order_id: "c1".into(),
            symbol: "SPY".into(),
            side: "buy".into(),
            order_type: Some("limit".into()),
            time_in_force: Some("day".into()),
            qty: Some(Dec("10".into())),
            filled_qty: Some(Dec(filled.into())),
            filled_avg_price: avg.map(|a| Dec(a.into())),
            limit_price: Some(Dec("100.5".into())),
            status: status.into(),
            submitted_at: None,
            updated_at: None,
            filled_at: None,
        }
    }

    /// Each new level of filled_qty adds one execution; seeing the same level again adds none.
    #[test]
    fn executions_follow_the_filled_quantity() {
        let mut steps = FillSteps::new();
        let a = order(&wire("4", Some("100"), "partially_filled"), &mut steps).unwrap();
        assert_eq!(a.executions.len(), 1);
        assert_eq!(
            (a.executions[0].id.as_str(), a.executions[0].qty),
            ("o1-4", 4)
        );
        let b = order(&wire("4", Some("100"), "partially_filled"), &mut steps).unwrap();
        assert_eq!(b.executions, a.executions);
        let c = order(&wire("10", Some("100.3"), "filled"), &mut steps).unwrap();
        assert_eq!(c.executions.len(), 2);
        assert_eq!(c.executions[1].id, "o1-10");
        assert_eq!(c.executions[1].qty, 6);
        assert_eq!(c.executions[1].price, 100.5);
        assert_eq!(c.status, OrderStatus::Filled);
    }

    #[test]
    fn fractional_order_quantity_is_refused_naming_the_symbol() {
        let mut w = wire("0", None, "new");
        w.qty = Some(Dec("1.5".into()));
        let e = order(&w, &mut FillSteps::new()).unwrap_err();
        assert!(e.contains("SPY") && e.contains("1.5"), "{e}");
    }

    #[test]
    fn statuses_map() {
        assert_eq!(status("pending_new"), Some(OrderStatus::New));
        assert_eq!(status("done_for_day"), Some(OrderStatus::New));
        assert_eq!(status("replaced"), Some(OrderStatus::Canceled));
        assert_eq!(status("pending_cancel"), Some(OrderStatus::PendingCancel));
        assert_eq!(status("bogus"), None);
    }
}
