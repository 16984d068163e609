//! The hello deadline: a socket must say hello within `hello_timeout`, but
//! the time it spends waiting for the hub's answer to a request (a
//! `list_rosters` sent first, queued behind others' reads) is the hub's, not
//! the client's, and does not count; up to one more `hello_timeout` in all,
//! so reads kept in flight cannot hold a socket open without a hello.

use std::time::{Duration, Instant};

pub(super) struct HelloDeadline {
    due: Instant,
    /// Since when the connection has waited for an answer (None: it has not).
    paused_since: Option<Instant>,
    /// Time added for waits so far, and the most that may be.
    added: Duration,
    cap: Duration,
}

impl HelloDeadline {
    pub(super) fn new(now: Instant, timeout: Duration) -> HelloDeadline {
        HelloDeadline {
            due: now + timeout,
            paused_since: None,
            added: Duration::ZERO,
            cap: timeout,
        }
    }

    /// The connection now waits for an answer.
    pub(super) fn pause(&mut self, now: Instant) {
        self.paused_since.get_or_insert(now);
    }

    /// It no longer waits: the time it waited is added to the deadline
    /// (within the cap).
    pub(super) fn resume(&mut self, now: Instant) {
        if let Some(since) = self.paused_since.take() {
            let add = now
                .saturating_duration_since(since)
                .min(self.cap.saturating_sub(self.added));
            self.due += add;
            self.added += add;
        }
    }

    /// When the connection is closed for want of a hello: while it waits
    /// for an answer, as late as what is left of the cap allows.
    pub(super) fn due(&self) -> Instant {
        match self.paused_since {
            Some(_) => self.due + self.cap.saturating_sub(self.added),
            None => self.due,
        }
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
        assert_eq!(d.due(), t0 + 10 * s);
        d.pause(t0 + 2 * s);
        assert_eq!(d.due(), t0 + 20 * s, "waiting, at most one more timeout");
        d.pause(t0 + 5 * s); // a second read while the first waits
        d.resume(t0 + 6 * s);
        assert_eq!(d.due(), t0 + 14 * s, "the 4 s waited are added");
        d.resume(t0 + 7 * s); // nothing waited: nothing added
        assert_eq!(d.due(), t0 + 14 * s);
        // Reads kept in flight cannot keep it open for ever.
        d.pause(t0 + 8 * s);
        assert_eq!(d.due(), t0 + 20 * s);
        d.resume(t0 + 100 * s);
        assert_eq!(d.due(), t0 + 20 * s, "never more than one more timeout");
    }
}
