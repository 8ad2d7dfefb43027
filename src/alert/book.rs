//! The alert record kept in the state (`state.alerts`): when each key was last sent, how many
//! repeats were held back since, and the messages that could not be delivered yet.
//!
//! Pure bookkeeping, no I/O: [`AlertBook::plan`] decides what to send now, [`AlertBook::sent`]
//! and [`AlertBook::failed`] record the outcome of each delivery.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Alert, Severity};

/// At most this many undelivered messages are kept; the oldest is dropped first.
pub const MAX_QUEUE: usize = 50;

/// `state.alerts`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertBook {
    /// Per alert key: the last delivery and the repeats held back since.
    #[serde(default)]
    pub sent: BTreeMap<String, SentRecord>,
    /// Messages whose delivery failed, oldest first; the next job retries them.
    #[serde(default)]
    pub queue: Vec<PendingAlert>,
}

/// The last delivery of one key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentRecord {
    pub last_sent: DateTime<Utc>,
    /// Repeats of the key within the window since `last_sent`, not sent; reported by the next
    /// message of the key.
    #[serde(default)]
    pub suppressed: u32,
}

/// A message waiting for delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingAlert {
    /// Unique per message (raise time, process, position), to find it again after sending.
    pub id: String,
    pub severity: Severity,
    pub key: String,
    pub subject: String,
    pub body: String,
    /// The job that raised it and when.
    pub job: String,
    pub raised_at: DateTime<Utc>,
    /// Repeats folded into this message (held back in earlier windows or raised while queued).
    #[serde(default)]
    pub suppressed: u32,
    /// The earlier delivery of the key the suppressed count runs from, if any.
    #[serde(default)]
    pub suppressed_since: Option<DateTime<Utc>>,
    /// Failed deliveries so far and the last error.
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub last_error: String,
    /// Files sent along ([`super::raise_with_files`]): an `.html` one is the HTML body, the
    /// others are attached.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<std::path::PathBuf>,
}

/// What [`AlertBook::plan`] decided for one raised alert.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Will be sent (it is in the returned list).
    Send,
    /// Held back: the key was sent `since` and its window has not passed; the count of held
    /// back repeats is now `count`.
    Suppressed { since: DateTime<Utc>, count: u32 },
    /// An undelivered message of the same key is queued; this one is folded into it.
    Merged { count: u32 },
}

impl AlertBook {
    /// Nothing sent and nothing queued (the state file then has no `alerts` key).
    pub fn is_empty(&self) -> bool {
        self.sent.is_empty() && self.queue.is_empty()
    }

    /// Decide the deliveries of this job: the queue first (oldest first), then each raised
    /// alert whose key is outside its window. `raised` is consumed in order; a key raised
    /// twice in one job counts the second as a repeat. The returned messages are removed from
    /// the queue: the caller records each with [`Self::sent`] or [`Self::failed`].
    pub fn plan(
        &mut self,
        raised: Vec<(Alert, String)>,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> (Vec<PendingAlert>, Vec<(String, Decision)>) {
        let mut out = std::mem::take(&mut self.queue);
        let mut decisions = Vec::new();
        for (n, (a, job)) in raised.into_iter().enumerate() {
            if let Some(p) = out.iter_mut().find(|p| p.key == a.key) {
                p.suppressed = p.suppressed.saturating_add(1);
                decisions.push((
                    a.key,
                    Decision::Merged {
                        count: p.suppressed,
                    },
                ));
                continue;
            }
            let prior = self.sent.get_mut(&a.key);
            if let Some(r) = prior
                && window > chrono::Duration::zero()
                && now < r.last_sent + window
            {
                r.suppressed = r.suppressed.saturating_add(1);
                decisions.push((
                    a.key,
                    Decision::Suppressed {
                        since: r.last_sent,
                        count: r.suppressed,
                    },
                ));
                continue;
            }
            let (suppressed, since) = self
                .sent
                .get(&a.key)
                .filter(|r| r.suppressed > 0)
                .map_or((0, None), |r| (r.suppressed, Some(r.last_sent)));
            decisions.push((a.key.clone(), Decision::Send));
            out.push(PendingAlert {
                files: Vec::new(),
                id: format!("{}-{}-{n}", now.timestamp_millis(), std::process::id()),
                severity: a.severity,
                key: a.key,
                subject: crate::redact::scrub_owned(a.subject),
                body: crate::redact::scrub_owned(a.body),
                job,
                raised_at: now,
                suppressed,
                suppressed_since: since,
                attempts: 0,
                last_error: String::new(),
            });
        }
        (out, decisions)
    }

    /// A message was delivered at `now`: its key's window starts, its count is reset.
    pub fn sent(&mut self, p: &PendingAlert, now: DateTime<Utc>) {
        self.sent.insert(
            p.key.clone(),
            SentRecord {
                last_sent: now,
                suppressed: 0,
            },
        );
    }

    /// A delivery failed: the message goes back to the queue (kept in order). Returns the
    /// messages dropped to keep the queue within [`MAX_QUEUE`], oldest first.
    pub fn failed(&mut self, mut p: PendingAlert, error: &str) -> Vec<PendingAlert> {
        p.attempts = p.attempts.saturating_add(1);
        p.last_error = crate::redact::scrub_owned(error.to_string());
        self.queue.push(p);
        let over = self.queue.len().saturating_sub(MAX_QUEUE);
        self.queue.drain(..over).collect()
    }
}

impl AlertBook {
    /// Record the outcome of messages [`Self::plan`] handed out and that were put back in the
    /// queue while they were being sent (so a crash while sending loses nothing): each
    /// delivered one leaves the queue and starts its key's window (repeats folded into it
    /// meanwhile carry over to the key's count); each failed one stays with its error. Returns
    /// the messages dropped to keep the queue bounded, oldest first.
    pub fn settle(
        &mut self,
        outcomes: &[(String, Result<(), String>)],
        now: DateTime<Utc>,
        sent_counts: &BTreeMap<String, u32>,
    ) -> Vec<PendingAlert> {
        for (id, outcome) in outcomes {
            let Some(i) = self.queue.iter().position(|p| &p.id == id) else {
                continue;
            };
            match outcome {
                Ok(()) => {
                    let p = self.queue.remove(i);
                    let carried = p
                        .suppressed
                        .saturating_sub(sent_counts.get(id).copied().unwrap_or(0));
                    self.sent(&p, now);
                    if let Some(r) = self.sent.get_mut(&p.key) {
                        r.suppressed = carried;
                    }
                }
                Err(e) => {
                    let p = &mut self.queue[i];
                    p.attempts = p.attempts.saturating_add(1);
                    p.last_error = crate::redact::scrub_owned(e.clone());
                }
            }
        }
        let over = self.queue.len().saturating_sub(MAX_QUEUE);
        self.queue.drain(..over).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_777_000_000 + min * 60, 0).unwrap_or_default()
    }

    fn alert(key: &str) -> (Alert, String) {
        (
            Alert {
                severity: Severity::Critical,
                key: key.into(),
                subject: format!("subject {key}"),
                body: "body".into(),
            },
            "preflight".into(),
        )
    }

    #[test]
    fn a_key_is_sent_once_per_window_and_the_next_message_carries_the_held_back_count() {
        let w = chrono::Duration::minutes(60);
        let mut b = AlertBook::default();
        let (send, _) = b.plan(vec![alert("k")], t(0), w);
        assert_eq!(send.len(), 1);
        b.sent(&send[0], t(0));
        for (i, m) in [10, 20, 59].into_iter().enumerate() {
            let (send, d) = b.plan(vec![alert("k")], t(m), w);
            assert!(send.is_empty());
            assert_eq!(
                d[0].1,
                Decision::Suppressed {
                    since: t(0),
                    count: i as u32 + 1
                }
            );
        }
        let (send, _) = b.plan(vec![alert("k"), alert("other")], t(60), w);
        assert_eq!(send.len(), 2);
        assert_eq!(send[0].suppressed, 3);
        assert_eq!(send[0].suppressed_since, Some(t(0)));
        assert_eq!(send[1].suppressed, 0);
        b.sent(&send[0], t(60));
        assert_eq!(b.sent["k"].suppressed, 0);
    }

    #[test]
    fn a_failed_message_is_queued_repeats_fold_into_it_and_the_queue_is_bounded() {
        let w = chrono::Duration::minutes(60);
        let mut b = AlertBook::default();
        let (mut send, _) = b.plan(vec![alert("k")], t(0), w);
        assert!(b.failed(send.remove(0), "connection refused").is_empty());
        let (send, d) = b.plan(vec![alert("k")], t(1), w);
        assert_eq!(d[0].1, Decision::Merged { count: 1 });
        assert_eq!(send.len(), 1);
        assert_eq!((send[0].attempts, send[0].suppressed), (1, 1));
        let mut b = AlertBook::default();
        for i in 0..MAX_QUEUE + 3 {
            let (mut s, _) = b.plan(vec![alert(&format!("k{i}"))], t(0), w);
            // Each plan takes the whole queue out; put the old ones back as failed again.
            let mut dropped = Vec::new();
            for p in s.drain(..) {
                dropped.extend(b.failed(p, "down"));
            }
            if i >= MAX_QUEUE {
                assert_eq!(dropped.len(), 1, "oldest dropped at {i}");
                assert_eq!(dropped[0].key, format!("k{}", i - MAX_QUEUE));
            }
        }
        assert_eq!(b.queue.len(), MAX_QUEUE);
    }

    #[test]
    fn settling_removes_delivered_messages_and_keeps_repeats_counted_while_sending() {
        let w = chrono::Duration::minutes(60);
        let mut b = AlertBook::default();
        let (out, _) = b.plan(vec![alert("a"), alert("b")], t(0), w);
        let counts: BTreeMap<String, u32> =
            out.iter().map(|p| (p.id.clone(), p.suppressed)).collect();
        b.queue = out.clone();
        // Another run raised "a" while this one was sending: folded into the queued message.
        let (again, d) = b.plan(vec![alert("a")], t(1), w);
        assert_eq!(d[0].1, Decision::Merged { count: 1 });
        b.queue = again;
        let outcomes = vec![
            (out[0].id.clone(), Ok(())),
            (out[1].id.clone(), Err("refused".to_string())),
        ];
        assert!(b.settle(&outcomes, t(2), &counts).is_empty());
        assert_eq!(b.sent["a"].last_sent, t(2));
        assert_eq!(
            b.sent["a"].suppressed, 1,
            "the repeat is reported by the next message"
        );
        assert_eq!(b.queue.len(), 1);
        assert_eq!((b.queue[0].key.as_str(), b.queue[0].attempts), ("b", 1));
        assert_eq!(b.queue[0].last_error, "refused");
    }

    #[test]
    fn a_zero_window_sends_every_repeat() {
        let mut b = AlertBook::default();
        for m in 0..3 {
            let (s, _) = b.plan(vec![alert("k")], t(m), chrono::Duration::zero());
            assert_eq!(s.len(), 1);
            b.sent(&s[0], t(m));
        }
    }
}
