//! One HTTP connection pool and one current-thread runtime for the whole session with the
//! venue: every call of the adapter is a blocking `send` of one request, no retries here.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

use super::config::AlpacaTradingConfig;
use crate::data::http::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
}

/// A reply of any status.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub retry_after_ms: Option<u64>,
}

/// No reply: a timeout, or the connection failed or was dropped.
pub enum NoReply {
    Timeout,
    Transport(String),
}

impl NoReply {
    pub fn describe(&self) -> String {
        match self {
            NoReply::Timeout => "timed out".to_string(),
            NoReply::Transport(d) => format!("connection failed: {d}"),
        }
    }
}

pub struct Transport {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    base: String,
    headers: HeaderMap,
}

impl Transport {
    pub fn new(
        cfg: &AlpacaTradingConfig,
        base: &str,
        key_id: &Secret,
        secret: &Secret,
    ) -> Result<Transport, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut headers = HeaderMap::new();
        for (name, value) in [("APCA-API-KEY-ID", key_id), ("APCA-API-SECRET-KEY", secret)] {
            let mut v = HeaderValue::from_str(value.expose())
                .map_err(|_| format!("the value for {name} is not a valid header value"))?;
            v.set_sensitive(true);
            headers.insert(name, v);
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(cfg.timeout_ms.max(1)))
            .connect_timeout(Duration::from_millis(cfg.connect_timeout_ms.max(1)))
            .user_agent(concat!("trader/", env!("CARGO_PKG_VERSION")))
            // The keys are our own headers, which a redirect would carry anywhere: none followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build HTTP client: {}", e.without_url()))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start runtime: {e}"))?;
        Ok(Transport {
            rt,
            client,
            base: base.trim_end_matches('/').to_string(),
            headers,
        })
    }

    /// Send one request; `path` starts with `/v2/`.
    pub fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, NoReply> {
        let url = format!("{}{path}", self.base);
        let mut rb = match method {
            Method::Get => self.client.get(url),
            Method::Post => self.client.post(url),
            Method::Delete => self.client.delete(url),
        };
        rb = rb.headers(self.headers.clone());
        if !query.is_empty() {
            rb = rb.query(query);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        self.rt.block_on(async move {
            let resp = rb.send().await.map_err(classify)?;
            let status = resp.status().as_u16();
            let retry_after_ms = resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| s.saturating_mul(1000));
            let body = resp.bytes().await.map_err(classify)?.to_vec();
            Ok(Reply {
                status,
                body,
                retry_after_ms,
            })
        })
    }
}

fn classify(e: reqwest::Error) -> NoReply {
    if e.is_timeout() {
        NoReply::Timeout
    } else {
        NoReply::Transport(e.without_url().to_string())
    }
}
