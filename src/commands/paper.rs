//! `trader paper [--date D]`: the trading run ([`super::trading`]) on the paper venue of the
//! configured broker (the simulator's `state/sim` account).

use anyhow::Result;

use super::Ctx;
use super::trading::{self, Run};
use super::venue::Venue;
use crate::cli::PaperArgs;
use crate::exit::Exit;

/// Run the paper job for one date.
pub fn run(ctx: &Ctx, args: &PaperArgs) -> Result<Exit> {
    trading::run(
        ctx,
        &Run {
            venue: Venue::Paper,
            date: args.date,
            confirm_first_live: false,
        },
    )
}
