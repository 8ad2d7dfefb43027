//! The unattended daily cycle (SPEC "The daily cycle"): which job runs in which slot, each
//! slot's time on a date (minutes from that session's close), whether a firing of a timer or
//! cron line is the slot's, and when each job fires next.
//!
//! The timers fire at the slot's time for both a 16:00 and a 13:00 close; the job itself
//! decides from the NYSE calendar whether this firing is today's ([`decide`]).

pub mod render;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Timelike, Utc};
use chrono_tz::America::New_York;
use chrono_tz::Tz;

use crate::calendar::{self, CalendarError};
use crate::config::{Config, ScheduleConfig};

/// A slot of the daily cycle: a job at a time relative to the close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Slot {
    /// `fetch --quotes` before the close.
    Fetch,
    Preflight,
    /// The trading run of the configured phase.
    Trade,
    /// `fetch` after the official bars are out.
    PostCloseFetch,
    Validate,
    /// The after-close report (`eod`), after `validate`.
    Eod,
}

impl Slot {
    pub const ALL: [Slot; 6] = [
        Slot::Fetch,
        Slot::Preflight,
        Slot::Trade,
        Slot::PostCloseFetch,
        Slot::Validate,
        Slot::Eod,
    ];

    /// As typed after `--slot`, and the job's unit name (`trader-<name>@.service`).
    pub fn name(self) -> &'static str {
        match self {
            Slot::Fetch => "fetch",
            Slot::Preflight => "preflight",
            Slot::Trade => "trade",
            Slot::PostCloseFetch => "post-close-fetch",
            Slot::Validate => "validate",
            Slot::Eod => "eod",
        }
    }

    /// Minutes from the close.
    pub fn offset(self, s: &ScheduleConfig) -> i64 {
        match self {
            Slot::Fetch => s.fetch_minutes,
            Slot::Preflight => s.preflight_minutes,
            Slot::Trade => s.trade_minutes,
            Slot::PostCloseFetch => s.post_close_fetch_minutes,
            Slot::Validate => s.validate_minutes,
            Slot::Eod => s.eod_minutes,
        }
    }

    /// The subcommand and its arguments the slot runs.
    pub fn args(self, cfg: &Config) -> Vec<&'static str> {
        match self {
            Slot::Fetch => vec!["fetch", "--quotes"],
            Slot::Preflight => vec!["preflight"],
            Slot::Trade => vec![cfg.phase.as_str()],
            Slot::PostCloseFetch => vec!["fetch"],
            Slot::Validate => vec!["validate"],
            Slot::Eod => vec!["eod"],
        }
    }

    /// The name of the job record the slot's run leaves in the state.
    pub fn record(self, cfg: &Config) -> &'static str {
        self.args(cfg)[0]
    }
}

/// The slot's time on `date`, or `None` when the NYSE is closed that day.
pub fn slot_time(
    s: &ScheduleConfig,
    slot: Slot,
    date: NaiveDate,
) -> Result<Option<DateTime<Tz>>, CalendarError> {
    Ok(calendar::close_instant(date)?.map(|c| c + Duration::minutes(slot.offset(s))))
}

/// The New York wall-clock times a slot's timer fires at: one for each kind of close
/// (16:00, 13:00), latest first.
pub fn firing_times(s: &ScheduleConfig, slot: Slot) -> Vec<NaiveTime> {
    [calendar::REGULAR_CLOSE, calendar::EARLY_CLOSE]
        .iter()
        .map(|c| {
            c.overflowing_add_signed(Duration::minutes(slot.offset(s)))
                .0
        })
        .collect()
}

/// What a firing should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Firing {
    Run,
    /// Not this slot's firing (or not a trading day): exit 0 with this reason.
    Skip(String),
}

fn hm(t: DateTime<Tz>) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// Whether a firing at `now` is today's `slot`: it runs from `early_tolerance_minutes` before
/// the slot's time to `late_tolerance_minutes` after it; any other firing (the other kind of
/// day's, a day the NYSE is closed) is skipped with a one-line reason.
pub fn decide(s: &ScheduleConfig, slot: Slot, now: DateTime<Utc>) -> Result<Firing, CalendarError> {
    let today = calendar::trading_date_of(now);
    let local = now.with_timezone(&New_York);
    let Some(at) = slot_time(s, slot, today)? else {
        let why = calendar::closure_reason(today)?.unwrap_or("closed");
        return Ok(Firing::Skip(format!(
            "{today} is not a trading day ({why}): the {} slot does not run",
            slot.name()
        )));
    };
    let from = at - Duration::minutes(s.early_tolerance_minutes);
    let to = at + Duration::minutes(s.late_tolerance_minutes);
    if local >= from && local <= to {
        return Ok(Firing::Run);
    }
    let close = calendar::close_instant(today)?.map_or_else(String::new, hm);
    Ok(Firing::Skip(format!(
        "this firing ({}) is not today's {} slot ({}, close {close})",
        hm(local),
        slot.name(),
        hm(at)
    )))
}

/// The next time after `now` the slot's job runs for real (a trading day's slot time), within
/// the next 30 days.
pub fn next_run(
    s: &ScheduleConfig,
    slot: Slot,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Tz>>, CalendarError> {
    let mut day = calendar::trading_date_of(now);
    for _ in 0..30 {
        if let Some(at) = slot_time(s, slot, day)?
            && at.with_timezone(&Utc) > now
        {
            return Ok(Some(at));
        }
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    Ok(None)
}

/// The next hourly (or every-N-minutes) health run after `now`.
pub fn next_health(s: &ScheduleConfig, now: DateTime<Utc>) -> DateTime<Tz> {
    let step = i64::from(s.health_every_minutes.max(1));
    let local = now.with_timezone(&New_York);
    let minute = i64::from(local.minute());
    let base = local
        - Duration::minutes(minute % step)
        - Duration::seconds(i64::from(local.second()))
        - Duration::nanoseconds(i64::from(local.nanosecond()));
    base + Duration::minutes(step)
}

/// A slot whose time has passed (plus `missed_grace_minutes`) on `date` by `now`.
pub fn due_slots(
    s: &ScheduleConfig,
    date: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<(Slot, DateTime<Tz>)>, CalendarError> {
    let mut out = Vec::new();
    for slot in Slot::ALL {
        if let Some(at) = slot_time(s, slot, date)?
            && at + Duration::minutes(s.missed_grace_minutes) <= now.with_timezone(&New_York)
        {
            out.push((slot, at));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ny(s: &str) -> DateTime<Utc> {
        use chrono::TimeZone;
        let t = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time");
        New_York
            .from_local_datetime(&t)
            .single()
            .expect("unique")
            .with_timezone(&Utc)
    }

    #[test]
    fn a_normal_day_runs_only_its_own_firing() {
        let s = ScheduleConfig::default();
        assert_eq!(
            decide(&s, Slot::Fetch, ny("2026-05-01 15:35")),
            Ok(Firing::Run)
        );
        assert_eq!(
            decide(&s, Slot::Fetch, ny("2026-05-01 12:35")),
            Ok(Firing::Skip(
                "this firing (12:35) is not today's fetch slot (15:35, close 16:00)".into()
            ))
        );
        // Late within the tolerance (a boot after the slot, Persistent=true) still runs.
        assert_eq!(
            decide(&s, Slot::Trade, ny("2026-05-01 16:20")),
            Ok(Firing::Run)
        );
        assert!(matches!(
            decide(&s, Slot::Trade, ny("2026-05-01 16:21")),
            Ok(Firing::Skip(_))
        ));
        assert_eq!(
            decide(&s, Slot::Trade, ny("2026-05-01 15:45")),
            Ok(Firing::Run)
        );
        assert!(matches!(
            decide(&s, Slot::Trade, ny("2026-05-01 15:44")),
            Ok(Firing::Skip(_))
        ));
    }

    #[test]
    fn an_early_close_runs_the_early_firing() {
        let s = ScheduleConfig::default();
        // 2026-11-27, the day after Thanksgiving, closes at 13:00.
        assert_eq!(
            decide(&s, Slot::Trade, ny("2026-11-27 12:50")),
            Ok(Firing::Run)
        );
        assert_eq!(
            decide(&s, Slot::Trade, ny("2026-11-27 15:50")),
            Ok(Firing::Skip(
                "this firing (15:50) is not today's trade slot (12:50, close 13:00)".into()
            ))
        );
        let sat = decide(&s, Slot::Fetch, ny("2026-11-28 15:35"));
        assert!(
            matches!(sat, Ok(Firing::Skip(ref r)) if r.contains("weekend")),
            "{sat:?}"
        );
    }

    #[test]
    fn firing_times_and_next_runs() {
        let s = ScheduleConfig::default();
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("time");
        assert_eq!(firing_times(&s, Slot::Fetch), vec![t(15, 35), t(12, 35)]);
        assert_eq!(firing_times(&s, Slot::Validate), vec![t(16, 25), t(13, 25)]);
        let next = next_run(&s, Slot::Trade, ny("2026-11-26 10:00")).expect("calendar");
        assert_eq!(
            next.map(|t| t.to_string()),
            Some("2026-11-27 12:50:00 EST".into())
        );
        assert_eq!(
            next_health(&s, ny("2026-11-26 10:17")).to_string(),
            "2026-11-26 11:00:00 EST"
        );
        let due = due_slots(
            &s,
            "2026-05-01".parse().expect("date"),
            ny("2026-05-01 16:00"),
        )
        .expect("calendar");
        assert_eq!(
            due.iter().map(|d| d.0).collect::<Vec<_>>(),
            vec![Slot::Fetch, Slot::Preflight]
        );
    }
}
