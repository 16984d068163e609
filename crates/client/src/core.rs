//! The sync engine's state and rules, without the network: the hub's roster
//! as last heard, the view (that roster with this editor's pending edits laid
//! over it), the outbox, undo and redo, presence. The connection task feeds
//! it server messages and asks it what to send; the editor calls it to edit.
//! Every change to the outbox is committed to the local store before the
//! call that made it returns.

use super::local::{LocalError, LocalStore};
use super::{ConnState, EntryState, OutboxEntry, Status, SyncEvent, UndoError};
use rota_core::clock::now_ms;
use rota_core::domain::{Author, Change, Conflict, Op, Rejection, Roster, Seq, Stamp, Target};
use rota_core::protocol::{self, ChangeSet, ClientMsg, Cursor, PresenceInfo, ServerMsg, Snapshot};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::sync::broadcast;

/// The view, shared with readers (the editor's frames) under a lock of its
/// own: the core writes to it only in memory and in short steps, never while
/// writing to disk, so a frame never waits on the local store.
pub type SharedView = Arc<RwLock<Roster>>;

/// The most changes a [`SyncEvent::Remote`] carries; a larger batch is
/// told by its count alone (the view has it all).
pub const REMOTE_EVENT_CHANGES: usize = 1_000;

/// Remote cells laid into the view per hold of its lock: a 100,000-cell
/// change from a colleague lets readers in between steps of this size.
const VIEW_STEP: usize = 1024;

/// Why an edit was not taken.
#[derive(Debug)]
pub enum EditError {
    /// The edit cannot apply to what this editor sees (unknown staff or
    /// code, bad value...). Nothing was queued.
    Invalid(Vec<rota_core::domain::Problem>),
    /// More operations than one batch may carry.
    TooLarge { ops: usize, max: usize },
    /// The local store could not record it. Nothing was queued.
    Store(LocalError),
    /// A note longer than the hub keeps. Nothing was queued.
    NoteTooLong { chars: usize, max: usize },
}

impl std::fmt::Display for EditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EditError::Invalid(problems) => {
                let all: Vec<String> = problems
                    .iter()
                    .map(|p| format!("op {}: {}", p.op, p.message))
                    .collect();
                write!(f, "edit refused: {}", all.join("; "))
            }
            EditError::TooLarge { ops, max } => {
                write!(
                    f,
                    "edit has {ops} operations; at most {max} fit in one batch"
                )
            }
            EditError::Store(e) => write!(f, "edit not saved: {e}"),
            EditError::NoteTooLong { chars, max } => {
                write!(f, "note of {chars} characters; at most {max}")
            }
        }
    }
}

impl std::error::Error for EditError {}

/// How an edit is queued.
struct How<'a> {
    note: Option<&'a str>,
    /// Base each write on the hub's version this engine knows (an editor);
    /// otherwise the ops carry their own bases (a script).
    fill_bases: bool,
    /// Goes on this session's undo stack.
    undoable: bool,
    /// Applied by the hub over stale versions.
    force: bool,
}

impl How<'static> {
    /// An editor's undo or redo: based on what the editor knows.
    fn session(note: &'static str, undoable: bool) -> How<'static> {
        How {
            note: Some(note),
            fill_bases: true,
            undoable,
            force: false,
        }
    }
}

/// One undoable edit of this session.
#[derive(Clone, Debug)]
struct UndoItem {
    /// The outbox entry that made it (while it may still be rejected).
    op_id: u64,
    forward: Vec<Op>,
    inverse: Vec<Op>,
    /// What each target held right after the edit.
    after: Vec<(Target, serde_json::Value)>,
}

pub struct Core {
    store: LocalStore,
    user: Arc<str>,
    client: Arc<str>,
    /// The hub's state as last heard (seq included).
    server: Roster,
    /// `server` with every pending edit applied, in order.
    view: SharedView,
    outbox: Vec<OutboxEntry>,
    /// How many pending edits write each cell, to keep them in the view.
    pending_cells: HashMap<(String, rota_core::domain::Date), usize>,
    undo: Vec<UndoItem>,
    redo: Vec<UndoItem>,
    presence: BTreeMap<u64, PresenceInfo>,
    /// The outbox and presence as published for readers, and a digest of
    /// what was published (each entry's id and state, each presence).
    desk: crate::SharedDesk,
    published: std::cell::Cell<Option<u64>>,
    conn: ConnState,
    cursor: Option<Cursor>,
    events: broadcast::Sender<SyncEvent>,
    /// Per connection: op ids sent and not yet answered.
    in_flight: HashSet<u64>,
    /// Edits whose last part has been handed to the socket at least once:
    /// the hub may have them, so they are never withdrawn.
    sent: HashSet<u64>,
    /// Edits withdrawn before their last part was sent: a send under way
    /// stops before it, and the connection starts over (the hub drops the
    /// parts it holds).
    withdrawn: HashSet<u64>,
    cursor_dirty: bool,
    /// Set when this engine's copy cannot be trusted (a gap in seqs): the
    /// connection task then reconnects asking for a snapshot.
    pub needs_snapshot: bool,
    /// Set when the hub answered an edit with a transient error: the
    /// connection task reconnects (with backoff) and sends again in order.
    pub retry_later: Option<String>,
    last_counts: (usize, usize, usize),
    /// Requests (history) waiting to be sent, and those sent on this
    /// connection and not yet answered.
    requests: Vec<ClientMsg>,
    asked: HashSet<u64>,
    /// Who the hub says this connection is, and its role on the roster.
    access: Access,
}

/// Who the hub says this editor is, and what it may do (from the welcome,
/// and `role` messages after).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Access {
    /// The account's name on a hub with accounts; None on one without.
    pub account: Option<String>,
    /// `viewer`, `editor` or `admin`; None until the hub has said.
    pub role: Option<String>,
}

impl Core {
    pub fn open(
        store: LocalStore,
        user: &str,
        events: broadcast::Sender<SyncEvent>,
    ) -> Result<Core, LocalError> {
        let server = store.load_roster()?;
        let outbox = store.load_outbox()?;
        let client: Arc<str> = Arc::from(store.client_id());
        let mut core = Core {
            store,
            user: Arc::from(user),
            client,
            view: Arc::new(RwLock::new(Roster::default())),
            server,
            outbox,
            pending_cells: HashMap::new(),
            undo: Vec::new(),
            redo: Vec::new(),
            presence: BTreeMap::new(),
            desk: crate::SharedDesk::default(),
            published: std::cell::Cell::new(None),
            conn: ConnState::Offline {
                reason: "not connected yet".into(),
            },
            cursor: None,
            events,
            in_flight: HashSet::new(),
            sent: HashSet::new(),
            withdrawn: HashSet::new(),
            cursor_dirty: false,
            needs_snapshot: false,
            retry_later: None,
            last_counts: (usize::MAX, 0, 0),
            requests: Vec::new(),
            asked: HashSet::new(),
            access: Access::default(),
        };
        core.rebuild_view();
        core.recount_pending_cells();
        core.last_counts = core.counts();
        Ok(core)
    }

    fn emit(&self, e: SyncEvent) {
        // Whoever hears of a change finds it on the desk already.
        self.publish();
        // No subscriber is fine: the state is always readable directly.
        let _ = self.events.send(e);
    }

    /// The desk's handle, for readers that must not wait on the core.
    pub fn shared_desk(&self) -> crate::SharedDesk {
        self.desk.clone()
    }

    /// The view's handle, for readers that must not wait on the core.
    pub fn shared_view(&self) -> SharedView {
        self.view.clone()
    }

    fn view(&self) -> RwLockReadGuard<'_, Roster> {
        // A panic while writing the view would be a bug; what is there is
        // still the best state we have.
        self.view.read().unwrap_or_else(|p| p.into_inner())
    }

    fn view_mut(&self) -> RwLockWriteGuard<'_, Roster> {
        self.view.write().unwrap_or_else(|p| p.into_inner())
    }
    pub fn server(&self) -> &Roster {
        &self.server
    }
    pub fn others(&self) -> Vec<PresenceInfo> {
        self.presence.values().cloned().collect()
    }

    pub fn outbox(&self) -> Vec<OutboxEntry> {
        self.outbox.clone()
    }

    /// Publishes the outbox and the others to the desk when they changed
    /// since they last were (an entry added, settled, its state changed;
    /// someone came, went or moved).
    pub fn publish(&self) {
        use std::hash::{Hash, Hasher};
        // No reader (a script's engine): nothing to copy. The core and the
        // engine's shared part hold the desk; a reader makes a third, and
        // `SyncEngine::view_reader` publishes when it makes one.
        if Arc::strong_count(&self.desk) <= 2 {
            self.published.set(None);
            return;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for e in &self.outbox {
            e.op_id.hash(&mut h);
            format!("{:?}", e.state).hash(&mut h);
        }
        0xFFu8.hash(&mut h);
        for p in self.presence.values() {
            format!("{p:?}").hash(&mut h);
        }
        let digest = h.finish();
        if self.published.get() == Some(digest) {
            return;
        }
        self.published.set(Some(digest));
        let mut desk = self.desk.write().unwrap_or_else(|p| p.into_inner());
        desk.outbox = self.outbox();
        desk.others = self.others();
        desk.version += 1;
    }

    /// (pending, conflicted, rejected)
    fn counts(&self) -> (usize, usize, usize) {
        super::count_states(&self.outbox)
    }

    pub fn status(&self) -> Status {
        let (pending, conflicted, rejected) = self.counts();
        Status {
            conn: self.conn.clone(),
            seq: self.server.seq(),
            pending,
            conflicted,
            rejected,
            client_id: self.client.to_string(),
        }
    }

    fn set_access(&mut self, access: Access) {
        if access != self.access {
            self.access = access.clone();
            self.emit(SyncEvent::Access(access));
        }
    }

    /// Tells subscribers when the outbox counts moved, and when everything
    /// is saved.
    fn outbox_changed(&mut self) {
        let now = self.counts();
        if now == self.last_counts {
            return;
        }
        self.last_counts = now;
        let (pending, conflicted, rejected) = now;
        self.emit(SyncEvent::Outbox {
            pending,
            conflicted,
            rejected,
        });
        if pending == 0 && conflicted == 0 {
            self.emit(SyncEvent::AllSaved);
        }
    }

    pub fn set_conn(&mut self, conn: ConnState) {
        if !matches!(conn, ConnState::Connected { .. }) {
            self.fail_requests("the connection to the hub was lost");
        }
        if self.conn != conn {
            self.conn = conn.clone();
            self.emit(SyncEvent::Connection(conn));
        }
    }

    // ----- the view -----

    fn author(&self) -> Author {
        Author {
            user: self.user.clone(),
            client: self.client.clone(),
        }
    }

    /// view = server + every pending edit, in order. Edits that no longer
    /// apply (their staff was removed meanwhile...) are left out of the view;
    /// the hub will refuse them and they show as rejected.
    fn rebuild_view(&mut self) {
        let mut view = self.server.clone();
        let author = self.author();
        for e in &self.outbox {
            if e.state == EntryState::Pending {
                let _ = view.apply_batch_with(&e.ops, &author, e.created, true);
            }
        }
        // Built aside and swapped in: readers wait only for the swap, and
        // the old view is dropped after the lock is let go.
        let old = std::mem::replace(&mut *self.view_mut(), view);
        drop(old);
    }

    fn recount_pending_cells(&mut self) {
        self.pending_cells.clear();
        for e in &self.outbox {
            if e.state == EntryState::Pending {
                add_cells(&mut self.pending_cells, &e.ops, 1);
            }
        }
    }

    fn drop_pending_cells(&mut self, ops: &[Op]) {
        for op in ops {
            if let Op::SetCell { staff, date, .. } = op {
                let key = (staff.clone(), *date);
                if let Some(n) = self.pending_cells.get_mut(&key) {
                    *n -= 1;
                    if *n == 0 {
                        self.pending_cells.remove(&key);
                    }
                }
            }
        }
    }

    // ----- editing -----

    /// Queues an edit: checked against the view, committed to the outbox,
    /// shown at once. With `fill_bases`, each write is based on the hub's
    /// version of its target as this editor knows it. Returns the op id, or
    /// None when the edit changes nothing in the view.
    pub fn edit(
        &mut self,
        ops: Vec<Op>,
        note: Option<&str>,
        fill_bases: bool,
    ) -> Result<Option<u64>, EditError> {
        let how = How {
            note,
            fill_bases,
            undoable: true,
            force: false,
        };
        let op_id = self.edit_inner(ops, how)?;
        if op_id.is_some() {
            self.redo.clear();
        }
        Ok(op_id)
    }

    /// Queues a script's edit: its ops carry the bases the script read, it
    /// is not on this session's undo stack, and with `force` the hub applies
    /// it over whatever changed since (listing what it overwrote).
    pub fn edit_script(
        &mut self,
        ops: Vec<Op>,
        note: &str,
        force: bool,
    ) -> Result<Option<u64>, EditError> {
        let how = How {
            note: Some(note),
            fill_bases: false,
            undoable: false,
            force,
        };
        self.edit_inner(ops, how)
    }

    fn edit_inner(&mut self, mut ops: Vec<Op>, how: How<'_>) -> Result<Option<u64>, EditError> {
        let How {
            note,
            fill_bases,
            undoable,
            force,
        } = how;
        if ops.len() > protocol::MAX_OPS_PER_CHANGE_SET {
            return Err(EditError::TooLarge {
                ops: ops.len(),
                max: protocol::MAX_OPS_PER_CHANGE_SET,
            });
        }
        let chars = note.map_or(0, |n| n.chars().count());
        if chars > protocol::MAX_NOTE_CHARS {
            return Err(EditError::NoteTooLong {
                chars,
                max: protocol::MAX_NOTE_CHARS,
            });
        }
        if fill_bases {
            for op in ops.iter_mut().filter(|op| !op.has_record_base()) {
                let v = self.server.version(&op.target());
                op.set_base(v);
            }
        }
        let inverse = if undoable {
            inverse_ops(&self.view(), &ops)
        } else {
            None
        };
        let now = now_ms();
        let author = self.author();
        let applied = match self.view_mut().apply_batch_with(&ops, &author, now, true) {
            Ok(a) => a,
            Err(Rejection::Invalid(problems)) => return Err(EditError::Invalid(problems)),
            // Forced: staleness never refuses.
            Err(Rejection::Conflict(_)) => return Ok(None),
        };
        if applied.changes.is_empty() {
            return Ok(None);
        }
        let entry = match self.store.queue(ops, note, force, now) {
            Ok(e) => e,
            Err(e) => {
                self.rebuild_view();
                return Err(EditError::Store(e));
            }
        };
        add_cells(&mut self.pending_cells, &entry.ops, 1);
        let op_id = entry.op_id;
        if let Some(inverse) = inverse {
            let after = entry
                .ops
                .iter()
                .map(|op| {
                    let t = op.target();
                    let v = self.view().value_of(&t);
                    (t, v)
                })
                .collect();
            self.undo.push(UndoItem {
                op_id,
                forward: entry.ops.clone(),
                inverse,
                after,
            });
        }
        self.outbox.push(entry);
        self.emit(SyncEvent::Queued { op_id });
        self.outbox_changed();
        Ok(Some(op_id))
    }

    /// Undoes this session's last edit by a new edit that restores what it
    /// replaced. When someone else has changed a target since, nothing is
    /// done unless `anyway`: the caller asks its user first.
    pub fn undo(&mut self, anyway: bool) -> Result<Option<u64>, UndoError> {
        let Some(item) = self.undo.last().cloned() else {
            return Ok(None);
        };
        let changed: Vec<Target> = item
            .after
            .iter()
            .filter(|(t, v)| self.view().value_of(t) != *v)
            .map(|(t, _)| t.clone())
            .collect();
        if !changed.is_empty() && !anyway {
            return Err(UndoError::ChangedSince(changed));
        }
        let op_id = self
            .edit_inner(item.inverse.clone(), How::session("undo", false))
            .map_err(UndoError::Edit)?;
        self.undo.pop();
        self.redo.push(item);
        Ok(op_id)
    }

    /// Makes the last undone edit again.
    pub fn redo(&mut self) -> Result<Option<u64>, UndoError> {
        let Some(item) = self.redo.pop() else {
            return Ok(None);
        };
        match self.edit_inner(item.forward.clone(), How::session("redo", true)) {
            Ok(op_id) => Ok(op_id),
            Err(e) => {
                self.redo.push(item);
                Err(UndoError::Edit(e))
            }
        }
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }
    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    // ----- resolving -----

    fn position(&self, op_id: u64) -> Option<usize> {
        self.outbox.iter().position(|e| e.op_id == op_id)
    }

    /// Drops a conflicted edit: the other writer's value stands.
    pub fn keep_theirs(&mut self, op_id: u64) -> Result<bool, LocalError> {
        let Some(i) = self.position(op_id) else {
            return Ok(false);
        };
        if !matches!(self.outbox[i].state, EntryState::Conflict { .. }) {
            return Ok(false);
        }
        self.store.remove(op_id)?;
        self.outbox.remove(i);
        self.undo.retain(|u| u.op_id != op_id);
        self.rebuild_view();
        self.outbox_changed();
        Ok(true)
    }

    /// Sends a conflicted edit again, now based on the current versions, so
    /// it overwrites the other writer's value.
    pub fn keep_mine(&mut self, op_id: u64) -> Result<Option<u64>, LocalError> {
        let Some(i) = self.position(op_id) else {
            return Ok(None);
        };
        let EntryState::Conflict { conflicts } = &self.outbox[i].state else {
            return Ok(None);
        };
        let mut ops = self.outbox[i].ops.clone();
        for op in ops.iter_mut() {
            let mut v = self.server.version(&op.target());
            // The conflict says what the hub had; the cache may lag behind.
            for c in conflicts.iter().filter(|c| c.target == op.target()) {
                v = v.max(c.seq);
            }
            op.set_base(v);
        }
        let note = self.outbox[i].note.clone();
        let entry = self.store.requeue(op_id, ops, note.as_deref(), now_ms())?;
        self.outbox.remove(i);
        add_cells(&mut self.pending_cells, &entry.ops, 1);
        let new_id = entry.op_id;
        for u in self.undo.iter_mut().filter(|u| u.op_id == op_id) {
            u.op_id = new_id;
        }
        self.outbox.push(entry);
        self.rebuild_view();
        self.emit(SyncEvent::Queued { op_id: new_id });
        self.outbox_changed();
        Ok(Some(new_id))
    }

    /// Forgets a rejected edit once its user has read why.
    pub fn dismiss(&mut self, op_id: u64) -> Result<bool, LocalError> {
        let Some(i) = self.position(op_id) else {
            return Ok(false);
        };
        if !matches!(self.outbox[i].state, EntryState::Rejected { .. }) {
            return Ok(false);
        }
        self.store.remove(op_id)?;
        self.outbox.remove(i);
        self.undo.retain(|u| u.op_id != op_id);
        self.outbox_changed();
        Ok(true)
    }

    pub fn set_cursor(&mut self, cursor: Option<Cursor>) {
        if self.cursor != cursor {
            self.cursor = cursor;
            self.cursor_dirty = true;
        }
    }

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
    fn fail_requests(&mut self, why: &str) {
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
                ..
            } => {
                self.set_access(Access { account, role });
                self.on_welcome(seq, session, changes, snapshot.map(|s| *s), presence)
            }
            ServerMsg::Role { role } => {
                let account = self.access.account.clone();
                self.set_access(Access {
                    account,
                    role: Some(role),
                });
                Ok(())
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

    fn on_welcome(
        &mut self,
        seq: Seq,
        session: u64,
        changes: Option<Vec<ChangeSet>>,
        snapshot: Option<Snapshot>,
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

    fn on_change(&mut self, cs: ChangeSet) -> Result<(), LocalError> {
        if cs.seq <= self.server.seq() {
            return Ok(()); // already have it
        }
        if cs.seq != self.server.seq() + 1 {
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
        self.store.record(&cs, settles)?;
        let stamp = Stamp {
            seq: cs.seq,
            user: Arc::from(cs.user.as_str()),
            client: Arc::from(cs.client.as_str()),
            at: cs.at,
        };
        for change in &cs.changes {
            self.server.apply_accepted(change, stamp.clone());
        }
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
        let cells = cs
            .changes
            .iter()
            .filter(|c| matches!(c, Change::Cell { .. }))
            .count();
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
            changes,
        });
        Ok(())
    }

    /// Brings a remote change into the view without hiding pending edits:
    /// a cell this editor has a pending write to keeps that write.
    fn lay_remote(&mut self, changes: &[Change], stamp: &Stamp) {
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

    fn is_first_pending(&self, i: usize) -> bool {
        !self.outbox[..i]
            .iter()
            .any(|e| e.state == EntryState::Pending)
    }

    fn on_ack(
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
        if seq == self.server.seq() + 1 {
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

    fn mark(&mut self, op_id: u64, state: EntryState) -> Result<(), LocalError> {
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
fn request_id(m: &ClientMsg) -> Option<u64> {
    match m {
        ClientMsg::History { req, .. }
        | ClientMsg::Users { req }
        | ClientMsg::SetRole { req, .. }
        | ClientMsg::ListRosters { req } => *req,
        _ => None,
    }
}

fn add_cells(map: &mut HashMap<(String, rota_core::domain::Date), usize>, ops: &[Op], n: usize) {
    for op in ops {
        if let Op::SetCell { staff, date, .. } = op {
            *map.entry((staff.clone(), *date)).or_default() += n;
        }
    }
}

/// The operations that undo `ops` applied to `view`, or None when one of
/// them has no inverse.
fn inverse_ops(view: &Roster, ops: &[Op]) -> Option<Vec<Op>> {
    let mut inv = Vec::with_capacity(ops.len());
    for op in ops {
        let back = match op {
            Op::SetCell { staff, date, .. } => Op::SetCell {
                staff: staff.clone(),
                date: *date,
                code: view
                    .cell(staff, *date)
                    .and_then(|(c, _)| c.map(str::to_string)),
                base: 0,
            },
            Op::AddStaff { id, .. } => Op::RemoveStaff {
                id: id.clone(),
                base: None,
            },
            Op::UpdateStaff { id, .. } => {
                let old = view.staff_member(id).filter(|s| s.active)?;
                Op::UpdateStaff {
                    id: old.id.clone(),
                    name: Some(old.name.clone()),
                    group: Some(old.group.clone()),
                    order: Some(old.order),
                    base: None,
                }
            }
            Op::RemoveStaff { id, .. } => {
                let old = view.staff_member(id).filter(|s| s.active)?;
                Op::AddStaff {
                    id: old.id.clone(),
                    name: old.name.clone(),
                    group: old.group.clone(),
                    order: Some(old.order),
                }
            }
            Op::PutCode { code, .. } => match view.code(&code.code) {
                Some(old) => Op::PutCode {
                    code: old.clone(),
                    base: None,
                },
                None => Op::RemoveCode {
                    code: code.code.clone(),
                    base: None,
                },
            },
            Op::RemoveCode { code, .. } => Op::PutCode {
                code: view.code(code)?.clone(),
                base: None,
            },
            Op::PutRule { rule, .. } => match view.rule(&rule.id) {
                Some(old) => Op::PutRule {
                    rule: old.clone(),
                    base: None,
                },
                None => Op::RemoveRule {
                    id: rule.id.clone(),
                    base: None,
                },
            },
            Op::RemoveRule { id, .. } => Op::PutRule {
                rule: view.rule(id)?.clone(),
                base: None,
            },
            Op::SetConflictMode { .. } => Op::SetConflictMode {
                mode: view.conflict_mode(),
            },
            Op::SetPeriod { .. } => {
                let p = view.set_period()?;
                Op::SetPeriod {
                    from: p.from,
                    to: p.to,
                }
            }
            Op::SetTimeZone { .. } => Op::SetTimeZone {
                zone: view.time_zone().map(str::to_string),
            },
        };
        inv.push(back);
    }
    inv.reverse();
    Some(inv)
}

/// One frame to send, and which edit's part it is (its op id, and whether
/// it is the last part).
pub struct Outgoing {
    pub frame: String,
    pub edit: Option<(u64, bool)>,
}

impl Outgoing {
    fn other(frame: String) -> Outgoing {
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
fn edit_frames(e: &OutboxEntry) -> Vec<String> {
    protocol::encode_edit_parts(e.op_id, e.note.as_deref(), e.force, &e.ops)
}
