//! Rule-based New York Stock Exchange (XNYS) trading calendar.
//!
//! Pure functions: no I/O and no clock reads; callers pass the dates and instants to evaluate.
//! Sessions open at 09:30 and close at 16:00 `America/New_York`, or earlier on the early-close
//! days listed below. The rules reproduce the `exchange_calendars` `XNYS` calendar exactly for
//! 1990-01-02..=2023-01-13 and NYSE's published schedule through 2027; later years are
//! extrapolated from the same rules and cannot know about future ad-hoc closures.
//!
//! Supported range: [`FIRST_YEAR`]-01-01 ..= [`LAST_YEAR`]-12-31. Every function that takes a
//! date (or needs the calendar around an instant) returns [`CalendarError::OutOfRange`] for
//! dates outside it, including when a search such as [`previous_trading_day`] would have to
//! leave it. Only [`trading_date_of`], a pure time-zone conversion, is infallible.

use std::sync::OnceLock;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, Offset, TimeZone, Utc, Weekday};
use chrono_tz::America::New_York;
use chrono_tz::Tz;

/// First calendar year covered by the rules.
pub const FIRST_YEAR: i32 = 1990;
/// Last calendar year covered by the rules.
pub const LAST_YEAR: i32 = 2099;

/// Errors from calendar queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The date (given, or reached while searching) lies outside 1990-01-01..=2099-12-31.
    #[error("date {date} is outside the supported NYSE calendar range 1990-01-01..=2099-12-31")]
    OutOfRange {
        /// The offending date.
        date: NaiveDate,
    },
}

// Only evaluated in const items, so a bad literal fails the build instead of panicking at run time.
const fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(d) => d,
        None => panic!("invalid date literal"),
    }
}

const fn hm(hour: u32, minute: u32) -> NaiveTime {
    match NaiveTime::from_hms_opt(hour, minute, 0) {
        Some(t) => t,
        None => panic!("invalid time literal"),
    }
}

const OPEN: NaiveTime = hm(9, 30);
/// The close of a regular session (New York).
pub const REGULAR_CLOSE: NaiveTime = hm(16, 0);
/// The close of an early-close session since 1993 (New York).
pub const EARLY_CLOSE: NaiveTime = hm(13, 0);
// Before 1993 the shortened sessions (Christmas Eve, and the day after Thanksgiving in 1992)
// ended at 14:00, as recorded in exchange_calendars' XNYS session data.
const EARLY_CLOSE_PRE_1993: NaiveTime = hm(14, 0);

/// Closures decided ad hoc by the exchange; no rule can predict them.
const ADHOC_CLOSURES: &[(NaiveDate, &str)] = &[
    (ymd(1994, 4, 27), "National Day of Mourning (Richard Nixon)"),
    (ymd(2001, 9, 11), "September 11 attacks"),
    (ymd(2001, 9, 12), "September 11 attacks"),
    (ymd(2001, 9, 13), "September 11 attacks"),
    (ymd(2001, 9, 14), "September 11 attacks"),
    (ymd(2004, 6, 11), "National Day of Mourning (Ronald Reagan)"),
    (ymd(2007, 1, 2), "National Day of Mourning (Gerald Ford)"),
    (ymd(2012, 10, 29), "Hurricane Sandy"),
    (ymd(2012, 10, 30), "Hurricane Sandy"),
    (
        ymd(2018, 12, 5),
        "National Day of Mourning (George H.W. Bush)",
    ),
    (ymd(2025, 1, 9), "National Day of Mourning (Jimmy Carter)"),
];

/// Ad-hoc 13:00 closes that no recurring rule explains: the Fridays after Christmas in 1997 and
/// 2003 (the same pattern in 2008 and 2014 was a full session) and the Y2K New Year's Eve.
const ADHOC_EARLY_CLOSES: &[NaiveDate] = &[ymd(1997, 12, 26), ymd(1999, 12, 31), ymd(2003, 12, 26)];

/// Special days of one year; a dozen entries at most, so a linear scan beats any map.
struct YearTable {
    closures: Vec<(NaiveDate, &'static str)>,
    early_closes: Vec<(NaiveDate, NaiveTime)>,
}

enum DayKind {
    Closed(&'static str),
    Open(NaiveTime),
}

fn year_table(date: NaiveDate) -> Result<&'static YearTable, CalendarError> {
    static TABLES: OnceLock<Vec<YearTable>> = OnceLock::new();
    let tables = TABLES.get_or_init(|| (FIRST_YEAR..=LAST_YEAR).map(build_year).collect());
    usize::try_from(date.year() - FIRST_YEAR)
        .ok()
        .and_then(|i| tables.get(i))
        .ok_or(CalendarError::OutOfRange { date })
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Saturday holidays are observed on Friday and Sunday ones on Monday.
fn observed(date: Option<NaiveDate>) -> Option<NaiveDate> {
    let date = date?;
    match date.weekday() {
        Weekday::Sat => date.pred_opt(),
        Weekday::Sun => date.succ_opt(),
        _ => Some(date),
    }
}

/// Easter Sunday by the anonymous Gregorian computus (Meeus/Jones/Butcher).
fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let (a, b, c) = (year % 19, year / 100, year % 100);
    let (d, e) = (b / 4, b % 4);
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let (i, k) = (c / 4, c % 4);
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
}

fn last_monday_of_may(year: i32) -> Option<NaiveDate> {
    let may31 = NaiveDate::from_ymd_opt(year, 5, 31)?;
    may31.checked_sub_days(Days::new(u64::from(may31.weekday().num_days_from_monday())))
}

fn build_year(year: i32) -> YearTable {
    let on = |month, day| NaiveDate::from_ymd_opt(year, month, day);
    let thanksgiving = nth_weekday(year, 11, Weekday::Thu, 4);

    let mut closures: Vec<(NaiveDate, &'static str)> = Vec::with_capacity(16);
    // NYSE Rule 7.2 moves a Saturday holiday to Friday unless that Friday ends a monthly or
    // yearly accounting period, so a Saturday New Year's Day is simply not observed.
    let new_year = on(1, 1).filter(|d| d.weekday() != Weekday::Sat);
    // MLK Day only became an NYSE holiday in 1998, and Juneteenth in 2022.
    let mlk = nth_weekday(year, 1, Weekday::Mon, 3).filter(|_| year >= 1998);
    let juneteenth = observed(on(6, 19)).filter(|_| year >= 2022);
    let rules = [
        (observed(new_year), "New Year's Day"),
        (mlk, "Martin Luther King Jr. Day"),
        (
            nth_weekday(year, 2, Weekday::Mon, 3),
            "Washington's Birthday",
        ),
        (
            easter_sunday(year).and_then(|e| e.checked_sub_days(Days::new(2))),
            "Good Friday",
        ),
        (last_monday_of_may(year), "Memorial Day"),
        (juneteenth, "Juneteenth"),
        (observed(on(7, 4)), "Independence Day"),
        (nth_weekday(year, 9, Weekday::Mon, 1), "Labor Day"),
        (thanksgiving, "Thanksgiving"),
        (observed(on(12, 25)), "Christmas"),
    ];
    closures.extend(rules.into_iter().filter_map(|(d, name)| Some((d?, name))));
    closures.extend(ADHOC_CLOSURES.iter().filter(|(d, _)| d.year() == year));

    let shortened = if year < 1993 {
        EARLY_CLOSE_PRE_1993
    } else {
        EARLY_CLOSE
    };
    let mut candidates: Vec<(Option<NaiveDate>, NaiveTime)> = vec![(on(12, 24), shortened)];
    // The day after Thanksgiving was a full session until 1992.
    if year >= 1992 {
        candidates.push((thanksgiving.and_then(|t| t.succ_opt()), shortened));
    }
    // Independence Day half days start in 1995. The Wednesday July 3 became a half day in 2013,
    // replacing the Friday July 5 half day used until 2012 when July 4 is a Thursday.
    if year >= 1995 {
        let july3 = on(7, 3).filter(|d| match d.weekday() {
            Weekday::Mon | Weekday::Tue | Weekday::Thu => true,
            Weekday::Wed => year >= 2013,
            _ => false,
        });
        let july5 = on(7, 5).filter(|d| d.weekday() == Weekday::Fri && year < 2013);
        candidates.push((july3, EARLY_CLOSE));
        candidates.push((july5, EARLY_CLOSE));
    }
    let adhoc = ADHOC_EARLY_CLOSES.iter().filter(|d| d.year() == year);
    candidates.extend(adhoc.map(|d| (Some(*d), EARLY_CLOSE)));
    // A candidate that is itself a weekend or (observed) holiday, e.g. a Friday December 24,
    // is simply closed.
    let early_closes = candidates
        .into_iter()
        .filter_map(|(d, t)| Some((d?, t)))
        .filter(|(d, _)| !is_weekend(*d) && !closures.iter().any(|(c, _)| c == d))
        .collect();

    YearTable {
        closures,
        early_closes,
    }
}

fn classify(date: NaiveDate) -> Result<DayKind, CalendarError> {
    let table = year_table(date)?;
    if is_weekend(date) {
        return Ok(DayKind::Closed("weekend"));
    }
    if let Some((_, name)) = table.closures.iter().find(|(d, _)| *d == date) {
        return Ok(DayKind::Closed(name));
    }
    let close = table
        .early_closes
        .iter()
        .find(|(d, _)| *d == date)
        .map_or(REGULAR_CLOSE, |(_, t)| *t);
    Ok(DayKind::Open(close))
}

/// Whether the NYSE holds a session on `date`.
pub fn is_trading_day(date: NaiveDate) -> Result<bool, CalendarError> {
    Ok(matches!(classify(date)?, DayKind::Open(_)))
}

/// Why the exchange is closed on `date` (`"weekend"`, `"Good Friday"`, `"Hurricane Sandy"`,
/// ...), or `None` if it is a trading day.
pub fn closure_reason(date: NaiveDate) -> Result<Option<&'static str>, CalendarError> {
    Ok(match classify(date)? {
        DayKind::Closed(reason) => Some(reason),
        DayKind::Open(_) => None,
    })
}

/// New York wall-clock close of the session on `date`: 16:00, 13:00 on early closes (14:00
/// before 1993); `None` when there is no session.
pub fn close_time(date: NaiveDate) -> Result<Option<NaiveTime>, CalendarError> {
    Ok(match classify(date)? {
        DayKind::Open(close) => Some(close),
        DayKind::Closed(_) => None,
    })
}

/// Whether `date` is a trading day that closes before 16:00. False on non-trading days.
pub fn is_early_close(date: NaiveDate) -> Result<bool, CalendarError> {
    Ok(close_time(date)?.is_some_and(|t| t < REGULAR_CLOSE))
}

fn new_york_instant(date: NaiveDate, time: NaiveTime) -> Option<DateTime<Tz>> {
    // 09:30-16:00 never falls in a DST gap or fold (those are at 02:00), so this is unique.
    New_York.from_local_datetime(&date.and_time(time)).single()
}

/// Session open (09:30 America/New_York) on `date`; `None` when there is no session.
pub fn open_instant(date: NaiveDate) -> Result<Option<DateTime<Tz>>, CalendarError> {
    Ok(match classify(date)? {
        DayKind::Open(_) => new_york_instant(date, OPEN),
        DayKind::Closed(_) => None,
    })
}

/// Session close in America/New_York on `date` (see [`close_time`]); `None` when there is no
/// session.
pub fn close_instant(date: NaiveDate) -> Result<Option<DateTime<Tz>>, CalendarError> {
    Ok(match classify(date)? {
        DayKind::Open(close) => new_york_instant(date, close),
        DayKind::Closed(_) => None,
    })
}

/// The America/New_York calendar date of `instant` (not its UTC date: 2024-03-05T02:00Z is
/// still 2024-03-04 in New York). Infallible: within hours of chrono's representable limits,
/// where the New York date itself cannot be represented, it returns the UTC date.
pub fn trading_date_of(instant: DateTime<Utc>) -> NaiveDate {
    let utc = instant.naive_utc();
    // `DateTime::date_naive` panics when the local time overflows, hence the checked offset.
    let offset = New_York.offset_from_utc_datetime(&utc).fix();
    utc.checked_add_offset(offset).unwrap_or(utc).date()
}

fn step_to_session(
    date: NaiveDate,
    step: fn(&NaiveDate) -> Option<NaiveDate>,
) -> Result<NaiveDate, CalendarError> {
    year_table(date)?;
    let mut day = date;
    loop {
        day = step(&day).ok_or(CalendarError::OutOfRange { date: day })?;
        if is_trading_day(day)? {
            return Ok(day);
        }
    }
}

/// The last trading day strictly before `date`. `date` itself need not be a trading day.
/// Errors if `date` is out of range or the answer would be before 1990-01-01.
pub fn previous_trading_day(date: NaiveDate) -> Result<NaiveDate, CalendarError> {
    step_to_session(date, NaiveDate::pred_opt)
}

/// The first trading day strictly after `date`. `date` itself need not be a trading day.
/// Errors if `date` is out of range or the answer would be after 2099-12-31.
pub fn next_trading_day(date: NaiveDate) -> Result<NaiveDate, CalendarError> {
    step_to_session(date, NaiveDate::succ_opt)
}

/// All trading days in `from..=to`, ascending; empty when `from > to`. Both ends must be in
/// the supported range.
pub fn sessions_between(from: NaiveDate, to: NaiveDate) -> Result<Vec<NaiveDate>, CalendarError> {
    year_table(from)?;
    year_table(to)?;
    let mut sessions = Vec::new();
    for day in from.iter_days().take_while(|d| *d <= to) {
        if is_trading_day(day)? {
            sessions.push(day);
        }
    }
    Ok(sessions)
}

/// The latest trading day whose close is at or before `instant`: data stamped with an older
/// session is stale. Before today's close (or on a non-trading day) this is the previous
/// session. Errors if the New York date of `instant` is outside the supported range or the
/// answer would be before 1990-01-01.
pub fn last_completed_session(instant: DateTime<Utc>) -> Result<NaiveDate, CalendarError> {
    let today = trading_date_of(instant);
    match close_instant(today)? {
        Some(close) if close <= instant => Ok(today),
        _ => previous_trading_day(today),
    }
}
