//! Money without drift: cash in integer cents, prices rounded at the broker's precision.
//!
//! Prices may be f64 for signals, but every amount that changes cash is computed once,
//! rounded to a whole cent, and then only added or subtracted as an integer.

/// Round a price to what a US broker accepts: whole cents at $1 and above, hundredths
/// of a cent below (SEC Rule 612 sub-penny increments).
pub fn round_price(p: f64) -> f64 {
    if p >= 1.0 {
        (p * 100.0).round() / 100.0
    } else {
        (p * 10_000.0).round() / 10_000.0
    }
}

/// Dollars to cents, rounded half away from zero.
pub fn cents(dollars: f64) -> i64 {
    (dollars * 100.0).round() as i64
}

/// Cents to dollars, for display and ratios only.
pub fn dollars(cents: i64) -> f64 {
    cents as f64 / 100.0
}

/// The cash amount of `qty` shares at `price`, rounded to the cent once.
pub fn notional_cents(qty: i64, price: f64) -> i64 {
    cents(qty as f64 * price)
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
        let mut cash = cents(10_000.0);
        for _ in 0..10_000 {
            cash -= notional_cents(3, 0.1);
            cash += notional_cents(3, 0.1);
            cash -= notional_cents(1, 0.07);
        }
        assert_eq!(cash, cents(10_000.0) - 70_000);
        assert_eq!(dollars(cash), 9_300.0);
    }
}
