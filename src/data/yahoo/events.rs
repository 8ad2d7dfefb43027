//! Corporate actions (dividends, splits) onto bars, and timestamps to exchange-local dates.

use chrono::{DateTime, FixedOffset, NaiveDate};
use chrono_tz::America::New_York;
use chrono_tz::Tz;

use super::{Events, Meta, PROVIDER};
use crate::data::http::FetchError;
use crate::model::Bar;

/// Puts dividends and split factors on their bars. Events outside the returned bars are ignored;
/// an event inside them with no bar on its date is an error.
pub(super) fn apply_events(
    symbol: &str,
    zone: &Zone,
    events: Events,
    bars: &mut [Bar],
) -> Result<(), FetchError> {
    let (Some(first), Some(last)) = (bars.first().map(|b| b.date), bars.last().map(|b| b.date))
    else {
        return Ok(());
    };
    let slot = |kind: &str, key: &str, date: Option<i64>| -> Result<Option<usize>, FetchError> {
        let ts = date.or_else(|| key.parse().ok());
        let day = ts.and_then(|t| zone.date(t));
        let day = day.ok_or_else(|| {
            FetchError::data(PROVIDER, symbol, kind, format!("bad date for event {key}"))
        })?;
        if day < first || day > last {
            return Ok(None);
        }
        match bars.binary_search_by_key(&day, |b| b.date) {
            Ok(i) => Ok(Some(i)),
            Err(_) => Err(FetchError::data(
                PROVIDER,
                symbol,
                format!("{kind} {day}"),
                "no bar on that date",
            )),
        }
    };
    let mut dividends = Vec::new();
    for (key, d) in events.dividends.unwrap_or_default() {
        if let Some(i) = slot("dividend", &key, d.date)? {
            dividends.push((i, d.amount));
        }
    }
    let mut splits = Vec::new();
    for (key, s) in events.splits.unwrap_or_default() {
        if let Some(i) = slot("split", &key, s.date)? {
            splits.push((i, s.numerator, s.denominator));
        }
    }
    for (i, amount) in dividends {
        let item = format!("dividend {}", bars[i].date);
        match amount {
            Some(a) if a.is_finite() && a >= 0.0 => bars[i].dividend += a,
            other => {
                return Err(FetchError::data(
                    PROVIDER,
                    symbol,
                    item,
                    format!("amount = {other:?}: must be >= 0"),
                ));
            }
        }
    }
    for (i, num, den) in splits {
        let item = format!("split {}", bars[i].date);
        let factor = match (num, den) {
            (Some(n), Some(d)) if n > 0.0 && d > 0.0 && (n / d).is_finite() => n / d,
            _ => {
                return Err(FetchError::data(
                    PROVIDER,
                    symbol,
                    item,
                    format!("ratio {num:?}/{den:?}: must be > 0"),
                ));
            }
        };
        bars[i].split_factor *= factor;
    }
    Ok(())
}

/// The time zone that turns a timestamp into a trading date.
pub(super) enum Zone {
    Named(Tz),
    Fixed(FixedOffset),
}

impl Zone {
    pub(super) fn from_meta(meta: Option<&Meta>) -> Zone {
        let named = meta
            .and_then(|m| m.exchange_timezone_name.as_deref())
            .and_then(|n| n.parse::<Tz>().ok());
        let fixed = meta
            .and_then(|m| m.gmtoffset)
            .and_then(FixedOffset::east_opt);
        match (named, fixed) {
            (Some(tz), _) => Zone::Named(tz),
            (None, Some(off)) => Zone::Fixed(off),
            (None, None) => Zone::Named(New_York),
        }
    }

    pub(super) fn date(&self, ts: i64) -> Option<NaiveDate> {
        let utc = DateTime::from_timestamp(ts, 0)?;
        Some(match self {
            Zone::Named(tz) => utc.with_timezone(tz).date_naive(),
            Zone::Fixed(off) => utc.with_timezone(off).date_naive(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The build keeps only New York (with UTC and GMT) in chrono-tz's database
    /// (`.cargo/config.toml`): an exchange in another zone is dated by Yahoo's fixed offset,
    /// which gives the same date (bars are stamped at the session's open, hours from midnight).
    #[test]
    fn zones_outside_the_built_database_use_the_fixed_offset() {
        assert!("Europe/London".parse::<Tz>().is_err());
        assert!("UTC".parse::<Tz>().is_ok());
        let meta = |name: &str, offset| Meta {
            symbol: None,
            exchange_timezone_name: Some(name.to_string()),
            gmtoffset: Some(offset),
        };
        let ny = Zone::from_meta(Some(&meta("America/New_York", -14_400)));
        assert!(matches!(ny, Zone::Named(tz) if tz == New_York));
        let london = Zone::from_meta(Some(&meta("Europe/London", 3_600)));
        assert!(matches!(london, Zone::Fixed(_)));
        // 2024-06-03 07:00 UTC: 08:00 in London, 03:00 in New York.
        let day = NaiveDate::from_ymd_opt(2024, 6, 3);
        assert_eq!(london.date(1_717_398_000), day);
        assert_eq!(ny.date(1_717_398_000), day);
    }
}
