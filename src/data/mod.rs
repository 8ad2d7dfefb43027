//! Market data: the parquet bar store, importers and downloaders, and data-quality checks.

pub mod alpaca;
pub mod csv_import;
pub mod gaps;
pub mod history;
pub mod http;
pub mod quality;
pub mod store;
pub mod symbol;
pub mod yahoo;

pub use symbol::{Symbol, SymbolError};

/// Whether `s` is a [`Symbol`] exactly as written (see [`symbol::RULE`]).
pub fn valid_symbol(s: &str) -> bool {
    Symbol::parse(s).is_ok()
}
