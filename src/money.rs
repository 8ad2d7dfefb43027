//! Money without drift: cash in integer cents, prices rounded at the broker's precision.
//!
//! Prices may be f64 for signals, but every amount that changes cash is computed once,
//! rounded to a whole cent, and then only added or subtracted as an integer.
//!
//! Amounts are bounded: |cents| <= [`MAX_CENTS`] ($10 trillion) and share counts <=
//! [`MAX_SHARES`]. Files from outside (state, simulated account) are checked against these
//! bounds on load, and every conversion from f64 goes through [`try_cents`], which refuses
//! NaN, infinities and out-of-range values instead of casting them to 0 or i64::MAX.

/// Round a price to what a US broker accepts: whole cents at $1 and above, hundredths
/// of a cent below (SEC Rule 612 sub-penny increments).
pub fn round_price(p: f64) -> f64 {
    if p >= 1.0 {
        (p * 100.0).round() / 100.0
    } else {
        (p * 10_000.0).round() / 10_000.0
    }
}

/// The largest amount of money the program handles, in cents ($10 trillion): far above any
/// account, far below where i64 sums of a few such amounts could overflow.
pub const MAX_CENTS: i64 = 1_000_000_000_000_000;

/// The largest position, in shares.
pub const MAX_SHARES: i64 = 1_000_000_000_000;

/// Dollars to cents, rounded half away from zero; `None` for NaN, infinities and amounts
/// beyond ±[`MAX_CENTS`].
pub fn try_cents(dollars: f64) -> Option<i64> {
    let c = (dollars * 100.0).round();
    // The bound is exact in f64 (1e15 < 2^53), so the cast below is in range and exact.
    (c.is_finite() && c.abs() <= MAX_CENTS as f64).then_some(c as i64)
}

/// Whether a cent amount is within ±[`MAX_CENTS`].
pub fn cents_in_range(c: i64) -> bool {
    (-MAX_CENTS..=MAX_CENTS).contains(&c)
}

/// Cents to dollars, for display and ratios only.
pub fn dollars(cents: i64) -> f64 {
    cents as f64 / 100.0
}

/// The cash amount of `qty` shares at `price`, rounded to the cent once; `None` when the
/// price is not finite or the amount is beyond ±[`MAX_CENTS`].
pub fn notional_cents(qty: i64, price: f64) -> Option<i64> {
    try_cents(qty as f64 * price)
}

/// A whole number of shares from an f64 (floored); `None` unless finite and within
/// 0..=[`MAX_SHARES`].
pub fn floor_shares(x: f64) -> Option<i64> {
    let f = x.floor();
    (f.is_finite() && (0.0..=MAX_SHARES as f64).contains(&f)).then_some(f as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_round_at_broker_precision() {
        assert_eq!(round_price(123.456), 123.46);
        assert_eq!(round_price(0.123456), 0.1235);
        assert_eq!(round_price(1.005_000_1), 1.01);
    }

    #[test]
    fn ten_thousand_small_trades_do_not_drift() {
        // 0.1 + 0.2 style errors would accumulate in f64 dollars; cents stay exact.
        let start = try_cents(10_000.0).expect("in range");
        let mut cash = start;
        let n = |q, p| notional_cents(q, p).expect("in range");
        for _ in 0..10_000 {
            cash -= n(3, 0.1);
            cash += n(3, 0.1);
            cash -= n(1, 0.07);
        }
        assert_eq!(cash, start - 70_000);
        assert_eq!(dollars(cash), 9_300.0);
    }

    #[test]
    fn bad_amounts_are_refused_not_cast() {
        assert_eq!(try_cents(f64::NAN), None);
        assert_eq!(try_cents(f64::INFINITY), None);
        assert_eq!(try_cents(1e300), None);
        assert_eq!(try_cents(-1e14), None);
        assert_eq!(try_cents(1e13), Some(MAX_CENTS));
        assert_eq!(try_cents(-0.005), Some(-1));
        assert_eq!(notional_cents(i64::MAX, 500.0), None);
        assert_eq!(notional_cents(10, f64::NAN), None);
        assert_eq!(floor_shares(f64::NAN), None);
        assert_eq!(floor_shares(-1.0), None);
        assert_eq!(floor_shares(1e300), None);
        assert_eq!(floor_shares(12.9), Some(12));
        assert!(cents_in_range(MAX_CENTS) && !cents_in_range(i64::MAX));
    }
}
