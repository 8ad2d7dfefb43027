//! A tiny scripted HTTP/1.1 server on 127.0.0.1 for tests (std only, no extra crates).
//!
//! Each request gets a [`Reply`] (status, headers, body, optional delay), either from a fixed
//! script (n-th request → n-th reply) or from a handler closure. Request lines and headers are
//! recorded. Connections are keep-alive, one thread each, with a read timeout; dropping the
//! double stops the accept loop, so nothing outlives the test for long.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One scripted response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Arc<Vec<u8>>,
    pub delay: Duration,
}

impl Reply {
    /// A JSON response with `status` and `body`.
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: Arc::new(body.into()),
            delay: Duration::ZERO,
        }
    }

    /// A JSON response sharing an already built body (no copy).
    pub fn shared(status: u16, body: Arc<Vec<u8>>) -> Reply {
        Reply {
            body,
            ..Reply::json(status, Vec::new())
        }
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Waits `delay` before answering.
    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// What the double received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// e.g. `GET /v2/stocks/bars?symbols=AAPL%2CTSLA HTTP/1.1`
    pub request_line: String,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    /// The path without the query.
    pub fn path(&self) -> &str {
        let target = self.request_line.split(' ').nth(1).unwrap_or("");
        target.split('?').next().unwrap_or("")
    }

    /// A decoded query parameter.
    pub fn query(&self, key: &str) -> Option<String> {
        let target = self.request_line.split(' ').nth(1)?;
        let (_, q) = target.split_once('?')?;
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| decode(v))
    }

    /// A header value by (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

type Handler = dyn Fn(usize, &Recorded) -> Reply + Send + Sync;

/// The running server; stops when dropped.
pub struct HttpDouble {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Recorded>>>,
    accept: Option<JoinHandle<()>>,
}

impl HttpDouble {
    /// Answers the n-th request with `replies[n]`; past the end, HTTP 599 "script exhausted".
    pub fn scripted(replies: Vec<Reply>) -> HttpDouble {
        HttpDouble::with_handler(move |n, _| {
            replies
                .get(n)
                .cloned()
                .unwrap_or_else(|| Reply::json(599, "script exhausted"))
        })
    }

    /// Answers with `handler(request index, request)`.
    pub fn with_handler(
        handler: impl Fn(usize, &Recorded) -> Reply + Send + Sync + 'static,
    ) -> HttpDouble {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let counter = Arc::new(AtomicUsize::new(0));
        let (stop2, log2) = (stop.clone(), log.clone());
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (handler, counter, log, stop) = (
                    handler.clone(),
                    counter.clone(),
                    log2.clone(),
                    stop2.clone(),
                );
                std::thread::spawn(move || serve(stream, &*handler, &counter, &log, &stop));
            }
        });
        HttpDouble {
            addr,
            stop,
            log,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for HttpDouble {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn serve(
    stream: TcpStream,
    handler: &Handler,
    counter: &AtomicUsize,
    log: &Mutex<Vec<Recorded>>,
    stop: &AtomicBool,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while !stop.load(Ordering::SeqCst) {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut headers = Vec::new();
        let mut content_length = 0usize;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
                if k == "content-length" {
                    content_length = v.parse().unwrap_or(0);
                }
                headers.push((k, v));
            }
        }
        let mut sink = vec![0u8; content_length];
        if reader.read_exact(&mut sink).is_err() {
            return;
        }
        let rec = Recorded {
            request_line: request_line.trim_end().to_string(),
            headers,
        };
        let n = counter.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut l) = log.lock() {
            l.push(rec.clone());
        }
        let reply = handler(n, &rec);
        if !reply.delay.is_zero() {
            std::thread::sleep(reply.delay);
        }
        let mut head = format!(
            "HTTP/1.1 {} X\r\nContent-Length: {}\r\n",
            reply.status,
            reply.body.len()
        );
        for (k, v) in &reply.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if writer
            .write_all(head.as_bytes())
            .and_then(|_| writer.write_all(&reply.body))
            .is_err()
        {
            return;
        }
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => out.push(b),
                    Err(_) => out.extend_from_slice(&bytes[i..i + 3]),
                }
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
