//! Small statistics over slices used by the factor definitions: means, sample moments, Wilder
//! smoothing and least squares. Every function returns NaN where the statistic is undefined
//! (too few values, zero variance), never panics.

/// Arithmetic mean; NaN for an empty slice.
pub fn mean(x: &[f64]) -> f64 {
    if x.is_empty() {
        return f64::NAN;
    }
    x.iter().sum::<f64>() / x.len() as f64
}

/// Standard deviation with `ddof` degrees of freedom removed; NaN if `len <= ddof`.
pub fn std(x: &[f64], ddof: usize) -> f64 {
    if x.len() <= ddof {
        return f64::NAN;
    }
    let m = mean(x);
    let ss: f64 = x.iter().map(|v| (v - m) * (v - m)).sum();
    (ss / (x.len() - ddof) as f64).sqrt()
}

/// Sample skewness with pandas' bias correction: `n/((n−1)(n−2))·Σ((x−x̄)/s)³`, `s` with ddof 1.
/// NaN for fewer than 3 values or zero deviation.
pub fn skew(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let s = std(x, 1);
    if x.len() < 3 || s.is_nan() || s == 0.0 {
        return f64::NAN;
    }
    let m = mean(x);
    let sum: f64 = x.iter().map(|v| ((v - m) / s).powi(3)).sum();
    n / ((n - 1.0) * (n - 2.0)) * sum
}

/// Sample excess kurtosis with pandas' bias correction:
/// `n(n+1)/((n−1)(n−2)(n−3))·Σ((x−x̄)/s)⁴ − 3(n−1)²/((n−2)(n−3))`. NaN for fewer than 4 values
/// or zero deviation.
pub fn kurt(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let s = std(x, 1);
    if x.len() < 4 || s.is_nan() || s == 0.0 {
        return f64::NAN;
    }
    let m = mean(x);
    let sum: f64 = x.iter().map(|v| ((v - m) / s).powi(4)).sum();
    n * (n + 1.0) / ((n - 1.0) * (n - 2.0) * (n - 3.0)) * sum
        - 3.0 * (n - 1.0) * (n - 1.0) / ((n - 2.0) * (n - 3.0))
}

/// Wilder smoothing with period `p`: `a = mean(x_1..x_p)`, then `a = (a·(p−1) + x_j)/p` for the
/// rest. NaN if fewer than `p` values.
pub fn wilder(x: &[f64], p: usize) -> f64 {
    if p == 0 || x.len() < p {
        return f64::NAN;
    }
    let pf = p as f64;
    let mut a = mean(&x[..p]);
    for v in &x[p..] {
        a = (a * (pf - 1.0) + v) / pf;
    }
    a
}

/// Least squares of `y` on `x` (with intercept): `(slope, intercept, r², residual sum of squares)`.
/// NaN where `x` has no variance.
pub fn ols(x: &[f64], y: &[f64]) -> (f64, f64, f64, f64) {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &y[..n]);
    let (mx, my) = (mean(x), mean(y));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if n < 2 || sxx == 0.0 {
        return (f64::NAN, f64::NAN, f64::NAN, f64::NAN);
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let rss = (syy - slope * sxy).max(0.0);
    let r2 = if syy == 0.0 {
        f64::NAN
    } else {
        1.0 - rss / syy
    };
    (slope, intercept, r2, rss)
}

/// Pearson correlation of two equal-length slices; NaN if either has no variance.
pub fn corr(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &y[..n]);
    let (mx, my) = (mean(x), mean(y));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        return f64::NAN;
    }
    sxy / (sxx * syy).sqrt()
}

/// Largest value (NaN if empty or any NaN).
pub fn max(x: &[f64]) -> f64 {
    fold_nan(x, f64::NEG_INFINITY, f64::max)
}

/// Smallest value (NaN if empty or any NaN).
pub fn min(x: &[f64]) -> f64 {
    fold_nan(x, f64::INFINITY, f64::min)
}

/// `pick` folded over `x` from `init`; NaN if `x` is empty or holds a NaN (`f64::max` alone
/// would skip it).
fn fold_nan(x: &[f64], init: f64, pick: fn(f64, f64) -> f64) -> f64 {
    if x.is_empty() {
        return f64::NAN;
    }
    x.iter().copied().fold(init, |a, b| {
        if a.is_nan() || b.is_nan() {
            f64::NAN
        } else {
            pick(a, b)
        }
    })
}
