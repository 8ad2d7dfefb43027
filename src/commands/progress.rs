//! Progress of a long download on stderr: one line redrawn in place (`\r`) when stderr is a
//! terminal, plain lines every [`PLAIN_EVERY`] otherwise (journald, cron mail). Silent with
//! `--quiet`.

use std::cell::Cell;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use crate::data::http::Progress;
use crate::log::Logger;

/// Spacing of plain (non-terminal) progress lines.
pub const PLAIN_EVERY: Duration = Duration::from_secs(10);
/// Spacing of redraws on a terminal.
const TTY_EVERY: Duration = Duration::from_millis(200);

/// Draws progress lines for one download.
pub struct Meter<'a> {
    name: String,
    log: &'a Logger,
    tty: bool,
    started: Instant,
    last_draw: Cell<Option<Instant>>,
    drawn: Cell<bool>,
}

impl<'a> Meter<'a> {
    pub fn new(name: &str, log: &'a Logger) -> Meter<'a> {
        Meter {
            name: name.to_string(),
            log,
            tty: std::io::stderr().is_terminal(),
            started: Instant::now(),
            last_draw: Cell::new(None),
            drawn: Cell::new(false),
        }
    }

    /// Report `p`; draws only when due (or when done).
    pub fn update(&self, p: Progress) {
        if self.log.quiet || !self.due(p, Instant::now()) {
            return;
        }
        let line = line(&self.name, p, self.started.elapsed());
        if self.tty {
            eprint!("\r{line}\x1b[K");
        } else {
            self.log.info(&line);
        }
    }

    /// Whether `p` at `now` gets a line (and, if so, note that it was drawn): on a terminal at
    /// most every 200 ms once something is done; otherwise every 10 s, the first after 10 s
    /// (a short fetch prints nothing extra). The final state is drawn when anything was.
    fn due(&self, p: Progress, now: Instant) -> bool {
        if p.total == 0 {
            return false;
        }
        let every = if self.tty { TTY_EVERY } else { PLAIN_EVERY };
        let due = match self.last_draw.get() {
            None if self.tty => p.done > 0,
            None => now.duration_since(self.started) >= PLAIN_EVERY,
            Some(t) => now.duration_since(t) >= every,
        };
        let finished = p.done >= p.total;
        if !(due || (finished && self.drawn.get())) {
            return false;
        }
        self.last_draw.set(Some(now));
        self.drawn.set(true);
        true
    }

    /// End the redrawn line.
    pub fn finish(&self) {
        if self.tty && self.drawn.get() {
            eprintln!();
        }
    }
}

/// `alpaca: 1200/4000 symbols, 36000 rows, 412 symbols/s, ETA 7s`
pub fn line(name: &str, p: Progress, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        p.done as f64 / secs
    } else {
        0.0
    };
    let eta = if p.done >= p.total {
        "done".to_string()
    } else if rate > 0.0 {
        format!("ETA {:.0}s", (p.total - p.done) as f64 / rate)
    } else {
        "ETA ?".to_string()
    };
    format!(
        "{name}: {}/{} symbols, {} rows, {rate:.0} symbols/s, {eta}",
        p.done, p.total, p.rows
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_counts_rate_and_eta() {
        let p = Progress {
            done: 100,
            total: 400,
            rows: 2500,
        };
        assert_eq!(
            line("alpaca", p, Duration::from_secs(2)),
            "alpaca: 100/400 symbols, 2500 rows, 50 symbols/s, ETA 6s"
        );
        let done = Progress { done: 400, ..p };
        assert!(line("yahoo", done, Duration::from_secs(8)).ends_with("50 symbols/s, done"));
    }

    #[test]
    fn plain_lines_come_every_ten_seconds_and_the_terminal_is_redrawn_often() {
        let log = Logger::new(None, "fetch", 0, false);
        let p = |done| Progress {
            done,
            total: 100,
            rows: done,
        };
        let mut plain = Meter::new("alpaca", &log);
        plain.tty = false;
        let t0 = plain.started;
        let at = |ms| t0 + Duration::from_millis(ms);
        assert!(!plain.due(p(10), at(9_000)), "nothing in the first 10 s");
        assert!(plain.due(p(20), at(10_000)));
        assert!(!plain.due(p(30), at(15_000)));
        assert!(plain.due(p(40), at(20_000)));
        assert!(
            plain.due(p(100), at(20_500)),
            "the end after a line was printed"
        );

        let mut short = Meter::new("alpaca", &log);
        short.tty = false;
        let t0 = short.started;
        assert!(
            !short.due(p(100), t0 + Duration::from_secs(2)),
            "a short fetch says nothing"
        );

        let mut tty = Meter::new("alpaca", &log);
        tty.tty = true;
        let t0 = tty.started;
        assert!(!tty.due(p(0), t0));
        assert!(tty.due(p(1), t0 + Duration::from_millis(10)));
        assert!(!tty.due(p(2), t0 + Duration::from_millis(100)));
        assert!(tty.due(p(3), t0 + Duration::from_millis(250)));
        assert!(
            tty.due(p(100), t0 + Duration::from_millis(260)),
            "completed line"
        );
    }
}
