//! The rendered systemd units and crontabs (#22): the committed files are `schedule print`'s
//! output, systemd accepts every unit and calendar, and every crontab line fires each slot
//! exactly once per trading day at its New York time — across both DST changes of 2026 and
//! the early close after Thanksgiving — once the job has decided (`--slot`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::America::New_York;
use trader::schedule::{Firing, Slot, decide};

use crate::common::{code, stderr, stdout};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn trader(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trader"))
        .arg("--config")
        .arg(repo().join("config/trader.yaml"))
        .args(args)
        .env("TRADER_NOW", "2026-05-01T14:00:00Z")
        .output()
        .expect("run trader")
}

const FIXED: [&str; 4] = ["--binary", "/usr/local/bin/trader", "--root", "/opt/trader"];

fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect()
}

#[test]
fn committed_units_and_crontabs_are_schedule_print_output() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut args = vec!["schedule", "print", "--systemd"];
    let dir = tmp.path().display().to_string();
    args.push(&dir);
    args.extend(FIXED);
    let out = trader(&args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let committed = repo().join("systemd");
    assert_eq!(names(tmp.path()), names(&committed));
    for n in names(tmp.path()) {
        let want = std::fs::read_to_string(tmp.path().join(&n)).expect("rendered");
        let have = std::fs::read_to_string(committed.join(&n)).expect("committed");
        assert_eq!(
            have, want,
            "systemd/{n} differs from `schedule print` (render it again)"
        );
    }
    for (file, utc) in [("trader.crontab", false), ("trader-utc.crontab", true)] {
        let mut args = vec!["schedule", "print", "--cron"];
        if utc {
            args.push("--utc");
        }
        args.extend(FIXED);
        let out = trader(&args);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let have = std::fs::read_to_string(repo().join("cron").join(file)).expect("crontab");
        assert_eq!(
            have,
            stdout(&out),
            "cron/{file} differs from `schedule print`"
        );
    }
}

fn systemd_analyze() -> bool {
    let ok = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("systemd-analyze unavailable: skipping (install the systemd package)");
    }
    ok
}

#[test]
fn systemd_analyze_verifies_every_rendered_unit() {
    if !systemd_analyze() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().display().to_string();
    let out = trader(&[
        "schedule",
        "print",
        "--systemd",
        &dir,
        "--binary",
        env!("CARGO_BIN_EXE_trader"),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let units = names(tmp.path());
    assert_eq!(units.len(), 15, "{units:?}");
    for n in units {
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(tmp.path().join(&n))
            .output()
            .expect("systemd-analyze");
        assert!(
            out.status.success() && stderr(&out).trim().is_empty(),
            "{n}: {}{}",
            stdout(&out),
            stderr(&out)
        );
    }
}

#[test]
fn systemd_analyze_calendar_fires_every_timer_at_its_new_york_times() {
    if !systemd_analyze() {
        return;
    }
    let dir = repo().join("systemd");
    let mut seen = 0;
    for n in names(&dir).iter().filter(|n| n.ends_with(".timer")) {
        let text = std::fs::read_to_string(dir.join(n)).expect("timer");
        for cal in text.lines().filter_map(|l| l.strip_prefix("OnCalendar=")) {
            seen += 1;
            let out = Command::new("systemd-analyze")
                .args(["calendar", "--iterations=7", cal])
                .env("TZ", "America/New_York")
                .output()
                .expect("systemd-analyze");
            assert!(out.status.success(), "{cal}: {}", stderr(&out));
            let text = stdout(&out);
            let hm = cal.split(' ').find(|w| w.contains(':')).expect("time");
            let elapses: Vec<&str> = text
                .lines()
                .filter(|l| l.contains("Next elapse:") || l.contains("Iter. #"))
                .collect();
            assert_eq!(elapses.len(), 7, "{text}");
            for e in elapses {
                // `Next elapse: Mon 2026-12-07 15:35:00 EST`
                let w: Vec<&str> = e.split_whitespace().collect();
                let (day, time, zone) = (w[w.len() - 4], w[w.len() - 2], w[w.len() - 1]);
                assert!(zone == "EST" || zone == "EDT", "{e}");
                if let Some(slot_hm) = hm.strip_prefix("*:") {
                    assert!(time.ends_with(slot_hm), "{cal}: {e}");
                } else {
                    assert_eq!(time, hm, "{cal}: {e}");
                    assert!(!matches!(day, "Sat" | "Sun"), "{cal}: {e}");
                }
            }
        }
    }
    // Six slots at two times each, and health.
    assert_eq!(seen, 13);
}

/// One cron field: `*`, `*/n`, `a`, `a-b`, `a-b/n` and lists of them.
fn field_matches(field: &str, v: u32) -> bool {
    field.split(',').any(|part| {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().expect("step")),
            None => (part, 1),
        };
        let (lo, hi) = match range {
            "*" => (0, u32::MAX),
            r => match r.split_once('-') {
                Some((a, b)) => (a.parse().expect("lo"), b.parse().expect("hi")),
                None => {
                    let a = r.parse().expect("value");
                    (a, a)
                }
            },
        };
        v >= lo && v <= hi && (v - lo.min(v)).is_multiple_of(step)
    })
}

struct Line {
    fields: [String; 5],
    slot: Option<Slot>,
}

/// The crontab's lines and whether it runs in New York time (`CRON_TZ`).
fn parse_crontab(text: &str) -> (bool, Vec<Line>) {
    let mut ny = false;
    let mut lines = Vec::new();
    for l in text.lines().map(str::trim) {
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if let Some(tz) = l.strip_prefix("CRON_TZ=") {
            assert_eq!(tz, "America/New_York");
            ny = true;
            continue;
        }
        if l.starts_with("SHELL=") {
            continue;
        }
        let w: Vec<&str> = l.split_whitespace().collect();
        assert!(w.len() > 6, "not a crontab line: {l}");
        let cmd = w[5..].join(" ");
        assert!(!cmd.contains("flock"), "{l}");
        assert!(
            cmd.contains(">> /opt/trader/logs/cron-$(TZ=America/New_York date +\\%F).log 2>&1"),
            "{l}"
        );
        let slot = cmd.split_once("--slot ").map(|(_, rest)| {
            let name = rest.split(' ').next().expect("slot");
            *Slot::ALL
                .iter()
                .find(|s| s.name() == name)
                .expect("known slot")
        });
        lines.push(Line {
            fields: std::array::from_fn(|i| w[i].to_string()),
            slot,
        });
    }
    (ny, lines)
}

fn fires(line: &Line, ny: bool, t: DateTime<Utc>) -> bool {
    let (min, hour, dom, mon, dow) = if ny {
        let l = t.with_timezone(&New_York);
        (
            l.minute(),
            l.hour(),
            l.day(),
            l.month(),
            l.weekday().num_days_from_sunday(),
        )
    } else {
        (
            t.minute(),
            t.hour(),
            t.day(),
            t.month(),
            t.weekday().num_days_from_sunday(),
        )
    };
    let f = &line.fields;
    field_matches(&f[0], min)
        && field_matches(&f[1], hour)
        && field_matches(&f[2], dom)
        && field_matches(&f[3], mon)
        && field_matches(&f[4], dow)
}

/// Each trading day's slot times in New York (`HH:MM`), from the calendar and the default
/// offsets (SPEC "The daily cycle").
fn expected(days: &[NaiveDate]) -> BTreeSet<(NaiveDate, Slot, String)> {
    let offsets = [
        (Slot::Fetch, -25),
        (Slot::Preflight, -20),
        (Slot::Trade, -10),
        (Slot::PostCloseFetch, 20),
        (Slot::Validate, 25),
        (Slot::Eod, 30),
    ];
    let mut out = BTreeSet::new();
    for d in days {
        let Some(close) = trader::calendar::close_instant(*d).expect("calendar") else {
            continue;
        };
        for (slot, m) in offsets {
            let t = close + Duration::minutes(m);
            out.insert((*d, slot, t.format("%H:%M").to_string()));
        }
    }
    out
}

#[test]
fn every_crontab_line_runs_each_slot_once_at_its_new_york_time() {
    let cfg = trader::config::ScheduleConfig::default();
    // DST starts 2026-03-08 and ends 2026-11-01; 2026-11-26 is Thanksgiving (closed) and
    // 2026-11-27 closes at 13:00.
    let windows = [("2026-03-05", 6), ("2026-10-29", 6), ("2026-11-24", 6)];
    for file in ["trader.crontab", "trader-utc.crontab"] {
        let text = std::fs::read_to_string(repo().join("cron").join(file)).expect("crontab");
        let (ny, lines) = parse_crontab(&text);
        assert_eq!(ny, file == "trader.crontab");
        for (start, n) in windows {
            let first: NaiveDate = start.parse().expect("date");
            let days: Vec<NaiveDate> = (0..n).map(|i| first + Duration::days(i)).collect();
            let mut ran = BTreeSet::new();
            let mut health = 0;
            let from = New_York
                .from_local_datetime(&first.and_hms_opt(0, 0, 0).expect("midnight"))
                .single()
                .expect("unique")
                .with_timezone(&Utc);
            for minute in 0..(n * 24 * 60) {
                let t = from + Duration::minutes(minute);
                for l in lines.iter().filter(|l| fires(l, ny, t)) {
                    let Some(slot) = l.slot else {
                        health += 1;
                        continue;
                    };
                    if decide(&cfg, slot, t).expect("calendar") == Firing::Run {
                        let local = t.with_timezone(&New_York);
                        let key = (local.date_naive(), slot, local.format("%H:%M").to_string());
                        assert!(ran.insert(key.clone()), "{file}: {key:?} ran twice");
                    }
                }
            }
            assert_eq!(ran, expected(&days), "{file} from {start}");
            // Hourly health: 24 a day (one less or more across a DST change in New York time).
            let want = n * 24;
            assert!(
                (want - 1..=want + 1).contains(&health),
                "{file} from {start}: {health} health runs"
            );
        }
    }
}

#[test]
fn install_writes_the_units_and_check_finds_a_changed_one_and_lists_next_runs() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("units");
    let d = dir.display().to_string();
    let out = trader(&["schedule", "install", "--dir", &d]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("wrote 15 unit file(s)"),
        "{}",
        stdout(&out)
    );
    let out = trader(&["schedule", "check", "--dir", &d]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let s = stdout(&out);
    assert!(s.contains("trader-trade@.timer"), "{s}");
    // TRADER_NOW is Friday 2026-05-01 10:00 EDT: today's slots are next.
    assert!(s.contains("Fri 2026-05-01 15:35 EDT"), "{s}");
    assert!(s.contains("Fri 2026-05-01 15:50 EDT"), "{s}");
    assert!(s.contains("Fri 2026-05-01 11:00 EDT"), "health: {s}");
    std::fs::write(dir.join("trader-trade@.timer"), "edited\n").expect("edit");
    std::fs::remove_file(dir.join("trader-fetch@.service")).expect("rm");
    let out = trader(&["schedule", "check", "--dir", &d]);
    assert_eq!(code(&out), 3, "{}", stdout(&out));
    let s = stdout(&out);
    assert!(
        s.contains("trader-fetch@.service") && s.contains("missing"),
        "{s}"
    );
    assert!(s.contains("differs"), "{s}");
}
