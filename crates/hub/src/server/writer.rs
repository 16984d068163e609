//! The hub's single writer: one OS thread that owns the store and every
//! roster held in memory. Connections send it commands through one bounded
//! channel; it takes every command waiting, applies the edits, commits them in
//! one transaction (group commit: one fsync for many editors), and only then
//! broadcasts them. Reads that must be consistent with the broadcast stream
//! (joining a roster) run after the pending group has committed, so nobody
//! ever sees state that is not durable.

use super::{Event, Metrics, Shared};
use super::{background, ring};
use crate::store::{AnswerKey, Group, Store, StoreError};
use rota_core::clock::now_ms;
use rota_core::domain::{Applied, Author, Op, Rejection, Roster, Seq, View, view_changes};
use rota_core::protocol::{self, ChangeSet, ServerMsg, Snapshot};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// A connection's queue for answers meant for it alone.
pub type Direct = super::inbox::Sender;

pub enum Cmd {
    Join {
        roster: String,
        last_seq: Seq,
        /// The view the connection is to be sent, and the view its copy at
        /// `last_seq` is (another than `view`: it is sent a snapshot).
        view: View,
        held: View,
        reply: oneshot::Sender<Result<Joined, String>>,
    },
    Edit(Edit),
    /// Let go of the rosters nobody has listened to for `roster_idle`
    /// (sent by a timer, so an idle hub frees them without another join).
    Sweep,
    /// Answered once every edit before it is committed and answered: the
    /// accounts gate waits on it after a change, so that every later group
    /// is checked against the new accounts.
    Barrier(oneshot::Sender<()>),
    /// Another hub on the same database committed `roster` up to `seq`:
    /// if it is held here and behind, read what it missed from the change
    /// log and hand it to its listeners.
    CatchUp {
        roster: String,
        seq: Seq,
    },
    /// The same for every roster held (after the database connection that
    /// hears of other hubs' commits was down).
    CatchUpAll,
}

pub struct Edit {
    pub roster: String,
    /// The account it came under (None: a hub without accounts), checked
    /// again as its group is applied: a role taken away while the edit
    /// waited counts.
    pub who: Option<crate::accounts::Identity>,
    pub author: Author,
    pub session: u64,
    pub op_id: u64,
    /// What tells a resend of this edit from another edit under its op id.
    pub fingerprint: protocol::Fingerprint,
    pub ops: Vec<Op>,
    pub note: Option<String>,
    /// Apply over stale versions (last writer wins for this batch).
    pub force: bool,
    pub reply: Direct,
}

/// What a connection gets on joining a roster: where it stands, and its
/// subscription to everything committed after that.
pub struct Joined {
    pub seq: Seq,
    pub start: Start,
    pub events: ring::Receiver<Event>,
    pub publish: ring::Sender<Event>,
    /// The roster's newest broadcast seq, for the connection to see how far
    /// behind it is.
    pub latest: Arc<AtomicU64>,
}

/// What a joining editor starts from: the changes it missed, or the whole
/// roster, each in the cheapest form at hand.
pub enum Start {
    /// The changes missed (none when it is up to date), from the change log.
    Changes(Vec<ChangeSet>),
    /// The changes missed, as the `change` frames broadcast (from memory).
    Frames(Vec<Utf8Bytes>),
    /// The whole roster (as its view shows it), for the connection to
    /// encode (and share).
    Snapshot(Snapshot),
    /// The whole roster, already encoded for an earlier joiner at this seq.
    SharedSnapshot(Arc<str>),
}

/// The batches one group commit made on one roster, in seq order: a single
/// broadcast event, so each connection wakes, receives and writes once per
/// group rather than once per batch.
pub struct CommittedGroup {
    pub batches: Vec<Committed>,
    /// The batches' `change` frames as one `batch` frame (protocol 1.1),
    /// per view, built by the first connection that needs it and shared by
    /// the rest.
    joined: [OnceLock<Option<Utf8Bytes>>; 2],
}

impl CommittedGroup {
    /// The bytes of its frames.
    pub fn bytes(&self) -> usize {
        self.batches
            .iter()
            .map(|b| {
                let draft = b.frame.as_ref().map_or(0, |f| f.len());
                let own_view = b.view_frame.as_ref().filter(|v| !b.shares_frame(v));
                b.ack.len() + draft + own_view.map_or(0, |f| f.len())
            })
            .sum()
    }

    pub fn new(batches: Vec<Committed>) -> CommittedGroup {
        CommittedGroup {
            batches,
            joined: [OnceLock::new(), OnceLock::new()],
        }
    }

    /// Every `change` frame of the group `view` is sent, in one frame, for
    /// a connection that authored none of its batches: the frame itself
    /// when there is one, a `batch` frame when there are more, None when
    /// none changed anything it shows.
    pub fn joined_changes(&self, view: View) -> Option<Utf8Bytes> {
        self.joined[view as usize]
            .get_or_init(|| {
                protocol::join_frames(self.batches.iter().filter_map(|c| c.frame_for(view)))
            })
            .clone()
    }
}

/// A batch that has been committed: its frame for the others and the ack for
/// its author, each encoded once and shared by every connection.
pub struct Committed {
    pub seq: Seq,
    pub session: u64,
    /// The `change` for the others; None when the batch changed nothing
    /// (only its author hears, by its ack).
    pub frame: Option<Utf8Bytes>,
    /// The `change` for the published view: the same bytes as `frame` when
    /// it shows all of the batch, None when it shows none of it (a batch of
    /// draft cells once the roster publishes).
    pub view_frame: Option<Utf8Bytes>,
    pub ack: Utf8Bytes,
}

impl Committed {
    /// What a connection sent `view` is told of this batch by others.
    pub fn frame_for(&self, view: View) -> Option<&Utf8Bytes> {
        match view {
            View::Draft => self.frame.as_ref(),
            View::Published => self.view_frame.as_ref(),
        }
    }

    /// Whether `view_frame` is `frame` itself (one encoding, shared).
    fn shares_frame(&self, view_frame: &Utf8Bytes) -> bool {
        self.frame
            .as_ref()
            .is_some_and(|f| f.as_str().as_ptr() == view_frame.as_str().as_ptr())
    }
}

struct Slot {
    roster: Roster,
    events: ring::Sender<Event>,
    /// The seq of the newest batch broadcast (stored before the event is
    /// sent, so a connection never sees a group newer than this).
    latest: Arc<AtomicU64>,
    /// The latest `change` frames as broadcast (shared, not copied),
    /// consecutive seqs, oldest first: an editor that missed only these
    /// catches up from memory, without a read of the change log or encoding
    /// them again.
    recent: VecDeque<Recent>,
    recent_bytes: usize,
    /// Since when no connection has listened to the roster (None: someone
    /// does): after `Config::roster_idle` the slot is let go.
    unwatched_since: Option<Instant>,
    /// A group touching the roster failed: `roster` may hold its edits,
    /// which were never stored. Nothing reads or builds on it until it is
    /// read again ([`Writer::revive`]).
    stale: bool,
}

/// Most bytes of recent change sets kept per roster.
const RECENT_BYTES: usize = 16 << 20;

/// A batch kept for catch-ups: its frame for each view.
struct Recent {
    seq: Seq,
    frame: Utf8Bytes,
    /// None: the published view is not sent this batch.
    view_frame: Option<Utf8Bytes>,
    /// The bytes held for it (a view frame that is the frame counts once).
    bytes: usize,
}

impl Slot {
    /// Keeps a committed batch's frames for catch-ups (references to the
    /// broadcast bytes: nothing is copied on the writer's path).
    fn remember(&mut self, c: &Committed, max_len: usize) {
        let Some(frame) = &c.frame else {
            return;
        };
        let contiguous = self.recent.back().is_none_or(|r| r.seq + 1 == c.seq);
        if !contiguous || !protocol::is_change_frame(frame.as_str()) {
            // Never a gap in the window: start it again from here.
            self.forget();
            return;
        }
        let own_view = c.view_frame.as_ref().filter(|v| !c.shares_frame(v));
        let bytes = frame.len() + own_view.map_or(0, |v| v.len());
        self.recent_bytes += bytes;
        self.recent.push_back(Recent {
            seq: c.seq,
            frame: frame.clone(),
            view_frame: c.view_frame.clone(),
            bytes,
        });
        while self.recent.len() > max_len || self.recent_bytes > RECENT_BYTES {
            match self.recent.pop_front() {
                Some(old) => self.recent_bytes -= old.bytes,
                None => break,
            }
        }
    }

    fn forget(&mut self) {
        self.recent.clear();
        self.recent_bytes = 0;
    }

    /// The change sets `view` is sent after `last_seq` up to the roster's
    /// seq, if all of them are still in memory.
    fn recent_since(&self, last_seq: Seq, view: View) -> Option<Vec<Utf8Bytes>> {
        let first = self.recent.front()?.seq;
        let last = self.recent.back()?.seq;
        if first > last_seq + 1 || last != self.roster.seq() {
            return None;
        }
        Some(
            self.recent
                .iter()
                .filter(|r| r.seq > last_seq)
                .filter_map(|r| match view {
                    View::Draft => Some(r.frame.clone()),
                    View::Published => r.view_frame.clone(),
                })
                .collect(),
        )
    }
}

enum Outcome {
    Broadcast(String, Committed),
    Direct(Direct, Utf8Bytes),
}

pub struct Writer {
    store: Store,
    rosters: HashMap<String, Slot>,
    answered: Answered,
    shared: Arc<Shared>,
    queue: usize,
    max_group: usize,
    /// How long a roster nobody listens to stays in memory.
    roster_idle: Duration,
    /// Rosters in memory as last put in the hub's figure.
    loaded_reported: usize,
    /// Who edited rosters of this writer's file last, for whether a big
    /// group may be committed in the background.
    editors: background::LastEditors,
    /// Whether a roster may be stale (a group failed since the last
    /// [`Writer::revive`] that left none): most groups skip the look.
    any_stale: bool,
}

impl Writer {
    pub fn new(
        mut store: Store,
        shared: Arc<Shared>,
        queue: usize,
        max_group: usize,
        roster_idle: Duration,
    ) -> Result<Writer, StoreError> {
        // Seed the seqs /health reports.
        let infos = store.list_rosters()?;
        if let Ok(mut seqs) = shared.seqs.lock() {
            for info in infos {
                seqs.insert(info.name, info.seq);
            }
        }
        Ok(Writer {
            store,
            rosters: HashMap::new(),
            answered: Answered::default(),
            shared,
            queue,
            max_group,
            roster_idle,
            loaded_reported: 0,
            editors: background::LastEditors::default(),
            any_stale: false,
        })
    }

    /// Lets go of the rosters nobody has listened to for `roster_idle`
    /// (their ring, roster and recent frames): a roster costs memory only
    /// while someone uses it, and a join of a made-up name costs nothing
    /// once its connection is gone. They load again from the store.
    fn sweep(&mut self, keep: &str) {
        let now = Instant::now();
        let idle = self.roster_idle;
        self.rosters.retain(|name, slot| {
            if name == keep || slot.events.receiver_count() > 0 {
                slot.unwatched_since = None;
                return true;
            }
            let since = *slot.unwatched_since.get_or_insert(now);
            now.duration_since(since) < idle
        });
        self.report_loaded(self.rosters.len());
    }

    /// Puts this writer's count of rosters in memory into the hub's figure
    /// (the sum over its writers), as a change from what it put last.
    fn report_loaded(&mut self, now: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        let figure = &self.shared.metrics.rosters_loaded;
        if now >= self.loaded_reported {
            figure.fetch_add((now - self.loaded_reported) as u64, Relaxed);
        } else {
            figure.fetch_sub((self.loaded_reported - now) as u64, Relaxed);
        }
        self.loaded_reported = now;
    }

    /// Runs until every sender of `rx` is gone, then returns after the last
    /// group has committed. `name`: the thread's, for its background one.
    pub fn run(self, mut rx: mpsc::Receiver<Cmd>, name: &str) {
        let mut writer = self;
        let mut background = background::Background::new(name);
        let mut cmds = Vec::with_capacity(writer.max_group);
        while let Some(first) = rx.blocking_recv() {
            cmds.push(first);
            while cmds.len() < writer.max_group {
                match rx.try_recv() {
                    Ok(cmd) => cmds.push(cmd),
                    Err(_) => break,
                }
            }
            if !background::fits(&cmds, &writer.editors, Instant::now()) {
                writer.process(&mut cmds);
                continue;
            }
            writer = background.process(writer, std::mem::take(&mut cmds));
        }
        tracing::debug!("writer: all senders gone, stopping");
    }

    /// The hub's figures (a background thread counts its groups there).
    pub(super) fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// One turn of the run loop over `cmds`, in order: the deterministic
    /// simulation drives the writer with it, one group per simulated tick.
    #[cfg(test)]
    pub(super) fn step(&mut self, mut cmds: Vec<Cmd>) {
        self.process(&mut cmds);
    }

    pub(super) fn process(&mut self, cmds: &mut Vec<Cmd>) {
        let mut edits = Vec::new();
        let mut catch_ups = Vec::new();
        let now = Instant::now();
        for cmd in cmds.drain(..) {
            match cmd {
                Cmd::Edit(e) => {
                    self.editors.saw(&e.author.client, now);
                    edits.push(e);
                }
                Cmd::Join {
                    roster,
                    last_seq,
                    view,
                    held,
                    reply,
                } => {
                    // A joiner sees only committed state: flush first.
                    self.commit_edits(std::mem::take(&mut edits));
                    let joined = self.join(&roster, last_seq, view, held).map_err(|e| {
                        tracing::error!("joining roster {roster}: {e}");
                        e.for_editors()
                    });
                    let _ = reply.send(joined);
                }
                Cmd::Sweep => self.sweep(""),
                Cmd::Barrier(done) => {
                    self.commit_edits(std::mem::take(&mut edits));
                    let _ = done.send(());
                }
                // After the edits waiting, not before: a catch-up need not
                // split their group (its claims catch up first anyway).
                Cmd::CatchUp { roster, seq } => catch_ups.push((roster, seq)),
                Cmd::CatchUpAll => {
                    catch_ups.extend(self.rosters.keys().map(|r| (r.clone(), Seq::MAX)));
                }
            }
        }
        self.commit_edits(edits);
        for (roster, seq) in catch_ups {
            self.catch_up(&roster, seq);
        }
    }

    fn join(
        &mut self,
        name: &str,
        last_seq: Seq,
        view: View,
        held: View,
    ) -> Result<Joined, StoreError> {
        self.revive();
        if self.rosters.get(name).is_some_and(|s| s.stale) {
            return Err(StoreError::Stale(name.to_string()));
        }
        // A copy of the other view cannot take this view's changes.
        let last_seq = if held == view { last_seq } else { Seq::MAX };
        self.sweep(name);
        // Counted as it will be once this join's roster is loaded.
        let loaded = self.rosters.len() + usize::from(!self.rosters.contains_key(name));
        self.report_loaded(loaded);
        let store = &mut self.store;
        let slot = slot_of(&mut self.rosters, self.queue, name, || {
            store.load_roster(name)
        })?;
        let seq = slot.roster.seq();
        let events = slot.events.subscribe();
        let publish = slot.events.clone();
        let latest = slot.latest.clone();
        let frames = (last_seq < seq)
            .then(|| slot.recent_since(last_seq, view))
            .flatten();
        let start = if last_seq == seq {
            Start::Changes(Vec::new())
        } else if let Some(frames) = frames {
            Start::Frames(frames)
        } else {
            let delta = if last_seq < seq {
                // A delta longer than the roster itself costs more than a snapshot.
                let max = slot.roster.cell_count().max(1000);
                self.store.changes_since(name, last_seq, max)?
            } else {
                None // the client is ahead of this hub: it must start over
            };
            match delta {
                Some(changes) => Start::Changes(viewed(changes, view, slot.roster.publishes())),
                None => match self.shared.cached_snapshot(name, view, seq) {
                    Some(json) => Start::SharedSnapshot(json),
                    None => Start::Snapshot(match view {
                        View::Draft => Snapshot::of(&slot.roster),
                        View::Published => Snapshot::of(&slot.roster.published_view()),
                    }),
                },
            }
        };
        Ok(Joined {
            seq,
            start,
            events,
            publish,
            latest,
        })
    }

    /// Applies and commits a group of edits, then answers and broadcasts.
    fn commit_edits(&mut self, edits: Vec<Edit>) {
        if edits.is_empty() {
            return;
        }
        self.revive();
        let started = Instant::now();
        let at = now_ms();
        let mut outcomes = Vec::with_capacity(edits.len());
        let mut touched = HashSet::new();
        // Read once per group: the gate's barrier waits for this group to
        // end, so none is applied against accounts older than a change
        // that an account flag was told is in force.
        let accounts = self.shared.gate.current();
        let result = (|| -> Result<(), StoreError> {
            let mut group = self.store.group()?;
            for e in &edits {
                if let Some(refused) = access_gone(&accounts, e) {
                    outcomes.push(refused);
                    continue;
                }
                if let Some(earlier) =
                    answered_before(&mut self.answered, &mut group, &self.shared.metrics, e)?
                {
                    outcomes.push(earlier);
                    continue;
                }
                if !touched.contains(&e.roster) {
                    touched.insert(e.roster.clone());
                    claim(
                        &mut self.rosters,
                        &mut group,
                        self.queue,
                        &e.roster,
                        &mut outcomes,
                    )?;
                }
                outcomes.push(apply_edit(
                    &mut self.rosters,
                    &mut group,
                    &self.shared.metrics,
                    self.queue,
                    e,
                    at,
                )?);
            }
            group.commit()
        })();
        if let Err(err) = result {
            // While the database is known to be away, each refused group
            // is not logged again: the outage was, once.
            let known = err.is_unreachable() && self.shared.not_ready().is_some();
            if err.is_unreachable() {
                self.shared.database_lost(err.to_string());
            }
            self.fail_group(&edits, &touched, &err, known);
            return;
        }
        self.shared.database_back();
        let metrics = &self.shared.metrics;
        metrics.commit_batch_size.observe(edits.len() as f64);
        metrics
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
        self.deliver(outcomes);
    }

    /// Brings `roster`, if held here, up to `seq` (another hub's commit)
    /// from the change log, and hands what it missed to its listeners.
    fn catch_up(&mut self, roster: &str, seq: Seq) {
        self.revive();
        let Some(slot) = self.rosters.get_mut(roster).filter(|s| !s.stale) else {
            return; // loaded afresh, or read again, when next used
        };
        let held = slot.roster.seq();
        if seq <= held {
            return; // this hub's own commit, or one already caught up on
        }
        let mut outcomes = Vec::new();
        match self.store.changes_since(roster, held, usize::MAX) {
            Ok(Some(sets)) => take_in(slot, sets, roster, &mut outcomes),
            Ok(None) => {}
            Err(e) => {
                tracing::error!("catching up on roster {roster} after seq {held}: {e}");
                return;
            }
        }
        self.deliver(outcomes);
    }

    /// Reads every stale roster again (see [`Slot::stale`]), under a claim
    /// so that nothing commits to it meanwhile, and queues for its
    /// listeners the batches stored since the last they were sent (another
    /// hub's, or a commit whose answer was lost with the connection). A
    /// roster that cannot be read now stays stale: it is not joined nor
    /// written until it can be. What is read is handed on at once.
    fn revive(&mut self) {
        if !self.any_stale {
            return;
        }
        let mut outcomes = Vec::new();
        let stale: Vec<String> = self
            .rosters
            .iter()
            .filter(|(_, s)| s.stale)
            .map(|(n, _)| n.clone())
            .collect();
        for name in stale {
            let Some(slot) = self.rosters.get_mut(&name) else {
                continue;
            };
            let sent = slot.latest.load(Ordering::Acquire);
            let read = (|| {
                let mut group = self.store.group()?;
                group.claim(&name)?;
                let fresh = group.load_roster(&name)?;
                let sets = group.changes_since(&name, sent)?;
                group.commit()?;
                Ok::<_, StoreError>((fresh, sets))
            })();
            match read {
                Ok((fresh, sets)) => {
                    let publishes = fresh.publishes();
                    for set in sets.into_iter().filter(|s| s.seq <= fresh.seq()) {
                        outcomes.push(nobodys(&name, set, publishes));
                    }
                    slot.roster = fresh;
                    slot.stale = false;
                }
                Err(e) if e.is_unreachable() => {
                    tracing::debug!("reading roster {name} again failed: {e}")
                }
                Err(e) => tracing::error!("reading roster {name} again failed: {e}"),
            }
        }
        self.any_stale = self.rosters.values().any(|s| s.stale);
        self.deliver(outcomes);
    }

    /// Answers and broadcasts what a group (or a catch-up) did, in order.
    fn deliver(&mut self, outcomes: Vec<Outcome>) {
        let mut groups: Vec<(String, Vec<Committed>)> = Vec::new();
        for outcome in outcomes {
            match outcome {
                Outcome::Broadcast(roster, committed) => {
                    if let Some(slot) = self.rosters.get_mut(&roster) {
                        slot.remember(&committed, self.queue);
                    }
                    match groups.iter_mut().find(|(name, _)| *name == roster) {
                        Some((_, batches)) => batches.push(committed),
                        None => groups.push((roster, vec![committed])),
                    }
                }
                Outcome::Direct(reply, frame) => {
                    reply.send(frame);
                }
            }
        }
        for (roster, batches) in groups {
            let Some(last) = batches.last().map(|c| c.seq) else {
                continue;
            };
            if let Ok(mut seqs) = self.shared.seqs.lock() {
                seqs.insert(roster.clone(), last);
            }
            if let Some(slot) = self.rosters.get(&roster) {
                slot.latest.store(last, Ordering::Release);
                let group = Arc::new(CommittedGroup::new(batches));
                // No receivers only means nobody is listening now.
                slot.events.send(Event::Committed(group));
            }
        }
    }

    /// The group did not commit: nothing of it is stored. Forget the memory
    /// state it touched (reloaded from the store on next use) and tell every
    /// author; their batches may be sent again.
    fn fail_group(
        &mut self,
        edits: &[Edit],
        touched: &HashSet<String>,
        err: &StoreError,
        known: bool,
    ) {
        if known {
            tracing::debug!(
                "group commit failed, {} batches refused: {err}",
                edits.len()
            );
        } else {
            tracing::error!(
                "group commit failed, {} batches refused: {err}",
                edits.len()
            );
        }
        Metrics::inc(&self.shared.metrics.commit_failures);
        for name in touched {
            if let Some(slot) = self.rosters.get_mut(name) {
                slot.forget();
                slot.stale = true;
                self.any_stale = true;
            }
        }
        self.revive();
        for e in edits {
            let msg = storage_error(Some(e.op_id), err);
            e.reply.send(protocol::encode(&msg).into());
        }
    }
}

/// A refusal when the edit's account may no longer make it (its token
/// revoked, its role taken away since the connection checked): nothing is
/// applied nor stored, and the connection is closed on the same change.
fn access_gone(accounts: &crate::accounts::Accounts, e: &Edit) -> Option<Outcome> {
    let role = super::auth::role_of(accounts, e.who.as_ref(), &e.roster);
    let own = super::auth::staff_row_of(accounts, e.who.as_ref(), &e.roster);
    if role.is_some_and(|r| r.allows(&e.ops, own.as_deref())) {
        return None;
    }
    let message = match role {
        Some(r) => format!(
            "edit {}: on roster `{}` {} now (changed before it was applied); nothing applied",
            e.op_id,
            e.roster,
            r.why_not(&e.ops, own.as_deref())
        ),
        None => format!(
            "edit {}: your access to roster `{}` was taken away before it was applied; \
             nothing applied",
            e.op_id, e.roster
        ),
    };
    let msg = ServerMsg::Error {
        code: protocol::codes::FORBIDDEN.into(),
        message,
        op_id: Some(e.op_id),
        req: None,
    };
    Some(Outcome::Direct(
        e.reply.clone(),
        protocol::encode(&msg).into(),
    ))
}

/// The answer to an edit whose roster, client and op id were answered
/// before: that answer again, word for word, when it is the same edit (a
/// resend), else an `op_id_reused` error (nothing applied, nothing stored).
/// None for an edit never answered, which is counted as answered from here.
fn answered_before(
    answered: &mut Answered,
    group: &mut Group,
    metrics: &Metrics,
    e: &Edit,
) -> Result<Option<Outcome>, StoreError> {
    if answered.may_have(group, e)?
        && let Some(stored) = group.find_answer(&answer_key(e))?
    {
        let same = stored
            .fingerprint
            .as_deref()
            .is_none_or(|f| f == e.fingerprint.as_slice());
        let frame = if same {
            Metrics::inc(&metrics.replays);
            stored.answer
        } else {
            protocol::encode(&ServerMsg::Error {
                code: protocol::codes::OP_ID_REUSED.into(),
                message: format!(
                    "op_id {} was already used by this client on roster `{}` for a different \
                     edit; nothing applied: send this edit under a new op_id",
                    e.op_id, e.roster
                ),
                op_id: Some(e.op_id),
                req: None,
            })
        };
        return Ok(Some(Outcome::Direct(e.reply.clone(), frame.into())));
    }
    answered.note(e);
    Ok(None)
}

fn answer_key(e: &Edit) -> AnswerKey<'_> {
    AnswerKey {
        roster: &e.roster,
        client: &e.author.client,
        op_id: e.op_id,
    }
}

/// A roster's first edit in a group claims it. Where other hubs write it
/// too (a shared database), the claim names the seq they left it at: what
/// this hub missed is read from the change log, applied and handed on to
/// its listeners before the group's own edits, which then build on it.
fn claim(
    rosters: &mut HashMap<String, Slot>,
    group: &mut Group,
    queue: usize,
    roster: &str,
    outcomes: &mut Vec<Outcome>,
) -> Result<(), StoreError> {
    if rosters.get(roster).is_some_and(|s| s.stale) {
        return Err(StoreError::Stale(roster.to_string()));
    }
    let Some(stored) = group.claim(roster)? else {
        return Ok(()); // this writer alone writes it
    };
    let slot = slot_of(rosters, queue, roster, || group.load_roster(roster))?;
    let held = slot.roster.seq();
    if stored < held {
        // The database is behind this hub (restored under it?): refuse,
        // and read the roster afresh.
        return Err(StoreError::Moved {
            roster: roster.to_string(),
            stored,
            held,
        });
    }
    if stored > held {
        let sets = group.changes_since(roster, held)?;
        take_in(slot, sets, roster, outcomes);
    }
    Ok(())
}

/// Applies batches another hub committed to the roster held in `slot`,
/// and queues them for its listeners (as nobody's own: session 0).
fn take_in(slot: &mut Slot, sets: Vec<ChangeSet>, roster: &str, outcomes: &mut Vec<Outcome>) {
    for set in sets {
        if set.seq <= slot.roster.seq() {
            continue;
        }
        let stamp = rota_core::domain::Stamp {
            seq: set.seq,
            user: set.user.as_str().into(),
            client: set.client.as_str().into(),
            at: set.at,
        };
        for change in &set.changes {
            slot.roster.apply_accepted(change, stamp.clone());
        }
        slot.roster.set_seq(set.seq);
        outcomes.push(nobodys(roster, set, slot.roster.publishes()));
    }
}

/// A batch stored by another writer (or before a failure), for every
/// listener of `roster` as nobody's own (session 0: no ack to give).
fn nobodys(roster: &str, set: ChangeSet, publishes: bool) -> Outcome {
    let seq = set.seq;
    let (frame, view_frame) = frames_of(set, publishes);
    Outcome::Broadcast(
        roster.to_string(),
        Committed {
            seq,
            session: 0,
            frame,
            view_frame,
            ack: Utf8Bytes::default(),
        },
    )
}

fn apply_edit(
    rosters: &mut HashMap<String, Slot>,
    group: &mut Group,
    metrics: &Metrics,
    queue: usize,
    e: &Edit,
    at: i64,
) -> Result<Outcome, StoreError> {
    let slot = slot_of(rosters, queue, &e.roster, || group.load_roster(&e.roster))?;
    match slot.roster.apply_batch_with(&e.ops, &e.author, at, e.force) {
        Ok(applied) => {
            group.put_applied(
                &e.roster,
                &applied,
                &e.author,
                e.op_id,
                e.note.as_deref(),
                at,
            )?;
            let ack = protocol::encode(&ServerMsg::Ack {
                op_id: e.op_id,
                seq: applied.seq,
                overwritten: applied.overwritten.clone(),
                at,
            });
            group.put_answer(&answer_key(e), &e.fingerprint, &ack, at)?;
            Metrics::inc(&metrics.edits_accepted);
            metrics
                .ops_accepted
                .fetch_add(e.ops.len() as u64, std::sync::atomic::Ordering::Relaxed);
            Ok(committed_outcome(
                e,
                applied,
                slot.roster.publishes(),
                ack,
                at,
            ))
        }
        Err(rejection) => {
            Metrics::inc(match rejection {
                Rejection::Conflict(_) => &metrics.conflicts,
                Rejection::Invalid(_) => &metrics.rejections,
            });
            let msg = rejection_msg(e.op_id, rejection);
            let answer = protocol::encode(&msg);
            group.put_answer(&answer_key(e), &e.fingerprint, &answer, at)?;
            Ok(Outcome::Direct(e.reply.clone(), answer.into()))
        }
    }
}

/// The highest op id answered per roster and client, as far as this writer
/// knows. Clients number their edits upwards, so an edit above that cannot
/// have been answered and its look-up in the store is skipped (a tenth of
/// the writer's work per edit). Knowing too high is safe (it only costs the
/// look-up: so are answers of a group that then failed); too low is not, so
/// a client is read from the store on first sight and every answer counts.
/// Op ids need not grow: one below the highest is simply looked up.
#[derive(Default)]
struct Answered {
    /// Per roster, per client.
    highest: HashMap<String, HashMap<Arc<str>, u64>>,
    clients: usize,
}

/// Roster and client pairs remembered before the map starts over (then
/// read again).
const ANSWERED_CLIENTS: usize = 100_000;

impl Answered {
    fn may_have(&mut self, group: &mut Group, e: &Edit) -> Result<bool, StoreError> {
        if e.op_id > i64::MAX as u64 {
            return Ok(true); // stored as a negative number: always look
        }
        let known = self
            .highest
            .get(e.roster.as_str())
            .and_then(|r| r.get(&*e.author.client));
        let highest = match known {
            Some(h) => *h,
            None => {
                if self.clients >= ANSWERED_CLIENTS {
                    self.highest.clear();
                    self.clients = 0;
                }
                let h = group.highest_answered(&e.roster, &e.author.client)?;
                self.highest
                    .entry(e.roster.clone())
                    .or_default()
                    .insert(e.author.client.clone(), h);
                self.clients += 1;
                h
            }
        };
        Ok(e.op_id <= highest)
    }

    /// `e` is answered (or about to be, in this group).
    fn note(&mut self, e: &Edit) {
        if let Some(h) = self
            .highest
            .get_mut(e.roster.as_str())
            .and_then(|r| r.get_mut(&*e.author.client))
        {
            *h = (*h).max(e.op_id);
        }
    }
}

/// A roster's slot, loaded with `load` (and given its broadcast ring) on
/// first use.
fn slot_of<'a>(
    rosters: &'a mut HashMap<String, Slot>,
    queue: usize,
    name: &str,
    load: impl FnOnce() -> Result<Roster, StoreError>,
) -> Result<&'a mut Slot, StoreError> {
    if !rosters.contains_key(name) {
        let events = ring::channel(queue, super::RING_BYTES);
        let roster = load()?;
        let seq = roster.seq();
        rosters.insert(
            name.to_string(),
            Slot {
                roster,
                events,
                // What its listeners hold: what is stored when it loads.
                latest: Arc::new(AtomicU64::new(seq)),
                recent: VecDeque::new(),
                recent_bytes: 0,
                unwatched_since: None,
                stale: false,
            },
        );
    }
    rosters
        .get_mut(name)
        .ok_or_else(|| StoreError::Corrupt(format!("roster `{name}` vanished")))
}

/// The batch's frames and ack. The published view's frame is the draft's
/// own bytes unless the batch holds draft cells it must not be sent
/// (`publishes`: the roster has published, this batch included): then it is
/// encoded once without them, or is None when nothing is left.
fn committed_outcome(e: &Edit, applied: Applied, publishes: bool, ack: String, at: i64) -> Outcome {
    // Even when nothing changed (every write already held its value), the
    // ack goes through the roster's ordered stream: it names the current
    // seq, and must not reach its author before the batches that made it
    // current (a direct reply could overtake them).
    let (frame, view_frame) = if applied.changes.is_empty() {
        (None, None)
    } else {
        let set = ChangeSet {
            seq: applied.seq,
            user: e.author.user.to_string(),
            client: e.author.client.to_string(),
            op_id: e.op_id,
            at,
            note: e.note.clone(),
            changes: applied.changes.into_iter().map(|c| c.change).collect(),
        };
        frames_of(set, publishes)
    };
    Outcome::Broadcast(
        e.roster.clone(),
        Committed {
            seq: applied.seq,
            session: e.session,
            frame,
            view_frame,
            ack: ack.into(),
        },
    )
}

/// A batch's `change` frame, and the published view's: the same bytes
/// when it shows all of the batch, None when it shows none of it.
fn frames_of(set: ChangeSet, publishes: bool) -> (Option<Utf8Bytes>, Option<Utf8Bytes>) {
    let shown = match view_changes(&set.changes, publishes) {
        Cow::Borrowed(_) => None,
        Cow::Owned(shown) => Some(shown),
    };
    let msg = ServerMsg::Change(set);
    let frame: Utf8Bytes = protocol::encode(&msg).into();
    let view_frame = match (shown, msg) {
        (None, _) => Some(frame.clone()),
        (Some(shown), ServerMsg::Change(set)) if !shown.is_empty() => Some(
            protocol::encode(&ServerMsg::Change(ChangeSet {
                changes: shown,
                ..set
            }))
            .into(),
        ),
        (Some(_), _) => None,
    };
    (Some(frame), view_frame)
}

/// What of the change sets `changes` the published view is sent (see
/// [`view_changes`]): those left with no change are left out.
fn viewed(changes: Vec<ChangeSet>, view: View, publishes: bool) -> Vec<ChangeSet> {
    if view == View::Draft {
        return changes;
    }
    changes
        .into_iter()
        .filter_map(|cs| {
            let shown = view_changes(&cs.changes, publishes).into_owned();
            (!shown.is_empty()).then_some(ChangeSet {
                changes: shown,
                ..cs
            })
        })
        .collect()
}

/// The answer to a rejected edit, bounded: the first conflicts or problems
/// listed (each problem's words cut short), the rest counted. A rejection
/// of 250,000 stale writes stays a frame of a few hundred KiB, and so does
/// its stored copy, replayed to every resend.
fn rejection_msg(op_id: u64, rejection: Rejection) -> ServerMsg {
    use protocol::{MAX_LISTED, MAX_PROBLEM_CHARS};
    match rejection {
        Rejection::Conflict(mut conflicts) => {
            let all = conflicts.len();
            conflicts.truncate(MAX_LISTED);
            ServerMsg::Rejected {
                op_id,
                code: protocol::codes::CONFLICT.into(),
                message: format!(
                    "{all} write(s) based on a version someone else has changed since; nothing applied{}",
                    listed_of(all)
                ),
                omitted: all - conflicts.len(),
                conflicts,
                problems: Vec::new(),
            }
        }
        Rejection::Invalid(mut problems) => {
            let all = problems.len();
            problems.truncate(MAX_LISTED);
            for p in &mut problems {
                if p.message.chars().count() > MAX_PROBLEM_CHARS {
                    p.message = p
                        .message
                        .chars()
                        .take(MAX_PROBLEM_CHARS)
                        .collect::<String>()
                        + "…";
                }
            }
            // The message names the first few; the list holds more.
            let mut message = problems
                .iter()
                .take(10)
                .map(|p| format!("op {}: {}", p.op, p.message))
                .collect::<Vec<_>>()
                .join("; ");
            if all > 10 {
                message.push_str(&format!("; and {} more", all - 10));
            }
            ServerMsg::Rejected {
                op_id,
                code: protocol::codes::INVALID.into(),
                message,
                conflicts: Vec::new(),
                omitted: all - problems.len(),
                problems,
            }
        }
    }
}

/// " (the first 1,000 are listed)" when not all are.
fn listed_of(all: usize) -> String {
    if all > protocol::MAX_LISTED {
        format!(" (the first {} are listed)", protocol::MAX_LISTED)
    } else {
        String::new()
    }
}

fn storage_error(op_id: Option<u64>, e: &StoreError) -> ServerMsg {
    ServerMsg::Error {
        code: protocol::codes::STORAGE.into(),
        message: format!(
            "the hub could not store this, nothing was applied: {}",
            e.for_editors()
        ),
        op_id,
        req: None,
    }
}
