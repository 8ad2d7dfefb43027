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
    /// Run only when now (New York) is today's time of this slot of the daily cycle; otherwise
    /// exit 0 saying why (used by the systemd timers and the crontab, which fire at the times
    /// of both a 16:00 and a 13:00 close).
    #[arg(long, global = true, value_enum, value_name = "SLOT")]
    pub slot: Option<crate::schedule::Slot>,
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
    /// The paper run on the live venue, behind the live promotion gate.
    Live(LiveArgs),
    /// Collect what the broker did with the journal's pending orders (limit-on-close fills).
    Sync(SyncArgs),
    /// Compare the broker's positions and cash with the state; `--accept` adopts the broker's view.
    Reconcile(ReconcileArgs),
    /// Run the strategy over history through the same decision and order code.
    Backtest(BacktestArgs),
    /// Current ES, VaR, drawdown tier and each rule's headroom (read-only).
    Risk(RiskArgs),
    /// System health; exit 3 when a check needs a person.
    Health(HealthArgs),
    /// After the close: recompute a day's decision on the official bars and compare (exit 6 on RED).
    Validate(ValidateArgs),
    /// After the close: the day's report (Markdown, HTML, PNG charts, JSON) and the daily ledger row.
    Eod(EodArgs),
    /// Phase, promotion gate progress, today's jobs, kill switch, positions (read-only).
    Status,
    /// Create the kill switch: no order is sent until `trader resume`.
    Halt(HaltArgs),
    /// Remove the kill switch.
    Resume,
    /// Render, install and check the systemd units or crontab of the daily cycle.
    #[command(subcommand)]
    Schedule(ScheduleCmd),
    /// Alerts: `alert test` sends a test message and shows the server's answer.
    #[command(subcommand)]
    Alert(AlertCommand),
    /// Bar store bookkeeping (`data ack`: accept known gaps).
    #[command(subcommand)]
    Data(DataCommand),
    /// Kill switch on, cancel every open order, sell every position at the broker.
    EmergencyExit(EmergencyExitArgs),
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Acknowledge that SYMBOL has no bar on each DATE (a known feed gap), so preflight's
    /// `gaps` gate lists it as acknowledged instead of failing. Recorded with who, when, why.
    Ack(AckArgs),
}

#[derive(Debug, Args)]
pub struct AckArgs {
    /// The symbol with the gap.
    pub symbol: String,
    /// The sessions it lacks (YYYY-MM-DD).
    #[arg(required = true, value_name = "DATE")]
    pub dates: Vec<NaiveDate>,
    /// Why the gap is acceptable (recorded in the ledger).
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Subcommand)]
pub enum AlertCommand {
    /// Send a test message through `alerts.email`; exit 0 when the server accepted it,
    /// 5 when it is unreachable or refused, 2 when alerts are not configured.
    Test,
    /// Raise a critical alert for a scheduled job that failed: what systemd's
    /// `trader-failure@.service` runs (`OnFailure=`), with the unit systemd names.
    JobFailed {
        /// The failed unit (systemd passes `$MONITOR_UNIT`).
        #[arg(long)]
        unit: String,
        /// Its exit status (systemd passes `$MONITOR_EXIT_STATUS`; may be empty).
        #[arg(long, default_value = "")]
        exit_status: String,
    },
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Validate this trading date instead of today.
    #[arg(long, value_name = "DATE")]
    pub date: Option<NaiveDate>,
}

#[derive(Debug, Args)]
pub struct EodArgs {
    /// Report this trading date instead of today.
    #[arg(long, value_name = "DATE")]
    pub date: Option<NaiveDate>,
    /// Also write the rollup of the week or month ending on the date (`week.md`/`month.md` and
    /// `.json` beside the day's report).
    #[arg(long, value_enum)]
    pub period: Option<PeriodArg>,
    /// Draw the equity chart on a logarithmic scale (default: `report.log_scale`).
    #[arg(long)]
    pub log_scale: bool,
}

/// A rollup period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PeriodArg {
    Week,
    Month,
}

#[derive(Debug, Args)]
pub struct HaltArgs {
    /// Why trading stops (kept in the kill switch file, the state and the log).
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Also write node_exporter textfile metrics to FILE (atomically).
    #[arg(long, value_name = "FILE")]
    pub prometheus: Option<PathBuf>,
}

/// Where the rendered files point (default: this binary, the config's own root).
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The binary the units run (default: `schedule.binary`, else this executable).
    #[arg(long, value_name = "PATH")]
    pub binary: Option<PathBuf>,
    /// Render for the config installed under this root instead of the config's own root.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCmd {
    /// Print the crontab, or write the systemd units into DIR.
    Print {
        /// Write the systemd units into DIR.
        #[arg(
            long,
            value_name = "DIR",
            conflicts_with = "cron",
            required_unless_present = "cron"
        )]
        systemd: Option<PathBuf>,
        /// Print the crontab (New York time) and, with --utc, the UTC alternative.
        #[arg(long)]
        cron: bool,
        /// With --cron: the crontab for a cron without CRON_TZ (UTC lines for both offsets).
        #[arg(long, requires = "cron")]
        utc: bool,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Write the units and enable their timers (systemctl daemon-reload, enable --now).
    Install {
        /// Into ~/.config/systemd/user (systemctl --user).
        #[arg(long, conflicts_with = "system", required_unless_present_any = ["system", "dir"])]
        user: bool,
        /// Into /etc/systemd/system.
        #[arg(long)]
        system: bool,
        /// Into this directory instead (tests, packaging); implies --no-systemctl.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Write the files only; do not run systemctl.
        #[arg(long)]
        no_systemctl: bool,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Compare the installed units with the rendered ones; list each job's next run.
    Check {
        /// Installed units in ~/.config/systemd/user.
        #[arg(long, conflicts_with = "system")]
        user: bool,
        /// Installed units in /etc/systemd/system.
        #[arg(long)]
        system: bool,
        /// Installed units in this directory.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        #[command(flatten)]
        target: TargetArgs,
    },
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
pub struct LiveArgs {
    /// Trade for this trading date instead of today (replays).
    #[arg(long, value_name = "DATE")]
    pub date: Option<NaiveDate>,
    /// Allow the first live run (recorded with the login name; needed once).
    #[arg(long)]
    pub confirm_first_live: bool,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Only the journal of this trading date (default: every date with pending orders).
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
    /// Write the tear sheet (report.html, report.md, report.json, equity.png, drawdown.png) to DIR.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Draw the tear sheet's equity chart on a logarithmic scale.
    #[arg(long)]
    pub log_scale: bool,
}
