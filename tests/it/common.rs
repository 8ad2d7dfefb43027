//! Shared test helpers: a sandbox directory with a config, and running the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The committed sample bars.
pub fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample")
}

/// A temporary root with config, state, bars and ledgers of its own.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    /// A sandbox whose bar store is a copy of the sample data; `extra` is appended to the config.
    pub fn with_sample(extra: &str) -> Sandbox {
        let sb = Sandbox::empty(extra);
        let bars = sb.path().join("bars");
        std::fs::create_dir_all(&bars).expect("mkdir bars");
        for e in std::fs::read_dir(sample_dir()).expect("sample dir") {
            let p = e.expect("entry").path();
            if p.extension().is_some_and(|x| x == "parquet") {
                std::fs::copy(&p, bars.join(p.file_name().expect("name"))).expect("copy");
            }
        }
        sb
    }

    /// A sandbox with an empty store.
    pub fn empty(extra: &str) -> Sandbox {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = format!(
            "root: {}\npaths:\n  state_dir: state\n  bars_dir: bars\n  ledger_dir: ledger\n  logs_dir: logs\n  kill_switch: state/KILL\n{extra}",
            dir.path().display()
        );
        std::fs::write(dir.path().join("trader.yaml"), cfg).expect("write config");
        Sandbox { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config(&self) -> PathBuf {
        self.path().join("trader.yaml")
    }

    /// Run `trader --config <sandbox config> args…` at a fixed instant.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_at("2026-05-01T19:50:00Z", args)
    }

    pub fn run_at(&self, now: &str, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_trader"))
            .arg("--config")
            .arg(self.config())
            .args(args)
            .env("TRADER_NOW", now)
            .output()
            .expect("run trader")
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// A parquet table the program wrote (a ledger or a backtest output); it must exist.
pub fn table(path: &Path) -> polars::prelude::DataFrame {
    trader::ledger::read(path)
        .expect("readable")
        .unwrap_or_else(|| panic!("{} was not written", path.display()))
}

/// A text column, nulls as "".
pub fn text_column(df: &polars::prelude::DataFrame, name: &str) -> Vec<String> {
    df.column(name)
        .and_then(|c| c.str().cloned())
        .expect(name)
        .iter()
        .map(|s| s.unwrap_or_default().to_string())
        .collect()
}

/// Every per-day log file of the sandbox (`logs/trader-YYYY-MM-DD.log`), oldest first, joined.
pub fn log_text(sb: &Sandbox) -> String {
    let mut files: Vec<PathBuf> = std::fs::read_dir(sb.path().join("logs"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("trader-"))
    });
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("log file"))
        .collect()
}
