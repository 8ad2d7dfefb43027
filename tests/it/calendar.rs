//! NYSE calendar checked against third-party fixtures (see tests/fixtures/calendar/README.md)
//! plus hand-written edge cases.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use trader::calendar::{
    CalendarError, close_instant, close_time, closure_reason, is_early_close, is_trading_day,
    last_completed_session, next_trading_day, open_instant, previous_trading_day, sessions_between,
    trading_date_of,
};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/calendar/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("valid test date")
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("bad instant {s}: {e}"))
        .with_timezone(&Utc)
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("valid test time")
}

fn is_weekday(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

fn days(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |x| *x <= to)
}

/// exchange_calendars' XNYS test resource: every session with its open and close in UTC.
#[test]
fn sessions_and_times_match_exchange_calendars_1990_2023() {
    let text = fixture("xnys_sessions_1990-01-02_2023-01-13.exchange_calendars_test_resource.csv");
    let mut expected = Vec::new();
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.trim().split(',').collect();
        let date = NaiveDate::parse_from_str(&cols[0][..10], "%Y-%m-%d").expect("session date");
        expected.push((date, utc(cols[1]), utc(cols[2])));
    }
    assert_eq!(expected.len(), 8324);

    let dates: Vec<NaiveDate> = expected.iter().map(|(date, _, _)| *date).collect();
    let sessions = sessions_between(d(1990, 1, 2), d(2023, 1, 13)).expect("in range");
    let (want, got): (BTreeSet<_>, BTreeSet<_>) =
        (dates.iter().collect(), sessions.iter().collect());
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?} extra {extra:?}"
    );
    assert_eq!(sessions, dates);

    // Opens and closes are checked for every year, including the 14:00 closes before 1993.
    for (date, open, close) in &expected {
        let got_open = open_instant(*date).expect("in range").expect("session");
        let got_close = close_instant(*date).expect("in range").expect("session");
        assert_eq!(got_open.with_timezone(&Utc), *open, "open on {date}");
        assert_eq!(got_close.with_timezone(&Utc), *close, "close on {date}");
    }
}

/// Every weekday closure and 13:00 early close 2015-2027; all other weekdays are full sessions.
#[test]
fn closures_and_early_closes_2015_2027_match_fixture() {
    let text = fixture("nyse_holidays_early_closes_2015_2027.csv");
    let mut special: BTreeMap<NaiveDate, Option<NaiveTime>> = BTreeMap::new();
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        // The quoted name column may contain commas; only the first four columns are read.
        let cols: Vec<&str> = line.split(',').collect();
        let date = NaiveDate::parse_from_str(cols[0], "%Y-%m-%d").expect("date");
        let close = match cols[2] {
            "closed" => None,
            "early_close" => Some(NaiveTime::parse_from_str(cols[3], "%H:%M").expect("time")),
            other => panic!("unknown status {other}"),
        };
        assert!(special.insert(date, close).is_none(), "duplicate {date}");
    }
    assert_eq!(special.len(), 150);
    assert_eq!(special.values().filter(|c| c.is_none()).count(), 124);

    for date in days(d(2015, 1, 1), d(2027, 12, 31)).filter(|x| is_weekday(*x)) {
        let want = match special.get(&date) {
            Some(None) => None,
            Some(Some(early)) => Some(*early),
            None => Some(hm(16, 0)),
        };
        assert_eq!(close_time(date).expect("in range"), want, "close on {date}");
        assert_eq!(is_trading_day(date).expect("in range"), want.is_some());
        assert_eq!(
            is_early_close(date).expect("in range"),
            want.is_some_and(|t| t < hm(16, 0))
        );
        let reason = closure_reason(date).expect("in range");
        assert_eq!(reason.is_some(), want.is_none(), "reason on {date}");
        assert_ne!(reason, Some("weekend"));
    }
}

/// pandas_market_calendars' list of full-day holidays; it ends at 2021-07-05.
#[test]
fn full_day_holidays_1990_2021_match_pandas_market_calendars() {
    let text =
        fixture("nyse_all_full_day_holidays_1928_2021.pandas_market_calendars_test_data.csv");
    let listed: BTreeSet<NaiveDate> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| NaiveDate::parse_from_str(l, "%m/%d/%Y").expect("M/D/YYYY date"))
        .collect();
    let end = d(2021, 7, 5);
    assert_eq!(listed.last(), Some(&end));
    let expected: BTreeSet<NaiveDate> = listed
        .range(d(1990, 1, 1)..)
        .copied()
        .filter(|x| is_weekday(*x))
        .collect();
    let ours: BTreeSet<NaiveDate> = days(d(1990, 1, 1), end)
        .filter(|x| is_weekday(*x) && !is_trading_day(*x).expect("in range"))
        .collect();
    assert_eq!(ours, expected);
}

#[test]
fn trading_date_is_the_new_york_date() {
    let cases = [
        // EST (UTC-5): New York midnight is 05:00Z.
        ("2024-03-05T02:00:00Z", d(2024, 3, 4)),
        ("2024-03-05T04:59:59Z", d(2024, 3, 4)),
        ("2024-03-05T05:00:00Z", d(2024, 3, 5)),
        // Spring forward on 2024-03-10: midnight before is 05:00Z, midnight after is 04:00Z.
        ("2024-03-10T04:59:59Z", d(2024, 3, 9)),
        ("2024-03-10T05:00:00Z", d(2024, 3, 10)),
        ("2024-03-11T03:59:59Z", d(2024, 3, 10)),
        ("2024-03-11T04:00:00Z", d(2024, 3, 11)),
        // Fall back on 2024-11-03: midnight before is 04:00Z, midnight after is 05:00Z.
        ("2024-11-03T03:59:59Z", d(2024, 11, 2)),
        ("2024-11-03T04:00:00Z", d(2024, 11, 3)),
        ("2024-11-03T06:30:00Z", d(2024, 11, 3)),
        ("2024-11-04T04:59:59Z", d(2024, 11, 3)),
        ("2024-11-04T05:00:00Z", d(2024, 11, 4)),
    ];
    for (instant, want) in cases {
        assert_eq!(trading_date_of(utc(instant)), want, "{instant}");
    }
    // Defined for every instant, even the extremes chrono can represent.
    let _ = trading_date_of(DateTime::<Utc>::MIN_UTC);
    let _ = trading_date_of(DateTime::<Utc>::MAX_UTC);
}

#[test]
fn previous_and_next_skip_closures() {
    // Memorial Day weekend 2024.
    assert_eq!(next_trading_day(d(2024, 5, 24)), Ok(d(2024, 5, 28)));
    assert_eq!(previous_trading_day(d(2024, 5, 28)), Ok(d(2024, 5, 24)));
    assert_eq!(previous_trading_day(d(2024, 5, 27)), Ok(d(2024, 5, 24)));
    // Good Friday + weekend.
    assert_eq!(previous_trading_day(d(2024, 4, 1)), Ok(d(2024, 3, 28)));
    // September 11: closed Tuesday through Friday.
    assert_eq!(next_trading_day(d(2001, 9, 10)), Ok(d(2001, 9, 17)));
    assert_eq!(next_trading_day(d(2001, 9, 12)), Ok(d(2001, 9, 17)));
    assert_eq!(previous_trading_day(d(2001, 9, 17)), Ok(d(2001, 9, 10)));
    // Hurricane Sandy.
    assert_eq!(next_trading_day(d(2012, 10, 26)), Ok(d(2012, 10, 31)));
    // Strictly before/after even when the argument is a session.
    assert_eq!(next_trading_day(d(2024, 3, 4)), Ok(d(2024, 3, 5)));
    assert_eq!(previous_trading_day(d(2024, 3, 5)), Ok(d(2024, 3, 4)));
}

#[test]
fn sessions_between_is_inclusive_and_ascending() {
    let got = sessions_between(d(2024, 12, 20), d(2025, 1, 3)).expect("in range");
    let want = [
        d(2024, 12, 20),
        d(2024, 12, 23),
        d(2024, 12, 24),
        d(2024, 12, 26),
        d(2024, 12, 27),
        d(2024, 12, 30),
        d(2024, 12, 31),
        d(2025, 1, 2),
        d(2025, 1, 3),
    ];
    assert_eq!(got, want);
    assert_eq!(
        sessions_between(d(2024, 3, 4), d(2024, 3, 4)),
        Ok(vec![d(2024, 3, 4)])
    );
    assert_eq!(
        sessions_between(d(2024, 12, 25), d(2024, 12, 25)),
        Ok(vec![])
    );
    assert_eq!(sessions_between(d(2025, 1, 3), d(2024, 12, 20)), Ok(vec![]));
    // The whole range in one go stays cheap and plausible (~252 sessions a year).
    let all = sessions_between(d(1990, 1, 1), d(2099, 12, 31)).expect("in range");
    assert!(all.windows(2).all(|w| w[0] < w[1]));
    assert!((110 * 248..110 * 256).contains(&all.len()), "{}", all.len());
}

#[test]
fn last_completed_session_respects_the_close() {
    // Regular day, EST: close 16:00 = 21:00Z. 2024-03-04 is a Monday.
    assert_eq!(
        last_completed_session(utc("2024-03-04T20:59:59Z")),
        Ok(d(2024, 3, 1))
    );
    assert_eq!(
        last_completed_session(utc("2024-03-04T21:00:00Z")),
        Ok(d(2024, 3, 4))
    );
    // After UTC midnight but still the same New York evening.
    assert_eq!(
        last_completed_session(utc("2024-03-05T02:00:00Z")),
        Ok(d(2024, 3, 4))
    );
    // Early close after Thanksgiving, EST: 13:00 = 18:00Z.
    assert_eq!(
        last_completed_session(utc("2024-11-29T17:59:59Z")),
        Ok(d(2024, 11, 27))
    );
    assert_eq!(
        last_completed_session(utc("2024-11-29T18:00:00Z")),
        Ok(d(2024, 11, 29))
    );
    // Early close before Independence Day, EDT: 13:00 = 17:00Z.
    assert_eq!(
        last_completed_session(utc("2024-07-03T16:59:59Z")),
        Ok(d(2024, 7, 2))
    );
    assert_eq!(
        last_completed_session(utc("2024-07-03T17:00:00Z")),
        Ok(d(2024, 7, 3))
    );
    // Weekends and holidays point back to the last session.
    assert_eq!(
        last_completed_session(utc("2024-03-09T15:00:00Z")),
        Ok(d(2024, 3, 8))
    );
    assert_eq!(
        last_completed_session(utc("2024-12-25T22:00:00Z")),
        Ok(d(2024, 12, 24))
    );
}

#[test]
fn session_instants_on_early_close_days() {
    let close = close_instant(d(2024, 11, 29))
        .expect("in range")
        .expect("session");
    assert_eq!(close.with_timezone(&Utc), utc("2024-11-29T18:00:00Z"));
    let open = open_instant(d(2024, 11, 29))
        .expect("in range")
        .expect("session");
    assert_eq!(open.with_timezone(&Utc), utc("2024-11-29T14:30:00Z"));
    let close = close_instant(d(2024, 7, 3))
        .expect("in range")
        .expect("session");
    assert_eq!(close.with_timezone(&Utc), utc("2024-07-03T17:00:00Z"));
    assert_eq!(close_time(d(2025, 12, 24)), Ok(Some(hm(13, 0))));
    assert!(is_early_close(d(2025, 12, 24)).expect("in range"));
    // Before 1993 the shortened sessions ended at 14:00.
    let close = close_instant(d(1992, 12, 24))
        .expect("in range")
        .expect("session");
    assert_eq!(
        close,
        chrono_tz::America::New_York
            .with_ymd_and_hms(1992, 12, 24, 14, 0, 0)
            .unwrap()
    );
    // No session, no instants.
    assert_eq!(close_instant(d(2024, 12, 25)), Ok(None));
    assert_eq!(open_instant(d(2024, 12, 28)), Ok(None));
    assert!(!is_early_close(d(2024, 12, 25)).expect("in range"));
}

#[test]
fn closure_reasons_and_observance() {
    assert_eq!(closure_reason(d(2024, 3, 9)), Ok(Some("weekend")));
    assert_eq!(closure_reason(d(2024, 3, 29)), Ok(Some("Good Friday")));
    assert_eq!(closure_reason(d(2024, 12, 25)), Ok(Some("Christmas")));
    assert_eq!(
        closure_reason(d(2018, 12, 5)),
        Ok(Some("National Day of Mourning (George H.W. Bush)"))
    );
    assert_eq!(closure_reason(d(2024, 3, 4)), Ok(None));
    // Saturday New Year's Day is not moved to Friday; other Saturday holidays are.
    assert_eq!(is_trading_day(d(2021, 12, 31)), Ok(true));
    assert_eq!(closure_reason(d(2021, 12, 24)), Ok(Some("Christmas")));
    assert_eq!(closure_reason(d(2027, 6, 18)), Ok(Some("Juneteenth")));
    // Juneteenth only from 2022; MLK Day only from 1998.
    assert_eq!(is_trading_day(d(2021, 6, 18)), Ok(true));
    assert_eq!(is_trading_day(d(1997, 1, 20)), Ok(true));
    assert_eq!(
        closure_reason(d(1998, 1, 19)),
        Ok(Some("Martin Luther King Jr. Day"))
    );
}

#[test]
fn out_of_range_is_an_error_not_a_panic() {
    let early = d(1989, 12, 29);
    let err = Err(CalendarError::OutOfRange { date: early });
    assert_eq!(is_trading_day(early), err);
    assert!(closure_reason(NaiveDate::MIN).is_err());
    assert!(close_time(NaiveDate::MAX).is_err());
    assert!(open_instant(d(2100, 1, 4)).is_err());
    assert!(previous_trading_day(d(1990, 1, 2)).is_err());
    assert_eq!(next_trading_day(d(2099, 12, 30)), Ok(d(2099, 12, 31)));
    assert!(next_trading_day(d(2099, 12, 31)).is_err());
    assert!(sessions_between(d(1989, 1, 1), d(1990, 1, 5)).is_err());
    assert!(sessions_between(NaiveDate::MIN, NaiveDate::MAX).is_err());
    assert!(last_completed_session(DateTime::<Utc>::MIN_UTC).is_err());
    assert!(last_completed_session(DateTime::<Utc>::MAX_UTC).is_err());
    assert!(last_completed_session(utc("1990-01-02T20:59:59Z")).is_err());
    assert_eq!(
        last_completed_session(utc("1990-01-02T21:00:00Z")),
        Ok(d(1990, 1, 2))
    );
}
