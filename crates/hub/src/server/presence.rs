//! Presence gathered per roster: the cursor moves and departures of a
//! roster's editors are kept for a tick ([`TICK`]) and broadcast as one
//! event, the latest of each editor only. With a hundred editors moving
//! their cursors, each editor's connection then wakes and writes twenty
//! times a second for presence, not two thousand (each connection is still
//! held to 20 moves a second of its own by `conn`). A departure replaces
//! the editor's pending move, so nobody sees a cursor after its `left`.

use super::{Event, ring};
use rota_core::protocol;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// How long moves are gathered before they go out: a cursor is at most
/// this late.
pub const TICK: Duration = Duration::from_millis(50);

/// What an editor's frame says: it moved, or it went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Moved,
    Left,
}

/// One tick's presence on one roster: the latest `presence` or `left` frame
/// of each editor (session) that moved or went.
pub struct PresenceGroup {
    pub frames: Vec<(u64, Utf8Bytes)>,
    /// The sessions whose frame is a `left`.
    pub left: Vec<u64>,
    /// Every frame as one `batch` frame, for the editors whose own
    /// session is not among them (built once, shared).
    joined: OnceLock<Option<Utf8Bytes>>,
}

impl PresenceGroup {
    pub fn bytes(&self) -> usize {
        self.frames.iter().map(|(_, f)| f.len()).sum()
    }

    /// The frames an editor of protocol 1.1 or later (`batches`) gets,
    /// leaving out its own.
    pub fn frames_for(&self, session: u64, batches: bool, out: &mut Vec<Utf8Bytes>) {
        let own = self.frames.iter().any(|(s, _)| *s == session);
        if batches && !own {
            let joined = self
                .joined
                .get_or_init(|| protocol::join_frames(self.frames.iter().map(|(_, f)| f)));
            out.extend(joined.clone());
            return;
        }
        let others = self
            .frames
            .iter()
            .filter(|(s, _)| *s != session)
            .map(|(_, f)| f);
        if batches {
            out.extend(protocol::join_frames(others));
        } else {
            out.extend(others.cloned());
        }
    }

    /// The departures of others only (to an editor flooding cursor moves,
    /// which is sent the others' moves at most once a second, as a whole
    /// state, but must never keep a cursor of someone who left).
    pub fn departures_for(&self, session: u64, batches: bool, out: &mut Vec<Utf8Bytes>) {
        let left = self
            .frames
            .iter()
            .filter(|(s, _)| *s != session && self.left.contains(s))
            .map(|(_, f)| f);
        if batches {
            out.extend(protocol::join_frames(left));
        } else {
            out.extend(left.cloned());
        }
    }
}

struct Pending {
    frames: BTreeMap<u64, (Utf8Bytes, Kind)>,
    publish: ring::Sender<Event>,
}

/// The presence waiting for its tick, per roster.
#[derive(Default, Clone)]
pub struct Gatherer {
    pending: Arc<Mutex<HashMap<String, Pending>>>,
}

impl Gatherer {
    /// Keeps `frame` (a `presence` or `left` of editor `session`, as
    /// `kind` says) for the roster's next tick, replacing that editor's
    /// earlier one; the first of a tick starts it. Needs a tokio runtime.
    pub fn relay(
        &self,
        roster: &str,
        (session, kind): (u64, Kind),
        frame: Utf8Bytes,
        publish: &ring::Sender<Event>,
    ) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = pending.get_mut(roster) {
            p.frames.insert(session, (frame, kind));
            return;
        }
        pending.insert(
            roster.to_string(),
            Pending {
                frames: BTreeMap::from([(session, (frame, kind))]),
                publish: publish.clone(),
            },
        );
        drop(pending);
        let gatherer = self.clone();
        let roster = roster.to_string();
        tokio::spawn(async move {
            // Pacing, not synchronisation: the tick is the point.
            tokio::time::sleep(TICK).await;
            gatherer.flush(&roster);
        });
    }

    /// Broadcasts what the roster gathered.
    fn flush(&self, roster: &str) {
        let taken = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(roster);
        if let Some(p) = taken {
            let left = p
                .frames
                .iter()
                .filter(|(_, (_, k))| *k == Kind::Left)
                .map(|(s, _)| *s)
                .collect();
            let group = PresenceGroup {
                frames: p.frames.into_iter().map(|(s, (f, _))| (s, f)).collect(),
                left,
                joined: OnceLock::new(),
            };
            p.publish.send(Event::Presence(Arc::new(group)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str) -> Utf8Bytes {
        text.to_string().into()
    }

    /// Many moves within a tick go out as one event holding the latest of
    /// each editor, a departure in place of that editor's move; an editor
    /// gets the others' frames, never its own.
    #[tokio::test(start_paused = true)]
    async fn moves_within_a_tick_go_out_as_one_event_with_each_editors_latest() {
        let ring = ring::channel::<Event>(64, 1 << 20);
        let mut rx = ring.subscribe();
        let g = Gatherer::default();
        for round in 0..10 {
            for session in 1..=30u64 {
                let f = format!(r#"{{"type":"presence","session":{session},"round":{round}}}"#);
                g.relay("ward", (session, Kind::Moved), frame(&f), &ring);
            }
        }
        g.relay(
            "ward",
            (7, Kind::Left),
            frame(r#"{"type":"left","session":7}"#),
            &ring,
        );
        assert!(rx.try_recv().is_err(), "nothing before the tick");
        let Ok(Event::Presence(group)) = rx.recv().await else {
            panic!("one presence event at the tick");
        };
        assert_eq!(group.frames.len(), 30, "one frame per editor");
        assert!(group.frames.iter().all(|(s, f)| if *s == 7 {
            f.as_str().contains("left")
        } else {
            f.as_str().contains(r#""round":9"#)
        }));
        assert!(rx.try_recv().is_err(), "and only one");
        let mut out = Vec::new();
        group.frames_for(3, true, &mut out);
        assert_eq!(out.len(), 1, "one batch frame");
        assert!(!out[0].as_str().contains(r#""session":3,"#), "not its own");
        assert_eq!(out[0].as_str().matches(r#""type":"presence""#).count(), 28);
        let mut out = Vec::new();
        group.frames_for(99, false, &mut out);
        assert_eq!(out.len(), 30, "to a 1.0 editor, frame by frame");
        let mut out = Vec::new();
        group.departures_for(3, true, &mut out);
        assert_eq!(out.len(), 1, "the departure alone");
        assert!(out[0].as_str().contains(r#""type":"left""#), "{:?}", out[0]);
        let mut out = Vec::new();
        group.departures_for(7, true, &mut out);
        assert!(out.is_empty(), "not its own");
    }
}
