//! Typed configuration (`config/*.yaml`): every key, its default and its allowed range.
//!
//! Unknown keys are rejected, booleans are strictly `true`/`false`, and every validation
//! error names the file, the key path, the value and the allowed range. Relative paths
//! resolve against `root`, which itself resolves against the config file's directory,
//! so a run from systemd or cron behaves exactly like a run by hand.

mod load;
mod promotion;
mod schedule;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use load::{Secrets, load, resolve};
pub use promotion::{PhaseOverride, PromotionConfig, ValidationConfig};

pub use schedule::{LogConfig, LogFormat, ScheduleConfig};

use crate::risk::RiskConfig;
use crate::strategy::hierarchical::HierarchicalParams;

/// A config that could not be read, parsed or validated.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The cause is part of the message (and not also a `source`, so it is printed once).
    #[error("{file}: cannot read config: {cause}")]
    Read { file: String, cause: std::io::Error },
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}:{line}: {message}")]
    EnvVar {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    EnvFile { file: String, message: String },
    #[error("{}", render_issues(file, issues))]
    Invalid { file: String, issues: Vec<Issue> },
}

fn render_issues(file: &str, issues: &[Issue]) -> String {
    issues
        .iter()
        .map(|i| format!("{file}: {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One invalid value: `risk.min_cash_pct = 150: must be between 0 and 100`.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub key: String,
    pub value: String,
    pub allowed: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}: {}", self.key, self.value, self.allowed)
    }
}

/// The deployment phase the trading run executes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    #[default]
    DryRun,
    Paper,
    Live,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::DryRun => "dry-run",
            Phase::Paper => "paper",
            Phase::Live => "live",
        }
    }
}

/// The whole config file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Base for every relative path; itself relative to the config file's directory.
    #[serde(default)]
    pub root: Option<PathBuf>,
    /// Optional `KEY=VALUE` file (mode 0600 or tighter) for secrets and `${VAR}` values.
    #[serde(default)]
    pub env_file: Option<PathBuf>,
    #[serde(default)]
    pub phase: Phase,
    #[serde(default)]
    pub paths: PathsConfig,
    #[serde(default)]
    pub account: AccountConfig,
    #[serde(default)]
    pub strategy: StrategyConfig,
    #[serde(default)]
    pub portfolio: PortfolioConfig,
    #[serde(default)]
    pub risk: RiskConfig,
    #[serde(default)]
    pub data: DataConfig,
    #[serde(default)]
    pub state: StateConfig,
    #[serde(default)]
    pub health: HealthConfig,
    #[serde(default)]
    pub preflight: PreflightConfig,
    #[serde(default)]
    pub backtest: BacktestConfig,
    /// Colours of `trader validate`.
    #[serde(default)]
    pub validation: ValidationConfig,
    /// `trader eod` and the backtest tear sheet.
    #[serde(default)]
    pub report: ReportConfig,
    /// Promotion gates between phases.
    #[serde(default)]
    pub promotion: PromotionConfig,
    /// Run a phase although its gate is not met (`{phase, reason}`; printed on every run).
    #[serde(default)]
    pub phase_override: Option<PhaseOverride>,
    /// Alerts by e-mail (#21): [`crate::alert::config`].
    #[serde(default)]
    pub alerts: crate::alert::AlertsConfig,
    /// When the unattended jobs run (README "Operate it").
    #[serde(default)]
    pub schedule: ScheduleConfig,
    /// Per-day log files.
    #[serde(default)]
    pub log: LogConfig,
    /// Order handling of paper/live and emergency-exit.
    #[serde(default)]
    pub execution: ExecutionConfig,
    /// `trader live`: the share of the account it trades.
    #[serde(default)]
    pub live: LiveConfig,
    /// The file this config came from (set by the loader).
    #[serde(skip)]
    pub source_file: PathBuf,
    /// `root` resolved to a directory (set by the loader).
    #[serde(skip)]
    pub root_dir: PathBuf,
}

/// Where runtime files live. Relative paths resolve against `root`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PathsConfig {
    pub state_dir: PathBuf,
    pub bars_dir: PathBuf,
    pub ledger_dir: PathBuf,
    pub reports_dir: PathBuf,
    pub logs_dir: PathBuf,
    /// While this file exists no order is sent (except by `emergency-exit`).
    pub kill_switch: PathBuf,
}

impl Default for PathsConfig {
    fn default() -> Self {
        PathsConfig {
            state_dir: "state".into(),
            bars_dir: "data/bars".into(),
            ledger_dir: "data/ledger".into(),
            reports_dir: "data/reports".into(),
            logs_dir: "logs".into(),
            kill_switch: "state/KILL".into(),
        }
    }
}

impl PathsConfig {
    fn resolve_against(&mut self, root: &Path) {
        for p in [
            &mut self.state_dir,
            &mut self.bars_dir,
            &mut self.ledger_dir,
            &mut self.reports_dir,
            &mut self.logs_dir,
            &mut self.kill_switch,
        ] {
            *p = load::resolve(root, p);
        }
    }
}

/// The account the trading run acts on.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountConfig {
    /// `sim` (built-in simulated account) or `alpaca`.
    pub broker: BrokerKind,
    /// Starting cash of the simulated account on its first run, in dollars.
    pub initial_capital: f64,
    /// Faults of the simulated venue, for tests and demos (`partial=PCT`, `reject=SYM+SYM`,
    /// `lose_reply=SYM+SYM`, `fill_after=N`); env `TRADER_SIM_FAULTS` wins.
    pub sim_faults: Option<String>,
    /// The Alpaca trading API (`broker: alpaca`): base URLs and key variables per venue.
    pub alpaca: crate::broker::alpaca::AlpacaTradingConfig,
}

impl Default for AccountConfig {
    fn default() -> Self {
        AccountConfig {
            broker: BrokerKind::Sim,
            initial_capital: 10_000.0,
            sim_faults: None,
            alpaca: Default::default(),
        }
    }
}

/// How the execution engine sends and watches orders (`paper`, and `live` next).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutionConfig {
    /// Pause between two looks at an open order, in milliseconds.
    pub poll_interval_ms: u64,
    /// How long a phase (sells, then buys) waits for fills before cancelling the rest.
    pub fill_timeout_ms: u64,
    /// The collar of the marketable limit orders around the decision price, in percent.
    pub max_slippage_pct: f64,
    /// Cash may differ this many dollars between the broker and the state's record.
    pub reconcile_cash_tolerance: f64,
    /// The wider collar of `emergency-exit`'s liquidation orders, in percent.
    pub emergency_collar_pct: f64,
    /// How long `emergency-exit` waits for a running job's lock, in milliseconds.
    pub lock_wait_ms: u64,
    /// `marketable_limit` (day limits with the collar, filled during the run) or
    /// `close_auction` (limit-on-close orders, filled at the official close and collected
    /// after it by `sync`, `validate` or `eod`).
    pub order_style: OrderStyle,
    /// The last New York time (HH:MM) a close-auction order may be sent on a regular day;
    /// on an early-close day it moves as much earlier as the close does (15:50 → 12:50).
    pub close_auction_cutoff: String,
}

/// How the trading runs send their orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStyle {
    #[default]
    MarketableLimit,
    CloseAuction,
}

/// `trader live` (the `live:` section).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveConfig {
    /// The fraction of the broker's equity the strategy sizes on, in (0, 1].
    pub capital_fraction: f64,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            capital_fraction: 0.25,
        }
    }
}

impl Default for ExecutionConfig {
    fn default() -> Self {
        ExecutionConfig {
            poll_interval_ms: 500,
            fill_timeout_ms: 60_000,
            max_slippage_pct: 1.0,
            reconcile_cash_tolerance: 1.0,
            emergency_collar_pct: 5.0,
            lock_wait_ms: 30_000,
            order_style: OrderStyle::MarketableLimit,
            close_auction_cutoff: "15:50".into(),
        }
    }
}

/// Which broker adapter serves the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BrokerKind {
    Sim,
    /// Alpaca Trading API v2 (paper or live endpoint by phase).
    Alpaca,
}

/// Which price column feeds the strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceField {
    /// Split-adjusted close (the default).
    #[default]
    Close,
    /// Split- and dividend-adjusted (total return) close.
    AdjClose,
}

/// The strategy and its parameters.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StrategyConfig {
    /// Only `hierarchical_adaptive_v3_5b` this round.
    pub name: String,
    /// Indicators run over the stored history from this date, in backtest and daily run alike.
    pub history_start: NaiveDate,
    pub price_field: PriceField,
    pub params: HierarchicalParams,
}

impl Default for StrategyConfig {
    fn default() -> Self {
        StrategyConfig {
            name: "hierarchical_adaptive_v3_5b".into(),
            history_start: NaiveDate::from_ymd_opt(2008, 9, 10).unwrap_or_default(),
            price_field: PriceField::Close,
            params: HierarchicalParams::default(),
        }
    }
}

/// Turning target weights into whole-share orders, and the cost model.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortfolioConfig {
    /// Also rebalance a symbol whose actual weight drifts this many percentage points from target.
    pub drift_rebalance_pct: Option<f64>,
    /// Adverse slippage assumed per fill, in percent of price.
    pub slippage_pct: f64,
    /// Commission per share, in dollars.
    pub commission_per_share: f64,
}

impl Default for PortfolioConfig {
    fn default() -> Self {
        PortfolioConfig {
            drift_rebalance_pct: None,
            slippage_pct: 0.1,
            commission_per_share: 0.01,
        }
    }
}

/// Where bars come from and what counts as good data.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// `csv` (local import), `alpaca` or `yahoo`.
    pub source: DataSource,
    /// Directory `fetch --source csv` imports from when `--from` is not given.
    pub csv_dir: Option<PathBuf>,
    /// Extra symbols to keep in the store beyond what the strategy needs.
    pub extra_symbols: Vec<String>,
    /// Days re-fetched before the last stored bar, to pick up revisions.
    pub overlap_days: u32,
    /// A close-to-close move beyond this percentage with no split/dividend on record flags the symbol.
    pub corporate_action_move_pct: f64,
    /// A provisional bar older than this many minutes is stale.
    pub provisional_max_age_minutes: u32,
    /// First date downloaded for a symbol with no stored bars.
    pub history_start: NaiveDate,
    /// New York time after which a bar dated today counts as official: `HH:MM`, at or after
    /// 16:00. Early closes shift by the same margin (13:00 close, 16:15 → 13:15).
    pub official_after: String,
    /// A date missing for more than this percentage of the universe is a market-wide outage,
    /// reported once as a date.
    pub market_outage_pct: f64,
    /// Alpaca market data v2 (keys from APCA_API_KEY_ID / APCA_API_SECRET_KEY).
    pub alpaca: crate::data::alpaca::SourceConfig,
    /// Yahoo chart v8.
    pub yahoo: crate::data::yahoo::SourceConfig,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            source: DataSource::Csv,
            csv_dir: None,
            extra_symbols: Vec::new(),
            overlap_days: 5,
            corporate_action_move_pct: 20.0,
            provisional_max_age_minutes: 30,
            history_start: NaiveDate::from_ymd_opt(2008, 9, 10).unwrap_or_default(),
            official_after: "16:15".to_string(),
            market_outage_pct: 30.0,
            alpaca: Default::default(),
            yahoo: Default::default(),
        }
    }
}

/// The market data source of `fetch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DataSource {
    Csv,
    Alpaca,
    Yahoo,
}

impl DataSource {
    pub fn is_remote(self) -> bool {
        !matches!(self, DataSource::Csv)
    }
}

/// State file behaviour.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// How many rotated backups of state.json to keep.
    pub backups: usize,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig { backups: 20 }
    }
}

/// Thresholds of `trader health`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Free disk below this many MiB is critical.
    pub min_free_disk_mb: u64,
    /// The last bar may lag the last completed session by this many sessions before it is critical.
    pub max_stale_sessions: u32,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            min_free_disk_mb: 200,
            max_stale_sessions: 1,
        }
    }
}

/// Thresholds of `trader preflight`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PreflightConfig {
    /// Share of the universe (percent) that must have a bar for the date; the strategy's own
    /// symbols are always required.
    pub min_coverage_pct: f64,
}

impl Default for PreflightConfig {
    fn default() -> Self {
        PreflightConfig {
            min_coverage_pct: 100.0,
        }
    }
}

impl DataConfig {
    /// How long after the session's close a bar dated that day becomes official
    /// (`official_after` − 16:00); `None` when `official_after` is not a valid `HH:MM` at or
    /// after 16:00 (validation reports it).
    pub fn official_margin(&self) -> Option<chrono::Duration> {
        let t = chrono::NaiveTime::parse_from_str(&self.official_after, "%H:%M").ok()?;
        let close = chrono::NaiveTime::from_hms_opt(16, 0, 0)?;
        let margin = t - close;
        (margin >= chrono::Duration::zero()).then_some(margin)
    }
}

/// `trader eod`'s report.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// Draw the equity chart on a logarithmic scale (`--log-scale` also sets it for one run).
    pub log_scale: bool,
    /// Send the daily summary as an info alert (HTML report as the body, PNGs attached).
    pub email_summary: bool,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            log_scale: false,
            email_summary: true,
        }
    }
}

/// Backtest defaults.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BacktestConfig {
    /// Starting equity in dollars.
    pub initial_capital: f64,
    /// Annual risk-free rate (fraction, e.g. 0.02) for Sharpe and Sortino.
    pub risk_free_rate: f64,
}

impl Default for BacktestConfig {
    fn default() -> Self {
        BacktestConfig {
            initial_capital: 10_000.0,
            risk_free_rate: 0.0,
        }
    }
}

/// Numbers as a person wrote them: `150`, not `150.0`; huge or tiny ones compactly
/// (`1e300`, not three hundred digits).
pub fn format_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.is_finite() && v != 0.0 && (v.abs() >= 1e15 || v.abs() < 1e-6) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

impl Config {
    /// The state file.
    pub fn state_file(&self) -> PathBuf {
        self.paths.state_dir.join("state.json")
    }

    /// Every symbol the store must hold: the strategy's plus the extras.
    pub fn universe(&self) -> Vec<String> {
        let mut u = crate::strategy::Strategy::required_symbols(&self.strategy_impl());
        for s in &self.data.extra_symbols {
            if !u.contains(s) {
                u.push(s.clone());
            }
        }
        u
    }

    /// The configured strategy.
    pub fn strategy_impl(&self) -> crate::strategy::hierarchical::HierarchicalAdaptive {
        crate::strategy::hierarchical::HierarchicalAdaptive::new(self.strategy.params.clone())
    }
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod keys_tests;
