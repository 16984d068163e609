//! What the roster's broadcast puts on this editor's wire: others' changes
//! and its own acks in seq order, presence, and welcomes; large frames sent
//! in fragments.

use super::*;

/// Most queued broadcast events (group commits, presence), or frames,
/// forwarded before one flush.
const FORWARD_BATCH: usize = 64;

/// Text messages larger than this go out as fragments of this size.
pub(super) const FRAGMENT: usize = 4 * 1024;

/// Sends a large text message as continuation frames of [`FRAGMENT`] bytes,
/// each flushed before the next. The WebSocket layer's write buffer keeps the
/// capacity of the largest frame it ever held, so without this every editor
/// that once received a big snapshot would pin that much memory for good.
pub(super) async fn send_fragmented(
    ws: &mut Ws,
    text: Utf8Bytes,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let bytes = Bytes::from(text);
    let mut start = 0;
    while start < bytes.len() {
        let end = (start + FRAGMENT).min(bytes.len());
        let opcode = if start == 0 {
            Data::Text
        } else {
            Data::Continue
        };
        let frame = Frame::message(
            bytes.slice(start..end),
            OpCode::Data(opcode),
            end == bytes.len(),
        );
        ws.send(Message::Frame(frame)).await?;
        start = end;
    }
    Ok(())
}

impl Conn {
    /// What an event puts on this editor's wire (see [`frames_for`]).
    pub(super) fn frames_for(&mut self, ev: Event, out: &mut Vec<Utf8Bytes>) {
        if let Event::Presence(group) = &ev
            && self.presence_slowed.is_some()
        {
            self.slowed_presence(group, out);
            return;
        }
        let view = self.member.as_ref().map_or(View::Draft, |m| m.view);
        let mine = frames_for(ev, self.session, self.reads_batches, view, out);
        self.in_flight = self.in_flight.saturating_sub(mine);
    }

    /// Forwards a broadcast event and whatever else is already queued behind
    /// it, with one flush for all of them. An editor more than
    /// `outbound_queue` batches behind the roster (or a whole ring of events)
    /// is closed: it must reconnect and catch up.
    pub(super) async fn forward(
        &mut self,
        ev: Result<Event, ring::RecvError>,
    ) -> Result<(), Option<Ending>> {
        let mut frames = Vec::new();
        let mut events = 0;
        let mut next = ev;
        loop {
            let ev = match next {
                Ok(ev) => ev,
                Err(ring::RecvError::Lagged(n)) => {
                    return Err(self.overflowed(format!("{n} events")));
                }
                Err(ring::RecvError::Closed) => return Err(None),
            };
            if let (Event::Committed(group), Some(m)) = (&ev, &self.member) {
                let newest = group.batches.last().map_or(0, |c| c.seq);
                let behind = m.latest.load(Ordering::Acquire).saturating_sub(newest);
                if behind > self.config.outbound_queue as u64 {
                    return Err(self.overflowed(format!("{behind} batches")));
                }
            }
            self.frames_for(ev, &mut frames);
            events += 1;
            if events >= FORWARD_BATCH || frames.len() >= FORWARD_BATCH {
                break;
            }
            match self.member.as_mut().map(|m| m.events.try_recv()) {
                Some(Ok(ev)) => next = Ok(ev),
                Some(Err(ring::TryRecvError::Lagged(n))) => next = Err(ring::RecvError::Lagged(n)),
                _ => break,
            }
        }
        self.write_all(frames.into_iter().map(Message::Text)).await
    }

    pub(super) fn overflowed(&self, by: String) -> Option<Ending> {
        Metrics::inc(&self.shared.metrics.broadcast_drops);
        tracing::info!(
            session = self.session,
            "outbound queue overflowed by {by}; closing"
        );
        Some(Ending(
            close::OUTBOUND_OVERFLOW,
            "outbound queue overflowed: reconnect with your last seq to resync".into(),
        ))
    }
}

/// What an event puts on the wire of the editor `session`, sent `view`:
/// its own batches' acks and the others' changes that view shows, in seq
/// order; to a 1.1 editor (`reads_batches`), as one frame. Returns how many
/// of the batches were its own (answers to its edits).
pub(in crate::server) fn frames_for(
    ev: Event,
    session: u64,
    reads_batches: bool,
    view: View,
    out: &mut Vec<Utf8Bytes>,
) -> usize {
    match ev {
        Event::Committed(group) => {
            let mine = group
                .batches
                .iter()
                .filter(|c| c.session == session)
                .count();
            if reads_batches && mine == 0 {
                // The same frame for every editor that wrote none of it.
                out.extend(group.joined_changes(view));
                return 0;
            }
            let own = group.batches.iter().filter_map(|c| {
                if c.session == session {
                    Some(&c.ack)
                } else {
                    c.frame_for(view)
                }
            });
            if reads_batches {
                out.extend(protocol::join_frames(own));
            } else {
                out.extend(own.cloned());
            }
            mine
        }
        Event::Presence(group) => {
            group.frames_for(session, reads_batches, out);
            0
        }
    }
}

/// The welcome of the editor `session` joining at `start`. A snapshot is
/// encoded once per roster version and shared; encoded parts are put in,
/// not encoded again.
pub(in crate::server) fn welcome_text(shared: &Shared, head: WelcomeHead, start: Start) -> String {
    let (roster, seq, view) = (head.roster.clone(), head.seq, head.view);
    let roster = roster.as_str();
    match start {
        Start::Changes(c) => protocol::encode_welcome::<&str>(head, WelcomeBody::Changes(c)),
        Start::Frames(f) => protocol::encode_welcome(head, WelcomeBody::ChangeFrames(&f)),
        Start::Snapshot(snap) => {
            // Encoding a snapshot cannot fail (string keys only).
            let json: Arc<str> = serde_json::to_string(&snap).unwrap_or_default().into();
            shared.cache_snapshot(roster, view, seq, json.clone());
            protocol::encode_welcome::<&str>(head, WelcomeBody::Snapshot(&json))
        }
        Start::SharedSnapshot(json) => {
            protocol::encode_welcome::<&str>(head, WelcomeBody::Snapshot(&json))
        }
    }
}
