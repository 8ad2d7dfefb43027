//! Decimal strings of the Alpaca API to integers (cents, whole shares) without f64, and
//! limit prices to strings at the venue's tick.

/// A decimal string split exactly: sign, integer digits, fraction digits.
fn split(s: &str) -> Option<(bool, u128, String)> {
    let t = s.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || int.len() > 30
    {
        return None;
    }
    let i = if int.is_empty() { 0 } else { int.parse().ok()? };
    Some((neg, i, frac.to_string()))
}

/// `"10000.07"` → 1_000_007 cents exactly; more than two decimals round half away from zero
/// (Alpaca sends `"122716.305"` for some buying powers). `None` for anything not a decimal.
pub fn parse_cents(s: &str) -> Option<i64> {
    let (neg, int, frac) = split(s)?;
    let digit = |k: usize| u128::from(frac.as_bytes().get(k).map_or(0, |b| b - b'0'));
    let mut cents = int.checked_mul(100)? + digit(0) * 10 + digit(1);
    if digit(2) >= 5 {
        cents += 1;
    }
    let c = i64::try_from(cents).ok()?;
    Some(if neg { -c } else { c })
}

/// `"12"` or `"12.000"` → 12 shares; a fractional quantity (`"1.5"`) or a non-number is `Err`
/// with the text, for a message naming the symbol.
pub fn parse_whole_shares(s: &str) -> Result<i64, String> {
    let bad = || s.to_string();
    let (neg, int, frac) = split(s).ok_or_else(bad)?;
    if frac.bytes().any(|b| b != b'0') {
        return Err(bad());
    }
    let q = i64::try_from(int).map_err(|_| bad())?;
    Ok(if neg { -q } else { q })
}

/// A decimal string as a price (for reports and the order's f64 fields only; money is cents).
pub fn parse_price(s: &str) -> Option<f64> {
    split(s)?;
    s.trim().parse::<f64>().ok().filter(|p| p.is_finite())
}

/// The limit price as Alpaca wants it: at a 0.01 tick at or above $1, 0.0001 below. A buy
/// rounds down and a sell rounds up, so the limit never leaves the collar. `None` for a price
/// that is not finite and positive.
pub fn format_limit(price: f64, buy: bool) -> Option<String> {
    if !price.is_finite() || price <= 0.0 || price > 1e12 {
        return None;
    }
    // Work in ten-thousandths; the 1e-9 slack keeps 12.34 (stored as 12.339999…) at 12.34.
    let scaled = price * 10_000.0;
    let units = |step: f64| -> i64 {
        let x = scaled / step;
        let r = if buy {
            (x + 1e-6).floor()
        } else {
            (x - 1e-6).ceil()
        };
        r as i64 * step as i64
    };
    let mut u = units(100.0);
    if u < 10_000 {
        u = units(1.0);
        if u >= 10_000 {
            // A sell just below $1 that rounds up to $1.0000 is $1.00 at the cent tick.
            return Some("1.00".to_string());
        }
        if u <= 0 {
            return None;
        }
        return Some(format!("{}.{:04}", u / 10_000, u % 10_000));
    }
    let cents = u / 100;
    Some(format!("{}.{:02}", cents / 100, cents % 100))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_are_exact() {
        assert_eq!(parse_cents("10000.07"), Some(1_000_007));
        assert_eq!(parse_cents("122086.5"), Some(12_208_650));
        assert_eq!(parse_cents("0"), Some(0));
        assert_eq!(parse_cents("-12.34"), Some(-1234));
        assert_eq!(parse_cents("122716.305"), Some(12_271_631));
        assert_eq!(parse_cents("0.1"), Some(10));
        // 0.1 + 0.2 in f64 is 0.30000000000000004; the strings stay exact.
        assert_eq!(parse_cents("0.30"), Some(30));
        assert_eq!(parse_cents("abc"), None);
        assert_eq!(parse_cents("1e5"), None);
        assert_eq!(parse_cents(""), None);
        assert_eq!(parse_cents("."), None);
    }

    #[test]
    fn shares_must_be_whole() {
        assert_eq!(parse_whole_shares("5"), Ok(5));
        assert_eq!(parse_whole_shares("12.000"), Ok(12));
        assert_eq!(parse_whole_shares("-3"), Ok(-3));
        assert_eq!(parse_whole_shares("1.5"), Err("1.5".to_string()));
        assert_eq!(parse_whole_shares("0.0001"), Err("0.0001".to_string()));
        assert!(parse_whole_shares("x").is_err());
    }

    #[test]
    fn limits_round_inside_the_collar_at_the_tick() {
        assert_eq!(format_limit(101.236, true).as_deref(), Some("101.23"));
        assert_eq!(format_limit(101.231, false).as_deref(), Some("101.24"));
        assert_eq!(format_limit(12.34, true).as_deref(), Some("12.34"));
        assert_eq!(format_limit(12.34, false).as_deref(), Some("12.34"));
        assert_eq!(format_limit(1.0, true).as_deref(), Some("1.00"));
        assert_eq!(format_limit(0.123456, true).as_deref(), Some("0.1234"));
        assert_eq!(format_limit(0.123456, false).as_deref(), Some("0.1235"));
        assert_eq!(format_limit(0.99999, false).as_deref(), Some("1.00"));
        assert_eq!(format_limit(1.005, true).as_deref(), Some("1.00"));
        assert_eq!(format_limit(1.001, false).as_deref(), Some("1.01"));
        assert_eq!(format_limit(0.00001, true), None);
        assert_eq!(format_limit(f64::NAN, true), None);
        assert_eq!(format_limit(-1.0, false), None);
    }
}
