//! `trader live [--date D] [--confirm-first-live]`: the trading run ([`super::trading`]) on
//! the live venue of the configured broker (the simulator's `state/sim-live` account), behind
//! the live promotion gate, sized on `live.capital_fraction` of the broker's equity. The
//! first live run refuses (exit 3) until a person passes `--confirm-first-live`, which is
//! recorded in the state (login name, time).

use anyhow::Result;

use super::Ctx;
use super::trading::{self, Run};
use super::venue::Venue;
use crate::cli::LiveArgs;
use crate::exit::Exit;

/// Run the live job for one date.
pub fn run(ctx: &Ctx, args: &LiveArgs) -> Result<Exit> {
    trading::run(
        ctx,
        &Run {
            venue: Venue::Live,
            date: args.date,
            confirm_first_live: args.confirm_first_live,
        },
    )
}
