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
    for sym in symbols {
        let mut cols = store
            .read_prices(sym)?
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
        if let PriceField::AdjClose = field {
            // Total-return mode scales the whole bar by adj_close / close.
            for i in range.clone() {
                let k = match cols.adj_close[i] {
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
    load(
        &BarStore::new(&cfg.paths.bars_dir),
        &crate::strategy::Strategy::required_symbols(&cfg.strategy_impl()),
        cfg.strategy.price_field,
        cfg.strategy.history_start,
        through,
    )
}
