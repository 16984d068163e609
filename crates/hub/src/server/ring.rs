//! A roster's broadcast ring, bounded in events and in bytes, that holds
//! only what some listener has yet to read. tokio's broadcast channel
//! allocates all its slots up front (4,096 of them: about 290 KiB a roster,
//! whether anyone writes or not); this one allocates as events come and,
//! at each send, drops what every listener has read, so a roster costs what
//! its slowest listener is behind, never more than its bounds. Listeners
//! read under a shared lock and never wait for each other. A
//! listener that falls behind past a bound lags (and its connection is
//! closed to resync). Knows nothing of what the events are.

use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::sync::watch;

/// What an event weighs in the ring's byte bound.
pub trait Weigh {
    fn bytes(&self) -> usize;
}

#[derive(Debug, PartialEq, Eq)]
pub enum RecvError {
    /// This many events were dropped before this listener read them; it is
    /// moved on to the oldest event held.
    Lagged(u64),
    /// Every sender is gone.
    Closed,
}

#[derive(Debug, PartialEq, Eq)]
pub enum TryRecvError {
    Empty,
    Lagged(u64),
    Closed,
}

struct State<T> {
    events: VecDeque<(T, usize)>,
    /// The position of `events[0]`; positions only grow.
    first: u64,
    bytes: usize,
    closed: bool,
}

impl<T> State<T> {
    fn end(&self) -> u64 {
        self.first + self.events.len() as u64
    }

    /// Drops the events before `slowest`, the position every listener has
    /// reached.
    fn drop_before(&mut self, slowest: u64) {
        while self.first < slowest {
            match self.events.pop_front() {
                Some((_, b)) => {
                    self.bytes -= b;
                    self.first += 1;
                }
                None => break,
            }
        }
    }
}

struct Ring<T> {
    /// Listeners only read it (shared lock); sends write it.
    state: RwLock<State<T>>,
    /// Each listener's next position, stored as it reads (under the shared
    /// lock), read by a send (under the exclusive one) to drop what all
    /// have read. Changed only by subscribing and dropping listeners.
    positions: Mutex<Vec<Arc<AtomicU64>>>,
    /// The end position after each send, for listeners to wait on.
    end: watch::Sender<u64>,
    max_events: usize,
    max_bytes: usize,
    senders: AtomicUsize,
}

// Every lock here is held for a few statements that leave the state
// consistent, so a panic elsewhere while one was held leaves it usable.
impl<T> Ring<T> {
    fn read(&self) -> RwLockReadGuard<'_, State<T>> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State<T>> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn positions(&self) -> MutexGuard<'_, Vec<Arc<AtomicU64>>> {
        self.positions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The least next position of any listener (the end when there is none).
    fn slowest(&self, end: u64) -> u64 {
        self.positions()
            .iter()
            .map(|p| p.load(Ordering::Acquire))
            .min()
            .unwrap_or(end)
    }
}

/// A ring holding at most `max_events` events and `max_bytes` bytes of them
/// (one event more than that is always held, however big).
pub fn channel<T: Clone + Weigh>(max_events: usize, max_bytes: usize) -> Sender<T> {
    Sender {
        ring: Arc::new(Ring {
            state: RwLock::new(State {
                events: VecDeque::new(),
                first: 0,
                bytes: 0,
                closed: false,
            }),
            positions: Mutex::new(Vec::new()),
            end: watch::channel(0).0,
            max_events: max_events.max(1),
            max_bytes,
            senders: AtomicUsize::new(1),
        }),
    }
}

pub struct Sender<T> {
    ring: Arc<Ring<T>>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.ring.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            ring: self.ring.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.ring.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.ring.write().closed = true;
            self.ring.end.send_modify(|_| {});
        }
    }
}

impl<T: Clone + Weigh> Sender<T> {
    /// Adds an event for every listener; with none, it is dropped at once.
    pub fn send(&self, event: T) {
        let ring = &self.ring;
        let end = {
            let mut st = ring.write();
            let bytes = event.bytes();
            st.events.push_back((event, bytes));
            st.bytes += bytes;
            while st.events.len() > ring.max_events
                || (st.bytes > ring.max_bytes && st.events.len() > 1)
            {
                if let Some((_, b)) = st.events.pop_front() {
                    st.bytes -= b;
                    st.first += 1;
                }
            }
            let end = st.end();
            st.drop_before(ring.slowest(end));
            end
        };
        ring.end.send_replace(end);
    }

    /// A listener that gets every event sent from now on.
    pub fn subscribe(&self) -> Receiver<T> {
        let st = self.ring.write();
        let position = Arc::new(AtomicU64::new(st.end()));
        self.ring.positions().push(position.clone());
        Receiver {
            ring: self.ring.clone(),
            position,
            end: self.ring.end.subscribe(),
        }
    }

    pub fn receiver_count(&self) -> usize {
        self.ring.positions().len()
    }

    /// Events and bytes held now.
    #[cfg(test)]
    pub fn held(&self) -> (usize, usize) {
        let st = self.ring.read();
        (st.events.len(), st.bytes)
    }
}

pub struct Receiver<T> {
    ring: Arc<Ring<T>>,
    /// The next position to read, shared with the ring.
    position: Arc<AtomicU64>,
    end: watch::Receiver<u64>,
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut st = self.ring.write();
        self.ring
            .positions()
            .retain(|p| !Arc::ptr_eq(p, &self.position));
        let end = st.end();
        let slowest = self.ring.slowest(end);
        st.drop_before(slowest);
    }
}

impl<T: Clone> Receiver<T> {
    /// The next event, if one is held.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let st = self.ring.read();
        let next = self.position.load(Ordering::Relaxed);
        if next < st.first {
            self.position.store(st.first, Ordering::Release);
            return Err(TryRecvError::Lagged(st.first - next));
        }
        match st.events.get((next - st.first) as usize) {
            Some((event, _)) => {
                let event = event.clone();
                self.position.store(next + 1, Ordering::Release);
                Ok(event)
            }
            None if st.closed => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Waits for the next event.
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        loop {
            // Marked seen before looking, so a send after the look wakes us.
            self.end.borrow_and_update();
            match self.try_recv() {
                Ok(e) => return Ok(e),
                Err(TryRecvError::Lagged(n)) => return Err(RecvError::Lagged(n)),
                Err(TryRecvError::Closed) => return Err(RecvError::Closed),
                Err(TryRecvError::Empty) => {
                    if self.end.changed().await.is_err() {
                        return Err(RecvError::Closed);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Ev(u32, usize);

    impl Weigh for Ev {
        fn bytes(&self) -> usize {
            self.1
        }
    }

    #[test]
    fn every_listener_gets_every_event_in_order_and_read_events_are_dropped() {
        let tx = channel::<Ev>(100, 1 << 20);
        tx.send(Ev(0, 10));
        assert_eq!(tx.held(), (0, 0), "no listener: nothing held");
        let mut a = tx.subscribe();
        let mut b = tx.subscribe();
        for i in 1..=5 {
            tx.send(Ev(i, 10));
        }
        assert_eq!(tx.held(), (5, 50));
        for i in 1..=5 {
            assert_eq!(a.try_recv(), Ok(Ev(i, 10)));
        }
        assert_eq!(a.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(tx.held(), (5, 50), "b has read none");
        assert_eq!(b.try_recv(), Ok(Ev(1, 10)));
        assert_eq!(b.try_recv(), Ok(Ev(2, 10)));
        tx.send(Ev(6, 10));
        assert_eq!(
            tx.held(),
            (4, 40),
            "what both read is gone at the next send"
        );
        assert_eq!(b.try_recv(), Ok(Ev(3, 10)));
        assert_eq!(a.try_recv(), Ok(Ev(6, 10)));
        drop(b);
        assert_eq!(tx.held(), (0, 0), "b gone: a has read everything");
        assert_eq!(tx.receiver_count(), 1);
    }

    #[test]
    fn a_listener_behind_by_more_than_the_bounds_lags() {
        let tx = channel::<Ev>(4, 1000);
        let mut slow = tx.subscribe();
        for i in 0..10 {
            tx.send(Ev(i, 1));
        }
        assert_eq!(tx.held(), (4, 4));
        assert_eq!(slow.try_recv(), Err(TryRecvError::Lagged(6)));
        assert_eq!(slow.try_recv(), Ok(Ev(6, 1)));
        // In bytes: three events of 400 pass 1,000.
        let tx = channel::<Ev>(100, 1000);
        let mut slow = tx.subscribe();
        for i in 0..3 {
            tx.send(Ev(i, 400));
        }
        assert_eq!(tx.held(), (2, 800));
        assert_eq!(slow.try_recv(), Err(TryRecvError::Lagged(1)));
        // One event over the bound alone is still held.
        tx.send(Ev(9, 5000));
        assert_eq!(tx.held().0, 1);
        assert_eq!(slow.try_recv(), Err(TryRecvError::Lagged(2)));
        assert_eq!(slow.try_recv(), Ok(Ev(9, 5000)));
    }

    #[tokio::test]
    async fn recv_waits_for_a_send_and_ends_when_the_senders_go() {
        let tx = channel::<Ev>(10, 1000);
        let mut rx = tx.subscribe();
        let waiter = tokio::spawn(async move {
            let first = rx.recv().await;
            let second = rx.recv().await;
            (first, second)
        });
        tx.send(Ev(1, 1));
        drop(tx);
        let (first, second) = waiter.await.unwrap();
        assert_eq!(first, Ok(Ev(1, 1)));
        assert_eq!(second, Err(RecvError::Closed));
    }
}
