//! Building the strategy's read-only bar history from the store.

use chrono::NaiveDate;

use super::store::{BarStore, StoreError};
use crate::config::PriceField;
use crate::strategy::{History, Series};

/// A symbol the strategy needs is missing or unusable.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{symbol}: no bars in {dir} (run `trader fetch`)")]
    Missing { symbol: String, dir: String },
    #[error(
        "{symbol} {date}: price_field adj_close is configured but the bar has no adjusted close"
    )]
    NoAdjClose { symbol: String, date: NaiveDate },
    /// A loaded series no decision may stand on (a non-finite or non-positive close, a bad
    /// volume): every symbol read is checked, tradables too, not only the signal.
    #[error(transparent)]
    Unusable(#[from] crate::strategy::StrategyError),
}

/// Bars of `symbols` dated from `start` through `through` (inclusive), as strategy series.
pub fn load(
    store: &BarStore,
    symbols: &[String],
    field: PriceField,
    start: NaiveDate,
    through: Option<NaiveDate>,
) -> Result<History, HistoryError> {
    let mut h = History::default();
    let adjusted = matches!(field, PriceField::AdjClose);
    for sym in symbols {
        let mut cols = store
            .read_prices(sym, adjusted)?
            .ok_or_else(|| HistoryError::Missing {
                symbol: sym.clone(),
                dir: store.dir.display().to_string(),
            })?;
        // Dates are strictly ascending (checked by the store): the window is one range, cut
        // out of the columns in place.
        let from = cols.dates.partition_point(|d| *d < start);
        let to = through.map_or(cols.dates.len(), |t| {
            cols.dates.partition_point(|d| *d <= t)
        });
        let range = from..to.max(from);
        if adjusted {
            // Total-return mode scales the whole bar by adj_close / close.
            let adj = cols.adj_close.take().unwrap_or_default();
            for i in range.clone() {
                let k = match adj.get(i).copied().flatten() {
                    Some(a) => a / cols.close[i],
                    None => {
                        return Err(HistoryError::NoAdjClose {
                            symbol: sym.clone(),
                            date: cols.dates[i],
                        });
                    }
                };
                for v in [
                    &mut cols.open,
                    &mut cols.high,
                    &mut cols.low,
                    &mut cols.close,
                ] {
                    v[i] *= k;
                }
            }
        }
        let s = Series {
            dates: cut(cols.dates, &range),
            open: cut(cols.open, &range),
            high: cut(cols.high, &range),
            low: cut(cols.low, &range),
            close: cut(cols.close, &range),
            volume: cut(cols.volume, &range),
        };
        s.validate(sym)?;
        h.series.insert(sym.clone(), s);
    }
    Ok(h)
}

/// `v[range]`, reusing `v`'s memory.
fn cut<T>(mut v: Vec<T>, range: &std::ops::Range<usize>) -> Vec<T> {
    v.truncate(range.end);
    v.drain(..range.start);
    v
}

/// The configured strategy's bars (its required symbols, price field and history start)
/// through `through`: what `backtest`, `dry-run` and `risk` all decide on.
pub fn load_for_strategy(
    cfg: &crate::config::Config,
    through: Option<NaiveDate>,
) -> Result<History, HistoryError> {
    let symbols = crate::strategy::Strategy::required_symbols(&cfg.strategy_impl());
    load_configured(cfg, &symbols, through)
}

/// Bars of `symbols` as the configured strategy reads them (its price field and history
/// start) through `through`: [`load_for_strategy`] for a part of its symbols.
pub fn load_configured(
    cfg: &crate::config::Config,
    symbols: &[String],
    through: Option<NaiveDate>,
) -> Result<History, HistoryError> {
    load(
        &BarStore::new(&cfg.paths.bars_dir),
        symbols,
        cfg.strategy.price_field,
        cfg.strategy.history_start,
        through,
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::Bar;

    fn bar(day: u32, close: f64, adj_close: Option<f64>) -> Bar {
        Bar {
            date: NaiveDate::from_ymd_opt(2024, 3, day).expect("date"),
            open: close - 1.0,
            high: close + 2.0,
            low: close - 2.0,
            close,
            volume: 1000.0,
            adj_close,
            dividend: 0.0,
            split_factor: 1.0,
            provisional: false,
        }
    }

    /// Plain closes leave the bars as stored; total-return mode scales each whole bar by
    /// adj_close / close, and a bar in the window without an adjusted close is an error that
    /// names it (a bar before the window is not read).
    #[test]
    fn total_return_mode_scales_each_bar_by_its_adjustment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = BarStore::new(dir.path());
        let bars = vec![
            bar(1, 10.0, None),
            bar(4, 20.0, Some(10.0)),
            bar(5, 40.0, Some(30.0)),
        ];
        store
            .write_many(&BTreeMap::from([("A".to_string(), bars)]))
            .expect("write");
        let day = |d| NaiveDate::from_ymd_opt(2024, 3, d).expect("date");
        let syms = ["A".to_string()];
        let plain = load(&store, &syms, PriceField::Close, day(1), None).expect("plain");
        assert_eq!(plain.series["A"].close, [10.0, 20.0, 40.0]);
        let tr = load(&store, &syms, PriceField::AdjClose, day(2), None).expect("adjusted");
        let s = &tr.series["A"];
        assert_eq!(s.close, [10.0, 30.0]);
        assert_eq!(s.open, [9.5, 29.25]);
        assert_eq!(s.high, [11.0, 31.5]);
        assert_eq!(s.low, [9.0, 28.5]);
        assert_eq!(s.volume, [1000.0, 1000.0]);
        let e = load(&store, &syms, PriceField::AdjClose, day(1), None).expect_err("no adj");
        assert!(
            matches!(&e, HistoryError::NoAdjClose { symbol, date } if symbol == "A" && *date == day(1)),
            "{e}"
        );
    }
}
