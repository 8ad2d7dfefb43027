//! The Alpaca Trading API v2 adapter (`account.broker: alpaca`) behind [`Broker`]: paper or
//! live venue, each with its own base URL and key variables, so a paper key never trades live.
//!
//! Retries keep orders single: a POST is never repeated after a 5xx, a timeout or a dropped
//! reply (that is [`BrokerError::OutcomeUnknown`]: look the client id up), only after a 429;
//! a 422 "client_order_id must be unique" adopts the order already there. GETs are retried.

mod config;
mod errors;
pub mod price;
mod transport;
mod wire;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::NaiveDate;
use serde::de::DeserializeOwned;

pub use config::AlpacaTradingConfig;
use transport::{Method, Reply, Transport};
use wire::FillSteps;

use super::{
    AccountInfo, AccountStanding, AssetStatus, Broker, BrokerError, BrokerOrder, ClientOrderId,
    MarketClock, OrderRequest, OrderType, TimeInForce, VenueSession,
};
use crate::data::http::Secret;
use crate::model::Side;

/// Which Alpaca endpoint (and which key variables) an adapter uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Venue {
    Paper,
    Live,
}

/// A session with one Alpaca account.
pub struct AlpacaBroker {
    name: String,
    keys: String,
    t: Transport,
    cfg: AlpacaTradingConfig,
    /// Fill levels seen per Alpaca order id (executions are synthesised from them).
    fills: HashMap<String, FillSteps>,
    quotes: BTreeMap<String, f64>,
    position_prices: BTreeMap<String, f64>,
    positions_seen: bool,
}

/// Config issues of `account.alpaca` as (key, value, what is allowed); its base URLs are
/// checked with every other base URL in `config::validate`.
pub fn config_issues(cfg: &AlpacaTradingConfig) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (key, v) in [
        ("account.alpaca.timeout_ms", cfg.timeout_ms),
        ("account.alpaca.connect_timeout_ms", cfg.connect_timeout_ms),
        ("account.alpaca.max_attempts", u64::from(cfg.max_attempts)),
    ] {
        if v == 0 {
            out.push((key.to_string(), "0".to_string(), "must be >= 1".to_string()));
        }
    }
    out
}

impl AlpacaBroker {
    /// Open a session with the paper or live account. The key variables of the venue must
    /// both be set (environment or env file); nothing is sent until the first call.
    pub fn connect(
        cfg: &AlpacaTradingConfig,
        venue: Venue,
        secrets: &crate::config::Secrets,
    ) -> Result<AlpacaBroker, BrokerError> {
        let (name, url, key_env, secret_env) = match venue {
            Venue::Paper => (
                "alpaca-paper",
                &cfg.paper_url,
                &cfg.paper_key_id_env,
                &cfg.paper_secret_env,
            ),
            Venue::Live => (
                "alpaca-live",
                &cfg.live_url,
                &cfg.live_key_id_env,
                &cfg.live_secret_env,
            ),
        };
        let other = |message: String| BrokerError::Other {
            broker: name.to_string(),
            message,
        };
        if let Some((key, value, allowed)) = config_issues(cfg).into_iter().next() {
            return Err(other(format!("{key} = {value:?}: {allowed}")));
        }
        let keys = format!("{key_env} and {secret_env}");
        let (Some(key_id), Some(secret)) = (secrets.get(key_env), secrets.get(secret_env)) else {
            return Err(BrokerError::Unauthorized {
                broker: name.to_string(),
                detail: format!(
                    "no keys for the {} account: set {keys} (environment or env file)",
                    match venue {
                        Venue::Paper => "paper",
                        Venue::Live => "live",
                    }
                ),
            });
        };
        let t = Transport::new(cfg, url, &Secret::new(key_id), &Secret::new(secret))
            .map_err(|e| other(format!("{e} (check {keys})")))?;
        Ok(AlpacaBroker {
            name: name.to_string(),
            keys,
            t,
            cfg: cfg.clone(),
            fills: HashMap::new(),
            quotes: BTreeMap::new(),
            position_prices: BTreeMap::new(),
            positions_seen: false,
        })
    }

    /// Prices `quote` answers first (the caller's decision prices).
    pub fn set_quotes(&mut self, quotes: BTreeMap<String, f64>) {
        self.quotes = quotes;
    }

    fn other(&self, message: String) -> BrokerError {
        BrokerError::Other {
            broker: self.name.clone(),
            message,
        }
    }

    fn backoff(&self, attempt: u32, retry_after: Option<u64>) -> Duration {
        let ms = match retry_after {
            Some(ms) => ms.min(self.cfg.retry_after_max_ms),
            None => self
                .cfg
                .backoff_base_ms
                .saturating_mul(1u64 << attempt.saturating_sub(1).min(20))
                .min(self.cfg.backoff_max_ms),
        };
        Duration::from_millis(ms)
    }

    /// Send with the retry rules; returns a 2xx reply, a 404 on a GET or DELETE, a 422 on a
    /// DELETE (the order is final) and a 422 duplicate on a POST, for the caller to read.
    fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
        symbol: &str,
    ) -> Result<Reply, BrokerError> {
        let post = method == Method::Post;
        let max = self.cfg.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= max;
            let (retry_after, why) = match self.t.send(method, path, query, body) {
                Ok(r) if (200..300).contains(&r.status) => return Ok(r),
                Ok(r) if r.status == 404 && !post => return Ok(r),
                Ok(r) if r.status == 422 && method == Method::Delete => return Ok(r),
                Ok(r) if r.status == 422 && post && errors::is_duplicate_client_id(&r.body) => {
                    return Ok(r);
                }
                Ok(r) if r.status == 429 => {
                    (r.retry_after_ms, format!("{path}: rate limited (HTTP 429)"))
                }
                Ok(r) if r.status >= 500 => {
                    let why = format!("{path}: {}", errors::describe(r.status, &r.body));
                    if post {
                        return Err(BrokerError::OutcomeUnknown {
                            broker: self.name.clone(),
                            detail: why,
                        });
                    }
                    (None, why)
                }
                Ok(r) => {
                    return Err(errors::classify(
                        &self.name, &self.keys, r.status, &r.body, symbol, post,
                    ));
                }
                Err(no) => {
                    let why = format!("{path}: {}", no.describe());
                    if post {
                        return Err(BrokerError::OutcomeUnknown {
                            broker: self.name.clone(),
                            detail: why,
                        });
                    }
                    (None, why)
                }
            };
            if last {
                let detail = format!("{why} after {attempt} attempts");
                return Err(if post {
                    BrokerError::Retryable {
                        broker: self.name.clone(),
                        detail,
                    }
                } else {
                    BrokerError::Unavailable {
                        broker: self.name.clone(),
                        detail,
                    }
                });
            }
            std::thread::sleep(self.backoff(attempt, retry_after));
        }
    }

    fn decode<T: DeserializeOwned>(&self, path: &str, r: &Reply) -> Result<T, BrokerError> {
        serde_json::from_slice(&r.body)
            .map_err(|e| self.other(format!("{path}: unexpected answer: {e}")))
    }

    fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Option<T>, BrokerError> {
        let r = self.request(Method::Get, path, query, None, "-")?;
        if r.status == 404 {
            return Ok(None);
        }
        self.decode(path, &r).map(Some)
    }

    fn must_get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, BrokerError> {
        self.get(path, query)?
            .ok_or_else(|| self.other(format!("{path}: not found (HTTP 404)")))
    }

    fn order(&mut self, w: &wire::WireOrder) -> Result<BrokerOrder, BrokerError> {
        let steps = self.fills.entry(w.id.clone()).or_default();
        wire::order(w, steps).map_err(|m| BrokerError::Other {
            broker: self.name.clone(),
            message: m,
        })
    }

    fn account_raw(&self) -> Result<wire::WireAccount, BrokerError> {
        self.must_get("/v2/account", &[])
    }
}

impl Broker for AlpacaBroker {
    fn name(&self) -> &str {
        &self.name
    }

    fn account(&mut self) -> Result<AccountInfo, BrokerError> {
        let a = self.account_raw()?;
        let cents = |field: &str, d: &wire::Dec| {
            price::parse_cents(&d.0).ok_or_else(|| {
                self.other(format!("/v2/account: {field} {:?} is not a decimal", d.0))
            })
        };
        Ok(AccountInfo {
            cash_cents: cents("cash", &a.cash)?,
            buying_power_cents: cents("buying_power", &a.buying_power)?,
            equity_cents: cents("equity", &a.equity)?,
        })
    }

    fn standing(&mut self) -> Result<AccountStanding, BrokerError> {
        let a = self.account_raw()?;
        Ok(AccountStanding {
            account_id: a.id,
            trading_blocked: a.trading_blocked,
            account_blocked: a.account_blocked,
            status: a.status,
        })
    }

    fn positions(&mut self) -> Result<BTreeMap<String, i64>, BrokerError> {
        let list: Vec<wire::WirePosition> = self.must_get("/v2/positions", &[])?;
        let mut out = BTreeMap::new();
        for p in list {
            let qty = price::parse_whole_shares(&p.qty.0).map_err(|v| {
                self.other(format!(
                    "position {}: qty {v} is not a whole number of shares (we trade whole shares; close the fraction at Alpaca)",
                    p.symbol
                ))
            })?;
            if let Some(px) = p
                .current_price
                .as_ref()
                .and_then(|d| price::parse_price(&d.0))
            {
                self.position_prices.insert(p.symbol.clone(), px);
            }
            if qty != 0 {
                out.insert(p.symbol, qty);
            }
        }
        self.positions_seen = true;
        Ok(out)
    }

    fn open_orders(&mut self) -> Result<Vec<BrokerOrder>, BrokerError> {
        const PAGE: usize = 500;
        let mut out: Vec<BrokerOrder> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut q = vec![
                ("status", "open".to_string()),
                ("limit", PAGE.to_string()),
                ("direction", "asc".to_string()),
            ];
            if let Some(a) = &after {
                q.push(("after", a.clone()));
            }
            let page: Vec<wire::WireOrder> = self.must_get("/v2/orders", &q)?;
            let n = page.len();
            let mut next = None;
            for w in &page {
                if let Some(at) = w.submitted_at {
                    next = Some(at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
                }
                if out.iter().any(|o| o.broker_order_id == w.id) {
                    continue;
                }
                let o = self.order(w)?;
                out.push(o);
            }
            match next {
                Some(n2) if n >= PAGE && after.as_ref() != Some(&n2) => after = Some(n2),
                _ => return Ok(out),
            }
        }
    }

    fn quote(&mut self, symbol: &str) -> Result<f64, BrokerError> {
        if let Some(p) = self.quotes.get(symbol) {
            return Ok(*p);
        }
        if !self.positions_seen {
            self.positions()?;
        }
        self.position_prices
            .get(symbol)
            .copied()
            .ok_or_else(|| BrokerError::NoQuote {
                broker: self.name.clone(),
                symbol: symbol.to_string(),
            })
    }

    fn submit(&mut self, order: &OrderRequest) -> Result<BrokerOrder, BrokerError> {
        let reject = |reason: String| BrokerError::Rejected {
            broker: self.name.clone(),
            symbol: order.symbol.clone(),
            reason,
        };
        if order.qty <= 0 {
            return Err(reject(format!("quantity {} is not positive", order.qty)));
        }
        let buy = order.side == Side::Buy;
        let mut body = serde_json::json!({
            "symbol": order.symbol,
            "qty": order.qty.to_string(),
            "side": order.side.as_str(),
            "type": match order.order_type { OrderType::Market => "market", OrderType::Limit => "limit" },
            "time_in_force": match order.time_in_force {
                TimeInForce::Day => "day",
                TimeInForce::Cls => "cls",
                TimeInForce::Opg => "opg",
                TimeInForce::Ioc => "ioc",
            },
            "client_order_id": order.client_order_id.0,
        });
        if order.order_type == OrderType::Limit {
            let limit = order
                .limit_price
                .and_then(|p| price::format_limit(p, buy))
                .ok_or_else(|| {
                    reject(format!(
                        "limit price {:?} cannot be sent",
                        order.limit_price
                    ))
                })?;
            body["limit_price"] = serde_json::Value::String(limit);
        }
        let r = self.request(Method::Post, "/v2/orders", &[], Some(&body), &order.symbol)?;
        if r.status == 422 {
            // Sent before (a lost reply, a rerun): the order at Alpaca is the one.
            return self
                .order_by_client_id(&order.client_order_id)?
                .ok_or_else(|| {
                    self.other(format!(
                        "client order id {} is taken but cannot be found",
                        order.client_order_id.0
                    ))
                });
        }
        let w: wire::WireOrder = self.decode("/v2/orders", &r)?;
        self.order(&w)
    }

    fn order_by_client_id(
        &mut self,
        id: &ClientOrderId,
    ) -> Result<Option<BrokerOrder>, BrokerError> {
        let w: Option<wire::WireOrder> = self.get(
            "/v2/orders:by_client_order_id",
            &[("client_order_id", id.0.clone())],
        )?;
        w.map(|w| self.order(&w)).transpose()
    }

    fn cancel(&mut self, id: &ClientOrderId) -> Result<(), BrokerError> {
        let Some(o) = self.order_by_client_id(id)? else {
            return Err(self.other(format!("cancel: no order with client id {}", id.0)));
        };
        if o.status.is_final() {
            return Ok(());
        }
        let path = format!("/v2/orders/{}", o.broker_order_id);
        self.request(Method::Delete, &path, &[], None, &o.symbol)?;
        Ok(())
    }

    fn cancel_all(&mut self) -> Result<Vec<ClientOrderId>, BrokerError> {
        let open = self.open_orders()?;
        let r = self.request(Method::Delete, "/v2/orders", &[], None, "-")?;
        let entries: Vec<wire::WireCancelled> = if r.body.iter().all(u8::is_ascii_whitespace) {
            Vec::new()
        } else {
            self.decode("/v2/orders", &r)?
        };
        let mut ids = Vec::with_capacity(entries.len());
        let mut failed = Vec::new();
        for e in entries {
            if !matches!(e.status, 200..=299 | 404 | 422) {
                let why = e.body.map(|b| b.to_string()).unwrap_or_default();
                failed.push(format!("{} HTTP {} {why}", e.id, e.status));
                continue;
            }
            let client = match open.iter().find(|o| o.broker_order_id == e.id) {
                Some(o) => o.client_order_id.clone(),
                None => {
                    let w: Option<wire::WireOrder> =
                        self.get(&format!("/v2/orders/{}", e.id), &[])?;
                    match w {
                        Some(w) => ClientOrderId(w.client_order_id),
                        None => continue,
                    }
                }
            };
            ids.push(client);
        }
        if !failed.is_empty() {
            return Err(BrokerError::Unavailable {
                broker: self.name.clone(),
                detail: format!("cancel-all left orders open: {}", failed.join("; ")),
            });
        }
        Ok(ids)
    }

    fn clock(&mut self) -> Result<Option<MarketClock>, BrokerError> {
        let c: wire::WireClock = self.must_get("/v2/clock", &[])?;
        Ok(Some(MarketClock {
            now: c.timestamp,
            is_open: c.is_open,
            next_open: c.next_open,
            next_close: c.next_close,
        }))
    }

    fn sessions(
        &mut self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Option<Vec<VenueSession>>, BrokerError> {
        let list: Vec<wire::WireSession> = self.must_get(
            "/v2/calendar",
            &[("start", from.to_string()), ("end", to.to_string())],
        )?;
        let mut out = Vec::with_capacity(list.len());
        for s in list {
            let (Some(open), Some(close)) = (wire::parse_hhmm(&s.open), wire::parse_hhmm(&s.close))
            else {
                return Err(self.other(format!(
                    "/v2/calendar: {} has open {:?} close {:?}, not HH:MM",
                    s.date, s.open, s.close
                )));
            };
            out.push(VenueSession {
                date: s.date,
                open,
                close,
            });
        }
        Ok(Some(out))
    }

    fn asset(&mut self, symbol: &str) -> Result<Option<AssetStatus>, BrokerError> {
        let a: Option<wire::WireAsset> = self.get(&format!("/v2/assets/{symbol}"), &[])?;
        Ok(Some(match a {
            Some(a) => AssetStatus {
                active: a.status == "active",
                symbol: a.symbol,
                tradable: a.tradable,
                halted: a.halted,
            },
            None => AssetStatus {
                symbol: symbol.to_string(),
                active: false,
                tradable: false,
                halted: false,
            },
        }))
    }
}
