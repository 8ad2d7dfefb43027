//! `trader`: phase-gated daily systematic trading jobs with crash-safe state.
//!
//! Data flows one way: inputs (config, bars, state, broker) → pure decision
//! (strategy → risk → portfolio) → orders → effects (broker, ledger, state) → report.
//! The decision core does no I/O and reads no clock, so the backtest and every phase
//! run the same code.

pub mod alert;
pub mod backtest;
pub mod broker;
pub mod calendar;
pub mod cli;
pub mod commands;
pub mod config;
pub mod data;
pub mod execution;
pub mod exit;
pub mod fsutil;
pub mod gates;
pub mod ledger;
pub mod log;
pub mod metrics;
pub mod model;
pub mod money;
pub mod pipeline;
pub mod portfolio;
pub mod redact;
pub mod report;
pub mod risk;
pub mod schedule;
pub mod state;
pub mod strategy;
#[cfg(test)]
mod test_rng;
