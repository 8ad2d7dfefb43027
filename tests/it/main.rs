//! The integration test binary: one binary (fewer links of a large polars binary), one
//! module per area.

mod bar_validity;
mod calendar;
mod cli_jobs;
mod common;
mod config_errors;
mod emergency_exit;
mod emergency_exit_recovery;
mod fetch_cli;
mod fetch_sources;
mod fuzz_config;
mod fuzz_data;
mod golden_cells;
mod hostile_config;
mod http_double;
mod lock_race;
mod paper;
mod paper_crash;
mod preflight_gates;
mod replay;
mod state_crash;
mod state_files;
mod state_fuzz;
mod state_fuzz_oracle;
mod state_guard;
mod store_import;
mod symbols_csv;
