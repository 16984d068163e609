//! A connection's inbox: the answers the writer (acks, rejections, errors)
//! and the read pool (history pages, roster lists) send it, in one queue
//! that allocates only while it holds something. (Two tokio mpsc channels
//! cost about 3 KB a connection up front, a 32-slot block and the channel
//! each: 18 MB for 6,000 idle editors.) Its bound is the connection's own
//! accounting: at most `MAX_IN_FLIGHT` edits and `MAX_READS_WAITING` reads
//! unanswered, so it never holds more than that. Knows nothing of frames.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// What an answer is to, for the connection's accounting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Edit,
    Read,
}

struct Inner {
    queue: Mutex<VecDeque<(Kind, Utf8Bytes)>>,
    ready: Notify,
    /// The connection is gone: answers to it are dropped.
    closed: AtomicBool,
}

/// Where answers of one kind go.
#[derive(Clone)]
pub struct Sender {
    inner: Arc<Inner>,
    kind: Kind,
}

pub struct Receiver {
    inner: Arc<Inner>,
}

/// An inbox, with a sender for each kind of answer.
pub fn inbox() -> (Sender, Sender, Receiver) {
    let inner = Arc::new(Inner {
        queue: Mutex::new(VecDeque::new()),
        ready: Notify::new(),
        closed: AtomicBool::new(false),
    });
    let edits = Sender {
        inner: inner.clone(),
        kind: Kind::Edit,
    };
    let reads = Sender {
        inner: inner.clone(),
        kind: Kind::Read,
    };
    (edits, reads, Receiver { inner })
}

impl Sender {
    /// Queues an answer; dropped when the connection is gone.
    pub fn send(&self, frame: Utf8Bytes) {
        if self.is_closed() {
            return;
        }
        // Held for a push: a panic elsewhere cannot leave it half-changed.
        let mut q = self.inner.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.push_back((self.kind, frame));
        drop(q);
        self.inner.ready.notify_one();
    }

    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }
}

impl Receiver {
    pub fn try_recv(&mut self) -> Option<(Kind, Utf8Bytes)> {
        let mut q = self.inner.queue.lock().unwrap_or_else(|p| p.into_inner());
        let next = q.pop_front();
        if q.is_empty() && q.capacity() > 0 {
            // An idle connection holds nothing.
            *q = VecDeque::new();
        }
        next
    }

    /// The next answer. Cancel-safe: an answer is only ever taken from the
    /// queue by a call that returns it.
    pub async fn recv(&mut self) -> (Kind, Utf8Bytes) {
        loop {
            if let Some(next) = self.try_recv() {
                return next;
            }
            // notify_one keeps a permit when nobody waits, so an answer
            // queued between the look and this wait still wakes it.
            self.inner.ready.notified().await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.inner.closed.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_come_in_order_with_their_kind_and_stop_when_closed() {
        let (edits, reads, mut rx) = inbox();
        edits.send("a".into());
        reads.send("b".into());
        assert_eq!(rx.recv().await, (Kind::Edit, "a".into()));
        assert_eq!(rx.recv().await, (Kind::Read, "b".into()));
        assert_eq!(rx.try_recv(), None);
        let waiter = tokio::spawn(async move {
            let got = rx.recv().await;
            (got, rx)
        });
        edits.send("c".into());
        let (got, rx) = waiter.await.unwrap();
        assert_eq!(got, (Kind::Edit, "c".into()));
        drop(rx);
        assert!(reads.is_closed());
        edits.send("lost".into());
    }
}
