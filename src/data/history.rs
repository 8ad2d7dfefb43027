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
        let bars = store.read(sym)?.ok_or_else(|| HistoryError::Missing {
            symbol: sym.clone(),
            dir: store.dir.display().to_string(),
        })?;
        let mut s = Series::default();
        for b in bars
            .iter()
            .filter(|b| b.date >= start && through.is_none_or(|t| b.date <= t))
        {
            // Total-return mode scales the whole bar by adj_close / close.
            let k = match field {
                PriceField::Close => 1.0,
                PriceField::AdjClose => match b.adj_close {
                    Some(a) => a / b.close,
                    None => {
                        return Err(HistoryError::NoAdjClose {
                            symbol: sym.clone(),
                            date: b.date,
                        });
                    }
                },
            };
            s.dates.push(b.date);
            s.open.push(b.open * k);
            s.high.push(b.high * k);
            s.low.push(b.low * k);
            s.close.push(b.close * k);
            s.volume.push(b.volume);
        }
        h.series.insert(sym.clone(), s);
    }
    Ok(h)
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
