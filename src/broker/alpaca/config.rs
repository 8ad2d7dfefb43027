//! The `account.alpaca` config section: base URLs and key variables per venue, timeouts and
//! the retry budget of the trading API client.

use serde::{Deserialize, Serialize};

/// Alpaca Trading API v2 settings (`account.alpaca`); the keys come from the environment.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlpacaTradingConfig {
    /// Paper trading base URL.
    pub paper_url: String,
    /// Live trading base URL.
    pub live_url: String,
    /// Variable holding the paper key id (`APCA-API-KEY-ID`).
    pub paper_key_id_env: String,
    /// Variable holding the paper secret key.
    pub paper_secret_env: String,
    /// Variable holding the live key id.
    pub live_key_id_env: String,
    /// Variable holding the live secret key.
    pub live_secret_env: String,
    /// Whole-request timeout, milliseconds.
    pub timeout_ms: u64,
    /// TCP/TLS connect timeout, milliseconds.
    pub connect_timeout_ms: u64,
    /// Attempts per request including the first (>= 1); 429s and GET failures are retried.
    pub max_attempts: u32,
    /// First backoff wait; doubles per retry up to `backoff_max_ms`.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// Upper bound on a server's `Retry-After` wait.
    pub retry_after_max_ms: u64,
}

impl Default for AlpacaTradingConfig {
    fn default() -> Self {
        AlpacaTradingConfig {
            paper_url: "https://paper-api.alpaca.markets".to_string(),
            live_url: "https://api.alpaca.markets".to_string(),
            paper_key_id_env: "APCA_API_KEY_ID".to_string(),
            paper_secret_env: "APCA_API_SECRET_KEY".to_string(),
            live_key_id_env: "APCA_LIVE_API_KEY_ID".to_string(),
            live_secret_env: "APCA_LIVE_API_SECRET_KEY".to_string(),
            timeout_ms: 10_000,
            connect_timeout_ms: 5_000,
            max_attempts: 4,
            backoff_base_ms: 200,
            backoff_max_ms: 5_000,
            retry_after_max_ms: 30_000,
        }
    }
}
