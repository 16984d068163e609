//! The hello deadline: a socket must say hello within `hello_timeout`, but
//! the time it spends waiting for the hub's answer to a request (a
//! `list_rosters` sent first, queued behind others' reads) is the hub's, not
//! the client's, and does not count.

use std::time::{Duration, Instant};

pub(super) struct HelloDeadline {
    due: Instant,
    /// Since when the connection has waited for an answer (None: it has not).
    paused_since: Option<Instant>,
}

impl HelloDeadline {
    pub(super) fn new(now: Instant, timeout: Duration) -> HelloDeadline {
        HelloDeadline {
            due: now + timeout,
            paused_since: None,
        }
    }

    /// The connection now waits for an answer.
    pub(super) fn pause(&mut self, now: Instant) {
        self.paused_since.get_or_insert(now);
    }

    /// It no longer waits: the time it waited is added to the deadline.
    pub(super) fn resume(&mut self, now: Instant) {
        if let Some(since) = self.paused_since.take() {
            self.due += now.saturating_duration_since(since);
        }
    }

    /// When the connection is closed for want of a hello (None while it
    /// waits for an answer).
    pub(super) fn due(&self) -> Option<Instant> {
        self.paused_since.is_none().then_some(self.due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_spent_waiting_for_an_answer_does_not_count() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut d = HelloDeadline::new(t0, 10 * s);
        assert_eq!(d.due(), Some(t0 + 10 * s));
        d.pause(t0 + 2 * s);
        assert_eq!(d.due(), None, "no deadline while the hub owes an answer");
        d.pause(t0 + 5 * s); // a second read while the first waits
        d.resume(t0 + 14 * s);
        assert_eq!(d.due(), Some(t0 + 22 * s), "the 12 s waited are added");
        d.resume(t0 + 15 * s); // nothing waited: nothing added
        assert_eq!(d.due(), Some(t0 + 22 * s));
    }
}
