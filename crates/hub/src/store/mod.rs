//! The hub's durable store: every roster's current state, the change log
//! and the answers given to each batch (for idempotent resends), in one of
//! two databases behind one interface:
//! - [`sqlite`]: SQLite files in the data dir (WAL, `synchronous=FULL`),
//!   the default, needing nothing installed;
//! - [`pg`]: a PostgreSQL database (`--database postgres://…`), for those
//!   who outgrow one machine.
//!
//! [`Store`] is a writer's (group commits, catch-up), [`Reader`] a reader
//! thread's (history, lists); [`Place`] says where a store is. Both kinds
//! pass one suite of tests (`suite`). Knows nothing of sockets or tasks: the
//! server's writer and reader threads are its users. Blocking.
//!
//! Shared by both kinds: how a batch is filed ([`batch`]) and how a page of
//! history is gathered from the batches read ([`history`]). [`copy`] moves
//! a SQLite hub's rosters into a database (`rota --migrate`).

use rota_core::domain::{Applied, Author, Roster, Seq, View};
use rota_core::protocol::{ChangeSet, HistoryEntry, HistoryQuery, RosterInfo};
use std::fmt;
use std::path::{Path, PathBuf};

mod batch;
pub mod copy;
mod history;
pub mod pg;
pub mod sqlite;
#[cfg(test)]
mod suite;

#[derive(Debug)]
pub enum StoreError {
    Sqlite(rusqlite::Error),
    Postgres(postgres::Error),
    /// The database was written by a newer rota with a schema this one does not know.
    TooNew {
        found: i64,
        known: i64,
    },
    /// A stored row that cannot be read back (hand-edited or damaged file).
    Corrupt(String),
    /// The file as a whole is damaged or emptied: the hub will not start on it.
    Damaged(String),
    /// The store is at its size cap (`--max-db-mb`): nothing more is written.
    Full(String),
    /// What the hub was given does not do: a database URL, a TLS setting, a
    /// database `--migrate` will not write into. Nothing is damaged.
    Refused(String),
    /// PostgreSQL (too busy to lend a connection, say), in its own words.
    Busy(String),
    /// Another hub on the same database wrote the roster since this one
    /// read it: the group is refused (its edits may be sent again) and the
    /// roster read afresh.
    Moved {
        roster: String,
        stored: Seq,
        held: Seq,
    },
    /// A roster a failed commit touched could not be read again yet: it is
    /// neither joined nor written until it can be.
    Stale(String),
    /// An error about the store at this place (a file, or a database).
    At(String, Box<StoreError>),
}

impl StoreError {
    /// Names the file the error is about.
    pub fn at(self, path: &Path) -> StoreError {
        self.at_place(&path.display().to_string())
    }

    /// Names the store (a file or a database) the error is about.
    pub fn at_place(self, place: &str) -> StoreError {
        match self {
            at @ StoreError::At(..) => at,
            other => StoreError::At(place.to_string(), Box::new(other)),
        }
    }

    /// What editors are told: the error, without the database it is about
    /// (its host, port and user are the hub's business; its log names
    /// them). A store file is named: whoever runs a hub on files reads it.
    pub fn for_editors(&self) -> String {
        match self {
            StoreError::At(place, e) if place.starts_with("postgres") => e.for_editors(),
            other => other.to_string(),
        }
    }

    /// Whether it refuses what the hub was given (see [`StoreError::Refused`]).
    pub fn is_refusal(&self) -> bool {
        match self {
            StoreError::Refused(_) => true,
            StoreError::At(_, e) => e.is_refusal(),
            _ => false,
        }
    }

    /// Whether the database could not be reached (the connection lost or
    /// refused, the server shutting down), rather than a statement failing.
    pub fn is_unreachable(&self) -> bool {
        match self {
            StoreError::Postgres(e) => match e.as_db_error() {
                None => true,
                // Connection exceptions and operator intervention.
                Some(db) => {
                    let code = db.code().code();
                    code.starts_with("08") || code.starts_with("57P")
                }
            },
            StoreError::At(_, e) => e.is_unreachable(),
            _ => false,
        }
    }

    /// Whether what was read is damaged (rather than the disk full or busy).
    pub fn is_damage(&self) -> bool {
        match self {
            StoreError::Corrupt(_) | StoreError::Damaged(_) => true,
            StoreError::Sqlite(e) => rota_db::sqlite_file::is_damage(e),
            StoreError::At(_, e) => e.is_damage(),
            StoreError::Postgres(_)
            | StoreError::TooNew { .. }
            | StoreError::Full(_)
            | StoreError::Refused(_)
            | StoreError::Busy(_)
            | StoreError::Stale(_)
            | StoreError::Moved { .. } => false,
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Sqlite(e) => write!(f, "store: {e}"),
            StoreError::Postgres(e) => write!(f, "database: {}", pg::describe(e)),
            StoreError::TooNew { found, known } => write!(
                f,
                "store schema version {found} is newer than this rota knows ({known}); upgrade rota"
            ),
            StoreError::Corrupt(m) => write!(f, "store: damaged row: {m}"),
            StoreError::Damaged(m) => write!(f, "store is damaged: {m}"),
            StoreError::Full(m) => write!(f, "store is full: {m}"),
            StoreError::Refused(m) | StoreError::Busy(m) => f.write_str(m),
            StoreError::Moved {
                roster,
                stored,
                held,
            } => write!(
                f,
                "roster `{roster}` was changed by another hub (seq {stored}, this hub had {held}); \
                 it is read again: send the edit again"
            ),
            StoreError::Stale(roster) => write!(
                f,
                "roster `{roster}` could not be read again after a failed commit; try again shortly"
            ),
            StoreError::At(place, e) => write!(f, "{place}: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Postgres(e)
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The answer stored for a batch, and the fingerprint of the edit it
/// answered (None for answers stored before fingerprints were kept).
pub struct StoredAnswer {
    pub answer: String,
    pub fingerprint: Option<Vec<u8>>,
}

/// What names a batch for ever: its roster, its client and the client's op
/// id. The same client and op id on another roster is another batch.
pub struct AnswerKey<'a> {
    pub roster: &'a str,
    pub client: &'a str,
    pub op_id: u64,
}

/// Where a store is: a SQLite file, or a PostgreSQL database (its URL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    File(PathBuf),
    Database(String),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::File(path) => write!(f, "{}", path.display()),
            Place::Database(url) => f.write_str(&pg::without_password(url)),
        }
    }
}

/// A writer's store: one SQLite file, or a connection to the database.
pub enum Store {
    Sqlite(sqlite::Store),
    Postgres(Box<pg::Store>),
}

/// One group commit: many batches, one transaction.
pub enum Group<'a> {
    Sqlite(sqlite::Group<'a>),
    Postgres(Box<pg::Group<'a>>),
}

/// A reader thread's connection: it sees only committed state.
pub enum Reader {
    Sqlite(sqlite::Reader),
    Postgres(Box<pg::Reader>),
}

impl Store {
    /// Opens (creating or migrating) the store at `place`.
    pub fn open(place: &Place) -> Result<Store> {
        match place {
            Place::File(path) => sqlite::Store::open(path).map(Store::Sqlite),
            Place::Database(url) => pg::Store::connect(url).map(|s| Store::Postgres(Box::new(s))),
        }
    }

    /// Caps a SQLite store at about `bytes` (see [`sqlite::Store::set_max_bytes`]);
    /// a database keeps its own limits.
    pub fn set_max_bytes(&mut self, bytes: u64) -> Result<()> {
        match self {
            Store::Sqlite(s) => s.set_max_bytes(bytes),
            Store::Postgres(_) => Ok(()),
        }
    }

    pub fn group(&mut self) -> Result<Group<'_>> {
        Ok(match self {
            Store::Sqlite(s) => Group::Sqlite(s.group()?),
            Store::Postgres(s) => Group::Postgres(Box::new(s.group()?)),
        })
    }

    /// Loads a roster's current state; an unknown roster loads empty. What
    /// is loaded is checked; a damaged roster is an error naming the store.
    pub fn load_roster(&mut self, name: &str) -> Result<Roster> {
        match self {
            Store::Sqlite(s) => s.load_roster(name),
            Store::Postgres(s) => s.load_roster(name),
        }
    }

    /// The batches after `seq`, in order, or `None` when there are more than
    /// `max_changes` changes (a snapshot is then cheaper), or when they
    /// cannot be read (logged: the editor then gets a snapshot).
    pub fn changes_since(
        &mut self,
        roster: &str,
        seq: Seq,
        max_changes: usize,
    ) -> Result<Option<Vec<ChangeSet>>> {
        match self {
            Store::Sqlite(s) => s.changes_since(roster, seq, max_changes),
            Store::Postgres(s) => s.changes_since(roster, seq, max_changes),
        }
    }

    /// Every roster, with its seq and counts.
    pub fn list_rosters(&mut self) -> Result<Vec<RosterInfo>> {
        match self {
            Store::Sqlite(s) => s.list_rosters(),
            Store::Postgres(s) => s.list_rosters(),
        }
    }

    /// Every roster this store holds anything of: state, or only answers
    /// (a roster whose every edit was refused or changed nothing).
    pub fn roster_names(&mut self) -> Result<Vec<String>> {
        match self {
            Store::Sqlite(s) => s.roster_names(),
            Store::Postgres(s) => s.roster_names(),
        }
    }

    /// One page of the change log, newest first, read on the writer's own
    /// connection: for tests; the hub reads with [`Reader::history`].
    #[cfg(test)]
    pub fn history(
        &mut self,
        roster: &str,
        q: &HistoryQuery,
    ) -> Result<(Vec<HistoryEntry>, Option<String>)> {
        match self {
            Store::Sqlite(s) => s.history(roster, q),
            Store::Postgres(s) => s.history(roster, q, View::Draft),
        }
    }
}

impl Group<'_> {
    /// Claims `roster` for this group before its first edit is applied:
    /// the roster's stored seq when another writer (another hub on the
    /// same database) may have moved it, held locked until the group ends;
    /// None where this writer alone writes it (a SQLite file).
    pub fn claim(&mut self, roster: &str) -> Result<Option<Seq>> {
        match self {
            Group::Sqlite(g) => g.claim(roster),
            Group::Postgres(g) => g.claim(roster).map(Some),
        }
    }

    /// The answer given earlier to the batch `key` names.
    pub fn find_answer(&mut self, key: &AnswerKey<'_>) -> Result<Option<StoredAnswer>> {
        match self {
            Group::Sqlite(g) => g.find_answer(key),
            Group::Postgres(g) => g.find_answer(key),
        }
    }

    /// Stores the answer to a batch under its roster, client and op id,
    /// with the fingerprint of its content.
    pub fn put_answer(
        &mut self,
        key: &AnswerKey<'_>,
        fingerprint: &[u8],
        answer: &str,
        at: i64,
    ) -> Result<()> {
        match self {
            Group::Sqlite(g) => g.put_answer(key, fingerprint, answer, at),
            Group::Postgres(g) => {
                g.put_answer(key, fingerprint, answer, at);
                Ok(())
            }
        }
    }

    /// Writes an accepted batch: current state, roster seq and change log.
    pub fn put_applied(
        &mut self,
        roster: &str,
        applied: &Applied,
        author: &Author,
        op_id: u64,
        note: Option<&str>,
        at: i64,
    ) -> Result<()> {
        match self {
            Group::Sqlite(g) => g.put_applied(roster, applied, author, op_id, note, at),
            Group::Postgres(g) => g.put_applied(roster, applied, author, op_id, note, at),
        }
    }

    /// The highest op id `client` has an answer for on `roster` (0 for
    /// none), among those stored as non-negative numbers.
    pub fn highest_answered(&mut self, roster: &str, client: &str) -> Result<u64> {
        match self {
            Group::Sqlite(g) => g.highest_answered(roster, client),
            Group::Postgres(g) => g.highest_answered(roster, client),
        }
    }

    /// The batches of `roster` after `seq`, read inside the group: after a
    /// claim found another writer's, those to catch up on, in order.
    pub fn changes_since(&mut self, roster: &str, seq: Seq) -> Result<Vec<ChangeSet>> {
        match self {
            Group::Sqlite(g) => g.changes_since(roster, seq),
            Group::Postgres(g) => g.changes_since(roster, seq),
        }
    }

    /// Loads a roster inside the group (it sees the group's own writes).
    pub fn load_roster(&mut self, name: &str) -> Result<Roster> {
        match self {
            Group::Sqlite(g) => sqlite::load_roster_in(g, name),
            Group::Postgres(g) => g.load_roster(name),
        }
    }

    /// Writes what is left (each roster's seq, history's index), then
    /// commits: acknowledged only once this returns.
    pub fn commit(self) -> Result<()> {
        match self {
            Group::Sqlite(g) => g.commit(),
            Group::Postgres(g) => (*g).commit(),
        }
    }
}

impl Reader {
    /// Opens the store at `place` (already created and migrated) to read.
    pub fn open(place: &Place) -> Result<Reader> {
        match place {
            Place::File(path) => sqlite::Reader::open(path).map(Reader::Sqlite),
            Place::Database(url) => pg::Reader::connect(url).map(|r| Reader::Postgres(Box::new(r))),
        }
    }

    /// One page of history, read in one transaction (one view of the store),
    /// as the connection's `view` may see it.
    pub fn history(
        &mut self,
        roster: &str,
        q: &HistoryQuery,
        view: View,
    ) -> Result<(Vec<HistoryEntry>, Option<String>)> {
        match self {
            Reader::Sqlite(r) => r.history(roster, q, view),
            Reader::Postgres(r) => r.history(roster, q, view),
        }
    }

    pub fn list_rosters(&mut self) -> Result<Vec<RosterInfo>> {
        match self {
            Reader::Sqlite(r) => r.list_rosters(),
            Reader::Postgres(r) => r.list_rosters(),
        }
    }
}

/// Loads `name` from the store at `place`, on a connection of its own, in
/// one transaction (the calendar feed's read).
pub fn load_roster_at(place: &Place, name: &str) -> Result<Roster> {
    match place {
        Place::File(path) => sqlite::load_roster_at(path, name),
        Place::Database(url) => pg::pool::with_reader(url, |r| r.load_roster(name)),
    }
}

/// Who used `client` in the change log under another name than `user` (a
/// client id from before the hub had accounts is that name's). Asked once
/// per client id, when an account first says hello with it.
pub fn other_user_of_client(place: &Place, client: &str, user: &str) -> Result<Option<String>> {
    match place {
        Place::File(path) => sqlite::other_user_of_client(path, client, user),
        Place::Database(url) => {
            pg::pool::with_reader(url, |r| r.other_user_of_client(client, user))
        }
    }
}
