//! The `schedule:` and `log:` sections: when the unattended jobs run (minutes from the
//! session's close, New York time), how far a firing may be from its slot, and how the jobs
//! log. Rendered into systemd units and a crontab by `trader schedule print`.

use std::path::PathBuf;

use serde::Deserialize;

use super::Issue;

/// Slot times as minutes from the NYSE close of the day (negative: before the close).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    /// `fetch --quotes`, near the close (SPEC: 15:35 on a 16:00 close).
    pub fetch_minutes: i64,
    /// `preflight`.
    pub preflight_minutes: i64,
    /// The trading run of the configured phase (`dry-run`, `paper`, `live`).
    pub trade_minutes: i64,
    /// The post-close fetch that replaces the provisional bars (after `data.official_after`).
    pub post_close_fetch_minutes: i64,
    /// `validate`.
    pub validate_minutes: i64,
    /// `eod`, the after-close report (SPEC: 16:30), after `validate`.
    pub eod_minutes: i64,
    /// `health` runs every this many minutes (a divisor of 60, or 60).
    pub health_every_minutes: u32,
    /// A firing this many minutes before its slot still counts as the slot (timer jitter).
    pub early_tolerance_minutes: i64,
    /// A firing this many minutes after its slot still runs (a late boot, `Persistent=true`).
    pub late_tolerance_minutes: i64,
    /// `health` reports a job missed once its slot is this many minutes past with no record.
    pub missed_grace_minutes: i64,
    /// The binary the units run (default: the running executable when rendering).
    pub binary: Option<PathBuf>,
    /// `EnvironmentFile=` of the units (optional: `-` prefix, a missing file is fine).
    pub environment_file: Option<PathBuf>,
    /// The hourly `health` also writes node_exporter textfile metrics here.
    pub prometheus_file: Option<PathBuf>,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            fetch_minutes: -25,
            preflight_minutes: -20,
            trade_minutes: -10,
            post_close_fetch_minutes: 20,
            validate_minutes: 25,
            eod_minutes: 30,
            health_every_minutes: 60,
            early_tolerance_minutes: 5,
            late_tolerance_minutes: 30,
            missed_grace_minutes: 15,
            binary: None,
            environment_file: None,
            prometheus_file: None,
        }
    }
}

/// Format of the per-day log files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Plain,
    Json,
}

/// The `log:` section.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Per-day files `logs/trader-YYYY-MM-DD.log` older than this many days are deleted.
    pub retention_days: u32,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            retention_days: 30,
            format: LogFormat::Plain,
        }
    }
}

impl ScheduleConfig {
    /// Range checks. Every slot lies between 3 h before and 3 h after the close, and the
    /// tolerances stay below the 3 h between a normal close (16:00) and an early one (13:00),
    /// so the firing of one kind of day is never taken for the other's slot.
    pub fn validate(&self, out: &mut Vec<Issue>) {
        let mut range = |key: &str, v: i64, lo: i64, hi: i64| {
            if v < lo || v > hi {
                out.push(Issue {
                    key: format!("schedule.{key}"),
                    value: v.to_string(),
                    allowed: format!("must be between {lo} and {hi}"),
                });
            }
        };
        for (k, v) in [
            ("fetch_minutes", self.fetch_minutes),
            ("preflight_minutes", self.preflight_minutes),
            ("trade_minutes", self.trade_minutes),
        ] {
            range(k, v, -180, -1);
        }
        for (k, v) in [
            ("post_close_fetch_minutes", self.post_close_fetch_minutes),
            ("validate_minutes", self.validate_minutes),
            ("eod_minutes", self.eod_minutes),
        ] {
            range(k, v, 1, 180);
        }
        range(
            "early_tolerance_minutes",
            self.early_tolerance_minutes,
            0,
            30,
        );
        range(
            "late_tolerance_minutes",
            self.late_tolerance_minutes,
            0,
            120,
        );
        range("missed_grace_minutes", self.missed_grace_minutes, 0, 120);
        if self.health_every_minutes == 0
            || self.health_every_minutes > 60
            || 60 % self.health_every_minutes != 0
        {
            out.push(Issue {
                key: "schedule.health_every_minutes".into(),
                value: self.health_every_minutes.to_string(),
                allowed: "must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60)".into(),
            });
        }
        let order = [
            self.fetch_minutes,
            self.preflight_minutes,
            self.trade_minutes,
        ];
        if !(order[0] < order[1] && order[1] < order[2]) {
            out.push(Issue {
                key: "schedule".into(),
                value: format!(
                    "fetch {}, preflight {}, trade {}",
                    order[0], order[1], order[2]
                ),
                allowed: "must run fetch, then preflight, then the trading run".into(),
            });
        }
        if self.post_close_fetch_minutes >= self.validate_minutes {
            out.push(Issue {
                key: "schedule.validate_minutes".into(),
                value: self.validate_minutes.to_string(),
                allowed: format!(
                    "must be after post_close_fetch_minutes ({})",
                    self.post_close_fetch_minutes
                ),
            });
        }
        if self.validate_minutes >= self.eod_minutes {
            out.push(Issue {
                key: "schedule.eod_minutes".into(),
                value: self.eod_minutes.to_string(),
                allowed: format!("must be after validate_minutes ({})", self.validate_minutes),
            });
        }
    }
}

impl LogConfig {
    pub fn validate(&self, out: &mut Vec<Issue>) {
        if self.retention_days == 0 || self.retention_days > 3650 {
            out.push(Issue {
                key: "log.retention_days".into(),
                value: self.retention_days.to_string(),
                allowed: "must be between 1 and 3650".into(),
            });
        }
    }
}
