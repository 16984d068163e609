//! Wire messages shared by the hub and its clients: JSON text frames, one
//! message per frame, tagged by `type`. No I/O here. docs/protocol.md shows
//! an example of each; new fields must come with `#[serde(default)]` so older
//! peers keep working within a major version.

use crate::domain::{
    Change, Conflict, Date, Op, Problem, Rule, Seq, Settings, ShiftCode, Staff, View,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

mod explain;
mod frames;

pub use explain::{DecodeError, FrameHeader};
pub use frames::{
    BATCH_FRAME_HEAD, BATCH_FRAME_TAIL, WelcomeBody, WelcomeHead, change_frame_note,
    change_frame_seq, encode_edit_parts, encode_welcome, is_ack_frame, is_batch_frame,
    is_change_frame, join_frames, split_batch,
};

/// Protocol version spoken by this build. Peers must agree on the major part;
/// a minor part of 1 or more in a client's `hello` means it reads `batch`
/// frames (protocol 1.1). 1.2 numbers the parts of an edit sent in parts
/// (`part`) and echoes a request's `req` in its answer. 1.3 adds staff
/// requests (`put_request`, `remove_request`, the `request` change). 1.4
/// sends staff and viewers the published view. 1.5 adds proposals
/// (`propose`, the `proposal` change, a snapshot's `proposals`), sent to
/// editors only.
pub const PROTOCOL_VERSION: &str = "1.5";
/// Largest text frame the hub will act on. Larger ones are answered with a
/// `too_large` error (up to [`HARD_MAX_MESSAGE_BYTES`], where the socket closes).
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// Most conflicts or problems a rejection lists (the rest are counted).
pub const MAX_LISTED: usize = 1_000;
/// Most characters of a listed problem's words.
pub const MAX_PROBLEM_CHARS: usize = 300;

fn is_zero(n: &usize) -> bool {
    *n == 0
}
/// Beyond this the WebSocket layer itself refuses to buffer the message and the
/// connection is closed with status 1009.
pub const HARD_MAX_MESSAGE_BYTES: usize = 16 << 20;
/// Most operations one `edit` frame may carry.
pub const MAX_OPS_PER_BATCH: usize = 10_000;
/// Most operations one edit may carry in all its parts (an edit larger than
/// a frame is sent as parts with `more: true`, committed as one change set).
pub const MAX_OPS_PER_CHANGE_SET: usize = 250_000;
/// Most requests (edits, history, list) a connection may have unanswered;
/// past it the hub stops reading from that connection until answers go out.
pub const MAX_IN_FLIGHT: usize = 64;
/// Most history entries one page may hold.
pub const MAX_HISTORY_PAGE: u32 = 500;
/// History entries a page holds when the request names no `limit`.
pub const DEFAULT_HISTORY_PAGE: u32 = 100;
/// Longest `note` an edit may carry, in characters. A longer one is refused,
/// never cut.
pub const MAX_NOTE_CHARS: usize = 200;

/// Most bytes (the frames as received) of one edit sent in parts, its parts
/// together: what one connection may make the hub hold for it.
pub const MAX_EDIT_BYTES: usize = 32 << 20;

/// Most characters of any one string an operation carries (ids, names,
/// labels, codes, colours, times): the domain's own limits are smaller; this
/// one is checked as each frame arrives, before anything is held.
pub const MAX_OP_STRING_CHARS: usize = 1024;

/// Machine-readable error codes of `error` and `rejected` messages.
pub mod codes {
    pub const BAD_JSON: &str = "bad_json";
    pub const UNKNOWN_TYPE: &str = "unknown_type";
    pub const BAD_MESSAGE: &str = "bad_message";
    pub const BAD_DATE: &str = "bad_date";
    pub const TOO_LARGE: &str = "too_large";
    pub const TOO_MANY_OPS: &str = "too_many_ops";
    pub const BINARY_NOT_SUPPORTED: &str = "binary_not_supported";
    pub const UNSUPPORTED_VERSION: &str = "unsupported_version";
    pub const NOT_JOINED: &str = "not_joined";
    pub const ALREADY_JOINED: &str = "already_joined";
    pub const BAD_ROSTER: &str = "bad_roster";
    pub const CONFLICT: &str = "conflict";
    pub const INVALID: &str = "invalid";
    pub const STORAGE: &str = "storage_failed";
    pub const SHUTTING_DOWN: &str = "shutting_down";
    /// An op id this client already used on this roster for a different edit.
    pub const OP_ID_REUSED: &str = "op_id_reused";
    /// The hub holds as many bytes of edits arriving in parts as it will:
    /// send the edit again later.
    pub const BUSY: &str = "busy";
    /// More edits a second from one connection than the hub takes.
    pub const RATE_LIMITED: &str = "rate_limited";
    /// The connection's account has no role allowing this (on this roster).
    pub const FORBIDDEN: &str = "forbidden";
    /// Users were asked about on a hub that has none.
    pub const NO_ACCOUNTS: &str = "no_accounts";
}

/// Close codes the hub uses besides the standard ones.
pub mod close {
    /// The connection's outbound queue overflowed: the client is too slow.
    pub const OUTBOUND_OVERFLOW: u16 = 4008;
    /// Too many protocol errors.
    pub const TOO_MANY_ERRORS: u16 = 4009;
    /// Nothing heard from the client within the idle timeout.
    pub const IDLE: u16 = 4010;
    /// No hello within the hello timeout after the upgrade.
    pub const NO_HELLO: u16 = 4011;
    /// The connection's token was revoked (or its user removed), or the hub
    /// took on accounts while it was connected without a token.
    pub const UNAUTHORIZED: u16 = 4001;
    /// The connection's account lost its role on the roster it joined.
    pub const FORBIDDEN: u16 = 4003;
    /// The connection's role changed what it is sent (the draft, or the
    /// published view): it reconnects and is sent the roster anew.
    pub const VIEW_CHANGED: u16 = 4012;
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// First message of every connection.
    Hello {
        protocol: String,
        user: String,
        /// Made once per client install and kept across restarts.
        client_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        #[serde(default = "default_roster")]
        roster: String,
        /// The last seq this client has applied (0 for none).
        #[serde(default)]
        last_seq: Seq,
        /// The view its copy of the roster is (protocol 1.4): `published`
        /// once it was sent the published view. A hub about to send the
        /// other view sends the whole roster instead of the changes since
        /// `last_seq`.
        #[serde(default, skip_serializing_if = "View::is_draft")]
        view: View,
    },
    /// A batch of operations, applied all or nothing.
    Edit {
        /// Grows with every batch a client makes; (client_id, op_id) names the
        /// batch for ever, so resending it is safe.
        op_id: u64,
        ops: Vec<Op>,
        /// Free text logged with each change, e.g. `apply:leave.csv`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        /// Apply over stale versions whatever the roster's conflict mode
        /// (last writer wins for this edit); the ack lists what it overwrote.
        #[serde(default, skip_serializing_if = "is_false")]
        force: bool,
        /// More parts of this edit follow in the next frames. The hub holds
        /// the parts and commits them as one change set when the last part
        /// (`more` false) arrives; `note` and `force` are read from the first.
        #[serde(default, skip_serializing_if = "is_false")]
        more: bool,
        /// Protocol 1.2: this frame's place among the parts of an edit sent
        /// in parts (0 for the first). Every frame of such an edit carries
        /// it; a whole edit in one frame may leave it out (it is part 0).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        part: Option<u32>,
    },
    /// Where this editor's cursor is; relayed to the others, not stored.
    Presence {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<Cursor>,
    },
    /// The change log, newest first, filtered and paged.
    History {
        /// The client's own id for this request, echoed in the answer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        req: Option<u64>,
        #[serde(default, flatten)]
        query: HistoryQuery,
    },
    ListRosters {
        /// The client's own id for this request, echoed in the answer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        req: Option<u64>,
    },
    /// The users with a role on the joined roster (admins only).
    Users {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        req: Option<u64>,
    },
    /// Gives `user` the role `role` on the joined roster (`viewer`,
    /// `editor`, `admin`; null takes it away). With `create`, the user is
    /// new and the answer carries their token, once. Admins only.
    SetRole {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        req: Option<u64>,
        user: String,
        role: Option<String>,
        #[serde(default, skip_serializing_if = "is_false")]
        create: bool,
        /// With role `staff`: the staff row the user is bound to (1.3).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        staff: Option<String>,
    },
}

fn is_false(b: &bool) -> bool {
    !*b
}

pub fn default_roster() -> String {
    "default".to_string()
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryQuery {
    /// Only changes of this staff member (their record and their cells).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    /// Only cells on this date (with `staff`: one cell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<Date>,
    /// Only cells within this date range (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Date>,
    /// The `next` cursor of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl HistoryQuery {
    /// What is wrong with this query as asked, naming the field.
    pub fn check(&self) -> Result<(), String> {
        if let Some(limit) = self.limit
            && !(1..=MAX_HISTORY_PAGE).contains(&limit)
        {
            return Err(format!(
                "limit: {limit} is not between 1 and {MAX_HISTORY_PAGE}"
            ));
        }
        if let Some(before) = &self.before
            && HistoryCursor::parse(before).is_none()
        {
            return Err(format!(
                "before: `{before}` is not a `next` cursor from a history answer"
            ));
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from > to
        {
            return Err(format!("from: {from} is after to: {to}"));
        }
        Ok(())
    }

    /// Entries per page: `limit`, or the default.
    pub fn page_size(&self) -> usize {
        self.limit
            .unwrap_or(DEFAULT_HISTORY_PAGE)
            .clamp(1, MAX_HISTORY_PAGE) as usize
    }
}

/// Where a history page ended: the `next` of an answer, `SEQ:INDEX` (the
/// batch and the change's place in it), passed back as `before`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryCursor {
    pub seq: Seq,
    pub index: u32,
}

impl HistoryCursor {
    pub fn parse(s: &str) -> Option<HistoryCursor> {
        let (seq, index) = s.split_once(':')?;
        Some(HistoryCursor {
            seq: seq.parse().ok()?,
            index: index.parse().ok()?,
        })
    }
}

impl std::fmt::Display for HistoryCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.index)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    pub staff: String,
    pub date: Date,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// Answer to `hello`: exactly one of `changes` (what was missed since
    /// `last_seq`, in order) or `snapshot` (the whole roster) is present.
    Welcome {
        protocol: String,
        roster: String,
        /// The roster's seq the client is at once it has applied this.
        seq: Seq,
        /// This connection's id, as others see it in presence messages.
        session: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        changes: Option<Vec<ChangeSet>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snapshot: Option<Box<Snapshot>>,
        #[serde(default)]
        presence: Vec<PresenceInfo>,
        limits: Limits,
        /// The account this connection is (a hub with accounts); absent on
        /// a hub without.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<String>,
        /// What this connection may do on the roster now: `staff`,
        /// `viewer`, `editor` or `admin` (everyone is an admin on a hub
        /// without accounts). A change while connected comes as a `role`
        /// message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<String>,
        /// With the `staff` role: the staff row it is bound to (protocol 1.3).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        staff: Option<String>,
        /// Which roster this connection is sent (protocol 1.4): `published`
        /// (staff and viewers) or the draft (absent). In the published view
        /// seqs have gaps: a batch that changed only draft cells is not sent.
        #[serde(default, skip_serializing_if = "View::is_draft")]
        view: View,
    },
    /// This connection's role on its roster changed (an admin changed it);
    /// the next message is judged by it.
    Role {
        role: String,
        /// With the `staff` role: the staff row it is bound to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        staff: Option<String>,
    },
    /// An accepted batch of another editor, in seq order, no gaps.
    Change(ChangeSet),
    /// Your batch was committed durably under `seq`.
    Ack {
        op_id: u64,
        seq: Seq,
        /// Under last-writer-wins: what your stale writes overwrote.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        overwritten: Vec<Conflict>,
        /// Unix time in milliseconds the batch was stamped with (as in the
        /// `change` the others get), so the author's copy matches theirs.
        #[serde(default)]
        at: i64,
    },
    /// Your batch was not applied; nothing of it was. `code` is `conflict`
    /// (see `conflicts`, each with the current value) or `invalid` (see
    /// `problems`).
    Rejected {
        op_id: u64,
        code: String,
        message: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        conflicts: Vec<Conflict>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        problems: Vec<Problem>,
        /// How many conflicts or problems were left out of the lists: an
        /// answer names the first [`MAX_LISTED`] (each problem's words cut
        /// at [`MAX_PROBLEM_CHARS`]) and counts the rest, so that it stays
        /// a frame any client reads, and is stored as small.
        #[serde(default, skip_serializing_if = "is_zero")]
        omitted: usize,
    },
    Presence(PresenceInfo),
    /// An editor of this roster went away.
    Left {
        session: u64,
        user: String,
    },
    History {
        /// The request's `req`, when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        req: Option<u64>,
        entries: Vec<HistoryEntry>,
        /// Pass as `before` to get the next (older) page; absent at the end.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
    },
    Rosters {
        /// The request's `req`, when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        req: Option<u64>,
        rosters: Vec<RosterInfo>,
    },
    /// The users with a role on the roster: the answer to `users` and to
    /// `set_role` (the list as it now stands).
    Users {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        req: Option<u64>,
        users: Vec<RosterUser>,
        /// A user `set_role` created: their token, shown this once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
    /// A message could not be acted on. The connection stays usable.
    Error {
        code: String,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        op_id: Option<u64>,
        /// The `req` of the request it is about, when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        req: Option<u64>,
    },
    /// Protocol 1.1: several messages in one frame, to be taken in order
    /// exactly as if each had come in a frame of its own. The hub sends these
    /// only to clients whose `hello` said 1.1 or later; it never nests them.
    Batch {
        msgs: Vec<ServerMsg>,
    },
}

/// Whether a client that said `version` in its hello reads `batch` frames.
pub fn reads_batches(version: &str) -> bool {
    minor_of(version).is_some_and(|m| m >= 1)
}

/// The first protocol whose clients take the published view (its seq gaps,
/// and publications that set cells).
pub const VIEWS_SINCE: &str = "1.4";

/// Whether a client that said `version` in its hello takes the published
/// view.
pub fn reads_views(version: &str) -> bool {
    minor_of(version).is_some_and(|m| m >= 4)
}

/// The minor version of a 1.x `version`.
fn minor_of(version: &str) -> Option<u32> {
    let mut parts = version.split('.');
    let major: Option<u32> = parts.next().and_then(|p| p.parse().ok());
    let minor: Option<u32> = parts.next().and_then(|p| p.parse().ok());
    minor.filter(|_| major == Some(1))
}

/// Decodes one text frame from the hub. A `batch`, a `change` and a
/// `welcome` (the frames that may be large: a colleague's import, a first
/// sync) are read without serde's buffering of the tagged enum around
/// them, which copies the whole frame into an intermediate tree first (for
/// a 183,000-cell change, 35 MB more at the peak).
pub fn decode_server(text: &str) -> Result<ServerMsg, serde_json::Error> {
    #[derive(Deserialize)]
    struct BatchBody {
        #[serde(rename = "type")]
        _kind: serde::de::IgnoredAny,
        msgs: Vec<ServerMsg>,
    }
    /// A welcome's fields; its `type` is skipped as an unknown field.
    #[derive(Deserialize)]
    struct WelcomeBody {
        protocol: String,
        roster: String,
        seq: Seq,
        session: u64,
        #[serde(default)]
        changes: Option<Vec<ChangeSet>>,
        #[serde(default)]
        snapshot: Option<Box<Snapshot>>,
        #[serde(default)]
        presence: Vec<PresenceInfo>,
        limits: Limits,
        #[serde(default)]
        account: Option<String>,
        #[serde(default)]
        role: Option<String>,
        #[serde(default)]
        staff: Option<String>,
        #[serde(default)]
        view: View,
    }
    if frames::is_batch_frame(text)
        && let Ok(body) = serde_json::from_str::<BatchBody>(text)
    {
        return Ok(ServerMsg::Batch { msgs: body.msgs });
    }
    if frames::is_change_frame(text)
        && let Ok(cs) = serde_json::from_str::<ChangeSet>(text)
    {
        return Ok(ServerMsg::Change(cs));
    }
    if frames::is_welcome_frame(text)
        && let Ok(w) = serde_json::from_str::<WelcomeBody>(text)
    {
        return Ok(ServerMsg::Welcome {
            protocol: w.protocol,
            roster: w.roster,
            seq: w.seq,
            session: w.session,
            changes: w.changes,
            snapshot: w.snapshot,
            presence: w.presence,
            limits: w.limits,
            account: w.account,
            role: w.role,
            staff: w.staff,
            view: w.view,
        });
    }
    serde_json::from_str(text)
}

/// One accepted batch: everything it changed, under one seq.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeSet {
    pub seq: Seq,
    pub user: String,
    pub client: String,
    pub op_id: u64,
    /// Unix time in milliseconds.
    pub at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub changes: Vec<Change>,
}

/// A whole roster. Cells are `[staff, date, code, seq]` (code null when the
/// cell was cleared) to keep large rosters small on the wire.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub settings: Settings,
    pub staff: Vec<Staff>,
    pub codes: Vec<ShiftCode>,
    pub rules: Vec<Rule>,
    /// Staff requests (protocol 1.3); absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<crate::domain::Request>,
    /// Publications (protocol 1.3), oldest first, each with the cells it is
    /// still the last publication of; absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publications: Vec<crate::domain::Publication>,
    /// Codes proposed for empty cells (protocol 1.5); absent when there
    /// are none, and always from the published view.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proposals: Vec<crate::domain::Proposed>,
    pub cells: SnapshotCells,
}

impl Snapshot {
    /// The whole roster as the wire carries it.
    pub fn of(r: &crate::domain::Roster) -> Snapshot {
        Snapshot {
            settings: r.settings(),
            staff: r.staff(),
            codes: r.codes(),
            rules: r.rules(),
            requests: r.requests(),
            publications: r.publications(),
            proposals: r.proposals(),
            cells: SnapshotCells::from_cells(r.cells()),
        }
    }

    /// The roster it describes, at `seq` (who wrote what is not in a
    /// snapshot: every stamp names no one).
    pub fn to_roster(&self, seq: Seq) -> crate::domain::Roster {
        use crate::domain::{Roster, Stamp};
        let mut r = Roster::default();
        let stamp = |seq: Seq| Stamp {
            seq,
            ..Stamp::none()
        };
        r.apply_accepted(
            &Change::Settings {
                settings: self.settings.clone(),
            },
            stamp(self.settings.seq),
        );
        for s in &self.staff {
            r.apply_accepted(&Change::Staff { staff: s.clone() }, stamp(s.seq));
        }
        for c in &self.codes {
            r.apply_accepted(
                &Change::Code {
                    code: c.code.clone(),
                    def: Some(c.clone()),
                },
                stamp(c.seq),
            );
        }
        for rule in &self.rules {
            r.apply_accepted(
                &Change::Rule {
                    id: rule.id.clone(),
                    rule: Some(rule.clone()),
                },
                stamp(rule.seq),
            );
        }
        for q in &self.requests {
            r.apply_accepted(
                &Change::Request {
                    staff: q.staff.clone(),
                    date: q.date,
                    request: Some(q.clone()),
                },
                stamp(q.seq),
            );
        }
        for p in &self.publications {
            r.apply_accepted(
                &Change::Publication {
                    publication: p.clone(),
                },
                stamp(p.seq),
            );
        }
        for (staff, date, code, cseq) in self.cells.iter() {
            r.load_cell(staff, *date, code.as_deref(), stamp(*cseq));
        }
        for p in &self.proposals {
            r.apply_accepted(
                &Change::Proposal {
                    staff: p.staff.clone(),
                    date: p.date,
                    code: Some(p.code.clone()),
                },
                stamp(p.seq),
            );
        }
        r.set_seq(seq);
        r.compact();
        r
    }
}

/// One cell of a snapshot: staff id, date, code (None: cleared), seq.
pub type SnapshotCell = (Arc<str>, Date, Option<Arc<str>>, Seq);

/// A snapshot's cells. A roster's hundreds of thousands of cells name a
/// few hundred staff and a few codes: each name is held once and shared
/// (when read off the wire too), not a string a cell. A first sync of
/// 500 x 366 otherwise allocates 366,000 small strings only to drop them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SnapshotCells(pub Vec<SnapshotCell>);

impl std::ops::Deref for SnapshotCells {
    type Target = Vec<SnapshotCell>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl SnapshotCells {
    /// Builds the cells from borrowed names, sharing each name.
    pub fn from_cells<'a>(
        cells: impl IntoIterator<Item = (&'a str, Date, Option<&'a str>, Seq)>,
    ) -> SnapshotCells {
        let mut names = SharedNames::default();
        SnapshotCells(
            cells
                .into_iter()
                .map(|(s, d, c, q)| (names.get(s), d, c.map(|c| names.get(c)), q))
                .collect(),
        )
    }
}

/// Each distinct name once.
#[derive(Default)]
struct SharedNames(std::collections::HashSet<Arc<str>>);

impl SharedNames {
    fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.0.insert(a.clone());
        a
    }
}

impl Serialize for SnapshotCells {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = ser.serialize_seq(Some(self.0.len()))?;
        for (staff, date, code, cseq) in &self.0 {
            seq.serialize_element(&(&**staff, date, code.as_deref(), cseq))?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for SnapshotCells {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct Cells;
        impl<'de> serde::de::Visitor<'de> for Cells {
            type Value = SnapshotCells;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of [staff, date, code, seq]")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<SnapshotCells, A::Error> {
                let mut names = SharedNames::default();
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
                while let Some((staff, date, code, cseq)) = seq.next_element::<(
                    std::borrow::Cow<'de, str>,
                    Date,
                    Option<std::borrow::Cow<'de, str>>,
                    Seq,
                )>()? {
                    out.push((names.get(&staff), date, code.map(|c| names.get(&c)), cseq));
                }
                Ok(SnapshotCells(out))
            }
        }
        de.deserialize_seq(Cells)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PresenceInfo {
    pub session: u64,
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Cursor>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub max_ops_per_batch: usize,
    pub max_in_flight: usize,
    #[serde(default)]
    pub max_ops_per_change_set: usize,
}

impl Limits {
    pub fn current() -> Limits {
        Limits {
            max_message_bytes: MAX_MESSAGE_BYTES,
            max_ops_per_batch: MAX_OPS_PER_BATCH,
            max_in_flight: MAX_IN_FLIGHT,
            max_ops_per_change_set: MAX_OPS_PER_CHANGE_SET,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub seq: Seq,
    pub entity: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<Date>,
    /// A code (or null) for a cell; the record (or null) otherwise.
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    pub user: String,
    pub client: String,
    pub op_id: u64,
    pub at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A user with a role on a roster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterUser {
    pub user: String,
    /// `viewer`, `editor` or `admin`.
    pub role: String,
    /// An owner of the whole hub (admin of every roster; their role is
    /// changed only on the hub's machine).
    #[serde(default, skip_serializing_if = "is_false")]
    pub owner: bool,
    /// With the `staff` role: the staff row they are bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RosterInfo {
    pub name: String,
    pub seq: Seq,
    pub staff: usize,
    pub cells: usize,
}

/// Decodes one client text frame. The fast path parses straight into the
/// message; only a frame that fails is looked at again to say what is wrong.
pub fn decode_client(text: &str) -> Result<ClientMsg, DecodeError> {
    if let Some(edit) = decode_edit_fast(text) {
        return Ok(edit);
    }
    let mut de = serde_json::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, ClientMsg>(&mut de) {
        Ok(msg) => match de.end() {
            Ok(()) => Ok(msg),
            Err(e) => Err(DecodeError::new(codes::BAD_JSON, format!("not JSON: {e}"))),
        },
        Err(err) => Err(explain::explain_decode_error(text, err)),
    }
}

/// An `edit` as encoded with its `type` first (as every rota client does),
/// read without serde's buffering of the tagged enum (an edit may carry
/// 10,000 operations, and buffering it took most of its decoding time).
/// Anything this does not take goes through the general path, which accepts
/// the same messages and explains what is wrong with the rest.
fn decode_edit_fast(text: &str) -> Option<ClientMsg> {
    #[derive(Deserialize)]
    struct EditFrame {
        // Declared so that a second `type` is an error here, as it is there.
        #[serde(rename = "type")]
        _type: String,
        op_id: u64,
        ops: Vec<SetCell>,
        #[serde(default)]
        note: Option<String>,
        #[serde(default)]
        force: bool,
        #[serde(default)]
        more: bool,
        #[serde(default)]
        part: Option<u32>,
    }
    /// A `set_cell` op exactly (any other op, or any other field, and the
    /// general path reads the frame).
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct SetCell {
        #[serde(rename = "op")]
        _op: SetCellTag,
        staff: String,
        date: Date,
        code: Option<String>,
        #[serde(default)]
        base: Seq,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum SetCellTag {
        SetCell,
    }
    if !frames::is_edit_frame(text) {
        return None;
    }
    let e: EditFrame = serde_json::from_str(text).ok()?;
    let ops = e
        .ops
        .into_iter()
        .map(|c| Op::SetCell {
            staff: c.staff,
            date: c.date,
            code: c.code,
            base: c.base,
        })
        .collect();
    Some(ClientMsg::Edit {
        op_id: e.op_id,
        ops,
        note: e.note,
        force: e.force,
        more: e.more,
        part: e.part,
    })
}

/// What makes two sends one edit: a digest of its operations and `force`
/// (not its `note`, nor how it was cut into parts). The hub stores it with
/// its answer, so a resend is told from another edit under a used op id.
/// Stored fingerprints must stay valid across versions: the test
/// `an_edit_fingerprint_is_pinned` fails if the encoding it digests changes.
pub type Fingerprint = [u8; 16];

pub fn edit_fingerprint(ops: &[Op], force: bool) -> Fingerprint {
    use sha2::Digest;
    /// Feeds what serde writes straight into the digest.
    struct Feed(sha2::Sha256);
    impl std::io::Write for Feed {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut feed = Feed(sha2::Sha256::new());
    feed.0.update(b"rota edit 1\n");
    feed.0.update([u8::from(force)]);
    for op in ops {
        // Writing into a digest cannot fail, nor can encoding an Op.
        let _ = serde_json::to_writer(&mut feed, op);
        feed.0.update(b"\n");
    }
    let digest = feed.0.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

/// Checks a `hello`'s protocol version: same major as ours.
pub fn check_version(theirs: &str) -> Result<(), String> {
    let major = |v: &str| v.split('.').next().map(str::to_string);
    if major(theirs).is_some_and(|m| Some(m) == major(PROTOCOL_VERSION)) {
        Ok(())
    } else {
        Err(format!(
            "protocol version `{theirs}` is not supported; this hub speaks {PROTOCOL_VERSION} (major version must match)"
        ))
    }
}

/// Encodes a message to a JSON text frame.
pub fn encode(msg: &ServerMsg) -> String {
    // Serializing these types cannot fail: no maps with non-string keys and
    // no failing Serialize impls. An empty string would only be a bug.
    serde_json::to_string(msg).unwrap_or_default()
}

/// Encodes a client message to a JSON text frame (see [`encode`]).
pub fn encode_client(msg: &ClientMsg) -> String {
    serde_json::to_string(msg).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_errors_name_the_field_and_value() {
        let e = decode_client("{nope").unwrap_err();
        assert_eq!(e.code, codes::BAD_JSON);
        let e = decode_client(r#"{"type":"dance"}"#).unwrap_err();
        assert_eq!(e.code, codes::UNKNOWN_TYPE);
        assert!(e.message.contains("dance"));
        let e = decode_client(
            r#"{"type":"edit","op_id":1,"ops":[{"op":"set_cell","staff":"s1","date":"2026-13-01","code":"D"}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.code, codes::BAD_DATE);
        assert!(e.message.starts_with("ops[0].date"), "{}", e.message);
        assert!(e.message.contains("2026-13-01"), "{}", e.message);
        let e = decode_client(r#"{"type":"edit","ops":[]}"#).unwrap_err();
        assert_eq!(e.code, codes::BAD_MESSAGE);
        assert!(e.message.contains("op_id"), "{}", e.message);
    }

    #[test]
    fn a_field_error_names_its_path_and_the_edit() {
        let cases = [
            (
                r#"{"type":"edit","op_id":4,"more":true,"ops":[{"op":"set_cell","date":"2026-12-01"}]}"#,
                "ops[0].staff: missing field",
            ),
            (
                r#"{"type":"edit","op_id":4,"ops":[{"op":"put_rule","rule":{"id":"r","kind":"staffing","code":"D","min":"three"}}]}"#,
                r#"ops[0].rule.min: invalid type: string "three", expected u32"#,
            ),
            (
                r#"{"type":"edit","op_id":4,"ops":[{"op":"put_rule","rule":{"id":"r","kind":"limit"}}]}"#,
                "ops[0].rule.measure: missing field",
            ),
            (
                r#"{"type":"edit","op_id":4,"ops":[{"op":"add_staff","id":"x","name":"X","group":["g"]}]}"#,
                "ops[0].group: invalid type: sequence, expected a string",
            ),
            (
                r#"{"type":"edit","op_id":4,"force":"yes","ops":[{"op":"remove_staff","id":"x"}]}"#,
                r#"force: invalid type: string "yes", expected a boolean"#,
            ),
        ];
        for (frame, want) in cases {
            let e = decode_client(frame).unwrap_err();
            assert_eq!(e.message, want, "{frame}");
            assert_eq!(e.op_id, Some(4), "{frame}");
        }
        let e = decode_client(r#"{"type":"history","req":3,"limit":"x"}"#).unwrap_err();
        assert_eq!((e.req, e.op_id), (Some(3), None));
        assert!(e.message.starts_with("limit: "), "{}", e.message);
    }

    #[test]
    fn an_edit_fingerprint_is_pinned() {
        // Stored with every answer: if this changes, resends of edits
        // answered before an upgrade would be refused as op_id_reused.
        let ops = vec![
            Op::SetCell {
                staff: "ann".into(),
                date: "2026-12-01".parse().unwrap(),
                code: Some("夜".into()),
                base: 3,
            },
            Op::RemoveStaff {
                id: "bob".into(),
                base: None,
            },
        ];
        let hex: String = edit_fingerprint(&ops, false)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, "823d8dd78768c09b432927ced7e3a5e8");
        assert_ne!(edit_fingerprint(&ops, true), edit_fingerprint(&ops, false));
        assert_ne!(
            edit_fingerprint(&ops[..1], false),
            edit_fingerprint(&ops, false)
        );
    }

    #[test]
    fn a_batch_frame_joins_messages_and_reads_back_as_they_were() {
        let ack = encode(&ServerMsg::Ack {
            op_id: 7,
            seq: 3,
            overwritten: Vec::new(),
            at: 5,
        });
        let left = encode(&ServerMsg::Left {
            session: 2,
            user: "a \"quoted\" ]} name".into(),
        });
        assert_eq!(
            join_frames([ack.clone()].iter()),
            Some(ack.clone()),
            "one stays as it is"
        );
        assert_eq!(join_frames(Vec::<String>::new().iter()), None);
        let joined = join_frames([ack.clone(), left.clone()].iter()).unwrap_or_default();
        assert!(joined.starts_with(BATCH_FRAME_HEAD), "{joined}");
        let want = ServerMsg::Batch {
            msgs: vec![
                serde_json::from_str(&ack).unwrap(),
                serde_json::from_str(&left).unwrap(),
            ],
        };
        assert_eq!(decode_server(&joined).unwrap(), want);
        assert_eq!(
            serde_json::from_str::<ServerMsg>(&joined).unwrap(),
            want,
            "the general path agrees"
        );
        assert_eq!(
            decode_server(&ack).unwrap(),
            serde_json::from_str::<ServerMsg>(&ack).unwrap()
        );
        assert!(decode_server(r#"{"type":"batch","msgs":[{"type":"nope"}]}"#).is_err());
    }

    #[test]
    fn only_a_1_1_or_later_hello_gets_batch_frames() {
        for (v, reads) in [
            ("1.0", false),
            ("1", false),
            ("1.1", true),
            ("1.10", true),
            ("1.x", false),
            ("2.1", false),
            ("", false),
        ] {
            assert_eq!(reads_batches(v), reads, "{v}");
        }
    }

    #[test]
    fn the_fast_edit_path_reads_what_the_general_path_reads() {
        let general = |t: &str| serde_json::from_str::<ClientMsg>(t).ok();
        let frames = [
            r#"{"type":"edit","op_id":1,"ops":[{"op":"set_cell","staff":"s1","date":"2026-12-01","code":"D","base":3}]}"#,
            r#"{"type":"edit","op_id":2,"ops":[{"op":"set_cell","staff":"s\"1\u00e9","date":"2026-12-01","code":null}],"note":"n","force":true,"more":true}"#,
            r#"{"type":"edit","op_id":3,"ops":[{"op":"set_cell","staff":"s1","date":"2026-12-01"}],"extra":1}"#,
            // Other ops, or unknown fields in one, go the general way.
            r#"{"type":"edit","op_id":4,"ops":[{"op":"set_cell","staff":"s1","date":"2026-12-01","code":"D"},{"op":"remove_staff","id":"s2"}]}"#,
            r#"{"type":"edit","op_id":5,"ops":[{"op":"set_cell","staff":"s1","date":"2026-12-01","code":"D","colour":"red"}]}"#,
            r#"{"type":"edit","op_id":6,"ops":[{"staff":"s1","op":"set_cell","date":"2026-12-01","code":"D"}]}"#,
        ];
        for f in frames {
            let fast = decode_edit_fast(f);
            let want = general(f);
            assert!(want.is_some(), "{f}");
            if let Some(fast) = &fast {
                assert_eq!(Some(fast), want.as_ref(), "{f}");
            }
            assert_eq!(decode_client(f).ok(), want, "{f}");
        }
        assert!(decode_edit_fast(frames[0]).is_some());
        assert!(decode_edit_fast(frames[1]).is_some());
        assert!(decode_edit_fast(frames[3]).is_none());
        // Refused by both: a second `type`, a bad date.
        for bad in [
            r#"{"type":"edit","type":"hello","op_id":1,"ops":[]}"#,
            r#"{"type":"edit","op_id":1,"ops":[{"op":"set_cell","staff":"s1","date":"2026-02-30","code":"D"}]}"#,
        ] {
            assert!(decode_edit_fast(bad).is_none(), "{bad}");
            assert!(decode_client(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hello_defaults_roster_and_seq() {
        let m = decode_client(r#"{"type":"hello","protocol":"1.0","user":"ann","client_id":"c1"}"#)
            .unwrap();
        assert_eq!(
            m,
            ClientMsg::Hello {
                protocol: "1.0".into(),
                user: "ann".into(),
                client_id: "c1".into(),
                token: None,
                roster: "default".into(),
                last_seq: 0,
                view: View::Draft,
            }
        );
    }

    #[test]
    fn versions_must_share_the_major() {
        assert!(check_version("1.7").is_ok());
        assert!(check_version("2.0").is_err());
        assert!(check_version("").is_err());
    }
}
