//! The connection's side of the core: the hello, what to send and when,
//! and each message from the hub taken in (welcome, changes, answers).

use super::*;

impl Core {
    // ----- the connection -----

    /// The hello for a new connection.
    pub fn hello(&self, roster: &str) -> ClientMsg {
        ClientMsg::Hello {
            protocol: protocol::PROTOCOL_VERSION.into(),
            user: self.user.to_string(),
            client_id: self.client.to_string(),
            token: None,
            roster: roster.to_string(),
            // A hub never has a seq this high, so it sends a snapshot.
            last_seq: if self.needs_snapshot {
                Seq::MAX
            } else {
                self.server.seq()
            },
            view: self.copy_of,
        }
    }

    /// Queues a request (`history`, `users`, `set_role`) under the id its
    /// asker chose (the asker waits for that id from before it asks, so
    /// an answer can never come before the asker waits for it). Err when
    /// there is no connection to ask, or the id is waiting already: the
    /// answer comes as an event with that id.
    pub fn ask(
        &mut self,
        req: u64,
        make: impl FnOnce(Option<u64>) -> ClientMsg,
    ) -> Result<(), String> {
        if !matches!(self.conn, ConnState::Connected { .. }) {
            return Err("the hub keeps this, and this editor is not connected to it".into());
        }
        let waiting =
            self.asked.contains(&req) || self.requests.iter().any(|m| request_id(m) == Some(req));
        if waiting {
            return Err(format!("request {req} is already waiting for its answer"));
        }
        let msg = make(Some(req));
        if let ClientMsg::History { query, .. } = &msg {
            query.check()?;
        }
        self.requests.push(msg);
        Ok(())
    }

    /// Who the hub says this editor is, and its role.
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// Answers the requests that can no longer be answered (their
    /// connection is gone).
    pub(super) fn fail_requests(&mut self, why: &str) {
        let lost: Vec<u64> = self
            .asked
            .drain()
            .chain(self.requests.drain(..).filter_map(|m| request_id(&m)))
            .collect();
        for req in lost {
            self.emit(SyncEvent::RequestFailed {
                req,
                message: why.to_string(),
            });
        }
    }

    /// A connection was made: nothing is in flight on it yet.
    pub fn connected(&mut self) {
        self.fail_requests("the connection was lost before the hub answered");
        self.in_flight.clear();
        self.cursor_dirty = self.cursor.is_some();
        self.retry_later = None;
    }

    /// Frames to send now: the cursor if it moved, then pending edits in
    /// order, at most [`protocol::MAX_IN_FLIGHT`] unanswered.
    pub fn take_frames_to_send(&mut self) -> Vec<Outgoing> {
        let mut out = Vec::new();
        if self.cursor_dirty {
            self.cursor_dirty = false;
            out.push(Outgoing::other(protocol::encode_client(
                &ClientMsg::Presence {
                    cursor: self.cursor.clone(),
                },
            )));
        }
        for m in self.requests.drain(..) {
            if let Some(r) = request_id(&m) {
                self.asked.insert(r);
            }
            out.push(Outgoing::other(protocol::encode_client(&m)));
        }
        if self.retry_later.is_some() {
            return out;
        }
        for e in &self.outbox {
            if self.in_flight.len() >= protocol::MAX_IN_FLIGHT {
                break;
            }
            if e.state != EntryState::Pending || self.in_flight.contains(&e.op_id) {
                continue;
            }
            self.in_flight.insert(e.op_id);
            let frames = edit_frames(e);
            let last = frames.len().saturating_sub(1);
            out.extend(frames.into_iter().enumerate().map(|(i, frame)| Outgoing {
                frame,
                edit: Some((e.op_id, i == last)),
            }));
        }
        out
    }

    /// Just before a part of edit `op_id` is written: false when the edit
    /// was withdrawn (stop sending). Before its last part the edit counts
    /// as sent from here on, so a withdrawal can never race the hub.
    pub fn may_send_part(&mut self, op_id: u64, last: bool) -> bool {
        if self.withdrawn.contains(&op_id) {
            return false;
        }
        if last {
            self.sent.insert(op_id);
        }
        true
    }

    /// Takes back a queued edit whose last part has not been sent: it is
    /// removed from the outbox and the view, and a send under way stops.
    pub fn withdraw(&mut self, op_id: u64) -> Result<Withdrawal, LocalError> {
        let Some(i) = self.position(op_id) else {
            return Ok(Withdrawal::NotQueued);
        };
        if self.sent.contains(&op_id) {
            return Ok(Withdrawal::MayBeOnHub);
        }
        self.store.remove(op_id)?;
        self.outbox.remove(i);
        self.in_flight.remove(&op_id);
        self.withdrawn.insert(op_id);
        self.undo.retain(|u| u.op_id != op_id);
        self.rebuild_view();
        self.outbox_changed();
        Ok(Withdrawal::Withdrawn)
    }

    /// Acts on one message from the hub.
    pub fn handle(&mut self, msg: ServerMsg) -> Result<(), LocalError> {
        match msg {
            ServerMsg::Welcome {
                seq,
                session,
                changes,
                snapshot,
                presence,
                account,
                role,
                staff,
                view,
                ..
            } => {
                self.set_access(Access {
                    account,
                    role,
                    staff,
                });
                let snapshot = snapshot.map(|s| *s);
                if snapshot.is_none() && view != self.copy_of {
                    // Changes of the other view would not apply to this
                    // copy (a hub sends a snapshot then: this one did not).
                    self.needs_snapshot = true;
                    return Ok(());
                }
                self.on_welcome(seq, session, changes, snapshot, view, presence)
            }
            ServerMsg::Role { role, staff } => {
                let account = self.access.account.clone();
                let view = View::of(rota_core::domain::Role::parse(&role));
                self.set_access(Access {
                    account,
                    role: Some(role),
                    staff,
                });
                self.change_view(view)
            }
            ServerMsg::Change(cs) => self.on_change(cs),
            ServerMsg::Ack {
                op_id,
                seq,
                overwritten,
                at,
            } => self.on_ack(op_id, seq, overwritten, at),
            ServerMsg::Rejected {
                op_id,
                code,
                message,
                conflicts,
                problems,
                ..
            } => {
                self.in_flight.remove(&op_id);
                let state = if code == protocol::codes::CONFLICT {
                    EntryState::Conflict { conflicts }
                } else {
                    EntryState::Rejected {
                        code,
                        message,
                        problems,
                    }
                };
                self.mark(op_id, state)
            }
            ServerMsg::Error {
                code,
                message,
                op_id: Some(op_id),
                ..
            } => {
                self.in_flight.remove(&op_id);
                // Refusals that say "later": the edit stays pending and is
                // sent again after the backoff, never marked rejected.
                let later = [
                    protocol::codes::STORAGE,
                    protocol::codes::SHUTTING_DOWN,
                    protocol::codes::BUSY,
                    protocol::codes::RATE_LIMITED,
                ];
                if later.contains(&code.as_str()) {
                    self.retry_later = Some(format!("hub: {message}"));
                    Ok(())
                } else {
                    self.mark(
                        op_id,
                        EntryState::Rejected {
                            code,
                            message,
                            problems: Vec::new(),
                        },
                    )
                }
            }
            ServerMsg::Error {
                code,
                message,
                req: Some(req),
                ..
            } if self.asked.remove(&req) => {
                tracing::debug!(req, code, "request refused: {message}");
                self.emit(SyncEvent::RequestFailed { req, message });
                Ok(())
            }
            ServerMsg::Error { code, message, .. } => {
                tracing::warn!(%code, "hub error: {message}");
                Ok(())
            }
            ServerMsg::Presence(p) => {
                self.presence.insert(p.session, p.clone());
                self.emit(SyncEvent::Presence(p));
                Ok(())
            }
            ServerMsg::Left { session, user } => {
                self.presence.remove(&session);
                self.emit(SyncEvent::Left { session, user });
                Ok(())
            }
            ServerMsg::History {
                req: Some(req),
                entries,
                next,
            } if self.asked.remove(&req) => {
                self.emit(SyncEvent::History { req, entries, next });
                Ok(())
            }
            ServerMsg::Users {
                req: Some(req),
                users,
                token,
            } if self.asked.remove(&req) => {
                self.emit(SyncEvent::Users { req, users, token });
                Ok(())
            }
            ServerMsg::Rosters {
                req: Some(req),
                rosters,
            } if self.asked.remove(&req) => {
                self.emit(SyncEvent::Rosters { req, rosters });
                Ok(())
            }
            ServerMsg::History { .. } | ServerMsg::Rosters { .. } | ServerMsg::Users { .. } => {
                Ok(())
            }
            ServerMsg::Batch { msgs } => {
                for msg in msgs {
                    self.handle(msg)?;
                }
                Ok(())
            }
        }
    }

    pub(super) fn on_welcome(
        &mut self,
        seq: Seq,
        session: u64,
        changes: Option<Vec<ChangeSet>>,
        snapshot: Option<Snapshot>,
        view: View,
        presence: Vec<PresenceInfo>,
    ) -> Result<(), LocalError> {
        if let Some(snap) = snapshot {
            // The roster is built before the cache is written: the store's
            // page cache then fills above the roster's rows and is handed
            // back whole after, rather than leaving holes under them (a
            // first sync of 500 x 366 kept 33 MB more otherwise;
            // docs/performance.md, "Memory").
            let server = snap.to_roster(seq);
            self.store.replace(&snap, seq)?;
            drop(snap);
            self.server = server;
            self.needs_snapshot = false;
            if view != self.copy_of {
                self.store.keep(COPY_OF, view.as_str())?;
                self.copy_of = view;
            }
            self.rebuild_view();
            self.emit(SyncEvent::Resynced { seq });
        }
        for cs in changes.unwrap_or_default() {
            self.on_change(cs)?;
        }
        if self.server.seq() < seq && !self.needs_snapshot {
            // Caught up with nothing to apply (e.g. the hub's seq moved by
            // batches that changed nothing).
            self.store.advance(seq)?;
            self.server.set_seq(seq);
        }
        self.presence = presence.into_iter().map(|p| (p.session, p)).collect();
        self.set_conn(ConnState::Connected { session, seq });
        self.outbox_changed();
        Ok(())
    }

    /// A new role sees `view`. From the draft to what was published, the
    /// copy (and the file) become the published view at once: it is known
    /// here (the draft holds the published layer), and nothing of the
    /// draft stays to be shown, offline or not. The other way, the draft is
    /// not known: a snapshot is asked for (the hub starts the connection
    /// over too).
    fn change_view(&mut self, view: View) -> Result<(), LocalError> {
        if view == self.copy_of {
            return Ok(());
        }
        match view {
            View::Published => {
                let seq = self.server.seq();
                let snap = Snapshot::of(&self.server.published_view());
                self.store.replace(&snap, seq)?;
                self.store.keep(COPY_OF, view.as_str())?;
                self.server = snap.to_roster(seq);
                self.copy_of = view;
                self.rebuild_view();
                self.emit(SyncEvent::Resynced { seq });
            }
            View::Draft => self.needs_snapshot = true,
        }
        Ok(())
    }

    pub(super) fn on_change(&mut self, cs: ChangeSet) -> Result<(), LocalError> {
        if cs.seq <= self.server.seq() {
            return Ok(()); // already have it
        }
        // The published view skips the batches that changed only draft
        // cells: a gap there is nothing missed.
        if cs.seq != self.server.seq() + 1 && self.copy_of == View::Draft {
            tracing::warn!(
                have = self.server.seq(),
                got = cs.seq,
                "gap in the hub's changes; asking for a snapshot"
            );
            self.needs_snapshot = true;
            return Ok(());
        }
        // Our own batch, acknowledged by the change log rather than an ack
        // (its ack was lost with a connection).
        let mine = (*cs.client == *self.client)
            .then(|| self.position(cs.op_id))
            .flatten();
        let settles = mine.map(|i| self.outbox[i].op_id);
        let stamp = Stamp {
            seq: cs.seq,
            user: Arc::from(cs.user.as_str()),
            client: Arc::from(cs.client.as_str()),
            at: cs.at,
        };
        let cs = match self.copy_of {
            View::Draft => {
                self.store.record(&cs, settles)?;
                for change in &cs.changes {
                    self.server.apply_accepted(change, stamp.clone());
                }
                cs
            }
            View::Published => {
                // A publication changes the view's cells too: the cache
                // is told every cell it set or emptied (the editor is
                // told the publication, as sent).
                let mut made = Vec::with_capacity(cs.changes.len());
                for change in &cs.changes {
                    made.extend(self.server.apply_viewed(change, stamp.clone()));
                }
                let stored = ChangeSet {
                    seq: cs.seq,
                    user: cs.user.clone(),
                    client: cs.client.clone(),
                    op_id: cs.op_id,
                    at: cs.at,
                    note: cs.note.clone(),
                    changes: made,
                };
                self.store.record(&stored, settles)?;
                cs
            }
        };
        self.server.set_seq(cs.seq);
        if let Some(i) = mine {
            let first_pending = self.is_first_pending(i);
            let entry = self.outbox.remove(i);
            self.in_flight.remove(&entry.op_id);
            self.drop_pending_cells(&entry.ops);
            if !first_pending {
                self.rebuild_view();
            }
            self.emit(SyncEvent::Acked {
                op_id: entry.op_id,
                seq: cs.seq,
                overwritten: Vec::new(),
            });
            self.outbox_changed();
            return Ok(());
        }
        self.lay_remote(&cs.changes, &stamp);
        let count = cs.changes.len();
        let (mut cells, mut proposed, mut withdrawn) = (0, 0, 0);
        for c in &cs.changes {
            match c {
                Change::Cell { .. } => cells += 1,
                Change::Proposal { code: Some(_), .. } => proposed += 1,
                Change::Proposal { code: None, .. } => withdrawn += 1,
                _ => {}
            }
        }
        // A broadcast channel keeps its last events until newer ones push
        // them out: a colleague's 183,000-cell batch kept 30 MB alive in
        // every engine. Large batches are told without their changes.
        let changes = if count <= REMOTE_EVENT_CHANGES {
            cs.changes
        } else {
            Vec::new()
        };
        self.emit(SyncEvent::Remote {
            seq: cs.seq,
            user: cs.user,
            note: cs.note,
            count,
            cells,
            proposed,
            withdrawn,
            changes,
        });
        Ok(())
    }

    /// Brings a remote change into the view without hiding pending edits:
    /// a cell this editor has a pending write to keeps that write.
    pub(super) fn lay_remote(&mut self, changes: &[Change], stamp: &Stamp) {
        let only_cells = changes.iter().all(|c| matches!(c, Change::Cell { .. }));
        if !only_cells {
            self.rebuild_view();
            return;
        }
        for step in changes.chunks(VIEW_STEP) {
            let mut view = self.view_mut();
            for c in step {
                if let Change::Cell { staff, date, .. } = c
                    && !self.pending_cells.contains_key(&(staff.clone(), *date))
                {
                    view.apply_accepted(c, stamp.clone());
                }
            }
        }
    }

    pub(super) fn is_first_pending(&self, i: usize) -> bool {
        !self.outbox[..i]
            .iter()
            .any(|e| e.state == EntryState::Pending)
    }

    pub(super) fn on_ack(
        &mut self,
        op_id: u64,
        seq: Seq,
        overwritten: Vec<Conflict>,
        at: i64,
    ) -> Result<(), LocalError> {
        self.in_flight.remove(&op_id);
        let Some(i) = self.position(op_id) else {
            return Ok(()); // a replayed answer to an edit already settled
        };
        let first_pending = self.is_first_pending(i);
        let note = self.outbox[i].note.clone();
        let mut record = None;
        // The published view skips the batches that changed only draft
        // cells, and staff write no cell: their edit applies to the view.
        let next = seq == self.server.seq() + 1
            || (self.copy_of == View::Published && seq > self.server.seq());
        if next {
            self.server.set_seq(seq - 1);
            // The hub applied it to the state we hold: do the same.
            // All or nothing: on refusal the roster is unchanged.
            let author = self.author();
            match self
                .server
                .apply_batch_with(&self.outbox[i].ops, &author, at, true)
            {
                Ok(applied) if applied.seq == seq => {
                    record = Some(ChangeSet {
                        seq,
                        user: self.user.to_string(),
                        client: self.client.to_string(),
                        op_id,
                        at,
                        note,
                        changes: applied.changes.into_iter().map(|c| c.change).collect(),
                    });
                }
                _ => self.needs_snapshot = true,
            }
        } else if seq > self.server.seq() {
            // We missed something: the snapshot will bring this edit too.
            self.needs_snapshot = true;
        }
        match &record {
            Some(cs) => self.store.record(cs, Some(op_id))?,
            None => self.store.remove(op_id)?,
        }
        let entry = self.outbox.remove(i);
        self.drop_pending_cells(&entry.ops);
        // The view already shows this edit over the server state it was
        // applied to only when it was the first pending edit and applied at
        // the tip. An edit the server state already held (brought by a
        // snapshot) may have been overwritten there since: look again.
        if !first_pending || record.is_none() {
            self.rebuild_view();
        }
        self.emit(SyncEvent::Acked {
            op_id,
            seq,
            overwritten,
        });
        self.outbox_changed();
        Ok(())
    }

    pub(super) fn mark(&mut self, op_id: u64, state: EntryState) -> Result<(), LocalError> {
        let Some(i) = self.position(op_id) else {
            return Ok(());
        };
        if self.outbox[i].state != EntryState::Pending {
            return Ok(());
        }
        self.store.set_state(op_id, &state)?;
        let ops = self.outbox[i].ops.clone();
        self.drop_pending_cells(&ops);
        self.outbox[i].state = state.clone();
        self.rebuild_view();
        match state {
            EntryState::Conflict { conflicts } => {
                self.emit(SyncEvent::Conflicted { op_id, conflicts })
            }
            EntryState::Rejected {
                code,
                message,
                problems,
            } => self.emit(SyncEvent::Rejected {
                op_id,
                code,
                message,
                problems,
            }),
            EntryState::Pending => {}
        }
        self.outbox_changed();
        Ok(())
    }
}

/// The id of a request that waits for an answer.
pub(super) fn request_id(m: &ClientMsg) -> Option<u64> {
    match m {
        ClientMsg::History { req, .. }
        | ClientMsg::Users { req }
        | ClientMsg::SetRole { req, .. }
        | ClientMsg::ListRosters { req } => *req,
        _ => None,
    }
}

/// One frame to send, and which edit's part it is (its op id, and whether
/// it is the last part).
pub struct Outgoing {
    pub frame: String,
    pub edit: Option<(u64, bool)>,
}

impl Outgoing {
    pub(super) fn other(frame: String) -> Outgoing {
        Outgoing { frame, edit: None }
    }
}

/// What came of withdrawing a queued edit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Withdrawal {
    /// Removed; nothing of it was applied.
    Withdrawn,
    /// Its last part was sent: the hub may have applied it; it stays queued
    /// and is settled by the next sync (applied at most once).
    MayBeOnHub,
    /// Not in the outbox (answered already).
    NotQueued,
}

/// Frames that carry an outbox entry: one `edit`, or numbered parts of it
/// when it is larger than a frame may be.
pub(super) fn edit_frames(e: &OutboxEntry) -> Vec<String> {
    protocol::encode_edit_parts(e.op_id, e.note.as_deref(), e.force, &e.ops)
}
