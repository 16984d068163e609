//! `presence`: where this editor's cursor is, relayed to its roster (gathered
//! per roster for a tick by `server::presence`); and the others' presence
//! to an editor that floods cursor moves, slowed.

use super::*;
use crate::server::presence::{Kind, PresenceGroup};

/// Most editors whose presence a flooding connection is sent at once.
const MOST_PRESENCE_RESENT: usize = 1_000;

/// How often a connection flooding cursor moves is sent the others'
/// presence, and how long after its last flood it stays slowed. A hundred
/// such connections each sent every editor's moves twenty times a second
/// cost the hub (and the honest editors waiting on it) more than their
/// flood: p99 3.4 times the honest editors' baseline (issue 25).
const SLOWED_EVERY: Duration = Duration::from_secs(1);

/// A connection flooding cursor moves: sent others' departures as they
/// come, their presence as one whole state at most every [`SLOWED_EVERY`].
pub(super) struct Slowed {
    /// It stays slowed until then (extended while it floods).
    until: Instant,
    /// When it may next be sent the whole state.
    next_whole: Instant,
}

impl Conn {
    /// `presence`: where this editor's cursor is, relayed to its roster at
    /// most [`PRESENCE_PER_SECOND`] times a second (the latest wins).
    pub(super) async fn presence(
        &mut self,
        cursor: Option<rota_core::protocol::Cursor>,
    ) -> Result<(), Option<Ending>> {
        if self.member.is_none() {
            return self
                .error(codes::NOT_JOINED, "send hello first".into(), None)
                .await;
        }
        if let Some(why) = self.refusal(Role::Staff, "send presence") {
            return self.forbidden(why, None, None).await;
        }
        let Some(m) = &self.member else {
            return Ok(());
        };
        if let Some(c) = &cursor
            && let Err(e) = rota_core::domain::check_id("cursor.staff", &c.staff)
        {
            return self.error(codes::BAD_MESSAGE, e, None).await;
        }
        if !self.presence_in.allow(PRESENCE_READ_PER_SECOND) {
            Metrics::inc(&self.shared.metrics.reading_paused);
            let next = self.presence_in.next_second();
            self.paused_until = Some(next);
            let until = next + SLOWED_EVERY;
            match &mut self.presence_slowed {
                Some(s) => s.until = until,
                None => {
                    self.presence_slowed = Some(Slowed {
                        until,
                        next_whole: Instant::now() + SLOWED_EVERY,
                    });
                }
            }
        }
        let info = PresenceInfo {
            session: self.session,
            user: m.author.user.to_string(),
            cursor,
        };
        if self.presence_rate.allow(PRESENCE_PER_SECOND) {
            self.relay_presence(info);
        } else {
            self.presence_held = Some(info);
        }
        Ok(())
    }

    /// Tells the roster where this editor's cursor is.
    pub(super) fn relay_presence(&mut self, info: PresenceInfo) {
        let Some(m) = &self.member else {
            return;
        };
        self.shared.set_presence(&m.roster, info.clone());
        let frame = protocol::encode(&ServerMsg::Presence(info)).into();
        self.shared
            .gathered
            .relay(&m.roster, (self.session, Kind::Moved), frame, &m.publish);
    }

    /// What a tick's presence puts on the wire of a connection flooding
    /// cursor moves: the departures in it, and once a second (and when it
    /// stops being slowed) every other editor's presence as it is now, in
    /// place of the moves it was not sent.
    pub(super) fn slowed_presence(&mut self, group: &PresenceGroup, out: &mut Vec<Utf8Bytes>) {
        let now = Instant::now();
        let Some(s) = &mut self.presence_slowed else {
            return;
        };
        group.departures_for(self.session, self.reads_batches, out);
        if now < s.next_whole && now < s.until {
            Metrics::inc(&self.shared.metrics.presence_slowed);
            return;
        }
        if now >= s.until {
            self.presence_slowed = None;
        } else {
            s.next_whole = now + SLOWED_EVERY;
        }
        let Some(m) = &self.member else {
            return;
        };
        let whole: Vec<Utf8Bytes> = self
            .shared
            .presence_of(&m.roster, MOST_PRESENCE_RESENT)
            .into_iter()
            .filter(|i| i.session != self.session)
            .map(|i| protocol::encode(&ServerMsg::Presence(i)).into())
            .collect();
        if self.reads_batches {
            out.extend(protocol::join_frames(whole.iter()));
        } else {
            out.extend(whole);
        }
    }
}
