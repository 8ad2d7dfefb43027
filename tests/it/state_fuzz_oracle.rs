//! The fuzz's oracle, written from the invariants of #18 (not from the program's checker):
//! what a mutated state.json or simulated account must be judged as, and which fields a
//! refusal must name.

use serde_json::{Value, json};

use crate::state_guard::NOW;

pub const UNIVERSE: [&str; 5] = ["QQQ", "TLT", "TMF", "TMV", "TQQQ"];
pub const MAX_CENTS: i64 = 1_000_000_000_000_000;
pub const MAX_SHARES: i64 = 1_000_000_000_000;

/// What the oracle expects of a mutated file.
#[derive(Debug)]
pub enum Verdict {
    Valid,
    /// Not JSON at all: the refusal names the file (and line/column).
    NotJson,
    /// The JSON does not fit the schema at this path, or breaks invariants of these fields.
    Invalid(Vec<String>),
    /// Valid, but names symbols outside the universe (refused as another config's file).
    Universe(Vec<String>),
}

fn cents_ok(v: &Value) -> bool {
    v.as_i64().is_some_and(|c| (0..=MAX_CENTS).contains(&c))
}

fn shares_ok(v: &Value, min: i64) -> bool {
    v.as_i64().is_some_and(|q| (min..=MAX_SHARES).contains(&q))
}

/// The shape check: the path of the first type error, as the program must name it.
fn shape<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<Value, Verdict> {
    let v: Value = serde_json::from_slice(bytes).map_err(|_| Verdict::NotJson)?;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(_) => Ok(v),
        Err(e) => Err(Verdict::Invalid(vec![e.path().to_string()])),
    }
}

pub fn judge_state(bytes: &[u8]) -> Verdict {
    let v = match shape::<trader::state::State>(bytes) {
        Ok(v) => v,
        Err(verdict) => return verdict,
    };
    let now = chrono::DateTime::parse_from_rfc3339(NOW).expect("now");
    let mut bad = Vec::new();
    let mut outside = Vec::new();
    if v["schema_version"] != json!(1) {
        bad.push("schema_version".to_string());
    }
    for f in ["created_at", "updated_at"] {
        let t = chrono::DateTime::parse_from_rfc3339(v[f].as_str().unwrap_or("")).expect("time");
        if t > now + chrono::Duration::days(1) {
            bad.push(f.to_string());
        }
    }
    if let Some(a) = v.get("account").filter(|a| !a.is_null()) {
        for f in ["cash_cents", "equity_cents"] {
            if !cents_ok(&a[f]) {
                bad.push(format!("account.{f}"));
            }
        }
        for (s, q) in a["positions"].as_object().into_iter().flatten() {
            if !shares_ok(q, 0) {
                bad.push(format!("account.positions.{s}"));
            }
            if !UNIVERSE.contains(&s.as_str()) {
                outside.push(format!("account.positions.{s}"));
            }
        }
    }
    if let Some(w) = v["last_targets"]["weights"].as_object() {
        let mut sum = 0.0;
        for (s, x) in w {
            let x = x.as_f64().expect("number");
            sum += x;
            if !(0.0..=1.0 + 1e-9).contains(&x) {
                bad.push(format!("last_targets.weights.{s}"));
            }
            if !UNIVERSE.contains(&s.as_str()) {
                outside.push(format!("last_targets.weights.{s}"));
            }
        }
        if sum > 1.0 + 1e-9 {
            bad.push("last_targets.weights".to_string());
        }
    }
    for (i, o) in v["orders_in_flight"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if !shares_ok(&o["qty"], 1) {
            bad.push(format!("orders_in_flight[{i}].qty"));
        }
        if !UNIVERSE.contains(&o["symbol"].as_str().unwrap_or("")) {
            outside.push(format!("orders_in_flight[{i}].symbol"));
        }
    }
    let hist: Vec<&Value> = v["equity_history"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    for (i, p) in hist.iter().enumerate() {
        let e = p["equity"].as_f64().expect("number");
        if !(0.0..=1e13).contains(&e) {
            bad.push(format!("equity_history[{i}]"));
        }
        if i > 0 && hist[i - 1]["date"].as_str() >= p["date"].as_str() {
            bad.push(format!("equity_history[{i}].date"));
        }
    }
    match (bad.is_empty(), outside.is_empty()) {
        (false, _) => Verdict::Invalid(bad),
        (true, false) => Verdict::Universe(outside),
        (true, true) => Verdict::Valid,
    }
}

pub fn judge_sim(bytes: &[u8]) -> Verdict {
    let v = match shape::<trader::broker::sim::SimBook>(bytes) {
        Ok(v) => v,
        Err(verdict) => return verdict,
    };
    let mut bad = Vec::new();
    let mut outside = Vec::new();
    if !cents_ok(&v["cash_cents"]) {
        bad.push("cash_cents".to_string());
    }
    for (s, q) in v["positions"].as_object().into_iter().flatten() {
        if !shares_ok(q, 1) {
            bad.push(format!("positions.{s}"));
        }
        if !UNIVERSE.contains(&s.as_str()) {
            outside.push(format!("positions.{s}"));
        }
    }
    for (id, o) in v["orders"].as_object().into_iter().flatten() {
        let f = |k: &str| format!("orders.{id}.{k}");
        if o["client_order_id"].as_str() != Some(id) {
            bad.push(f("client_order_id"));
        }
        if o["status"] != json!("rejected") && !shares_ok(&o["qty"], 0) {
            bad.push(f("qty"));
        }
        let (q, filled) = (o["qty"].as_i64().unwrap_or(0), o["filled_qty"].as_i64());
        if !filled.is_some_and(|x| (0..=q.max(0)).contains(&x)) {
            bad.push(f("filled_qty"));
        }
        if !cents_ok(&o["commission_cents"]) {
            bad.push(f("commission_cents"));
        }
        if let Some(p) = o["avg_fill_price"].as_f64()
            && !(p > 0.0 && p <= 1e9)
        {
            bad.push(f("avg_fill_price"));
        }
    }
    match (bad.is_empty(), outside.is_empty()) {
        (false, _) => Verdict::Invalid(bad),
        (true, false) => Verdict::Universe(outside),
        (true, true) => Verdict::Valid,
    }
}
