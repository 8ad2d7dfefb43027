//! A small GET-JSON client shared by the market-data sources.
//!
//! It adds what the providers need on top of `reqwest`: per-request and connect timeouts,
//! retries with exponential backoff and full jitter on 429/5xx/timeouts/connection errors,
//! `Retry-After` (seconds) on 429/503, a minimum interval between requests shared by every task
//! (rate limit), and bounded concurrency. Errors name the provider, the URL *path* (never the query
//! or a header, so a key can never leak into a message) and the number of attempts.
//!
//! The module also holds what both sources share: [`FetchError`], [`FetchResult`], [`Secret`],
//! bar validation ([`check_series`]) and [`block_on`], which runs a fetch on a private
//! current-thread runtime so the synchronous caller never enters async code.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::time::Instant;

mod types;
mod validate;

pub use types::{FetchError, FetchResult, Progress, RetryHook, Secret};
pub use validate::{check_bar, check_series};

use types::is_retryable_status;

/// Transport settings of one data source (timeouts, retries, pacing, concurrency).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Whole-request timeout (connect + headers + body), milliseconds.
    pub timeout_ms: u64,
    /// TCP/TLS connect timeout, milliseconds.
    pub connect_timeout_ms: u64,
    /// Attempts per request including the first (>= 1).
    pub max_attempts: u32,
    /// First backoff ceiling; doubles per retry (full jitter picks uniformly below it).
    pub backoff_base_ms: u64,
    /// Upper bound of the backoff ceiling.
    pub backoff_max_ms: u64,
    /// Upper bound on a server's `Retry-After` wait.
    pub retry_after_max_ms: u64,
    /// Minimum spacing between request starts, shared by all concurrent tasks (0 = none).
    pub min_interval_ms: u64,
    /// Maximum requests in flight at once (>= 1).
    pub concurrency: usize,
    /// Told about every retry (reason and wait); set by the caller, not a config key.
    #[serde(skip)]
    pub on_retry: RetryHook,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            timeout_ms: 30_000,
            connect_timeout_ms: 10_000,
            max_attempts: 4,
            backoff_base_ms: 500,
            backoff_max_ms: 15_000,
            retry_after_max_ms: 60_000,
            min_interval_ms: 0,
            concurrency: 4,
            on_retry: RetryHook::default(),
        }
    }
}

/// Redirects followed within the request's own origin before giving up.
const MAX_REDIRECTS: usize = 5;

/// What one attempt produced when it did not succeed.
enum Failure {
    Retry {
        kind: RetryKind,
        retry_after: Option<u64>,
    },
    Fatal(FetchError),
}

enum RetryKind {
    Status(u16),
    Timeout,
    Transport(String),
}

impl RetryKind {
    fn describe(&self) -> String {
        match self {
            RetryKind::Status(s) => format!("HTTP {s}"),
            RetryKind::Timeout => "timed out".to_string(),
            RetryKind::Transport(d) => format!("connection failed: {d}"),
        }
    }
}

/// A rate-limited, retrying GET-JSON client for one provider.
pub struct HttpClient {
    provider: &'static str,
    client: reqwest::Client,
    cfg: HttpConfig,
    permits: Semaphore,
    next_slot: Mutex<Option<Instant>>,
    requests: AtomicUsize,
    retries: AtomicUsize,
    rng: AtomicU64,
}

impl HttpClient {
    /// Builds the client (installing the rustls `ring` provider if none is installed yet).
    pub fn new(provider: &'static str, cfg: &HttpConfig) -> Result<Self, FetchError> {
        let bad = |detail: &str| FetchError::Config {
            provider,
            detail: detail.to_string(),
        };
        if cfg.max_attempts == 0 {
            return Err(bad("http.max_attempts must be >= 1"));
        }
        if cfg.concurrency == 0 {
            return Err(bad("http.concurrency must be >= 1"));
        }
        if cfg.timeout_ms == 0 || cfg.connect_timeout_ms == 0 {
            return Err(bad(
                "http.timeout_ms and http.connect_timeout_ms must be > 0",
            ));
        }
        // Err means a provider is already installed, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(cfg.timeout_ms))
            .connect_timeout(Duration::from_millis(cfg.connect_timeout_ms))
            .user_agent(concat!("trader/", env!("CARGO_PKG_VERSION")))
            // Credentials go in headers of our own (`APCA-API-KEY-ID`), which reqwest does not
            // strip on a redirect: follow one only within the origin the request was made to,
            // and hand anything else back as a 3xx that `attempt` refuses.
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let same = attempt
                    .previous()
                    .first()
                    .is_some_and(|first| first.origin() == attempt.url().origin());
                if same && attempt.previous().len() <= MAX_REDIRECTS {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }))
            .build()
            .map_err(|e| bad(&format!("cannot build HTTP client: {}", e.without_url())))?;
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        Ok(HttpClient {
            provider,
            client,
            cfg: cfg.clone(),
            permits: Semaphore::new(cfg.concurrency),
            next_slot: Mutex::new(None),
            requests: AtomicUsize::new(0),
            retries: AtomicUsize::new(0),
            rng: AtomicU64::new(seed | 1),
        })
    }

    /// The provider name used in error messages.
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// Requests sent so far (every attempt counts).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// Retries so far.
    pub fn retries(&self) -> usize {
        self.retries.load(Ordering::Relaxed)
    }

    /// GETs `url` with `query` and `headers` (header values are marked sensitive) and decodes
    /// the JSON body into `T`, retrying transient failures as configured.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        url: &str,
        query: &[(&str, String)],
        headers: &[(&str, &Secret)],
    ) -> Result<T, FetchError> {
        let body = self.get_bytes(url, query, headers).await?;
        serde_json::from_slice(&body).map_err(|e| FetchError::Json {
            provider: self.provider,
            path: url_path(url),
            detail: e.to_string(),
        })
    }

    /// Like [`HttpClient::get_json`] but returns the raw body of the successful response.
    pub async fn get_bytes(
        &self,
        url: &str,
        query: &[(&str, String)],
        headers: &[(&str, &Secret)],
    ) -> Result<Vec<u8>, FetchError> {
        let path = url_path(url);
        let header_map = self.header_map(headers)?;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            self.pace().await;
            let permit = self
                .permits
                .acquire()
                .await
                .map_err(|e| FetchError::Internal {
                    provider: self.provider,
                    detail: e.to_string(),
                })?;
            self.requests.fetch_add(1, Ordering::Relaxed);
            let outcome = self.attempt(url, query, header_map.clone(), &path).await;
            drop(permit);
            let (kind, retry_after) = match outcome {
                Ok(body) => return Ok(body),
                Err(Failure::Fatal(mut err)) => {
                    if let FetchError::Status { attempts, .. } = &mut err {
                        *attempts = attempt;
                    }
                    return Err(err);
                }
                Err(Failure::Retry { kind, retry_after }) => (kind, retry_after),
            };
            if attempt >= self.cfg.max_attempts {
                let (provider, path, attempts) = (self.provider, path, attempt);
                return Err(match kind {
                    RetryKind::Status(status) => FetchError::Status {
                        provider,
                        path,
                        status,
                        attempts,
                        detail: String::new(),
                    },
                    RetryKind::Timeout => FetchError::Timeout {
                        provider,
                        path,
                        attempts,
                    },
                    RetryKind::Transport(detail) => FetchError::Transport {
                        provider,
                        path,
                        attempts,
                        detail,
                    },
                });
            }
            self.retries.fetch_add(1, Ordering::Relaxed);
            let wait = self.delay(attempt, retry_after);
            self.cfg.on_retry.call(&format!(
                "{}: GET {path}: {} (attempt {attempt} of {}); retrying in {} ms{}",
                self.provider,
                kind.describe(),
                self.cfg.max_attempts,
                wait.as_millis(),
                if retry_after.is_some() {
                    " (Retry-After)"
                } else {
                    ""
                }
            ));
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        url: &str,
        query: &[(&str, String)],
        headers: HeaderMap,
        path: &str,
    ) -> Result<Vec<u8>, Failure> {
        let sent = self
            .client
            .get(url)
            .query(query)
            .headers(headers)
            .send()
            .await;
        let resp = sent.map_err(|e| Failure::Retry {
            kind: classify(e),
            retry_after: None,
        })?;
        let status = resp.status().as_u16();
        let retry_after = if status == 429 || status == 503 {
            resp.headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        } else {
            None
        };
        if (300..400).contains(&status) {
            let to = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| resp.url().join(v).ok())
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_else(|| "an unnamed location".to_string());
            return Err(Failure::Fatal(FetchError::Redirect {
                provider: self.provider,
                path: path.to_string(),
                status,
                to,
            }));
        }
        let body = resp.bytes().await;
        if is_retryable_status(status) {
            return Err(Failure::Retry {
                kind: RetryKind::Status(status),
                retry_after,
            });
        }
        let body = body.map_err(|e| Failure::Retry {
            kind: classify(e),
            retry_after: None,
        })?;
        if (200..300).contains(&status) {
            return Ok(body.to_vec());
        }
        let detail = error_detail(&body)
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        Err(Failure::Fatal(FetchError::Status {
            provider: self.provider,
            path: path.to_string(),
            status,
            attempts: 1,
            detail,
        }))
    }

    fn header_map(&self, headers: &[(&str, &Secret)]) -> Result<HeaderMap, FetchError> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let bad = || FetchError::Config {
                provider: self.provider,
                detail: format!("invalid value for header {name}"),
            };
            let key = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
            let mut val = HeaderValue::from_str(value.expose()).map_err(|_| bad())?;
            val.set_sensitive(true);
            map.insert(key, val);
        }
        Ok(map)
    }

    /// Waits for this request's slot so request starts are at least `min_interval_ms` apart.
    async fn pace(&self) {
        if self.cfg.min_interval_ms == 0 {
            return;
        }
        let interval = Duration::from_millis(self.cfg.min_interval_ms);
        let slot = {
            let mut next = self.next_slot.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// Backoff before retry number `attempt`: the server's `Retry-After` (capped) when given,
    /// else full jitter: uniform in `[0, min(max, base * 2^(attempt-1))]`.
    fn delay(&self, attempt: u32, retry_after: Option<u64>) -> Duration {
        if let Some(secs) = retry_after {
            return Duration::from_millis(
                secs.saturating_mul(1000).min(self.cfg.retry_after_max_ms),
            );
        }
        let exp = attempt.saturating_sub(1).min(30);
        let ceiling = self
            .cfg
            .backoff_base_ms
            .saturating_mul(1u64 << exp)
            .min(self.cfg.backoff_max_ms);
        Duration::from_millis(self.random() % (ceiling + 1))
    }

    /// xorshift64*: good enough for jitter, no extra dependency.
    fn random(&self) -> u64 {
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.store(x, Ordering::Relaxed);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn classify(err: reqwest::Error) -> RetryKind {
    if err.is_timeout() {
        return RetryKind::Timeout;
    }
    // reqwest's own text is generic ("error sending request"); append the causes (no URL in them).
    let err = err.without_url();
    let mut detail = err.to_string();
    let mut cause = std::error::Error::source(&err);
    while let Some(c) = cause {
        detail.push_str(": ");
        detail.push_str(&c.to_string());
        cause = c.source();
    }
    RetryKind::Transport(detail)
}

/// The URL path only: no scheme, host, query or fragment (so nothing secret can leak).
pub fn url_path(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => u.path().to_string(),
        Err(_) => "<invalid url>".to_string(),
    }
}

/// A short human message from a provider's error body (`message`, or Yahoo's `chart.error`).
fn error_detail(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = if let Some(m) = value.get("message").and_then(|m| m.as_str()) {
        m.to_string()
    } else {
        let err = value
            .get("chart")
            .and_then(|c| c.get("error"))
            .or_else(|| value.get("error"))?;
        let code = err.get("code").and_then(|c| c.as_str()).unwrap_or("error");
        let desc = err
            .get("description")
            .and_then(|d| d.as_str())
            .unwrap_or("");
        format!("{code}: {desc}")
    };
    // Masked before it is cut: a server may echo the request's keys in its error body.
    let text = crate::redact::scrub(&text);
    let one_line: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    Some(one_line)
}

/// Runs `fut` to completion on a private current-thread runtime (for synchronous callers).
pub fn block_on<F: std::future::Future>(
    provider: &'static str,
    fut: F,
) -> Result<F::Output, FetchError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| FetchError::Internal {
            provider,
            detail: format!("cannot start runtime: {e}"),
        })?;
    Ok(rt.block_on(fut))
}
