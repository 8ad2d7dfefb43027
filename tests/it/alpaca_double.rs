//! A scripted Alpaca-compatible Trading API v2 server on 127.0.0.1 (std only), reusable by
//! command tests: an order book keyed by client_order_id, string decimals, 207 multi-status
//! on cancel-all, Go-escaped JSON errors, 422 on a duplicate client_order_id, clock,
//! calendar, assets and an account with an id. Faults are scripted per POST.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/alpaca/trading");

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("fixture")
}

/// What the next POST /v2/orders does.
#[derive(Debug, Clone)]
pub enum PostFault {
    /// 429 with `Retry-After: secs`, order not accepted.
    RateLimited(u64),
    /// The order is accepted, then the reply is a 500.
    AcceptThen500,
    /// The order is accepted, then the connection is closed without a reply.
    AcceptThenDrop,
    /// The order is accepted, the reply comes after `ms` (longer than the client timeout).
    AcceptThenSleep(u64),
    /// 403 insufficient buying power (Go-escaped message with figures), not accepted.
    Reject403,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub id: String,
    pub client_order_id: String,
    pub symbol: String,
    pub side: String,
    pub qty: i64,
    pub order_type: String,
    pub tif: String,
    pub limit_price: Option<String>,
    pub filled: i64,
    pub avg: String,
    pub status: String,
    pub polls: usize,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub key_id: Option<String>,
    pub secret: Option<String>,
    pub body: String,
}

#[derive(Debug, Default)]
pub struct Book {
    pub orders: Vec<Order>,
    pub post_faults: VecDeque<PostFault>,
    /// Polls (GETs of an order) before it fills; 0 fills on submission.
    pub fill_after: usize,
    /// Fill this many shares first (a partial fill), the rest on the next poll.
    pub partial: Option<i64>,
    /// Fill price as Alpaca sends it.
    pub fill_price: String,
    /// (symbol, qty string, current price string)
    pub positions: Vec<(String, String, String)>,
    /// Overrides of the account fixture's fields (cash, buying_power, equity).
    pub account: Vec<(String, String)>,
    /// 429s (Retry-After 1) before the next GET /v2/account is answered.
    pub account_429s: usize,
    /// 500s before the next GET /v2/account.
    pub account_500s: usize,
    pub seen: Vec<Seen>,
    /// Keep the books: fills move `positions` and the account's cash, buying power and
    /// equity (set `account` to the starting cash first). A limit order fills at its limit.
    pub ledger: bool,
    /// The calendar's session close for every date (default "16:00").
    pub calendar_close: Option<String>,
    /// Accepted key id / secret; anything else is a 401.
    pub key_id: String,
    pub secret: String,
}

impl Book {
    pub fn orders_for(&self, client_id: &str) -> usize {
        self.orders
            .iter()
            .filter(|o| o.client_order_id == client_id)
            .count()
    }
}

pub struct AlpacaDouble {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    pub book: Arc<Mutex<Book>>,
}

impl AlpacaDouble {
    /// A server accepting `key_id`/`secret`.
    pub fn start(key_id: &str, secret: &str) -> AlpacaDouble {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let book = Arc::new(Mutex::new(Book {
            fill_price: "100.00".into(),
            key_id: key_id.into(),
            secret: secret.into(),
            ..Book::default()
        }));
        let (stop2, book2) = (stop.clone(), book.clone());
        std::thread::spawn(move || {
            for s in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(s) = s else { continue };
                let b = book2.clone();
                std::thread::spawn(move || serve(s, &b));
            }
        });
        AlpacaDouble { addr, stop, book }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut Book) -> R) -> R {
        f(&mut self.book.lock().expect("book"))
    }
}

impl Drop for AlpacaDouble {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

enum Out {
    Reply(u16, Vec<(String, String)>, String),
    Drop,
    Sleep(u64, u16, String),
}

fn json_reply(status: u16, v: String) -> Out {
    Out::Reply(status, vec![], v)
}

fn error(status: u16, code: u64, message: &str) -> Out {
    // Go's encoder escapes & < > as \u0026 \u003c \u003e.
    let m = message
        .replace('&', "\\u0026")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e");
    json_reply(status, format!("{{\"code\":{code},\"message\":\"{m}\"}}"))
}

fn order_json(o: &Order) -> Value {
    json!({
        "id": o.id, "client_order_id": o.client_order_id,
        "created_at": "2026-03-09T14:31:00.123456Z", "updated_at": "2026-03-09T14:31:00.123456Z",
        "submitted_at": "2026-03-09T14:31:00.123456Z", "filled_at": null,
        "asset_class": "us_equity", "symbol": o.symbol, "qty": o.qty.to_string(),
        "filled_qty": o.filled.to_string(),
        "filled_avg_price": if o.filled > 0 { Value::String(o.avg.clone()) } else { Value::Null },
        "order_class": "simple", "order_type": o.order_type, "type": o.order_type, "side": o.side,
        "time_in_force": o.tif, "limit_price": o.limit_price, "status": o.status,
        "extended_hours": false,
    })
}

fn open(o: &Order) -> bool {
    matches!(
        o.status.as_str(),
        "new" | "accepted" | "partially_filled" | "pending_new"
    )
}

fn cents(s: &str) -> i64 {
    let (w, f) = s.split_once('.').unwrap_or((s, "0"));
    let f = format!("{f:0<2}");
    let sign = if w.starts_with('-') { -1 } else { 1 };
    w.parse::<i64>().expect("whole dollars") * 100 + sign * f[..2].parse::<i64>().expect("cents")
}

fn dollars(c: i64) -> String {
    format!(
        "{}{}.{:02}",
        if c < 0 { "-" } else { "" },
        c.abs() / 100,
        c.abs() % 100
    )
}

/// Book a fill of `qty` (negative for a sell) of `symbol` at `price` (a decimal string).
fn book_fill(b: &mut Book, symbol: &str, qty: i64, price: &str) {
    let field = |b: &Book, k: &str| {
        b.account
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| cents(v))
            .expect("ledger mode needs the account's cash set")
    };
    let cash = field(b, "cash") - qty * cents(price);
    match b.positions.iter_mut().find(|(s, _, _)| s == symbol) {
        Some(p) => {
            p.1 = (p.1.parse::<i64>().expect("qty") + qty).to_string();
            p.2 = price.to_string();
        }
        None => b
            .positions
            .push((symbol.into(), qty.to_string(), price.into())),
    }
    b.positions.retain(|(_, q, _)| q != "0");
    let held: i64 = b
        .positions
        .iter()
        .map(|(_, q, p)| q.parse::<i64>().expect("qty") * cents(p))
        .sum();
    b.account
        .retain(|(k, _)| !matches!(k.as_str(), "cash" | "buying_power" | "equity"));
    b.account.push(("cash".into(), dollars(cash)));
    b.account.push(("buying_power".into(), dollars(cash)));
    b.account.push(("equity".into(), dollars(cash + held)));
}

/// Advance an order one poll.
fn poll(b: &mut Book, i: usize) {
    let before = b.orders[i].filled;
    advance(b, i);
    let o = &b.orders[i];
    let step = o.filled - before;
    if b.ledger && step > 0 {
        let (sym, signed, price) = (
            o.symbol.clone(),
            if o.side == "sell" { -step } else { step },
            o.limit_price
                .clone()
                .unwrap_or_else(|| b.fill_price.clone()),
        );
        b.orders[i].avg = price.clone();
        book_fill(b, &sym, signed, &price);
    }
}

fn advance(b: &mut Book, i: usize) {
    let (fill_after, partial, price) = (b.fill_after, b.partial, b.fill_price.clone());
    let o = &mut b.orders[i];
    if !open(o) {
        return;
    }
    o.polls += 1;
    if o.polls > fill_after {
        let step = match partial {
            Some(p) if o.filled == 0 && p < o.qty => p,
            _ => o.qty - o.filled,
        };
        o.filled += step;
        o.avg = price;
        o.status = if o.filled == o.qty {
            "filled"
        } else {
            "partially_filled"
        }
        .into();
    }
}

fn handle(b: &mut Book, method: &str, target: &str, body: &str, auth_ok: bool) -> Out {
    if !auth_ok {
        return error(401, 40110000, "request is not authorized");
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let q = |k: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(a, _)| *a == k)
            .map(|(_, v)| v.replace("%3A", ":").replace("%2B", "+"))
    };
    match (method, path) {
        ("GET", "/v2/account") => {
            if b.account_429s > 0 {
                b.account_429s -= 1;
                return Out::Reply(
                    429,
                    vec![("Retry-After".into(), "1".into())],
                    "{\"code\":42910000,\"message\":\"rate limit exceeded\"}".into(),
                );
            }
            if b.account_500s > 0 {
                b.account_500s -= 1;
                return error(500, 50010000, "internal server error");
            }
            let mut v: Value =
                serde_json::from_str(&fixture("get_v2_account.docs2026.example.json"))
                    .expect("json");
            for (k, val) in &b.account {
                v[k] = Value::String(val.clone());
            }
            json_reply(200, v.to_string())
        }
        ("GET", "/v2/positions") => {
            let item: Value =
                serde_json::from_str(&fixture("get_v2_positions.docs2026.x-example-1_item.json"))
                    .expect("json");
            let list: Vec<Value> = b
                .positions
                .iter()
                .map(|(s, q, p)| {
                    let mut v = item.clone();
                    v["symbol"] = json!(s);
                    v["qty"] = json!(q);
                    v["qty_available"] = json!(q);
                    v["current_price"] = json!(p);
                    v
                })
                .collect();
            json_reply(200, Value::Array(list).to_string())
        }
        ("GET", "/v2/clock") => json_reply(200, fixture("get_v2_clock.docs2026.x-example-1.json")),
        ("GET", "/v2/calendar") => {
            let start = q("start").unwrap_or_default();
            json_reply(200, json!([{"date": start, "open": "09:30", "close": b.calendar_close.clone().unwrap_or_else(|| "16:00".into()), "session_open": "0400", "session_close": "2000"}]).to_string())
        }
        ("GET", p) if p.starts_with("/v2/assets/") => {
            let sym = &p["/v2/assets/".len()..];
            if sym == "NOPE" {
                return error(404, 40410000, "asset not found");
            }
            json_reply(200, json!({"id": "a1", "class": "us_equity", "exchange": "ARCA", "symbol": sym, "status": "active", "tradable": sym != "HALT", "marginable": true, "shortable": true, "easy_to_borrow": true, "fractionable": true}).to_string())
        }
        ("GET", "/v2/orders:by_client_order_id") => {
            let id = q("client_order_id").unwrap_or_default();
            match b.orders.iter().position(|o| o.client_order_id == id) {
                Some(i) => {
                    poll(b, i);
                    json_reply(200, order_json(&b.orders[i]).to_string())
                }
                None => error(404, 40410000, "order not found"),
            }
        }
        ("GET", "/v2/orders") => {
            let list: Vec<Value> = b
                .orders
                .iter()
                .filter(|o| open(o))
                .map(order_json)
                .collect();
            json_reply(200, Value::Array(list).to_string())
        }
        ("GET", p) if p.starts_with("/v2/orders/") => {
            let id = &p["/v2/orders/".len()..];
            match b.orders.iter().position(|o| o.id == id) {
                Some(i) => {
                    poll(b, i);
                    json_reply(200, order_json(&b.orders[i]).to_string())
                }
                None => error(404, 40410000, "order not found"),
            }
        }
        ("POST", "/v2/orders") => {
            let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            let fault = b.post_faults.pop_front();
            match fault {
                Some(PostFault::RateLimited(s)) => {
                    return Out::Reply(
                        429,
                        vec![("Retry-After".into(), s.to_string())],
                        "{\"code\":42910000,\"message\":\"rate limit exceeded\"}".into(),
                    );
                }
                Some(PostFault::Reject403) => {
                    return json_reply(403, "{\"buying_power\":\"12.50\",\"code\":40310000,\"cost_basis\":\"1000.00\",\"message\":\"insufficient buying power \\u0026 margin\"}".into());
                }
                _ => {}
            }
            let cid = v["client_order_id"].as_str().unwrap_or("").to_string();
            if b.orders_for(&cid) > 0 {
                return error(422, 40010001, "client_order_id must be unique");
            }
            let s = |k: &str| v[k].as_str().map(str::to_string);
            let Some(qty) = s("qty").and_then(|q| q.parse::<i64>().ok()) else {
                return error(422, 40010000, "qty must be a whole-number string here");
            };
            let n = b.orders.len() + 1;
            b.orders.push(Order {
                id: format!("a{n:04}-0000-4000-8000-000000000000"),
                client_order_id: cid,
                symbol: s("symbol").unwrap_or_default(),
                side: s("side").unwrap_or_default(),
                qty,
                order_type: s("type").unwrap_or_default(),
                tif: s("time_in_force").unwrap_or_default(),
                limit_price: s("limit_price"),
                filled: 0,
                avg: String::new(),
                status: "accepted".into(),
                polls: 0,
            });
            let i = b.orders.len() - 1;
            if b.fill_after == 0 {
                poll(b, i);
            }
            let reply = order_json(&b.orders[i]).to_string();
            match fault {
                Some(PostFault::AcceptThen500) => error(500, 50010000, "internal server error"),
                Some(PostFault::AcceptThenDrop) => Out::Drop,
                Some(PostFault::AcceptThenSleep(ms)) => Out::Sleep(ms, 200, reply),
                _ => json_reply(200, reply),
            }
        }
        ("DELETE", "/v2/orders") => {
            let mut out = Vec::new();
            for o in b.orders.iter_mut().filter(|o| open(o)) {
                o.status = "canceled".into();
                out.push(json!({"id": o.id, "status": 200}));
            }
            json_reply(207, Value::Array(out).to_string())
        }
        ("DELETE", p) if p.starts_with("/v2/orders/") => {
            let id = &p["/v2/orders/".len()..];
            match b.orders.iter_mut().find(|o| o.id == id) {
                Some(o) if open(o) => {
                    o.status = "canceled".into();
                    Out::Reply(204, vec![], String::new())
                }
                Some(_) => error(422, 42210000, "order is not cancelable"),
                None => error(404, 40410000, "order not found"),
            }
        }
        _ => error(404, 40400000, "endpoint not found"),
    }
}

fn serve(stream: TcpStream, book: &Mutex<Book>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_nodelay(true);
    let Ok(mut w) = stream.try_clone() else {
        return;
    };
    let mut r = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        let (mut len, mut key_id, mut secret) = (0usize, None, None);
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
                match k.as_str() {
                    "content-length" => len = v.parse().unwrap_or(0),
                    "apca-api-key-id" => key_id = Some(v),
                    "apca-api-secret-key" => secret = Some(v),
                    _ => {}
                }
            }
        }
        let mut body = vec![0u8; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        let out = {
            let mut b = book.lock().expect("book");
            b.seen.push(Seen {
                method: method.clone(),
                target: target.clone(),
                key_id: key_id.clone(),
                secret: secret.clone(),
                body: body.clone(),
            });
            let ok = key_id.as_deref() == Some(b.key_id.as_str())
                && secret.as_deref() == Some(b.secret.as_str());
            handle(&mut b, &method, &target, &body, ok)
        };
        let (status, headers, text) = match out {
            Out::Drop => return,
            Out::Sleep(ms, s, t) => {
                std::thread::sleep(Duration::from_millis(ms));
                (s, vec![], t)
            }
            Out::Reply(s, h, t) => (s, h, t),
        };
        let mut head = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            text.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        // One write: a reply split in two waits for the client's delayed ACK (~40 ms).
        head.push_str(&text);
        if w.write_all(head.as_bytes()).is_err() {
            return;
        }
    }
}
