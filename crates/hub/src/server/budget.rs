//! The hub-wide budget for edits arriving in parts, shared fairly. Bytes
//! held are counted as they sit in memory (the frames as received), and
//! when the budget is full a part is still taken if its connection would
//! then hold less than another: the edit of the connection holding most,
//! from the address holding most, is dropped to make room (its author is
//! told `busy` at its next part). So connections that hold parts and never
//! finish them can fill the budget but cannot keep an honest editor out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// The frames of one edit in parts, shared between its connection and the
/// budget (which may drop them to make room for another's).
#[derive(Default)]
pub struct HeldFrames {
    pub frames: Vec<Utf8Bytes>,
    /// Dropped to make room: the edit is refused at its next part.
    pub dropped: bool,
    /// Taken by its connection for submission (being read again): no
    /// longer the budget's to drop, though counted until released.
    pub taken: bool,
}

pub type Frames = Arc<Mutex<HeldFrames>>;

struct Holder {
    addr: IpAddr,
    bytes: usize,
    frames: Frames,
}

#[derive(Default)]
struct Inner {
    total: usize,
    /// Per connection (session) holding parts.
    holders: HashMap<u64, Holder>,
    per_addr: HashMap<IpAddr, usize>,
}

/// The budget; every change to what it holds is also put in `metric` (the
/// figure `/metrics` shows, `rota_assembling_bytes`), under its lock.
#[derive(Default)]
pub struct PartsBudget {
    inner: Mutex<Inner>,
}

impl PartsBudget {
    /// Counts `n` more bytes held by connection `session` (from `addr`,
    /// whose frames are `frames`) within `limit`, dropping others' edits to
    /// make room when that is fair; false (nothing counted) when it is not.
    #[allow(clippy::too_many_arguments)]
    pub fn take(
        &self,
        metric: &AtomicU64,
        session: u64,
        addr: IpAddr,
        frames: &Frames,
        n: usize,
        limit: usize,
    ) -> bool {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mine = inner.holders.get(&session).map_or(0, |h| h.bytes) + n;
        let my_addr = inner.per_addr.get(&addr).copied().unwrap_or(0) + n;
        // Who would make room, chosen first and dropped only if they do:
        // nobody's edit is dropped for a part then refused anyway.
        let mut chosen: Vec<u64> = Vec::new();
        let mut less: HashMap<IpAddr, usize> = HashMap::new();
        let mut freed = 0;
        while inner.total - freed + n > limit {
            let Some((victim, bytes, its_addr)) =
                inner.victim(session, addr, mine, my_addr, &chosen, &less)
            else {
                return false;
            };
            chosen.push(victim);
            freed += bytes;
            *less.entry(its_addr).or_default() += bytes;
        }
        for victim in chosen {
            inner.drop_holder(victim);
        }
        inner.total += n;
        *inner.per_addr.entry(addr).or_default() += n;
        let holder = inner.holders.entry(session).or_insert_with(|| Holder {
            addr,
            bytes: 0,
            frames: frames.clone(),
        });
        holder.bytes += n;
        metric.store(inner.total as u64, Ordering::Relaxed);
        true
    }

    /// Gives back what `session` holds (its edit submitted, refused or gone).
    pub fn release(&self, metric: &AtomicU64, session: u64) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.forget(session);
        metric.store(inner.total as u64, Ordering::Relaxed);
    }
}

impl Inner {
    /// Whose edit makes room for `session` (which would hold `mine`, its
    /// address `my_addr`): a connection of another address holding more
    /// than `my_addr`, or of the same address holding more than `mine`; the
    /// address holding most first, then its largest. Never an equal: two
    /// holding the same do not take turns dropping each other.
    /// Those in `chosen` are counted as gone already (their addresses
    /// holding `less`). Holders whose frames are being submitted are not
    /// the budget's to drop. Returns the victim, its bytes and address.
    fn victim(
        &self,
        session: u64,
        addr: IpAddr,
        mine: usize,
        my_addr: usize,
        chosen: &[u64],
        less: &HashMap<IpAddr, usize>,
    ) -> Option<(u64, usize, IpAddr)> {
        let held_by = |a: &IpAddr| {
            self.per_addr.get(a).copied().unwrap_or(0) - less.get(a).copied().unwrap_or(0)
        };
        self.holders
            .iter()
            .filter(|(s, _)| **s != session && !chosen.contains(s))
            .filter(|(_, h)| {
                if h.addr == addr {
                    h.bytes > mine
                } else {
                    held_by(&h.addr) > my_addr
                }
            })
            .filter(|(_, h)| h.frames.lock().is_ok_and(|f| !f.taken))
            .max_by_key(|(s, h)| (held_by(&h.addr), h.bytes, std::cmp::Reverse(**s)))
            .map(|(s, h)| (*s, h.bytes, h.addr))
    }

    /// Drops `session`'s held frames now (their memory goes back at once)
    /// and marks its edit refused.
    fn drop_holder(&mut self, session: u64) {
        if let Some(h) = self.holders.get(&session) {
            let mut held = h.frames.lock().unwrap_or_else(|p| p.into_inner());
            held.frames = Vec::new();
            held.dropped = true;
        }
        self.forget(session);
    }

    fn forget(&mut self, session: u64) {
        let Some(h) = self.holders.remove(&session) else {
            return;
        };
        self.total -= h.bytes;
        if let Some(a) = self.per_addr.get_mut(&h.addr) {
            *a -= h.bytes;
            if *a == 0 {
                self.per_addr.remove(&h.addr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn room_is_made_from_the_largest_address_then_connection_never_past_the_limit() {
        let metric = AtomicU64::new(0);
        let b = PartsBudget::default();
        let frames: Vec<Frames> = (0..5).map(|_| Frames::default()).collect();
        // Address 1 holds 60 in three connections, address 2 holds 30.
        assert!(b.take(&metric, 1, ip(1), &frames[1], 20, 100));
        assert!(b.take(&metric, 2, ip(1), &frames[2], 20, 100));
        assert!(b.take(&metric, 3, ip(1), &frames[3], 20, 100));
        assert!(b.take(&metric, 4, ip(2), &frames[4], 30, 100));
        assert_eq!(metric.load(Ordering::Relaxed), 90);
        // A newcomer from address 3 wanting 25: address 1 gives way.
        let fresh = Frames::default();
        assert!(b.take(&metric, 9, ip(3), &fresh, 25, 100));
        assert!(frames[1].lock().unwrap().dropped, "the first largest goes");
        assert!(!frames[4].lock().unwrap().dropped);
        assert_eq!(metric.load(Ordering::Relaxed), 95);
        // Address 2 asking 20 more (it would hold 50; address 1 holds 40):
        // nobody holds more, so no room is made.
        assert!(!b.take(&metric, 4, ip(2), &frames[4], 20, 100));
        assert_eq!(metric.load(Ordering::Relaxed), 95);
        // Within one address: a connection holding less takes from one
        // holding more.
        assert!(b.take(&metric, 5, ip(2), &frames[0], 5, 100));
        assert!(b.take(&metric, 5, ip(2), &frames[0], 10, 100));
        assert!(frames[4].lock().unwrap().dropped || frames[2].lock().unwrap().dropped);
        assert!(metric.load(Ordering::Relaxed) <= 100);
        // Room that cannot be made is not half made: nobody is dropped for
        // a part that is refused anyway.
        let before: Vec<bool> = frames.iter().map(|f| f.lock().unwrap().dropped).collect();
        assert!(!b.take(&metric, 7, ip(4), &Frames::default(), 95, 100));
        let after: Vec<bool> = frames.iter().map(|f| f.lock().unwrap().dropped).collect();
        assert_eq!(before, after);
        b.release(&metric, 5);
        b.release(&metric, 9);
        b.release(&metric, 2);
        b.release(&metric, 3);
        b.release(&metric, 4);
        assert_eq!(metric.load(Ordering::Relaxed), 0, "all given back");
    }

    /// Room that cannot be made whole is not made in part: address 2's
    /// edits would make some room for a newcomer, not enough, so nobody's
    /// edit is dropped for a part refused anyway.
    #[test]
    fn nobody_is_dropped_for_a_part_refused_anyway() {
        let metric = AtomicU64::new(0);
        let b = PartsBudget::default();
        let frames: Vec<Frames> = (0..3).map(|_| Frames::default()).collect();
        assert!(b.take(&metric, 1, ip(1), &frames[0], 30, 100));
        assert!(b.take(&metric, 2, ip(2), &frames[1], 30, 100));
        assert!(b.take(&metric, 3, ip(2), &frames[2], 30, 100));
        assert!(!b.take(&metric, 9, ip(3), &Frames::default(), 50, 100));
        assert!(frames.iter().all(|f| !f.lock().unwrap().dropped));
        assert_eq!(metric.load(Ordering::Relaxed), 90);
        // Whose frames are being submitted is not dropped either.
        for f in &frames {
            f.lock().unwrap().taken = true;
        }
        assert!(!b.take(&metric, 9, ip(3), &Frames::default(), 20, 100));
        assert!(frames.iter().all(|f| !f.lock().unwrap().dropped));
    }
}
