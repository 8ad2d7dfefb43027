//! Shared value types of the download layer: errors, results, secrets.

use std::collections::BTreeMap;

use crate::model::Bar;

/// A credential that never shows up in `Debug` output, logs or error messages.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential (typically read from the environment by the caller).
    /// The value is registered with [`crate::redact`], so it is masked in every message.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        crate::redact::register(&value);
        Secret(value)
    }

    /// The raw value, for building a request header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Daily bars of one download, keyed by symbol, with request statistics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FetchResult {
    /// Every requested symbol; bars ascending by date, possibly empty.
    pub bars: BTreeMap<String, Vec<Bar>>,
    /// HTTP requests sent (attempts, including retries).
    pub requests: usize,
    /// Retries among those requests.
    pub retries: usize,
    /// Symbols the source does not know (Yahoo answers 404); none of them is in `bars`.
    pub unknown: Vec<String>,
}

/// Why a download failed. `provider` is the source name (`alpaca`, `yahoo`), `path` the URL path.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Non-success HTTP status (retryable ones only after the attempts ran out).
    #[error("{provider}: GET {path}: HTTP {status} after {}{detail}", attempts_text(*attempts))]
    Status {
        provider: &'static str,
        path: String,
        status: u16,
        attempts: u32,
        detail: String,
    },
    /// Every attempt timed out.
    #[error("{provider}: GET {path}: timed out after {}", attempts_text(*attempts))]
    Timeout {
        provider: &'static str,
        path: String,
        attempts: u32,
    },
    /// Connection refused/reset or a broken body, on every attempt.
    #[error("{provider}: GET {path}: connection failed after {}: {detail}", attempts_text(*attempts))]
    Transport {
        provider: &'static str,
        path: String,
        attempts: u32,
        detail: String,
    },
    /// A redirect to another origin (scheme, host or port), or too many within one: refused,
    /// because the request's credentials would go with it.
    #[error(
        "{provider}: GET {path}: HTTP {status} redirect to {to} refused: credentials are never sent to another origin (scheme, host or port); set base_url to the address that answers"
    )]
    Redirect {
        provider: &'static str,
        path: String,
        status: u16,
        to: String,
    },
    /// The body is not the JSON document the provider documents (malformed, truncated, wrong shape).
    #[error("{provider}: GET {path}: invalid JSON: {detail}")]
    Json {
        provider: &'static str,
        path: String,
        detail: String,
    },
    /// The provider answered with an error document (e.g. Yahoo `chart.error`).
    #[error("{provider}: GET {path}: {detail}")]
    Api {
        provider: &'static str,
        path: String,
        detail: String,
    },
    /// A value failed validation, e.g. `alpaca: QQQ bar 2024-03-05: close = -1: must be > 0`.
    #[error("{provider}: {symbol} {item}: {detail}")]
    Data {
        provider: &'static str,
        symbol: String,
        item: String,
        detail: String,
    },
    /// Bad configuration or missing credentials.
    #[error("{provider}: configuration: {detail}")]
    Config {
        provider: &'static str,
        detail: String,
    },
    /// Runtime trouble (a task panicked or the runtime could not start).
    #[error("{provider}: internal: {detail}")]
    Internal {
        provider: &'static str,
        detail: String,
    },
}

impl FetchError {
    /// True when the source was unreachable or overloaded (timeouts, connection errors, 429, 5xx):
    /// the CLI maps this to "data source unavailable after retries".
    pub fn is_unavailable(&self) -> bool {
        match self {
            FetchError::Status { status, .. } => is_retryable_status(*status),
            FetchError::Timeout { .. } | FetchError::Transport { .. } => true,
            _ => false,
        }
    }

    /// A validation error for `symbol`, `item` (e.g. `bar 2024-03-05`).
    pub fn data(
        provider: &'static str,
        symbol: &str,
        item: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        FetchError::Data {
            provider,
            symbol: symbol.to_string(),
            item: item.into(),
            detail: detail.into(),
        }
    }
}

fn attempts_text(n: u32) -> String {
    if n == 1 {
        "1 attempt".to_string()
    } else {
        format!("{n} attempts")
    }
}

pub(crate) fn is_retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..=599).contains(&status)
}

/// Where a download stands, for progress lines: symbols done of total, bars received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    pub rows: usize,
}

/// A callback told about every retry (a one-line reason and the wait), so the command layer
/// can log it at `-v`. Not a config field; equal to every other hook so configs compare by value.
#[derive(Clone, Default)]
pub struct RetryHook(Option<RetryFn>);

/// The callback of a [`RetryHook`].
type RetryFn = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

impl RetryHook {
    /// A hook calling `f` with each retry's message.
    pub fn new(f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        RetryHook(Some(std::sync::Arc::new(f)))
    }

    pub(crate) fn call(&self, msg: &str) {
        if let Some(f) = &self.0 {
            f(msg);
        }
    }
}

impl std::fmt::Debug for RetryHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "RetryHook(set)"
        } else {
            "RetryHook(none)"
        })
    }
}

impl PartialEq for RetryHook {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
