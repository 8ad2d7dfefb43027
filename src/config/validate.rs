//! [`Config::validate`] and [`Config::validate_at`]: every invalid value of a loaded config,
//! each naming its key path, the value and what is allowed. The sections with their own
//! checks (risk, strategy parameters, promotion, schedule, alerts) are called from here.

use chrono::NaiveDate;

use super::{Config, Issue, format_num};

pub(super) fn range_issue(key: &str, v: f64, lo: f64, hi: f64, out: &mut Vec<Issue>) {
    if !(v.is_finite() && v >= lo && v <= hi) {
        out.push(Issue {
            key: key.to_string(),
            value: format_num(v),
            allowed: format!("must be between {} and {}", format_num(lo), format_num(hi)),
        });
    }
}

/// Phrase a range as a requirement: `between 0 and 100` → `must be between 0 and 100`.
fn must(allowed: String) -> String {
    if allowed.starts_with("must") {
        allowed
    } else {
        format!("must be {allowed}")
    }
}

/// A number from a section's own checks shown as [`format_num`] shows it; other text as is.
fn compact_value(v: String) -> String {
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() => format_num(x),
        _ => v,
    }
}

/// A base URL must be `http(s)://host[:port][/path]`: anything else is a config error, not
/// a source that is down (an `ftp://` URL was retried four times and exited 5).
fn url_issue(key: &str, url: &str, out: &mut Vec<Issue>) {
    let problem = match reqwest::Url::parse(url) {
        Err(e) => Some(format!("must be an http(s) URL ({e})")),
        Ok(u) if !matches!(u.scheme(), "http" | "https") => {
            Some(format!("must be an http(s) URL, not {}://", u.scheme()))
        }
        Ok(u) if u.host_str().is_none_or(str::is_empty) => Some("must name a host".to_string()),
        Ok(u) if u.query().is_some() || u.fragment().is_some() => {
            Some("must have no query or fragment".to_string())
        }
        Ok(u) if !u.username().is_empty() || u.password().is_some() => {
            // Credentials come from the environment and go in headers, never in a URL.
            Some("must not carry credentials".to_string())
        }
        Ok(_) => None,
    };
    if let Some(allowed) = problem {
        out.push(Issue {
            key: key.to_string(),
            value: url.to_string(),
            allowed,
        });
    }
}

impl Config {
    /// Every invalid value in the file, in key order.
    pub fn validate(&self) -> Vec<Issue> {
        let mut out = Vec::new();
        if self.strategy.name != "hierarchical_adaptive_v3_5b" {
            out.push(Issue {
                key: "strategy.name".into(),
                value: self.strategy.name.clone(),
                allowed: "must be hierarchical_adaptive_v3_5b".into(),
            });
        }
        for e in self.strategy.params.validate() {
            out.push(Issue {
                key: format!("strategy.params.{}", e.key),
                value: compact_value(e.value),
                allowed: must(e.allowed),
            });
        }
        range_issue(
            "account.initial_capital",
            self.account.initial_capital,
            1.0,
            1e12,
            &mut out,
        );
        if let Some(f) = &self.account.sim_faults
            && let Err(e) = crate::broker::sim::SimFaults::parse(f)
        {
            out.push(Issue {
                key: "account.sim_faults".into(),
                value: f.clone(),
                allowed: e,
            });
        }
        let x = &self.execution;
        for (key, v, lo, hi) in [
            (
                "execution.poll_interval_ms",
                x.poll_interval_ms as f64,
                1.0,
                60_000.0,
            ),
            (
                "execution.fill_timeout_ms",
                x.fill_timeout_ms as f64,
                0.0,
                3_600_000.0,
            ),
            ("execution.max_slippage_pct", x.max_slippage_pct, 0.0, 10.0),
            (
                "execution.reconcile_cash_tolerance",
                x.reconcile_cash_tolerance,
                0.0,
                1e6,
            ),
            (
                "execution.emergency_collar_pct",
                x.emergency_collar_pct,
                0.0,
                50.0,
            ),
            (
                "execution.lock_wait_ms",
                x.lock_wait_ms as f64,
                0.0,
                3_600_000.0,
            ),
        ] {
            range_issue(key, v, lo, hi, &mut out);
        }
        if crate::execution::auction::parse_cutoff(&x.close_auction_cutoff).is_none() {
            out.push(Issue {
                key: "execution.close_auction_cutoff".into(),
                value: x.close_auction_cutoff.clone(),
                allowed: "must be a New York time HH:MM between 09:30 and 16:00".into(),
            });
        }
        let f = self.live.capital_fraction;
        if !(f.is_finite() && f > 0.0 && f <= 1.0) {
            out.push(Issue {
                key: "live.capital_fraction".into(),
                value: format_num(f),
                allowed: "must be above 0 and at most 1".into(),
            });
        }
        let p = &self.portfolio;
        if let Some(d) = p.drift_rebalance_pct {
            range_issue("portfolio.drift_rebalance_pct", d, 0.0, 100.0, &mut out);
        }
        range_issue(
            "portfolio.slippage_pct",
            p.slippage_pct,
            0.0,
            10.0,
            &mut out,
        );
        range_issue(
            "portfolio.commission_per_share",
            p.commission_per_share,
            0.0,
            1.0,
            &mut out,
        );
        for e in self.risk.validate() {
            out.push(Issue {
                key: format!("risk.{}", e.key),
                value: compact_value(e.value),
                allowed: must(e.allowed),
            });
        }
        let d = &self.data;
        range_issue(
            "data.overlap_days",
            d.overlap_days as f64,
            0.0,
            365.0,
            &mut out,
        );
        range_issue(
            "data.corporate_action_move_pct",
            d.corporate_action_move_pct,
            1.0,
            1000.0,
            &mut out,
        );
        if d.official_margin().is_none() {
            out.push(Issue {
                key: "data.official_after".into(),
                value: d.official_after.clone(),
                allowed: "must be a New York time HH:MM between 16:00 and 23:59".into(),
            });
        }
        range_issue(
            "data.market_outage_pct",
            d.market_outage_pct,
            0.0,
            100.0,
            &mut out,
        );
        range_issue(
            "preflight.min_coverage_pct",
            self.preflight.min_coverage_pct,
            0.0,
            100.0,
            &mut out,
        );
        // Transport settings are checked here too, so `preflight` and `health` catch them
        // before a fetch would.
        for (name, h) in [("alpaca", &d.alpaca.http), ("yahoo", &d.yahoo.http)] {
            let k = |f: &str| format!("data.{name}.http.{f}");
            let ms = 3_600_000.0;
            range_issue(&k("timeout_ms"), h.timeout_ms as f64, 1.0, ms, &mut out);
            range_issue(
                &k("connect_timeout_ms"),
                h.connect_timeout_ms as f64,
                1.0,
                ms,
                &mut out,
            );
            range_issue(
                &k("max_attempts"),
                h.max_attempts as f64,
                1.0,
                100.0,
                &mut out,
            );
            range_issue(
                &k("concurrency"),
                h.concurrency as f64,
                1.0,
                256.0,
                &mut out,
            );
            range_issue(
                &k("backoff_max_ms"),
                h.backoff_max_ms as f64,
                0.0,
                ms,
                &mut out,
            );
            range_issue(
                &k("backoff_base_ms"),
                h.backoff_base_ms as f64,
                0.0,
                h.backoff_max_ms as f64,
                &mut out,
            );
        }
        url_issue("data.alpaca.base_url", &d.alpaca.base_url, &mut out);
        url_issue(
            "account.alpaca.paper_url",
            &self.account.alpaca.paper_url,
            &mut out,
        );
        url_issue(
            "account.alpaca.live_url",
            &self.account.alpaca.live_url,
            &mut out,
        );
        for (key, value, allowed) in crate::broker::alpaca::config_issues(&self.account.alpaca) {
            out.push(Issue {
                key,
                value,
                allowed,
            });
        }
        url_issue("data.yahoo.base_url", &d.yahoo.base_url, &mut out);
        range_issue(
            "data.alpaca.page_limit",
            d.alpaca.page_limit as f64,
            1.0,
            10_000.0,
            &mut out,
        );
        range_issue(
            "data.alpaca.symbols_per_request",
            d.alpaca.symbols_per_request as f64,
            1.0,
            10_000.0,
            &mut out,
        );
        for (i, s) in d.extra_symbols.iter().enumerate() {
            if let Err(e) = crate::data::Symbol::parse(s) {
                out.push(Issue {
                    key: format!("data.extra_symbols[{i}]"),
                    value: e.shown,
                    allowed: format!(
                        "must be a symbol ({}): {}",
                        crate::data::symbol::RULE,
                        e.reason
                    ),
                });
            }
        }
        range_issue(
            "state.backups",
            self.state.backups as f64,
            1.0,
            1000.0,
            &mut out,
        );
        range_issue(
            "backtest.initial_capital",
            self.backtest.initial_capital,
            1.0,
            1e12,
            &mut out,
        );
        range_issue(
            "backtest.risk_free_rate",
            self.backtest.risk_free_rate,
            -0.1,
            0.5,
            &mut out,
        );
        super::promotion::validate(
            &self.validation,
            &self.promotion,
            self.phase_override.as_ref(),
            &mut out,
        );
        self.alerts.validate(&mut out);
        self.schedule.validate(&mut out);
        self.log.validate(&mut out);
        out
    }

    /// Checks that need the job's date: a history that starts after `today` would pass
    /// preflight on old bars and then fail the decision.
    pub fn validate_at(&self, today: NaiveDate) -> Vec<Issue> {
        let mut out = Vec::new();
        for (key, d) in [
            ("strategy.history_start", self.strategy.history_start),
            ("data.history_start", self.data.history_start),
        ] {
            if d >= today {
                out.push(Issue {
                    key: key.into(),
                    value: d.to_string(),
                    allowed: format!("must be before today ({today})"),
                });
            }
        }
        out
    }
}
