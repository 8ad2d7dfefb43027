//! The integration test binary: one binary (fewer links of a large polars binary), one
//! module per area.

mod alerts;
mod alerts_tls;
mod bar_validity;
mod calendar;
mod cli_jobs;
mod common;
mod config_errors;
mod fetch_cli;
mod fetch_sources;
mod fetch_windows;
mod fuzz_config;
mod fuzz_data;
mod golden_cells;
mod health_bars;
mod hostile_config;
mod http_double;
mod lock_race;
mod perf_feeds;
mod preflight_gates;
mod preflight_policy;
mod replay;
mod schedule_jobs;
mod schedule_units;
mod smtp_sink;
mod state_crash;
mod state_files;
mod state_fuzz;
mod state_fuzz_oracle;
mod state_guard;
mod status_halt;
mod store_import;
mod symbols_csv;
mod validate_cli;
