//! Faults the simulated venue can be told to show (config `account.sim_faults` or env
//! `TRADER_SIM_FAULTS`, the env winning), for tests and demos: comma-separated
//! `partial=PCT`, `reject=SYM[+SYM]`, `lose_reply=SYM[+SYM]`, `fill_after=N`. None is on by
//! default.

use std::collections::BTreeSet;

/// The env variable that overrides `account.sim_faults`.
pub const ENV: &str = "TRADER_SIM_FAULTS";

/// What the simulator does differently from a well-behaved venue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimFaults {
    /// Fill only this percentage of each order's quantity (floored to whole shares); the rest
    /// rests open until cancelled.
    pub partial_pct: Option<f64>,
    /// Symbols whose orders are rejected.
    pub reject: BTreeSet<String>,
    /// Symbols whose orders are accepted and persisted, then the reply is lost
    /// (`OutcomeUnknown`).
    pub lose_reply: BTreeSet<String>,
    /// An order stays `New` until it was looked up this many times, then fills.
    pub fill_after: u32,
}

impl SimFaults {
    /// Parse a fault list; an error names the item and what is allowed.
    pub fn parse(spec: &str) -> Result<SimFaults, String> {
        let mut f = SimFaults::default();
        let syms = |v: &str| -> BTreeSet<String> {
            v.split('+')
                .map(|s| s.trim().to_ascii_uppercase())
                .filter(|s| !s.is_empty())
                .collect()
        };
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (k, v) = item.split_once('=').ok_or_else(|| {
                format!("`{item}`: expected KEY=VALUE (partial=PCT, reject=SYM+SYM, lose_reply=SYM+SYM, fill_after=N)")
            })?;
            match k.trim() {
                "partial" => {
                    let p: f64 = v
                        .trim()
                        .parse()
                        .ok()
                        .filter(|p: &f64| (0.0..=100.0).contains(p))
                        .ok_or_else(|| format!("`{item}`: partial must be a percentage 0..100"))?;
                    f.partial_pct = Some(p);
                }
                "reject" => f.reject = syms(v),
                "lose_reply" => f.lose_reply = syms(v),
                "fill_after" => {
                    f.fill_after = v.trim().parse().map_err(|_| {
                        format!("`{item}`: fill_after must be a whole number of polls")
                    })?;
                }
                other => {
                    return Err(format!(
                        "`{item}`: unknown fault `{other}` (allowed: partial, reject, lose_reply, fill_after)"
                    ));
                }
            }
        }
        Ok(f)
    }

    /// The faults in force: `TRADER_SIM_FAULTS` when set (even empty: no faults), else the
    /// config's list. The error names where the bad list came from.
    pub fn from_env_or(config: Option<&str>) -> Result<SimFaults, String> {
        match std::env::var(ENV) {
            Ok(s) => SimFaults::parse(&s).map_err(|e| format!("{ENV} = {s}: {e}")),
            Err(_) => match config {
                Some(c) => {
                    SimFaults::parse(c).map_err(|e| format!("account.sim_faults = {c}: {e}"))
                }
                None => Ok(SimFaults::default()),
            },
        }
    }

    /// The quantity to fill now of an order of `qty` shares.
    pub fn fill_qty(&self, qty: i64) -> i64 {
        match self.partial_pct {
            Some(p) => crate::money::floor_shares(qty as f64 * p / 100.0)
                .unwrap_or(0)
                .clamp(0, qty),
            None => qty,
        }
    }
}
