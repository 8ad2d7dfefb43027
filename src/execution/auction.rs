//! The closing auction (`execution.order_style: close_auction`): the cut-off before which
//! limit-on-close orders must be sent, shifted on early-close days by as much as the close
//! is (15:50 on a 16:00 close is 12:50 on a 13:00 close). Pure: no clock, no I/O.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};

/// `HH:MM` between the open (09:30) and the regular close (16:00), New York time.
pub fn parse_cutoff(s: &str) -> Option<NaiveTime> {
    let t = NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()?;
    let open = NaiveTime::from_hms_opt(9, 30, 0)?;
    (open..=crate::calendar::REGULAR_CLOSE)
        .contains(&t)
        .then_some(t)
}

/// The cut-off of `date` in New York time: `cutoff` moved by the day's close minus the
/// regular close. `None` when `date` is not a session (or the cut-off does not parse).
pub fn cutoff_on(date: NaiveDate, cutoff: &str) -> Option<DateTime<chrono_tz::Tz>> {
    let t = parse_cutoff(cutoff)?;
    let close = crate::calendar::close_time(date).ok()??;
    let shifted = t - (crate::calendar::REGULAR_CLOSE - close);
    chrono_tz::America::New_York
        .from_local_datetime(&date.and_time(shifted))
        .single()
}

/// Refuse a submission at `now` for `date` after its cut-off: the message names both in
/// New York time.
pub fn check_cutoff(now: DateTime<Utc>, date: NaiveDate, cutoff: &str) -> Result<(), String> {
    let Some(c) = cutoff_on(date, cutoff) else {
        return Err(format!(
            "{date} has no closing auction (not a session) or execution.close_auction_cutoff = {cutoff} is not HH:MM"
        ));
    };
    let ny = now.with_timezone(&chrono_tz::America::New_York);
    if now > c.with_timezone(&Utc) {
        return Err(format!(
            "the closing-auction cut-off of {date} is {} New York and it is {} New York: nothing sent (limit-on-close orders must be in before the cut-off)",
            c.format("%H:%M"),
            ny.format("%Y-%m-%d %H:%M:%S")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
    }

    #[test]
    fn the_cutoff_moves_with_an_early_close() {
        // 2026-11-27 (day after Thanksgiving) closes at 13:00.
        let early = cutoff_on(d(2026, 11, 27), "15:50").map(|t| t.format("%H:%M").to_string());
        assert_eq!(early.as_deref(), Some("12:50"));
        let regular = cutoff_on(d(2026, 11, 25), "15:50").map(|t| t.format("%H:%M").to_string());
        assert_eq!(regular.as_deref(), Some("15:50"));
        assert_eq!(cutoff_on(d(2026, 11, 26), "15:50"), None);
        assert_eq!(parse_cutoff("16:01"), None);
        assert_eq!(parse_cutoff("9:29"), None);
        assert!(parse_cutoff("15:50").is_some());
    }

    #[test]
    fn a_submission_after_the_cutoff_is_refused() {
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default()
        };
        // 15:49:59 and 15:50:00 EST pass, 15:50:01 does not.
        assert!(check_cutoff(at("2026-11-25T20:49:59Z"), d(2026, 11, 25), "15:50").is_ok());
        assert!(check_cutoff(at("2026-11-25T20:50:00Z"), d(2026, 11, 25), "15:50").is_ok());
        let e = check_cutoff(at("2026-11-25T20:50:01Z"), d(2026, 11, 25), "15:50");
        assert!(
            e.as_ref().is_err_and(
                |m| m.contains("15:50 New York") && m.contains("2026-11-25 15:50:01 New York")
            ),
            "{e:?}"
        );
        let e = check_cutoff(at("2026-11-27T17:51:00Z"), d(2026, 11, 27), "15:50");
        assert!(e.is_err_and(|m| m.contains("12:50 New York")));
    }
}
