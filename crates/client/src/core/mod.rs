//! The sync engine's state and rules, without the network: the hub's roster
//! as last heard, the view (that roster with this editor's pending edits laid
//! over it), the outbox, undo and redo, presence. The connection task feeds
//! it server messages and asks it what to send; the editor calls it to edit.
//! Every change to the outbox is committed to the local store before the
//! call that made it returns.

use super::local::{LocalError, LocalStore};
use super::{ConnState, EntryState, OutboxEntry, Status, SyncEvent, UndoError};
use rota_core::clock::now_ms;
use rota_core::domain::{
    Author, Change, Conflict, Op, Rejection, Roster, Seq, Stamp, Target, View,
};
use rota_core::protocol::{self, ChangeSet, ClientMsg, Cursor, PresenceInfo, ServerMsg, Snapshot};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::sync::broadcast;

mod edit;
mod wire;

use edit::*;
pub use wire::{Outgoing, Withdrawal};

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
                    "edit of {ops} operations, more than the {max} one edit may hold"
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
    /// what was published (each entry's id and state's kind, each
    /// presence's session, user and cursor).
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
    /// Which roster `server` is a copy of: the draft, or the published
    /// view (staff and viewers), as the hub last said; kept in the file.
    copy_of: View,
}

/// The key under which the local file keeps [`Core::copy_of`].
const COPY_OF: &str = "view";
/// The keys of the role (and staff row) the hub last said.
const ROLE: &str = "role";
const STAFF_ROW: &str = "staff-row";

/// Who the hub says this editor is, and what it may do (from the welcome,
/// and `role` messages after).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Access {
    /// The account's name on a hub with accounts; None on one without.
    pub account: Option<String>,
    /// `staff`, `viewer`, `editor` or `admin`; None until the hub has said.
    pub role: Option<String>,
    /// The staff row a `staff` role is bound to.
    pub staff: Option<String>,
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
            copy_of: View::Draft,
        };
        if core.store.kept(COPY_OF)?.as_deref() == Some(View::Published.as_str()) {
            core.copy_of = View::Published;
        }
        let kept = |k: &str| core.store.kept(k).map(|v| v.filter(|v| !v.is_empty()));
        core.access.role = kept(ROLE)?;
        core.access.staff = kept(STAFF_ROW)?;
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
        // A digest without allocating: called at every release of the
        // core's lock. An entry's state only ever moves from pending to
        // settled (a kept-mine edit is a new entry), so its kind is enough.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for e in &self.outbox {
            e.op_id.hash(&mut h);
            std::mem::discriminant(&e.state).hash(&mut h);
        }
        0xFFu8.hash(&mut h);
        for p in self.presence.values() {
            p.session.hash(&mut h);
            p.user.hash(&mut h);
            p.cursor.as_ref().map(|c| (&c.staff, c.date.0)).hash(&mut h);
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
            // Kept in the file: opened offline, the editor offers what the
            // role allows (a viewer is not shown an editor's keys).
            if access.role != self.access.role || access.staff != self.access.staff {
                let _ = self.store.keep(ROLE, access.role.as_deref().unwrap_or(""));
                let _ = self
                    .store
                    .keep(STAFF_ROW, access.staff.as_deref().unwrap_or(""));
            }
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

    /// Who this client's edits are by: on a hub with accounts the account
    /// (as the hub stamps them, so that the copy here says what every
    /// other editor's does), else the user name given.
    fn author(&self) -> Author {
        let user = match &self.access.account {
            Some(account) if **account != *self.user => Arc::from(account.as_str()),
            _ => self.user.clone(),
        };
        Author {
            user,
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
}
