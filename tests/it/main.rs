//! The integration test binary: one binary (fewer links of a large polars binary), one
//! module per area.

mod calendar;
mod cli_jobs;
mod common;
mod config_errors;
mod fetch_cli;
mod fetch_sources;
mod fetch_windows;
mod golden_cells;
mod health_bars;
mod http_double;
mod lock_race;
mod perf_feeds;
mod preflight_gates;
mod preflight_policy;
mod replay;
mod state_crash;
mod store_import;
