//! Market data: the parquet bar store, importers and downloaders, and data-quality checks.

pub mod alpaca;
pub mod csv_import;
pub mod gaps;
pub mod history;
pub mod http;
pub mod quality;
pub mod store;
pub mod yahoo;

/// A ticker as the store accepts it: letters, digits, `.` or `-`, 1–12 characters.
pub fn valid_symbol(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 12
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '.' || c == '-')
}
