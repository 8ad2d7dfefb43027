//! Command-line surface: global options and one subcommand per job.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Phase-gated daily trading jobs with crash-safe state.
#[derive(Debug, Parser)]
#[command(name = "trader", version, about, long_about = None)]
pub struct Cli {
    /// Config file; relative paths inside it resolve against its `root`.
    #[arg(
        long,
        global = true,
        default_value = "config/trader.yaml",
        value_name = "PATH"
    )]
    pub config: PathBuf,
    /// Machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// More detail on stderr (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download or import daily bars into the bar store (incremental, validated, atomic).
    Fetch(FetchArgs),
    /// Today's go/no-go gates for the trading run; records the verdict.
    Preflight(PreflightArgs),
    /// The full daily decision with hypothetical orders; never sends an order.
    DryRun(DryRunArgs),
    /// The dry-run decision plus execution on the paper broker (the sim venue).
    Paper(PaperArgs),
    /// Compare the broker's positions and cash with the state; `--accept` adopts the broker's view.
    Reconcile(ReconcileArgs),
    /// Run the strategy over history through the same decision and order code.
    Backtest(BacktestArgs),
    /// Current ES, VaR, drawdown tier and each rule's headroom (read-only).
    Risk(RiskArgs),
    /// System health; exit 3 when a check needs a person.
    Health,
    /// Kill switch on, cancel every open order, sell every position at the broker.
    EmergencyExit(EmergencyExitArgs),
}

#[derive(Debug, Args)]
pub struct EmergencyExitArgs {
    /// Act without asking (otherwise it shows what it will do and waits for `CONFIRM`).
    #[arg(long)]
    pub confirm: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceArg {
    Csv,
    Alpaca,
    Yahoo,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Data source (default: `data.source` of the config).
    #[arg(long, value_enum)]
    pub source: Option<SourceArg>,
    /// Directory (or single file) of CSV files, for `--source csv`.
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// Symbols to fetch (default: the configured universe; for CSV, every file).
    #[arg(long, value_delimiter = ',')]
    pub symbols: Vec<String>,
    /// Store today's provisional bar from the latest quotes (the near-close run).
    #[arg(long)]
    pub quotes: bool,
    /// Drop bad CSV rows (each is reported) instead of refusing the whole file.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// First date to download when a symbol has no stored bars.
    #[arg(long, value_name = "DATE")]
    pub start: Option<NaiveDate>,
}

#[derive(Debug, Args)]
pub struct PreflightArgs {
    /// Check for this trading date instead of today (replays).
    #[arg(long, value_name = "DATE")]
    pub date: Option<NaiveDate>,
}

#[derive(Debug, Args)]
pub struct DryRunArgs {
    /// Decide for this trading date instead of today (replays).
    #[arg(long, value_name = "DATE")]
    pub date: Option<NaiveDate>,
    /// Recompute and replace the recorded decision of that date.
    #[arg(long)]
    pub force: bool,
    /// Run without a passed preflight (for experiments; recorded as such).
    #[arg(long)]
    pub skip_preflight: bool,
}

#[derive(Debug, Args)]
pub struct PaperArgs {
    /// Trade for this trading date instead of today (replays).
    #[arg(long, value_name = "DATE")]
    pub date: Option<NaiveDate>,
}

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// Adopt the broker's positions and cash as the state's account record.
    #[arg(long, requires = "reason")]
    pub accept: bool,
    /// Why the broker's view is right (recorded with the login name).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct RiskArgs {
    /// Show this trading date instead of today (or the last session).
    #[arg(long, value_name = "DATE")]
    pub date: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FillArg {
    /// All symbols at the decision bar's close.
    Close,
    /// At the next bar's open.
    NextOpen,
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// First trading date of the backtest.
    #[arg(long, value_name = "DATE")]
    pub from: NaiveDate,
    /// Last trading date of the backtest.
    #[arg(long, value_name = "DATE")]
    pub to: NaiveDate,
    /// Directory for decisions/orders/fills/equity parquet files.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Fill model.
    #[arg(long, value_enum, default_value = "close")]
    pub fill: FillArg,
    /// Run without the pre-trade risk rules, to see their effect.
    #[arg(long)]
    pub no_risk: bool,
}
