//! The hub's durable store: one SQLite file (WAL, `synchronous=FULL`) holding
//! every roster's current state, the change log and the answers given to each
//! batch (for idempotent resends). Owns the schema and its migrations. Knows
//! nothing of sockets or tasks: the server's writer thread is its only user.

use rota_core::domain::{Applied, Author, Change, Date, Roster, Seq};
use rota_core::protocol::{ChangeSet, HistoryCursor, HistoryEntry, HistoryQuery, RosterInfo};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

#[derive(Debug)]
pub enum StoreError {
    Sqlite(rusqlite::Error),
    /// The file was written by a newer rota with a schema this one does not know.
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
    /// An error about the store file at this path.
    At(std::path::PathBuf, Box<StoreError>),
}

impl StoreError {
    /// Names the file the error is about.
    pub fn at(self, path: &Path) -> StoreError {
        match self {
            at @ StoreError::At(..) => at,
            other => StoreError::At(path.to_path_buf(), Box::new(other)),
        }
    }

    /// Whether what was read is damaged (rather than the disk full or busy).
    pub fn is_damage(&self) -> bool {
        match self {
            StoreError::Corrupt(_) | StoreError::Damaged(_) => true,
            StoreError::Sqlite(e) => rota_db::sqlite_file::is_damage(e),
            StoreError::At(_, e) => e.is_damage(),
            StoreError::TooNew { .. } | StoreError::Full(_) => false,
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Sqlite(e) => write!(f, "store: {e}"),
            StoreError::TooNew { found, known } => write!(
                f,
                "store schema version {found} is newer than this rota knows ({known}); upgrade rota"
            ),
            StoreError::Corrupt(m) => write!(f, "store: damaged row: {m}"),
            StoreError::Damaged(m) => write!(f, "store is damaged: {m}"),
            StoreError::Full(m) => write!(f, "store is full: {m}"),
            StoreError::At(path, e) => write!(f, "{}: {e}", path.display()),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Schema migrations, applied in order; `PRAGMA user_version` records how
/// many have run. Never edit one that has shipped: add another.
type Migration = rota_db::roster_db::Migration<StoreError>;

/// Schema 1: the roster tables (see [`rota_db::roster_db`]), each roster's
/// seq, the change log of that time, and the answers.
fn schema_1(tx: &rusqlite::Transaction) -> Result<()> {
    tx.execute_batch(rota_db::roster_db::TABLES)?;
    tx.execute_batch(SCHEMA_1_REST)?;
    Ok(())
}

/// What schema 1 held beside the roster tables.
const SCHEMA_1_REST: &str = r#"
CREATE TABLE rosters (
    name       TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
-- The audit history: one row per change, never rewritten.
CREATE TABLE changes (
    roster TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    idx    INTEGER NOT NULL,
    entity TEXT NOT NULL,
    key    TEXT NOT NULL,
    staff  TEXT,
    date   TEXT,
    before TEXT NOT NULL,
    after  TEXT NOT NULL,
    user   TEXT NOT NULL,
    client TEXT NOT NULL,
    op_id  INTEGER NOT NULL,
    at     INTEGER NOT NULL,
    note   TEXT,
    PRIMARY KEY (roster, seq, idx)
) WITHOUT ROWID;
CREATE INDEX changes_by_staff ON changes (roster, staff, seq, idx);
CREATE INDEX changes_by_date ON changes (roster, date, seq, idx);
-- The answer given to every batch, so a resend gets the same answer.
CREATE TABLE answers (
    client TEXT NOT NULL,
    op_id  INTEGER NOT NULL,
    roster TEXT NOT NULL,
    answer TEXT NOT NULL,
    at     INTEGER NOT NULL,
    PRIMARY KEY (client, op_id)
) WITHOUT ROWID;
"#;

const MIGRATIONS: &[Migration] = &[
    Migration::Code(schema_1),
    // The change log as one row per batch (its changes as one JSON array)
    // instead of one row per change with two indexes: a batch of 100,000
    // cells wrote 300,000 log rows and index entries, and repeated its
    // author and note in each. History by staff or date finds its batches
    // through two narrow tables with one row per staff member and per date a
    // batch touched.
    Migration::Sql(
        r#"
CREATE TABLE batches (
    roster  TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    user    TEXT NOT NULL,
    client  TEXT NOT NULL,
    op_id   INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    note    TEXT,
    count   INTEGER NOT NULL,
    -- [[change, before], ...]: the change as the protocol carries it, and
    -- the value it replaced (a code or null for a cell, else the record).
    changes TEXT NOT NULL,
    PRIMARY KEY (roster, seq)
) WITHOUT ROWID;
CREATE TABLE batch_staff (
    roster TEXT NOT NULL,
    staff  TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (roster, staff, seq)
) WITHOUT ROWID;
CREATE TABLE batch_dates (
    roster TEXT NOT NULL,
    date   TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (roster, date, seq)
) WITHOUT ROWID;
"#,
    ),
    Migration::Code(move_changes_to_batches),
    Migration::Sql("DROP TABLE changes;"),
    // History's index by group commit, not by batch: a row per staff member
    // and per date for each group that touched them, naming the span of
    // seqs that group made on the roster (history reads those batches and
    // keeps the changes it wants). Under load a group holds hundreds of
    // one-cell batches, and two index rows for each was two fifths of the
    // writer's work per edit. Rows from before name one batch each.
    Migration::Sql(
        r#"
CREATE TABLE batch_staff_spans (
    roster TEXT NOT NULL,
    staff  TEXT NOT NULL,
    first  INTEGER NOT NULL,
    last   INTEGER NOT NULL,
    PRIMARY KEY (roster, staff, first)
) WITHOUT ROWID;
INSERT INTO batch_staff_spans SELECT roster, staff, seq, seq FROM batch_staff;
DROP TABLE batch_staff;
ALTER TABLE batch_staff_spans RENAME TO batch_staff;
CREATE TABLE batch_dates_spans (
    roster TEXT NOT NULL,
    date   TEXT NOT NULL,
    first  INTEGER NOT NULL,
    last   INTEGER NOT NULL,
    PRIMARY KEY (roster, date, first)
) WITHOUT ROWID;
INSERT INTO batch_dates_spans SELECT roster, date, seq, seq FROM batch_dates;
DROP TABLE batch_dates;
ALTER TABLE batch_dates_spans RENAME TO batch_dates;
"#,
    ),
    // Answers keyed per roster, with a fingerprint of the edit they answer.
    // Keyed by (client, op_id) alone, a client with one op counter per
    // roster had its edit to a second roster answered with the first
    // roster's ack, and an op id reused for another edit got the old answer.
    // Answers from before have no fingerprint: a resend of one is answered
    // as it was (there is nothing to tell it from another edit by).
    Migration::Sql(
        r#"
CREATE TABLE answers_by_roster (
    roster      TEXT NOT NULL,
    client      TEXT NOT NULL,
    op_id       INTEGER NOT NULL,
    fingerprint BLOB,
    answer      TEXT NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (roster, client, op_id)
) WITHOUT ROWID;
INSERT INTO answers_by_roster SELECT roster, client, op_id, NULL, answer, at FROM answers;
DROP TABLE answers;
ALTER TABLE answers_by_roster RENAME TO answers;
"#,
    ),
    // A large batch's changes in parts of PART_CHANGES, in the batch's
    // order, with the range of staff and dates each part holds: a page of
    // history reads the parts that hold it, newest first, not the whole
    // batch (an import of 100,000 cells took 120 to 211 ms to decode for
    // every cell history asked of it). `changes` of such a batch is `[]`;
    // `parts` says how many it has (0: all in `changes`).
    Migration::Sql(
        r#"
ALTER TABLE batches ADD COLUMN parts INTEGER NOT NULL DEFAULT 0;
CREATE TABLE batch_parts (
    roster  TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    part    INTEGER NOT NULL,
    -- [[change, before], ...]: the batch's changes from part_ranges.first on.
    changes TEXT NOT NULL,
    PRIMARY KEY (roster, seq, part)
) WITHOUT ROWID;
-- What each part holds, in narrow rows apart from it: the least and
-- greatest staff id ('' for changes of no one) and date (NULL when none is
-- dated). A part ends where a run of one person's changes or of one date's
-- ends (imports come in such runs), so these ranges are tight and a read
-- finds its parts by them.
CREATE TABLE part_ranges (
    roster   TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    part     INTEGER NOT NULL,
    -- The place in the batch of its first change.
    first    INTEGER NOT NULL,
    staff_lo TEXT NOT NULL,
    staff_hi TEXT NOT NULL,
    date_lo  TEXT,
    date_hi  TEXT,
    PRIMARY KEY (roster, seq, part)
) WITHOUT ROWID;
"#,
    ),
];

/// Most changes a batch keeps in its `changes` column, and in each part of a
/// larger batch.
const PART_CHANGES: usize = 64;
/// Fewest changes in a part that ends with a run (not the batch).
const MIN_PART_CHANGES: usize = 16;

/// The answer stored for a batch, and the fingerprint of the edit it
/// answered (None for answers stored before fingerprints were kept).
pub struct StoredAnswer {
    pub answer: String,
    pub fingerprint: Option<Vec<u8>>,
}

/// SQLite page cache of the hub's store, in KiB.
const CACHE_KIB: i64 = 64 * 1024;

pub struct Store {
    conn: Connection,
    path: std::path::PathBuf,
    /// The cap on the file and its WAL together, if any.
    max_bytes: Option<u64>,
}

/// What names a batch for ever: its roster, its client and the client's op
/// id. The same client and op id on another roster is another batch.
pub struct AnswerKey<'a> {
    pub roster: &'a str,
    pub client: &'a str,
    pub op_id: u64,
}

/// One group commit: many batches, one transaction, one fsync.
pub struct Group<'a> {
    tx: rusqlite::Transaction<'a>,
    /// What this group did to each roster, written once at commit rather
    /// than once per batch: its seq, and history's index.
    touched: std::cell::RefCell<Vec<Touched>>,
}

/// The batches one group wrote on one roster.
struct Touched {
    roster: String,
    /// The span of seqs (consecutive: nothing else writes the roster meanwhile).
    first: i64,
    last: i64,
    /// The time of its first batch (the roster's creation, should it be new).
    at: i64,
    staff: BTreeSet<String>,
    dates: BTreeSet<Date>,
}

impl Store {
    /// Opens (creating or migrating) the store at `path`.
    ///
    /// A file that exists was made whole (see `create_whole`); an empty
    /// one, one that is not a database, or one whose pages do not pass
    /// SQLite's `quick_check` is refused, naming the file and what is
    /// wrong: a hub never starts afresh on a store it could not read.
    pub fn open(path: &Path) -> Result<Store> {
        Store::open_checked(path).map_err(|e| e.at(path))
    }

    fn open_checked(path: &Path) -> Result<Store> {
        match rota_db::sqlite_file::is_empty(path) {
            Ok(Some(true)) => {
                return Err(StoreError::Damaged(
                    "the file is empty (0 bytes); restore it from a backup, or move it away to start an empty hub".into(),
                ));
            }
            Ok(Some(false)) => {}
            // A new store is made whole, migrated, before it is opened.
            Ok(None) => rota_db::sqlite_file::create_whole(path, migrate)
                .map_err(|e| StoreError::Damaged(format!("cannot create it: {e}")))?,
            Err(e) => return Err(StoreError::Damaged(format!("cannot read it: {e}"))),
        }
        let mut conn = Connection::open(path)?;
        // WAL with synchronous=FULL: a commit returns only once the WAL is
        // fsynced, so an acknowledged edit survives kill -9 and power loss.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // A large page cache (pages are allocated only as used): with the
        // default 2 MiB, a big batch re-reads the cells and change-log
        // B-trees from the OS for every row and takes several times longer.
        conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        quick_check(&conn)?;
        migrate(&mut conn)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            max_bytes: None,
        })
    }

    /// Commits without fsync: for the deterministic simulation, whose
    /// restarts reopen the file in the same process (the OS still has every
    /// commit); thousands of seeds would otherwise wait on the disk.
    #[cfg(test)]
    pub fn without_fsync(&self) -> Result<()> {
        self.conn.pragma_update(None, "synchronous", "OFF")?;
        Ok(())
    }

    /// Caps the database at about `bytes`: a write past it fails (as on a full
    /// disk) and its whole group is refused, leaving what is stored intact.
    ///
    /// The WAL counts too: a group is not begun while the file and its WAL
    /// together are at the cap (after a checkpoint has tried to fold the
    /// WAL back in), so a reader that keeps the WAL from being reset cannot
    /// make the store outgrow it.
    pub fn set_max_bytes(&mut self, bytes: u64) -> Result<()> {
        let page: i64 = self
            .conn
            .pragma_query_value(None, "page_size", |r| r.get(0))?;
        let pages = (bytes / page.max(512) as u64).max(1) as i64;
        self.conn.pragma_update(None, "max_page_count", pages)?;
        self.max_bytes = Some(bytes);
        Ok(())
    }

    /// The store's file and its WAL, in bytes.
    pub fn size_on_disk(&self) -> u64 {
        let len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let wal = std::path::PathBuf::from(format!("{}-wal", self.path.display()));
        len(&self.path) + len(&wal)
    }

    /// Refuses to begin a group when the file and its WAL are at the cap.
    fn check_room(&self) -> Result<()> {
        let Some(max) = self.max_bytes else {
            return Ok(());
        };
        if self.size_on_disk() < max {
            return Ok(());
        }
        // Fold the WAL back into the file and start it afresh, if no reader
        // holds it (without waiting for one: this is the writer's thread);
        // then look again.
        let _ = self.conn.busy_timeout(std::time::Duration::ZERO);
        let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
        let _ = self.conn.busy_timeout(std::time::Duration::from_secs(5));
        let size = self.size_on_disk();
        if size < max {
            return Ok(());
        }
        Err(StoreError::Full(format!(
            "the store and its WAL hold {} KiB, at the limit of {} KiB (--max-db-mb)",
            size / 1024,
            max / 1024
        )))
    }

    pub fn group(&mut self) -> Result<Group<'_>> {
        self.check_room()?;
        Ok(Group {
            tx: self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?,
            touched: Default::default(),
        })
    }

    /// Loads a roster's current state; an unknown roster loads empty. What
    /// is loaded is checked (see `load_roster_from`); a damaged roster is an
    /// error naming the file.
    pub fn load_roster(&self, name: &str) -> Result<Roster> {
        load_roster_from(&self.conn, name).map_err(|e| e.at(&self.path))
    }

    /// The batches after `seq`, in order, or `None` when there are more than
    /// `max_changes` changes (a snapshot is then cheaper).
    ///
    /// A batch that cannot be read (a damaged row or page) is logged with
    /// the file's name and answered as `None` too: the editor then gets a
    /// snapshot of the roster's current state instead of no answer.
    pub fn changes_since(
        &self,
        roster: &str,
        seq: Seq,
        max_changes: usize,
    ) -> Result<Option<Vec<ChangeSet>>> {
        match self.read_changes_since(roster, seq, max_changes) {
            Err(e) if e.is_damage() => {
                tracing::error!(
                    "{}: the change log of roster {roster} after seq {seq} cannot be read ({e}); sending a snapshot instead",
                    self.path.display()
                );
                Ok(None)
            }
            other => other,
        }
    }

    fn read_changes_since(
        &self,
        roster: &str,
        seq: Seq,
        max_changes: usize,
    ) -> Result<Option<Vec<ChangeSet>>> {
        // The counts first: a long gap is answered without reading its batches.
        let total: i64 = self.conn.query_row(
            "SELECT coalesce(sum(count), 0) FROM batches WHERE roster = ?1 AND seq > ?2",
            params![roster, seq as i64],
            |r| r.get(0),
        )?;
        if total as usize > max_changes {
            return Ok(None);
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, user, client, op_id, at, note, changes, parts
             FROM batches WHERE roster = ?1 AND seq > ?2 ORDER BY seq",
        )?;
        let mut rows = stmt.query(params![roster, seq as i64])?;
        let mut sets = Vec::new();
        while let Some(row) = rows.next()? {
            let seq = row.get::<_, i64>(0)? as Seq;
            let stored = StoredChanges {
                roster,
                seq: seq as i64,
                json: row.get(6)?,
                parts: row.get(7)?,
            };
            let logged = stored.read_all::<serde::de::IgnoredAny>(&self.conn)?;
            sets.push(ChangeSet {
                seq,
                user: row.get(1)?,
                client: row.get(2)?,
                op_id: row.get::<_, i64>(3)? as u64,
                at: row.get(4)?,
                note: row.get(5)?,
                changes: logged.into_iter().map(|(_, c, _)| c).collect(),
            });
        }
        Ok(Some(sets))
    }

    /// One page of the change log, newest first, read on the writer's own
    /// connection: for tests; the hub reads with [`Reader::history`].
    #[cfg(test)]
    pub fn history(
        &self,
        roster: &str,
        q: &HistoryQuery,
    ) -> Result<(Vec<HistoryEntry>, Option<String>)> {
        Reads(&self.conn).history(roster, q)
    }

    /// Every roster, with its seq and counts.
    pub fn list_rosters(&self) -> Result<Vec<RosterInfo>> {
        Reads(&self.conn).list_rosters()
    }
}

/// A read-only connection to the hub's store, for reads served beside the
/// writer (WAL lets them run while it commits). It sees only committed
/// state, as of the start of each read.
pub struct Reader {
    conn: Connection,
}

impl Reader {
    /// Opens the store at `path` (already created and migrated) to read.
    pub fn open(path: &Path) -> Result<Reader> {
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.pragma_update(None, "cache_size", -(CACHE_KIB / 4))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(Reader { conn })
    }

    /// One page of history, read in one transaction (one view of the store).
    pub fn history(
        &self,
        roster: &str,
        q: &HistoryQuery,
    ) -> Result<(Vec<HistoryEntry>, Option<String>)> {
        let tx = self.conn.unchecked_transaction()?;
        let page = Reads(&tx).history(roster, q)?;
        tx.finish()?;
        Ok(page)
    }

    pub fn list_rosters(&self) -> Result<Vec<RosterInfo>> {
        Reads(&self.conn).list_rosters()
    }
}

/// The reads of the store, on any connection to it.
struct Reads<'c>(&'c Connection);

impl Reads<'_> {
    /// One page of the change log, newest first. The batches that can hold
    /// a match are found by staff or date; their changes are then filtered
    /// one by one, so a page reads no more batches than it needs.
    pub fn history(
        &self,
        roster: &str,
        q: &HistoryQuery,
    ) -> Result<(Vec<HistoryEntry>, Option<String>)> {
        let limit = q.page_size();
        let cursor = q
            .before
            .as_deref()
            .and_then(HistoryCursor::parse)
            .map(|c| (c.seq.min(i64::MAX as Seq) as i64, i64::from(c.index)));
        let top = cursor.map_or(i64::MAX, |(seq, _)| seq);
        let (from, to) = (q.from.map(|d| d.to_string()), q.to.map(|d| d.to_string()));
        // The spans of seqs that may hold what is asked, newest first: each
        // group commit that touched the staff member or date names the seqs
        // it made on the roster (spans never overlap; those of one group are
        // the same span, kept once).
        let (sql, args): (&str, Vec<rusqlite::types::Value>) = if let (Some(staff), Some(date)) =
            (&q.staff, q.date)
        {
            // One cell: the spans that touched both the person and the date
            // (a group's rows all name the same span).
            (
                "SELECT s.first, s.last FROM batch_staff s
                 WHERE s.roster = ?1 AND s.staff = ?2 AND s.first <= ?3
                   AND EXISTS (SELECT 1 FROM batch_dates d
                               WHERE d.roster = ?1 AND d.date = ?4 AND d.first = s.first)
                 ORDER BY s.first DESC",
                vec![
                    roster.to_string().into(),
                    staff.clone().into(),
                    top.into(),
                    date.to_string().into(),
                ],
            )
        } else if let Some(staff) = &q.staff {
            (
                "SELECT first, last FROM batch_staff WHERE roster = ?1 AND staff = ?2 AND first <= ?3
                 ORDER BY first DESC",
                vec![roster.to_string().into(), staff.clone().into(), top.into()],
            )
        } else if let Some(date) = q.date {
            (
                "SELECT first, last FROM batch_dates WHERE roster = ?1 AND date = ?2 AND first <= ?3
                 ORDER BY first DESC",
                vec![
                    roster.to_string().into(),
                    date.to_string().into(),
                    top.into(),
                ],
            )
        } else if from.is_some() || to.is_some() {
            (
                "SELECT DISTINCT first, last FROM batch_dates WHERE roster = ?1 AND first <= ?2
                 AND (?3 IS NULL OR date >= ?3) AND (?4 IS NULL OR date <= ?4)
                 ORDER BY first DESC",
                vec![
                    roster.to_string().into(),
                    top.into(),
                    from.clone().into(),
                    to.clone().into(),
                ],
            )
        } else {
            (
                "SELECT 0, ?2 WHERE ?1 IS NOT NULL",
                vec![roster.to_string().into(), top.into()],
            )
        };
        let mut spans = self.0.prepare_cached(sql)?;
        let mut spans = spans.query(rusqlite::params_from_iter(args))?;
        let mut batches = self.0.prepare_cached(
            "SELECT seq, user, client, op_id, at, note, changes, parts FROM batches
             WHERE roster = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq DESC",
        )?;
        let filter = PartFilter::of(q);
        let wanted = |c: &Change| -> bool {
            let (staff, date) = staff_and_date(c);
            let dated = q.date.is_some() || q.from.is_some() || q.to.is_some();
            q.staff.as_deref().is_none_or(|s| staff == Some(s))
                && (!dated || date.is_some())
                && q.date.is_none_or(|d| date == Some(d))
                && q.from.is_none_or(|f| date.is_some_and(|d| d >= f))
                && q.to.is_none_or(|t| date.is_some_and(|d| d <= t))
        };
        // One more than a page, to know whether there is a next.
        let mut found: Vec<(i64, usize, HistoryEntry)> = Vec::new();
        'spans: while let Some(span) = spans.next()? {
            let (first, last): (i64, i64) = (span.get(0)?, span.get(1)?);
            let mut rows = batches.query(params![roster, first, last.min(top)])?;
            while let Some(row) = rows.next()? {
                let seq: i64 = row.get(0)?;
                let (user, client, op_id, at, note) = (
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, Option<String>>(5)?,
                );
                let stored = StoredChanges {
                    roster,
                    seq,
                    json: row.get(6)?,
                    parts: row.get(7)?,
                };
                let below = cursor
                    .filter(|(cs, _)| *cs == seq)
                    .map(|(_, ci)| ci.max(0) as usize);
                let full = stored.newest_first::<serde_json::Value>(
                    self.0,
                    &filter,
                    below,
                    |idx, change, before| {
                        if !wanted(&change) {
                            return true;
                        }
                        let target = change.target();
                        let (staff, date) = staff_and_date(&change);
                        found.push((
                            seq,
                            idx,
                            HistoryEntry {
                                seq: seq as Seq,
                                entity: target.entity().to_string(),
                                key: target.key(),
                                staff: staff.map(str::to_string),
                                date,
                                before,
                                after: after_value(&change),
                                user: user.clone(),
                                client: client.clone(),
                                op_id: op_id as u64,
                                at,
                                note: note.clone(),
                            },
                        ));
                        // One more than a page, to know whether there is a next.
                        found.len() <= limit
                    },
                )?;
                if full {
                    break 'spans;
                }
            }
        }
        let more = found.len() > limit;
        found.truncate(limit);
        let next = more
            .then(|| {
                found.last().map(|(seq, idx, _)| {
                    HistoryCursor {
                        seq: *seq as Seq,
                        index: *idx as u32,
                    }
                    .to_string()
                })
            })
            .flatten();
        Ok((found.into_iter().map(|(_, _, e)| e).collect(), next))
    }

    pub fn list_rosters(&self) -> Result<Vec<RosterInfo>> {
        let mut stmt = self.0.prepare(
            "SELECT name, seq,
                (SELECT count(*) FROM entities e WHERE e.roster = r.name AND e.kind = 'staff'),
                (SELECT count(*) FROM cells c WHERE c.roster = r.name AND c.code IS NOT NULL)
             FROM rosters r ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(RosterInfo {
                name: r.get(0)?,
                seq: r.get::<_, i64>(1)? as Seq,
                staff: r.get::<_, i64>(2)? as usize,
                cells: r.get::<_, i64>(3)? as usize,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }
}

impl Group<'_> {
    /// The answer given earlier to the batch `key` names.
    pub fn find_answer(&self, key: &AnswerKey<'_>) -> Result<Option<StoredAnswer>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT answer, fingerprint FROM answers WHERE roster = ?1 AND client = ?2 AND op_id = ?3",
        )?;
        Ok(stmt
            .query_row(params![key.roster, key.client, key.op_id as i64], |r| {
                Ok(StoredAnswer {
                    answer: r.get(0)?,
                    fingerprint: r.get(1)?,
                })
            })
            .optional()?)
    }

    /// Stores the answer to a batch under its roster, client and op id,
    /// with the fingerprint of its content.
    pub fn put_answer(
        &self,
        key: &AnswerKey<'_>,
        fingerprint: &[u8],
        answer: &str,
        at: i64,
    ) -> Result<()> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO answers (roster, client, op_id, fingerprint, answer, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        stmt.execute(params![
            key.roster,
            key.client,
            key.op_id as i64,
            fingerprint,
            answer,
            at
        ])?;
        Ok(())
    }

    /// Writes an accepted batch: current state, roster seq and change log.
    pub fn put_applied(
        &self,
        roster: &str,
        applied: &Applied,
        author: &Author,
        op_id: u64,
        note: Option<&str>,
        at: i64,
    ) -> Result<()> {
        if applied.changes.is_empty() {
            return Ok(());
        }
        let seq = applied.seq as i64;
        let (user, client) = (&*author.user, &*author.client);
        let mut state = rota_db::roster_db::Writer::new(&self.tx)?;
        for rec in &applied.changes {
            state.write(roster, &rec.change, (applied.seq, user, client, at))?;
        }
        let meta = BatchMeta {
            user,
            client,
            op_id,
            at,
            note,
        };
        let logged = applied.changes.iter().map(|r| (&r.change, &r.before));
        log_batch(&self.tx, roster, seq, &meta, logged.clone())?;
        self.note_batch(roster, seq, at, logged.map(|(c, _)| c));
        Ok(())
    }

    /// Counts a batch in this group's span for the roster and its changes'
    /// staff and dates in history's index.
    fn note_batch<'c>(
        &self,
        roster: &str,
        seq: i64,
        at: i64,
        changes: impl Iterator<Item = &'c Change>,
    ) {
        let mut touched = self.touched.borrow_mut();
        let i = match touched.iter().position(|t| t.roster == roster) {
            Some(i) => i,
            None => {
                touched.push(Touched {
                    roster: roster.to_string(),
                    first: seq,
                    last: seq,
                    at,
                    staff: BTreeSet::new(),
                    dates: BTreeSet::new(),
                });
                touched.len() - 1
            }
        };
        let t = &mut touched[i];
        t.first = t.first.min(seq);
        t.last = t.last.max(seq);
        for change in changes {
            let (staff, date) = staff_and_date(change);
            if let Some(s) = staff
                && !t.staff.contains(s)
            {
                t.staff.insert(s.to_string());
            }
            t.dates.extend(date);
        }
    }

    /// The highest op id `client` has an answer for on `roster` (0 for
    /// none), among those stored as non-negative numbers (op ids up to
    /// `i64::MAX`).
    pub fn highest_answered(&self, roster: &str, client: &str) -> Result<u64> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT max(op_id) FROM answers WHERE roster = ?1 AND client = ?2 AND op_id >= 0",
        )?;
        let max: Option<i64> = stmt.query_row([roster, client], |r| r.get(0))?;
        Ok(max.map_or(0, |m| m as u64))
    }

    /// Writes each roster's seq and history's index rows, then commits.
    pub fn commit(self) -> Result<()> {
        let mut put_roster = self.tx.prepare_cached(
            "INSERT INTO rosters (name, seq, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
        )?;
        let mut by_staff = self.tx.prepare_cached(
            "INSERT OR REPLACE INTO batch_staff (roster, staff, first, last) VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut by_date = self.tx.prepare_cached(
            "INSERT OR REPLACE INTO batch_dates (roster, date, first, last) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for t in self.touched.take() {
            put_roster.execute(params![t.roster, t.last, t.at])?;
            for s in &t.staff {
                by_staff.execute(params![t.roster, s, t.first, t.last])?;
            }
            for d in &t.dates {
                by_date.execute(params![t.roster, d.to_string(), t.first, t.last])?;
            }
        }
        drop((put_roster, by_staff, by_date));
        Ok(self.tx.commit()?)
    }
}

fn load_roster_from(conn: &Connection, name: &str) -> Result<Roster> {
    let seq: Option<i64> = conn
        .query_row("SELECT seq FROM rosters WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?;
    let Some(seq) = seq else {
        return Ok(Roster::default());
    };
    let mut roster = rota_db::roster_db::load(conn, name).map_err(|e| match e {
        rota_db::roster_db::DbError::Sqlite(e) => StoreError::Sqlite(e),
        rota_db::roster_db::DbError::Corrupt(m) => StoreError::Corrupt(m),
    })?;
    roster.set_seq(seq as Seq);
    check_loaded(&roster, name)?;
    Ok(roster)
}

/// What a roster's stored state must hold together: every cell's person
/// and code exist (a hand-edited or damaged store may not).
fn check_loaded(roster: &Roster, name: &str) -> Result<()> {
    let codes: BTreeSet<String> = roster.codes().into_iter().map(|c| c.code).collect();
    let staff: BTreeSet<String> = roster.staff().into_iter().map(|s| s.id).collect();
    for (person, date, code, _) in roster.cells() {
        if !staff.contains(person) {
            return Err(StoreError::Corrupt(format!(
                "roster {name}: a cell of {date} belongs to `{person}`, who is not on the roster"
            )));
        }
        if let Some(c) = code
            && !codes.contains(c)
        {
            return Err(StoreError::Corrupt(format!(
                "roster {name}: {person} on {date} holds code `{c}`, which the roster does not have"
            )));
        }
    }
    Ok(())
}

/// SQLite's check of every page's structure; anything but "ok" is damage.
fn quick_check(conn: &Connection) -> Result<()> {
    let found: Vec<String> = (|| {
        let mut stmt = conn.prepare("PRAGMA quick_check(5)")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect::<rusqlite::Result<Vec<String>>>()
    })()
    .map_err(|e| {
        if rota_db::sqlite_file::is_damage(&e) {
            StoreError::Damaged(format!("SQLite's quick_check could not read it: {e}"))
        } else {
            StoreError::Sqlite(e)
        }
    })?;
    if found.len() == 1 && found[0] == "ok" {
        return Ok(());
    }
    Err(StoreError::Damaged(format!(
        "SQLite's quick_check found: {}",
        found.join("; ")
    )))
}

/// Loads a roster inside a group commit (it sees the group's own writes).
pub fn load_roster_in(group: &Group, name: &str) -> Result<Roster> {
    let mut roster = load_roster_from(&group.tx, name)?;
    // Its seq is written at commit; the rest of the group's writes are in
    // the transaction already.
    if let Some(t) = group.touched.borrow().iter().find(|t| t.roster == name) {
        roster.set_seq((t.last as Seq).max(roster.seq()));
    }
    Ok(roster)
}

fn migrate(conn: &mut Connection) -> Result<()> {
    rota_db::roster_db::migrate(conn, MIGRATIONS, |found, known| StoreError::TooNew {
        found,
        known,
    })
}

/// Migration 3: the change log of schema 1 (a row per change) rewritten as
/// a row per batch, in the same transaction as the rest.
fn move_changes_to_batches(tx: &rusqlite::Transaction) -> Result<()> {
    let mut stmt = tx.prepare(
        "SELECT roster, seq, entity, key, staff, date, before, after, user, client, op_id, at, note
         FROM changes ORDER BY roster, seq, idx",
    )?;
    let mut rows = stmt.query([])?;
    // (roster, seq, user, client, op_id, at, note) and its changes.
    type Head = (String, i64, String, String, i64, i64, Option<String>);
    let mut batch: Option<(Head, Vec<(Change, serde_json::Value)>)> = None;
    let flush = |batch: Option<(Head, Vec<(Change, serde_json::Value)>)>| -> Result<()> {
        let Some(((roster, seq, user, client, op_id, at, note), changes)) = batch else {
            return Ok(());
        };
        let meta = BatchMeta {
            user: &user,
            client: &client,
            op_id: op_id as u64,
            at,
            note: note.as_deref(),
        };
        log_batch_schema_2(tx, &roster, seq, &meta, changes.iter().map(|(c, b)| (c, b)))?;
        // History's index as schema 2 had it: a row per batch (migration 5
        // turns them into spans of one batch).
        let staff: BTreeSet<&str> = changes
            .iter()
            .filter_map(|(c, _)| staff_and_date(c).0)
            .collect();
        let dates: BTreeSet<Date> = changes
            .iter()
            .filter_map(|(c, _)| staff_and_date(c).1)
            .collect();
        for s in staff {
            tx.execute(
                "INSERT OR IGNORE INTO batch_staff (roster, staff, seq) VALUES (?1, ?2, ?3)",
                params![roster, s, seq],
            )?;
        }
        for d in dates {
            tx.execute(
                "INSERT OR IGNORE INTO batch_dates (roster, date, seq) VALUES (?1, ?2, ?3)",
                params![roster, d.to_string(), seq],
            )?;
        }
        Ok(())
    };
    while let Some(row) = rows.next()? {
        let roster: String = row.get(0)?;
        let seq: i64 = row.get(1)?;
        let entity: String = row.get(2)?;
        let key: String = row.get(3)?;
        let date = row
            .get::<_, Option<String>>(5)?
            .map(|d| parse_date(&d))
            .transpose()?;
        let change = change_from_row(&entity, &key, row.get(4)?, date, &row.get::<_, String>(7)?)?;
        let before = parse_json(&row.get::<_, String>(6)?)?;
        let same = batch
            .as_ref()
            .is_some_and(|(head, _)| head.0 == roster && head.1 == seq);
        if !same {
            flush(batch.take())?;
            let head = (
                roster,
                seq,
                row.get(8)?,
                row.get(9)?,
                row.get(10)?,
                row.get(11)?,
                row.get(12)?,
            );
            batch = Some((head, Vec::new()));
        }
        if let Some((_, changes)) = batch.as_mut() {
            changes.push((change, before));
        }
    }
    flush(batch)
}

/// The staff member and the date a change is filed under in the change log:
/// a cell has both, a staff record its id, the rest neither.
fn staff_and_date(change: &Change) -> (Option<&str>, Option<Date>) {
    match change {
        Change::Cell { staff, date, .. } => (Some(staff), Some(*date)),
        Change::Staff { staff } => (Some(&staff.id), None),
        _ => (None, None),
    }
}

/// Who wrote a batch, and why.
struct BatchMeta<'a> {
    user: &'a str,
    client: &'a str,
    op_id: u64,
    at: i64,
    note: Option<&'a str>,
}

/// A batch's changes as the log keeps them: `[[change, before], ...]`.
struct Logged<I>(I);

impl<'a, I> serde::Serialize for Logged<I>
where
    I: Iterator<Item = (&'a Change, &'a serde_json::Value)> + Clone,
{
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.0.clone())
    }
}

/// Writes one batch's row to the change log as schema 2 did, for migration
/// 3 (which must do what it did when it shipped).
fn log_batch_schema_2<'a>(
    conn: &Connection,
    roster: &str,
    seq: i64,
    meta: &BatchMeta,
    changes: impl Iterator<Item = (&'a Change, &'a serde_json::Value)> + Clone,
) -> Result<()> {
    let count = changes.clone().count() as i64;
    let json = serde_json::to_string(&Logged(changes))
        .map_err(|e| StoreError::Corrupt(format!("batch {seq} could not be encoded: {e}")))?;
    conn.prepare_cached(
        "INSERT INTO batches (roster, seq, user, client, op_id, at, note, count, changes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        roster,
        seq,
        meta.user,
        meta.client,
        meta.op_id as i64,
        meta.at,
        meta.note,
        count,
        json
    ])?;
    Ok(())
}

/// Writes one batch's row to the change log, and a batch of more than
/// [`PART_CHANGES`] changes in parts (history's index rows are the caller's).
fn log_batch<'a>(
    conn: &Connection,
    roster: &str,
    seq: i64,
    meta: &BatchMeta,
    changes: impl Iterator<Item = (&'a Change, &'a serde_json::Value)> + Clone,
) -> Result<()> {
    let count = changes.clone().count();
    let encode_err = |e: serde_json::Error| {
        StoreError::Corrupt(format!("batch {seq} could not be encoded: {e}"))
    };
    let (json, parts) = if count <= PART_CHANGES {
        (
            serde_json::to_string(&Logged(changes)).map_err(encode_err)?,
            0,
        )
    } else {
        (String::from("[]"), put_parts(conn, roster, seq, changes)?)
    };
    conn.prepare_cached(
        "INSERT INTO batches (roster, seq, user, client, op_id, at, note, count, changes, parts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        roster,
        seq,
        meta.user,
        meta.client,
        meta.op_id as i64,
        meta.at,
        meta.note,
        count as i64,
        json,
        parts
    ])?;
    Ok(())
}

/// Writes a large batch's changes as parts in its order, and the range of
/// staff and dates each holds; returns how many.
fn put_parts<'a>(
    conn: &Connection,
    roster: &str,
    seq: i64,
    changes: impl Iterator<Item = (&'a Change, &'a serde_json::Value)>,
) -> Result<i64> {
    let all: Vec<(&Change, &serde_json::Value)> = changes.collect();
    let mut put = conn.prepare_cached(
        "INSERT INTO batch_parts (roster, seq, part, changes) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut put_range = conn.prepare_cached(
        "INSERT INTO part_ranges (roster, seq, part, first, staff_lo, staff_hi, date_lo, date_hi)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut n = 0;
    let mut first = 0;
    for part in runs(&all) {
        let json = serde_json::to_string(part)
            .map_err(|e| StoreError::Corrupt(format!("batch {seq} could not be encoded: {e}")))?;
        put.execute(params![roster, seq, n, json])?;
        let keys = part.iter().map(|(c, _)| staff_and_date(c));
        let staff = keys.clone().map(|(s, _)| s.unwrap_or(""));
        let dates = keys.filter_map(|(_, d)| d);
        put_range.execute(params![
            roster,
            seq,
            n,
            first as i64,
            staff.clone().min().unwrap_or(""),
            staff.max().unwrap_or(""),
            dates.clone().min().map(|d| d.to_string()),
            dates.max().map(|d| d.to_string()),
        ])?;
        n += 1;
        first += part.len();
    }
    Ok(n)
}

/// Whether the changes from `i` on start a run of at least
/// [`MIN_PART_CHANGES`] of one person or one date.
fn long_run_at<T>(all: &[(&Change, T)], i: usize) -> bool {
    let end = i + MIN_PART_CHANGES;
    if end > all.len() {
        return false;
    }
    let (s, d) = staff_and_date(all[i].0);
    let run = &all[i..end];
    run.iter().all(|x| staff_and_date(x.0).0 == s) || run.iter().all(|x| staff_and_date(x.0).1 == d)
}

/// A large batch cut into parts of at most [`PART_CHANGES`], each ending
/// where a run of one person's changes, or of one date's, ends (once it has
/// [`MIN_PART_CHANGES`]): an import by person or by date gives parts of one
/// person or one date, whose ranges find them exactly.
fn runs<'a, T>(all: &'a [(&'a Change, T)]) -> Vec<&'a [(&'a Change, T)]> {
    let mut parts = Vec::new();
    let mut start = 0;
    let (mut one_staff, mut one_date) = (true, true);
    for i in 1..all.len() {
        let (s0, d0) = staff_and_date(all[start].0);
        let (s, d) = staff_and_date(all[i].0);
        let keeps_staff = one_staff && s == s0;
        let keeps_date = one_date && d == d0;
        let broken = !keeps_staff && !keeps_date;
        // A short part of one run is cut too when a long run starts here
        // (what is left of a run after a full part).
        let short_cut = broken && (one_staff || one_date) && long_run_at(all, i);
        if i - start >= PART_CHANGES || (broken && i - start >= MIN_PART_CHANGES) || short_cut {
            parts.push(&all[start..i]);
            start = i;
            (one_staff, one_date) = (true, true);
        } else {
            (one_staff, one_date) = (keeps_staff, keeps_date);
        }
    }
    if start < all.len() {
        parts.push(&all[start..]);
    }
    parts
}

/// Which parts of a large batch may hold what a read wants.
enum PartFilter {
    All,
    /// The parts that hold this staff member's changes, maybe on these
    /// dates (inclusive, as `YYYY-MM-DD`).
    Staff(String, Option<(String, String)>),
    /// The parts that hold changes on these dates.
    Dates(String, String),
}

impl PartFilter {
    fn of(q: &HistoryQuery) -> PartFilter {
        let dates = match (q.date, q.from, q.to) {
            (Some(d), _, _) => Some((d.to_string(), d.to_string())),
            (None, None, None) => None,
            (None, from, to) => Some((
                from.map_or_else(|| "0000-00-00".into(), |d| d.to_string()),
                to.map_or_else(|| "9999-99-99".into(), |d| d.to_string()),
            )),
        };
        match (&q.staff, dates) {
            (Some(s), dates) => PartFilter::Staff(s.clone(), dates),
            (None, Some((lo, hi))) => PartFilter::Dates(lo, hi),
            (None, None) => PartFilter::All,
        }
    }
}

/// A batch's changes as stored: in its row, or in parts.
struct StoredChanges<'a> {
    roster: &'a str,
    seq: i64,
    json: String,
    parts: i64,
}

impl StoredChanges<'_> {
    /// Every change, with its place in the batch and the value it replaced
    /// (read as `B`), in the batch's order.
    fn read_all<B: serde::de::DeserializeOwned>(
        &self,
        conn: &Connection,
    ) -> Result<Vec<(usize, Change, B)>> {
        let mut out = Vec::new();
        self.newest_first::<B>(conn, &PartFilter::All, None, |idx, c, b| {
            out.push((idx, c, b));
            true
        })?;
        out.reverse();
        Ok(out)
    }

    /// Visits the changes that may match `filter` and whose place is below
    /// `below`, newest (highest place) first, until `visit` says stop;
    /// returns whether it did. A batch in parts reads only the parts that
    /// hold what the filter wants, newest first, and no more than it visits.
    fn newest_first<B: serde::de::DeserializeOwned>(
        &self,
        conn: &Connection,
        filter: &PartFilter,
        below: Option<usize>,
        mut visit: impl FnMut(usize, Change, B) -> bool,
    ) -> Result<bool> {
        let below = below.unwrap_or(usize::MAX);
        if self.parts == 0 {
            let logged: Vec<(Change, B)> = decode_changes(self.seq as Seq, &self.json)?;
            for (idx, (c, b)) in logged.into_iter().enumerate().rev() {
                if idx < below && !visit(idx, c, b) {
                    return Ok(true);
                }
            }
            return Ok(false);
        }
        let parts = self.parts_for(conn, filter, below)?;
        let mut part = conn.prepare_cached(
            "SELECT changes FROM batch_parts WHERE roster = ?1 AND seq = ?2 AND part = ?3",
        )?;
        for (p, first) in parts {
            let json: String = part.query_row(params![self.roster, self.seq, p], |r| r.get(0))?;
            let logged: Vec<(Change, B)> = decode_changes(self.seq as Seq, &json)?;
            for (i, (c, b)) in logged.into_iter().enumerate().rev() {
                let idx = first + i;
                if idx < below && !visit(idx, c, b) {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// The parts (and the place of each one's first change) that begin
    /// below `below` and may hold what `filter` wants, highest first, by the
    /// ranges of staff and dates each holds.
    fn parts_for(
        &self,
        conn: &Connection,
        filter: &PartFilter,
        below: usize,
    ) -> Result<Vec<(i64, usize)>> {
        let (staff, lo, hi) = match filter {
            PartFilter::All => (None, None, None),
            PartFilter::Staff(s, d) => (
                Some(s.as_str()),
                d.as_ref().map(|d| d.0.as_str()),
                d.as_ref().map(|d| d.1.as_str()),
            ),
            PartFilter::Dates(lo, hi) => (None, Some(lo.as_str()), Some(hi.as_str())),
        };
        let mut stmt = conn.prepare_cached(
            "SELECT part, first FROM part_ranges
             WHERE roster = ?1 AND seq = ?2 AND first < ?3
               AND (?4 IS NULL OR (staff_lo <= ?4 AND staff_hi >= ?4))
               AND (?5 IS NULL OR (date_hi >= ?5 AND date_lo <= ?6))
             ORDER BY part DESC",
        )?;
        let below = i64::try_from(below).unwrap_or(i64::MAX);
        let parts = stmt
            .query_map(params![self.roster, self.seq, below, staff, lo, hi], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as usize))
            })?
            .collect::<std::result::Result<Vec<(i64, usize)>, _>>()?;
        Ok(parts)
    }
}

fn decode_changes<T: serde::de::DeserializeOwned>(seq: Seq, json: &str) -> Result<Vec<T>> {
    serde_json::from_str(json)
        .map_err(|e| StoreError::Corrupt(format!("change log batch {seq}: {e}")))
}

/// What a change made its target: a code (or null) for a cell, the record
/// (or null) for the others.
fn after_value(change: &Change) -> serde_json::Value {
    let v = match change {
        Change::Cell { code, .. } => serde_json::to_value(code),
        Change::Staff { staff } => serde_json::to_value(staff),
        Change::Code { def, .. } => serde_json::to_value(def),
        Change::Rule { rule, .. } => serde_json::to_value(rule),
        Change::Settings { settings } => serde_json::to_value(settings),
    };
    v.unwrap_or_default()
}

fn change_from_row(
    entity: &str,
    key: &str,
    staff: Option<String>,
    date: Option<Date>,
    after: &str,
) -> Result<Change> {
    let bad = |e: serde_json::Error| StoreError::Corrupt(format!("{entity} `{key}`: {e}"));
    Ok(match entity {
        "cell" => {
            let (Some(staff), Some(date)) = (staff, date) else {
                return Err(StoreError::Corrupt(format!(
                    "cell `{key}` without staff or date"
                )));
            };
            Change::Cell {
                staff,
                date,
                code: serde_json::from_str(after).map_err(bad)?,
            }
        }
        "staff" => Change::Staff {
            staff: serde_json::from_str(after).map_err(bad)?,
        },
        "code" => Change::Code {
            code: key.to_string(),
            def: serde_json::from_str(after).map_err(bad)?,
        },
        "rule" => Change::Rule {
            id: key.to_string(),
            rule: serde_json::from_str(after).map_err(bad)?,
        },
        "settings" => Change::Settings {
            settings: serde_json::from_str(after).map_err(bad)?,
        },
        other => {
            return Err(StoreError::Corrupt(format!(
                "unknown entity kind `{other}`"
            )));
        }
    })
}

fn parse_date(s: &str) -> Result<Date> {
    s.parse().map_err(StoreError::Corrupt)
}

fn parse_json(s: &str) -> Result<serde_json::Value> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rota_core::domain::{Op, ShiftCode};

    fn author(user: &str) -> Author {
        Author {
            user: user.into(),
            client: format!("c-{user}").into(),
        }
    }

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn set(staff: &str, date: &str, code: &str) -> Op {
        Op::SetCell {
            staff: staff.into(),
            date: d(date),
            code: Some(code.into()),
            base: 0,
        }
    }

    /// A new store with these batches applied to roster `r` and committed
    /// one by one, as the writer does.
    fn store_with(batches: Vec<(Vec<Op>, &str, Option<&str>)>) -> (tempfile::TempDir, Store) {
        store_in_groups(batches, 1)
    }

    /// The same, `per_group` batches to a group commit.
    fn store_in_groups(
        batches: Vec<(Vec<Op>, &str, Option<&str>)>,
        per_group: usize,
    ) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("hub.sqlite3")).unwrap();
        let mut roster = Roster::default();
        let mut batches = batches.into_iter().enumerate().peekable();
        while batches.peek().is_some() {
            let group = store.group().unwrap();
            for (i, (ops, user, note)) in batches.by_ref().take(per_group) {
                let a = author(user);
                let at = 1000 + i as i64;
                let applied = roster.apply_batch_with(&ops, &a, at, true).unwrap();
                group
                    .put_applied("r", &applied, &a, i as u64 + 1, note, at)
                    .unwrap();
            }
            group.commit().unwrap();
        }
        (dir, store)
    }

    /// The WAL counts toward `--max-db-mb`: with a reader keeping the WAL
    /// from being reset, writes stop at the cap (file and WAL together),
    /// refused whole, and go on once the reader is gone.
    #[test]
    fn the_wal_counts_toward_the_size_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.sqlite3");
        let mut store = Store::open(&path).unwrap();
        let mut roster = Roster::default();
        let a = author("ann");
        let write = |store: &mut Store, roster: &mut Roster, i: usize| -> Result<()> {
            let ops: Vec<Op> = if i == 0 {
                setup_ops()
            } else {
                (0..200)
                    .map(|k| {
                        set(
                            "s1",
                            &format!("20{:02}-01-{:02}", k % 90 + 10, i % 28 + 1),
                            ["D", "N"][k % 2],
                        )
                    })
                    .collect()
            };
            let mut r = roster.clone();
            let applied = r.apply_batch_with(&ops, &a, 1000, true).unwrap();
            let group = store.group()?;
            group.put_applied("r", &applied, &a, i as u64 + 1, None, 1000)?;
            group.commit()?;
            *roster = r;
            Ok(())
        };
        write(&mut store, &mut roster, 0).unwrap();
        let cap = store.size_on_disk() + 256 * 1024;
        store.set_max_bytes(cap).unwrap();
        // A reader holding a snapshot: checkpoints cannot reset the WAL.
        let reader = Connection::open(&path).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader
            .query_row("SELECT count(*) FROM rosters", [], |r| r.get(0))
            .unwrap();
        let mut refused = None;
        for i in 1..2000 {
            if let Err(e) = write(&mut store, &mut roster, i) {
                refused = Some(e);
                break;
            }
        }
        let e = refused.expect("writes stop at the cap");
        assert!(matches!(e, StoreError::Full(_)), "{e}");
        assert!(e.to_string().contains("and its WAL"), "{e}");
        // One group past the check at most.
        assert!(
            store.size_on_disk() < cap + 256 * 1024,
            "{}",
            store.size_on_disk()
        );
        // The reader goes: the WAL is folded back in, and writes go on.
        reader.execute_batch("COMMIT").unwrap();
        drop(reader);
        write(&mut store, &mut roster, 5000).unwrap();
    }

    /// History's index names the span of each group commit: whatever the
    /// grouping, every query and page gives the same entries.
    #[test]
    fn history_is_the_same_however_the_batches_were_grouped() {
        let batches = || {
            let mut b = vec![(setup_ops(), "admin", None)];
            for i in 0..12 {
                let staff = ["s1", "s2"][i % 2];
                let day = format!("2026-12-{:02}", 1 + i % 5);
                let code = ["D", "N"][i / 5 % 2];
                b.push((vec![set(staff, &day, code)], "ann", None));
            }
            b.push((
                vec![set("s1", "2026-12-09", "D"), set("s2", "2026-12-01", "D")],
                "bob",
                None,
            ));
            b
        };
        let queries = [
            HistoryQuery::default(),
            HistoryQuery {
                staff: Some("s1".into()),
                ..Default::default()
            },
            HistoryQuery {
                staff: Some("s2".into()),
                date: Some(d("2026-12-01")),
                ..Default::default()
            },
            HistoryQuery {
                date: Some(d("2026-12-03")),
                ..Default::default()
            },
            HistoryQuery {
                from: Some(d("2026-12-02")),
                to: Some(d("2026-12-04")),
                ..Default::default()
            },
            HistoryQuery {
                from: Some(d("2026-12-04")),
                ..Default::default()
            },
        ];
        let (_one, one_by_one) = store_with(batches());
        for per_group in [2, 5, 14] {
            let (_dir, grouped) = store_in_groups(batches(), per_group);
            for q in &queries {
                for limit in [1, 2, 100] {
                    let q = HistoryQuery {
                        limit: Some(limit),
                        ..q.clone()
                    };
                    let want = history(&one_by_one, q.clone());
                    assert!(!want.is_empty(), "{q:?}");
                    assert_eq!(
                        history(&grouped, q.clone()),
                        want,
                        "{per_group} per group, {q:?}"
                    );
                }
            }
        }
    }

    fn setup_ops() -> Vec<Op> {
        vec![
            Op::SetPeriod {
                from: "2026-12-01".parse().unwrap(),
                to: "2026-12-31".parse().unwrap(),
            },
            Op::PutCode {
                code: ShiftCode::new("D", 8.0, true),
                base: None,
            },
            Op::PutCode {
                code: ShiftCode::new("N", 8.0, true),
                base: None,
            },
            Op::AddStaff {
                id: "s1".into(),
                name: "Ann".into(),
                group: String::new(),
                order: None,
            },
            Op::AddStaff {
                id: "s2".into(),
                name: "Bob".into(),
                group: String::new(),
                order: None,
            },
        ]
    }

    fn history(store: &Store, q: HistoryQuery) -> Vec<(Seq, String, serde_json::Value)> {
        let mut all = Vec::new();
        let mut q = q;
        for _ in 0..5_000 {
            let (entries, next) = store.history("r", &q).unwrap();
            all.extend(entries.into_iter().map(|e| (e.seq, e.key, e.after)));
            match next {
                Some(n) => q.before = Some(n),
                None => return all,
            }
        }
        panic!("history did not end");
    }

    /// A large batch is kept in parts; every query and page of its history,
    /// and the change sets a catch-up reads, are what the batch holds, as a
    /// plain filter over its changes in order finds them.
    #[test]
    fn a_large_batch_kept_in_parts_reads_back_as_a_plain_filter_of_it() {
        // Date-major (no part is one person's), person-major (each part is),
        // and interleaved every other way (parts of mixed ranges).
        for order in 0..3 {
            large_batch_reads_back(order);
        }
    }

    fn large_batch_reads_back(order: usize) {
        let staff: Vec<String> = (0..12).map(|i| format!("p{i:02}")).collect();
        let mut setup = setup_ops();
        setup.extend(staff.iter().map(|id| Op::AddStaff {
            id: id.clone(),
            name: id.clone(),
            group: String::new(),
            order: None,
        }));
        // 12 staff x 80 days, some cells twice, with staff records in the
        // same batch, in the order asked for.
        let mut big: Vec<Op> = Vec::new();
        let mut pairs: Vec<(u64, usize)> = (0..80u64)
            .flat_map(|day| (0..staff.len()).map(move |k| (day, k)))
            .collect();
        match order {
            0 => {}
            1 => pairs.sort_by_key(|&(day, k)| (k, day)),
            _ => pairs.sort_by_key(|&(day, k)| ((day * 7 + k as u64 * 13) % 17, day, k)),
        }
        for (n, &(day, k)) in pairs.iter().enumerate() {
            let id = &staff[k];
            {
                let date = Date(d("2026-12-01").0 + chrono::Days::new(day));
                let code = if (day as usize + k).is_multiple_of(3) {
                    "N"
                } else {
                    "D"
                };
                big.push(Op::SetCell {
                    staff: id.clone(),
                    date,
                    code: Some(code.into()),
                    base: 0,
                });
            }
            if n % 240 == 0 {
                big.push(set("p03", "2026-12-05", ["D", "N"][day as usize % 2]));
                big.push(Op::UpdateStaff {
                    id: "p05".into(),
                    name: Some(format!("P5 v{day}")),
                    group: None,
                    order: None,
                    base: None,
                });
            }
        }
        let (_dir, store) = store_with(vec![
            (setup.clone(), "admin", None),
            (big.clone(), "ann", Some("import")),
            (vec![set("p03", "2026-12-05", "N")], "bob", None),
        ]);
        let parts: i64 = store
            .conn
            .query_row("SELECT parts FROM batches WHERE seq = 2", [], |r| r.get(0))
            .unwrap();
        assert!(parts > 3, "kept in {parts} parts");
        if order == 1 {
            // By person: the parts are one person's each, but those the
            // records put in the middle of a run mix.
            let (one, all): (i64, i64) = store
                .conn
                .query_row(
                    "SELECT sum(staff_lo = staff_hi), count(*) FROM part_ranges WHERE seq = 2",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert!(one * 10 >= all * 8, "{one} of {all} parts are one person's");
        }
        let sets = store.changes_since("r", 1, 10_000).unwrap().unwrap();
        // What the batch changed, in order, as the roster in memory says.
        let mut roster = Roster::default();
        roster
            .apply_batch_with(&setup, &author("x"), 0, true)
            .unwrap();
        let applied = roster
            .apply_batch_with(&big, &author("ann"), 0, true)
            .unwrap();
        let changed: Vec<Change> = applied.changes.into_iter().map(|r| r.change).collect();
        assert!(changed.len() > 900);
        assert_eq!(sets[0].changes, changed, "every change, in order");
        // The plain reading: every change of every batch, newest first.
        let all: Vec<(Seq, usize, Change)> = sets
            .iter()
            .flat_map(|cs| {
                cs.changes
                    .iter()
                    .cloned()
                    .enumerate()
                    .map(|(i, c)| (cs.seq, i, c))
            })
            .rev()
            .collect();
        let queries = [
            HistoryQuery::default(),
            HistoryQuery {
                staff: Some("p03".into()),
                ..Default::default()
            },
            HistoryQuery {
                staff: Some("p03".into()),
                date: Some(d("2026-12-05")),
                ..Default::default()
            },
            HistoryQuery {
                staff: Some("p05".into()),
                ..Default::default()
            },
            HistoryQuery {
                date: Some(d("2027-01-10")),
                ..Default::default()
            },
            HistoryQuery {
                from: Some(d("2027-02-10")),
                ..Default::default()
            },
            HistoryQuery {
                staff: Some("p11".into()),
                to: Some(d("2026-12-03")),
                ..Default::default()
            },
        ];
        for q in queries {
            let want: Vec<(Seq, String)> = all
                .iter()
                .filter(|(seq, _, c)| {
                    let (s, date) = staff_and_date(c);
                    *seq > 1
                        && q.staff.as_deref().is_none_or(|x| s == Some(x))
                        && q.date.is_none_or(|x| date == Some(x))
                        && q.from.is_none_or(|x| date.is_some_and(|y| y >= x))
                        && q.to.is_none_or(|x| date.is_some_and(|y| y <= x))
                })
                .map(|(seq, _, c)| (*seq, c.target().key()))
                .collect();
            let pages: &[u32] = if q.date.is_some() {
                &[1, 500]
            } else {
                &[97, 500]
            };
            for &limit in pages {
                let got: Vec<(Seq, String)> = history(
                    &store,
                    HistoryQuery {
                        limit: Some(limit),
                        ..q.clone()
                    },
                )
                .into_iter()
                .filter(|(seq, _, _)| *seq > 1)
                .map(|(seq, key, _)| (seq, key))
                .collect();
                assert_eq!(got, want, "{q:?} by {limit}");
            }
        }
    }

    #[test]
    fn history_filters_and_pages_within_and_across_batches() {
        let (_dir, store) = store_with(vec![
            (setup_ops(), "admin", None),
            (
                vec![
                    set("s1", "2026-12-01", "D"),
                    set("s1", "2026-12-02", "D"),
                    set("s2", "2026-12-01", "N"),
                    set("s1", "2026-12-03", "D"),
                ],
                "ann",
                Some("week"),
            ),
            (vec![set("s1", "2026-12-02", "N")], "bob", None),
        ]);
        let key = |s: &str, dt: &str| format!("{s}/{dt}");
        // One cell: newest first, with the value each replaced.
        let (cell, _) = store
            .history(
                "r",
                &HistoryQuery {
                    staff: Some("s1".into()),
                    date: Some(d("2026-12-02")),
                    ..Default::default()
                },
            )
            .unwrap();
        let got: Vec<_> = cell
            .iter()
            .map(|e| (e.seq, e.before.clone(), e.after.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, serde_json::json!("D"), serde_json::json!("N")),
                (2, serde_json::Value::Null, serde_json::json!("D")),
            ]
        );
        assert_eq!(cell[1].note.as_deref(), Some("week"));
        assert_eq!(cell[1].user, "ann");
        // A staff member: their record and their cells, paged one at a time
        // (the cursor falls inside batch 2).
        let one =
            |staff: Option<&str>, date: Option<&str>, from: Option<&str>, to: Option<&str>| {
                history(
                    &store,
                    HistoryQuery {
                        staff: staff.map(str::to_string),
                        date: date.map(d),
                        from: from.map(d),
                        to: to.map(d),
                        limit: Some(1),
                        ..Default::default()
                    },
                )
                .into_iter()
                .map(|(seq, k, _)| (seq, k))
                .collect::<Vec<_>>()
            };
        assert_eq!(
            one(Some("s1"), None, None, None),
            vec![
                (3, key("s1", "2026-12-02")),
                (2, key("s1", "2026-12-03")),
                (2, key("s1", "2026-12-02")),
                (2, key("s1", "2026-12-01")),
                (1, "s1".to_string()),
            ]
        );
        // A date: every staff member's cell on it.
        assert_eq!(
            one(None, Some("2026-12-01"), None, None),
            vec![(2, key("s2", "2026-12-01")), (2, key("s1", "2026-12-01"))]
        );
        // A range, with and without staff.
        assert_eq!(
            one(None, None, Some("2026-12-02"), Some("2026-12-03")),
            vec![
                (3, key("s1", "2026-12-02")),
                (2, key("s1", "2026-12-03")),
                (2, key("s1", "2026-12-02")),
            ]
        );
        assert_eq!(
            one(Some("s2"), None, Some("2026-12-02"), None),
            Vec::<(Seq, String)>::new()
        );
        // Everything: 5 setup changes, 4 cells, 1 cell.
        assert_eq!(history(&store, HistoryQuery::default()).len(), 10);
        // A page of exactly what is left has no next.
        let (all, next) = store
            .history(
                "r",
                &HistoryQuery {
                    limit: Some(10),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!((all.len(), next), (10, None));
    }

    #[test]
    fn changes_since_gives_whole_batches_or_none_past_the_limit() {
        let (_dir, store) = store_with(vec![
            (setup_ops(), "admin", None),
            (
                vec![set("s1", "2026-12-01", "D"), set("s2", "2026-12-01", "N")],
                "ann",
                Some("x"),
            ),
            (vec![set("s1", "2026-12-01", "N")], "bob", None),
        ]);
        let sets = store.changes_since("r", 1, 100).unwrap().unwrap();
        assert_eq!(sets.iter().map(|s| s.seq).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(sets[0].changes.len(), 2);
        assert_eq!(
            (
                sets[0].user.as_str(),
                sets[0].op_id,
                sets[0].note.as_deref()
            ),
            ("ann", 2, Some("x"))
        );
        assert_eq!(
            sets[1].changes,
            vec![Change::Cell {
                staff: "s1".into(),
                date: d("2026-12-01"),
                code: Some("N".into())
            }]
        );
        assert_eq!(
            store.changes_since("r", 1, 3).unwrap().map(|s| s.len()),
            Some(2)
        );
        assert!(store.changes_since("r", 1, 2).unwrap().is_none());
        assert_eq!(store.changes_since("r", 3, 0).unwrap(), Some(Vec::new()));
    }

    #[test]
    fn answers_of_schema_5_are_keyed_by_roster_on_open_without_a_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.sqlite3");
        {
            let mut conn = Connection::open(&path).unwrap();
            let tx = conn.transaction().unwrap();
            for step in &MIGRATIONS[..5] {
                match step {
                    Migration::Sql(sql) => tx.execute_batch(sql).unwrap(),
                    Migration::Code(run) => run(&tx).unwrap(),
                }
            }
            tx.pragma_update(None, "user_version", 5).unwrap();
            tx.execute_batch(
                r#"INSERT INTO answers (client, op_id, roster, answer, at)
                   VALUES ('c-ann', 7, 'ward-a', '{"type":"ack","op_id":7,"seq":3,"at":5}', 5);"#,
            )
            .unwrap();
            tx.commit().unwrap();
        }
        let mut store = Store::open(&path).unwrap();
        let group = store.group().unwrap();
        let found = group
            .find_answer(&AnswerKey {
                roster: "ward-a",
                client: "c-ann",
                op_id: 7,
            })
            .unwrap()
            .unwrap();
        assert_eq!(found.answer, r#"{"type":"ack","op_id":7,"seq":3,"at":5}"#);
        assert_eq!(found.fingerprint, None, "nothing to tell a resend by");
        assert!(
            group
                .find_answer(&AnswerKey {
                    roster: "ward-b",
                    client: "c-ann",
                    op_id: 7
                })
                .unwrap()
                .is_none()
        );
        assert_eq!(group.highest_answered("ward-a", "c-ann").unwrap(), 7);
        assert_eq!(group.highest_answered("ward-b", "c-ann").unwrap(), 0);
        // The same client and op id on another roster is another batch.
        let key = AnswerKey {
            roster: "ward-b",
            client: "c-ann",
            op_id: 7,
        };
        group.put_answer(&key, &[1; 16], "{}", 6).unwrap();
        let found = group
            .find_answer(&AnswerKey {
                roster: "ward-b",
                client: "c-ann",
                op_id: 7,
            })
            .unwrap()
            .unwrap();
        assert_eq!(found.fingerprint.as_deref(), Some(&[1u8; 16][..]));
        group.commit().unwrap();
    }

    #[test]
    fn a_schema_1_change_log_is_moved_to_batches_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.sqlite3");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(rota_db::roster_db::TABLES).unwrap();
            conn.execute_batch(SCHEMA_1_REST).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute_batch(
                r#"
INSERT INTO rosters VALUES ('r', 2, 1);
INSERT INTO entities VALUES ('r', 'staff', 's1', '{"id":"s1","name":"Ann","group":"","order":0}', 1, 'admin', 'c-a', 10);
INSERT INTO entities VALUES ('r', 'code', 'D', '{"code":"D","hours":8.0}', 1, 'admin', 'c-a', 10);
INSERT INTO cells VALUES ('r', 's1', '2026-12-01', 'D', 2, 'ann', 'c-ann', 20);
INSERT INTO changes VALUES ('r', 1, 0, 'code', 'D', NULL, NULL, 'null', '{"code":"D","hours":8.0}', 'admin', 'c-a', 1, 10, NULL);
INSERT INTO changes VALUES ('r', 1, 1, 'staff', 's1', 's1', NULL, 'null', '{"id":"s1","name":"Ann","group":"","order":0}', 'admin', 'c-a', 1, 10, NULL);
INSERT INTO changes VALUES ('r', 2, 0, 'cell', 's1/2026-12-01', 's1', '2026-12-01', 'null', '"D"', 'ann', 'c-ann', 7, 20, 'hi');
"#,
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let version: i64 = store
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        let old: i64 = store
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'changes'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old, 0, "the old change log is dropped");
        let sets = store.changes_since("r", 0, 100).unwrap().unwrap();
        assert_eq!(
            sets.iter()
                .map(|s| (s.seq, s.changes.len(), s.op_id))
                .collect::<Vec<_>>(),
            vec![(1, 2, 1), (2, 1, 7)]
        );
        let (entries, _) = store
            .history(
                "r",
                &HistoryQuery {
                    staff: Some("s1".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        let got: Vec<_> = entries
            .iter()
            .map(|e| (e.seq, e.entity.as_str(), e.note.as_deref()))
            .collect();
        assert_eq!(got, vec![(2, "cell", Some("hi")), (1, "staff", None)]);
        let roster = store.load_roster("r").unwrap();
        assert_eq!(roster.seq(), 2);
    }
}
