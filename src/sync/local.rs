//! The editor's local SQLite file: the cached roster (every cell and record
//! with the hub's version), the last seq applied, the client ids of the
//! editors sharing this file, and each one's outbox. Blocking; owned by one
//! sync engine. Knows nothing of the network or of the view.
//!
//! Several editors (processes) may open one file: each claims a client slot
//! with an advisory lock, so each has its own client id (kept across
//! restarts) and sends only its own outbox. The cache is shared: a change is
//! written only when its seq is past the file's last seq, and every engine
//! writes changes in seq order without gaps, so the file always holds a
//! consistent roster as of its last seq.

use super::{EntryState, OutboxEntry};
use crate::domain::{Change, Date, Names, Op, Roster, Seq, Stamp};
use crate::protocol::{ChangeSet, Snapshot};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::fmt;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Most editors that may use one local file at once.
const MAX_SLOTS: u32 = 64;

/// A change set this large fills the page cache with pages the roster in
/// memory already holds: it is handed back after (see `shrink_cache`).
const LARGE_CHANGE: usize = 10_000;

#[derive(Debug)]
pub enum LocalError {
    Sqlite { path: PathBuf, err: rusqlite::Error },
    Io { what: String, err: std::io::Error },
    Corrupt(String),
    AllSlotsBusy(PathBuf),
}

impl fmt::Display for LocalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalError::Sqlite { path, err } => {
                write!(f, "local store {}: {err}", path.display())
            }
            LocalError::Io { what, err } => write!(f, "{what}: {err}"),
            LocalError::Corrupt(m) => write!(f, "local store is damaged: {m}"),
            LocalError::AllSlotsBusy(p) => write!(
                f,
                "{MAX_SLOTS} editors already use {}; close one",
                p.display()
            ),
        }
    }
}

impl std::error::Error for LocalError {}

impl LocalError {
    /// What is wrong with a damaged file, without the path.
    pub fn damage(&self) -> String {
        match self {
            LocalError::Corrupt(m) => m.clone(),
            LocalError::Sqlite { err, .. } => err.to_string(),
            other => other.to_string(),
        }
    }

    /// Whether the file itself is damaged (not merely busy or unwritable):
    /// then it is kept aside and a new one made (see [`LocalStore::recover`]).
    pub fn is_damage(&self) -> bool {
        match self {
            LocalError::Corrupt(_) => true,
            LocalError::Sqlite { err, .. } => crate::sqlite_file::is_damage(err),
            _ => false,
        }
    }
}

/// A local file found damaged, and what was done: the file kept aside, a
/// new one made with every queued edit that could still be read (the
/// roster itself comes back from the hub).
#[derive(Clone, Debug, PartialEq)]
pub struct Recovery {
    /// Where the damaged file is now.
    pub aside: PathBuf,
    /// What was wrong with it.
    pub why: String,
    /// Queued edits read back into the new file.
    pub kept: usize,
    /// Some of the queue could not be read: edits made here and not yet
    /// on the hub may be lost.
    pub incomplete: bool,
}

impl Recovery {
    /// What to tell the user, in a sentence or two.
    pub fn message(&self) -> String {
        let kept = match self.kept {
            0 => "no queued edit could be read from it".to_string(),
            1 => "1 queued edit was read back and will be sent".to_string(),
            n => format!("{n} queued edits were read back and will be sent"),
        };
        let lost = if self.incomplete {
            "; edits made here and not yet on the hub may be lost"
        } else {
            ""
        };
        format!(
            "the local file was damaged ({}): kept aside as {}; {kept}{lost}; the roster is fetched again from the hub",
            self.why,
            self.aside.display()
        )
    }
}

/// An outbox row as stored: client id, op id, ops (JSON), note, state
/// (JSON), created, force.
type OutboxRow = (String, i64, String, Option<String>, String, i64, bool);

/// What could be read of a damaged file's clients and queue.
#[derive(Default)]
struct Salvage {
    /// (slot, client id, next op id)
    clients: Vec<(u32, String, i64)>,
    /// Queued edits as stored, each checked to read.
    outbox: Vec<OutboxRow>,
    incomplete: bool,
}

/// Inside a transaction the path is not at hand; `LocalStore::tx` adds it.
impl From<rusqlite::Error> for LocalError {
    fn from(err: rusqlite::Error) -> LocalError {
        LocalError::Sqlite {
            path: PathBuf::new(),
            err,
        }
    }
}

/// How hard a commit must be on disk before it returns.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Durability {
    /// Fsynced: the commit adds an edit, and the outbox is its only copy.
    Fsync,
    /// Safe against a crash of the process (WAL, synchronous=NORMAL); a
    /// power cut may roll back the latest such commits, which only makes
    /// the engine fetch a change again or resend an edit the hub then
    /// answers from its stored answers. Cache writes, acks, conflict marks.
    Lazy,
}

pub struct LocalStore {
    conn: Connection,
    path: PathBuf,
    client_id: String,
    /// Held for the engine's life: this process's claim on its client slot.
    _slot: File,
}

type Result<T> = std::result::Result<T, LocalError>;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records(
    entity TEXT NOT NULL, key TEXT NOT NULL, json TEXT NOT NULL,
    seq INTEGER NOT NULL, user TEXT NOT NULL, client TEXT NOT NULL, at INTEGER NOT NULL,
    PRIMARY KEY(entity, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cells(
    staff TEXT NOT NULL, date TEXT NOT NULL, code TEXT,
    seq INTEGER NOT NULL, user TEXT NOT NULL, client TEXT NOT NULL, at INTEGER NOT NULL,
    PRIMARY KEY(staff, date)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS clients(
    slot INTEGER PRIMARY KEY, client_id TEXT NOT NULL UNIQUE, next_op_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox(
    client_id TEXT NOT NULL, op_id INTEGER NOT NULL, ops TEXT NOT NULL, note TEXT,
    state TEXT NOT NULL, created INTEGER NOT NULL,
    PRIMARY KEY(client_id, op_id)) WITHOUT ROWID;
";

/// Columns added since the first release of this file's schema.
fn add_missing_columns(conn: &Connection) -> rusqlite::Result<()> {
    let has_force = conn
        .prepare("SELECT 1 FROM pragma_table_info('outbox') WHERE name = 'force'")?
        .exists([])?;
    if !has_force {
        conn.execute_batch("ALTER TABLE outbox ADD COLUMN force INTEGER NOT NULL DEFAULT 0")?;
    }
    Ok(())
}

impl LocalStore {
    /// Opens (creating) the file and claims a client slot for this engine.
    pub fn open(path: &Path) -> Result<LocalStore> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|err| LocalError::Io {
                what: format!("creating {}", dir.display()),
                err,
            })?;
        }
        let sql = |err| LocalError::Sqlite {
            path: path.to_path_buf(),
            err,
        };
        // A file that exists was made whole (see `create_whole`): one that
        // is empty or lacks rota's tables is damaged, never taken for new.
        match crate::sqlite_file::is_empty(path) {
            Ok(Some(true)) => {
                return Err(LocalError::Corrupt("the file is empty (0 bytes)".into()));
            }
            Ok(Some(false)) => {}
            Ok(None) => create_whole(path, &Salvage::default())?,
            Err(err) => {
                return Err(LocalError::Io {
                    what: format!("reading {}", path.display()),
                    err,
                });
            }
        }
        let conn = Connection::open(path).map_err(sql)?;
        // Another editor on this file may hold the write lock for a moment.
        conn.busy_timeout(Duration::from_secs(10)).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        // Commits that add edits fsync (see `Durability`); the rest need not.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql)?;
        // Room for a large roster's pages (allocated only as used), so that
        // caching a big change set does not re-read the file for every row.
        conn.pragma_update(None, "cache_size", -32 * 1024)
            .map_err(sql)?;
        check_tables(&conn).map_err(|e| match e {
            LocalError::Sqlite { err, .. } => sql(err),
            other => other,
        })?;
        add_missing_columns(&conn).map_err(sql)?;
        let (slot, file) = claim_slot(path)?;
        let mut store = LocalStore {
            conn,
            path: path.to_path_buf(),
            client_id: String::new(),
            _slot: file,
        };
        store.client_id = store.client_for_slot(slot)?;
        Ok(store)
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Keeps a damaged file aside (with its WAL), reads back what it can
    /// of its clients and queued edits, and makes a new file holding them
    /// (the cached roster is left to be fetched again). `why`: what was
    /// found wrong.
    pub fn recover(path: &Path, why: &str) -> Result<Recovery> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let aside = PathBuf::from(format!("{}.damaged-{now}", path.display()));
        let with = |p: &Path, suffix: &str| PathBuf::from(format!("{}{suffix}", p.display()));
        for suffix in ["", "-wal", "-shm"] {
            let from = with(path, suffix);
            if from.exists() {
                std::fs::rename(&from, with(&aside, suffix)).map_err(|err| LocalError::Io {
                    what: format!("keeping the damaged {} aside", from.display()),
                    err,
                })?;
            }
        }
        let salvage = salvage(&aside);
        create_whole(path, &salvage)?;
        Ok(Recovery {
            aside,
            why: why.to_string(),
            kept: salvage.outbox.len(),
            incomplete: salvage.incomplete,
        })
    }

    /// Runs `f` in one transaction and commits it when it succeeds.
    fn tx<T>(
        &mut self,
        durability: Durability,
        f: impl FnOnce(&Transaction, &str) -> Result<T>,
    ) -> Result<T> {
        let path = self.path.clone();
        let with_path = |e: LocalError| match e {
            LocalError::Sqlite { err, .. } => LocalError::Sqlite {
                path: path.clone(),
                err,
            },
            other => other,
        };
        let full = durability == Durability::Fsync;
        if full {
            self.conn
                .pragma_update(None, "synchronous", "FULL")
                .map_err(|e| with_path(e.into()))?;
        }
        let run = |conn: &mut Connection| -> Result<T> {
            let tx = conn.transaction()?;
            let out = f(&tx, &self.client_id)?;
            tx.commit()?;
            Ok(out)
        };
        let out = run(&mut self.conn).map_err(&with_path);
        if full {
            // NORMAL again for the next commits; the WAL fsynced above
            // covers everything before it.
            let _ = self.conn.pragma_update(None, "synchronous", "NORMAL");
        }
        out
    }

    fn err(&self, err: rusqlite::Error) -> LocalError {
        LocalError::Sqlite {
            path: self.path.clone(),
            err,
        }
    }

    fn client_for_slot(&mut self, slot: u32) -> Result<String> {
        let found: Option<String> = self
            .conn
            .query_row(
                "SELECT client_id FROM clients WHERE slot = ?1",
                [slot],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        if let Some(id) = found {
            return Ok(id);
        }
        let id = new_client_id()?;
        self.conn
            .execute(
                "INSERT INTO clients(slot, client_id, next_op_id) VALUES (?1, ?2, 1)",
                params![slot, id],
            )
            .map_err(|e| self.err(e))?;
        Ok(id)
    }

    /// The cached roster as of the file's last seq.
    pub fn load_roster(&self) -> Result<Roster> {
        let mut roster = Roster::default();
        let seq = last_seq_in(&self.conn).map_err(|e| match e {
            LocalError::Sqlite { err, .. } => self.err(err),
            other => other,
        })?;
        // Every cell's stamp names one of a few users and clients: one
        // shared copy of each, not two allocations a cell.
        let mut names = Names::default();
        let mut stmt = self
            .conn
            .prepare("SELECT entity, key, json, seq, user, client, at FROM records")
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let (entity, key, json) = (|| {
                Ok::<_, rusqlite::Error>((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })()
            .map_err(|e| self.err(e))?;
            let stamp = stamp_of(&mut names, r, 3).map_err(|e| self.err(e))?;
            let change = record_change(&entity, &key, &json)?;
            roster.apply_accepted(&change, stamp);
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT staff, date, code, seq, user, client, at FROM cells ORDER BY staff, date",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let (staff, date, code) = (|| {
                Ok::<_, rusqlite::Error>((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })()
            .map_err(|e| self.err(e))?;
            let stamp = stamp_of(&mut names, r, 3).map_err(|e| self.err(e))?;
            let date = date
                .parse::<Date>()
                .map_err(|m| LocalError::Corrupt(format!("cell {staff}/{date}: {m}")))?;
            roster.apply_accepted(&Change::Cell { staff, date, code }, stamp);
        }
        roster.set_seq(seq);
        roster.compact();
        drop(rows);
        drop(stmt);
        self.shrink_cache();
        Ok(roster)
    }

    /// This client's outbox, oldest first.
    pub fn load_outbox(&self) -> Result<Vec<OutboxEntry>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT op_id, ops, note, state, created, force FROM outbox
                 WHERE client_id = ?1 ORDER BY op_id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([&self.client_id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, bool>(5)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (op_id, ops, note, state, created, force) = row.map_err(|e| self.err(e))?;
            let bad = |what: &str, e: serde_json::Error| {
                LocalError::Corrupt(format!("outbox edit {op_id}: {what}: {e}"))
            };
            out.push(OutboxEntry {
                op_id: op_id as u64,
                ops: serde_json::from_str(&ops).map_err(|e| bad("ops", e))?,
                note,
                force,
                state: serde_json::from_str(&state).map_err(|e| bad("state", e))?,
                created,
            });
        }
        Ok(out)
    }

    /// Adds an edit to the outbox under the next op id; durable on return.
    pub fn queue(
        &mut self,
        ops: Vec<Op>,
        note: Option<&str>,
        force: bool,
        now: i64,
    ) -> Result<OutboxEntry> {
        let op_id = self.tx(Durability::Fsync, |tx, client| {
            Ok(insert_entry(tx, client, &ops, note, force, now)?)
        })?;
        Ok(OutboxEntry::pending(op_id, ops, note, force, now))
    }

    /// Replaces an outbox entry by a new one (new op id, at the end): how
    /// "keep mine" sends a conflicted edit again.
    pub fn requeue(
        &mut self,
        old_op_id: u64,
        ops: Vec<Op>,
        note: Option<&str>,
        now: i64,
    ) -> Result<OutboxEntry> {
        let op_id = self.tx(Durability::Fsync, |tx, client| {
            delete_entry(tx, client, old_op_id)?;
            Ok(insert_entry(tx, client, &ops, note, false, now)?)
        })?;
        Ok(OutboxEntry::pending(op_id, ops, note, false, now))
    }

    pub fn set_state(&mut self, op_id: u64, state: &EntryState) -> Result<()> {
        let json = state.json();
        self.tx(Durability::Lazy, |tx, client| {
            tx.execute(
                "UPDATE outbox SET state = ?3 WHERE client_id = ?1 AND op_id = ?2",
                params![client, op_id as i64, json],
            )?;
            Ok(())
        })
    }

    pub fn remove(&mut self, op_id: u64) -> Result<()> {
        self.tx(Durability::Lazy, |tx, client| {
            Ok(delete_entry(tx, client, op_id)?)
        })
    }

    /// Records an accepted change set in the cache (unless the file is
    /// already past it) and, in the same transaction, drops the outbox
    /// entry it settles.
    pub fn record(&mut self, cs: &ChangeSet, settles: Option<u64>) -> Result<()> {
        self.tx(Durability::Lazy, |tx, client| {
            if cs.seq > last_seq_in(tx)? {
                let stamp = (cs.seq, cs.user.as_str(), cs.client.as_str(), cs.at);
                // One statement and one date buffer for all the cells: a
                // script's edit may hold 100,000 of them.
                let mut cells = CellWriter {
                    put: tx.prepare_cached(PUT_CELL)?,
                    date: String::with_capacity(10),
                };
                for change in &cs.changes {
                    write_change(tx, &mut cells, change, stamp)?;
                }
                set_last_seq(tx, cs.seq)?;
            }
            if let Some(op_id) = settles {
                delete_entry(tx, client, op_id)?;
            }
            Ok(())
        })?;
        if cs.changes.len() >= LARGE_CHANGE {
            self.shrink_cache();
        }
        Ok(())
    }

    /// Notes that the hub is at `seq` with nothing this file lacks (an
    /// empty catch-up).
    pub fn advance(&mut self, seq: Seq) -> Result<()> {
        self.tx(Durability::Lazy, |tx, _| {
            if seq > last_seq_in(tx)? {
                set_last_seq(tx, seq)?;
            }
            Ok(())
        })
    }

    /// Replaces the whole cached roster by a snapshot at `seq`.
    pub fn replace(&mut self, snap: &Snapshot, seq: Seq) -> Result<()> {
        self.tx(Durability::Lazy, |tx, _| Ok(write_snapshot(tx, snap, seq)?))?;
        self.shrink_cache();
        Ok(())
    }

    /// Hands back the page cache a whole-roster read or write filled (or a
    /// change of at least [`LARGE_CHANGE`] cells): the
    /// roster is in memory then, and the cache's pages would only double
    /// it (about 20 MB for 500 x 366).
    pub fn shrink_cache(&self) {
        let _ = self.conn.execute_batch("PRAGMA shrink_memory");
    }
}

fn write_snapshot(tx: &Transaction, snap: &Snapshot, seq: Seq) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM records", [])?;
    tx.execute("DELETE FROM cells", [])?;
    let json = |v: &dyn erased::Json| v.json();
    let mut put = tx.prepare(
        "INSERT INTO records(entity, key, json, seq, user, client, at)
             VALUES (?1, ?2, ?3, ?4, '', '', 0)",
    )?;
    put.execute(params![
        "settings",
        "",
        json(&snap.settings),
        snap.settings.seq as i64
    ])?;
    for s in &snap.staff {
        put.execute(params!["staff", s.id, json(s), s.seq as i64])?;
    }
    for c in &snap.codes {
        put.execute(params!["code", c.code, json(c), c.seq as i64])?;
    }
    for r in &snap.rules {
        put.execute(params!["rule", r.id, json(r), r.seq as i64])?;
    }
    let mut cell = tx.prepare(
        "INSERT INTO cells(staff, date, code, seq, user, client, at)
             VALUES (?1, ?2, ?3, ?4, '', '', 0)",
    )?;
    for (staff, date, code, cseq) in snap.cells.iter() {
        cell.execute(params![
            &**staff,
            date.to_string(),
            code.as_deref(),
            *cseq as i64
        ])?;
    }
    set_last_seq(tx, seq)
}

/// Serialising a record for the cache cannot fail for our own types; a
/// failure would store `null`, which loading reports as damage.
mod erased {
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_else(|_| "null".into())
        }
    }
}
use erased::Json as _;

/// The tables every rota local file has had since its first release.
const TABLES: [&str; 5] = ["meta", "records", "cells", "clients", "outbox"];

/// All of rota's tables are there (an empty or foreign SQLite file, or one
/// cut short, is damaged).
fn check_tables(conn: &Connection) -> Result<()> {
    let mut found = 0;
    for t in TABLES {
        let here = conn
            .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")?
            .exists([t])?;
        found += usize::from(here);
    }
    match found {
        5 => Ok(()),
        0 => Err(LocalError::Corrupt("it holds none of rota's tables".into())),
        n => Err(LocalError::Corrupt(format!(
            "{} of rota's 5 tables are missing",
            5 - n
        ))),
    }
}

/// Makes a new local file whole (see [`crate::sqlite_file::create_whole`]),
/// holding what was salvaged from a damaged one.
fn create_whole(path: &Path, salvage: &Salvage) -> Result<()> {
    crate::sqlite_file::create_whole(path, |conn| {
        let tx = conn.transaction()?;
        tx.execute_batch(SCHEMA)?;
        add_missing_columns(&tx)?;
        for (slot, id, next) in &salvage.clients {
            tx.execute(
                "INSERT INTO clients(slot, client_id, next_op_id) VALUES (?1, ?2, ?3)",
                params![slot, id, next],
            )?;
        }
        for (client, op_id, ops, note, state, created, force) in &salvage.outbox {
            tx.execute(
                "INSERT INTO outbox(client_id, op_id, ops, note, state, created, force)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![client, op_id, ops, note, state, created, force],
            )?;
        }
        tx.commit()
    })
    .map_err(|e| match e {
        crate::sqlite_file::MakeError::Open(path, err)
        | crate::sqlite_file::MakeError::Init(path, err) => LocalError::Sqlite { path, err },
        crate::sqlite_file::MakeError::Io(path, err) => LocalError::Io {
            what: format!("creating {}", path.display()),
            err,
        },
    })
}

/// Reads what it can of a damaged file's clients and queued edits: every
/// row until the first that cannot be read, each edit's JSON checked.
fn salvage(path: &Path) -> Salvage {
    let mut out = Salvage::default();
    let Ok(conn) = Connection::open(path) else {
        out.incomplete = true;
        return out;
    };
    let clients = (|| -> rusqlite::Result<()> {
        let mut stmt = conn.prepare("SELECT slot, client_id, next_op_id FROM clients")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            out.clients.push((r.get(0)?, r.get(1)?, r.get(2)?));
        }
        Ok(())
    })();
    let mut bad_rows = false;
    let outbox = (|| -> rusqlite::Result<()> {
        let force = conn
            .prepare("SELECT 1 FROM pragma_table_info('outbox') WHERE name = 'force'")?
            .exists([])?;
        let sql = if force {
            "SELECT client_id, op_id, ops, note, state, created, force FROM outbox"
        } else {
            "SELECT client_id, op_id, ops, note, state, created, 0 FROM outbox"
        };
        let mut stmt = conn.prepare(sql)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let row: OutboxRow = (
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            );
            let readable = serde_json::from_str::<Vec<Op>>(&row.2).is_ok()
                && serde_json::from_str::<EntryState>(&row.4).is_ok();
            if readable {
                out.outbox.push(row);
            } else {
                bad_rows = true;
            }
        }
        Ok(())
    })();
    out.incomplete = clients.is_err() || outbox.is_err() || bad_rows;
    // A queued edit whose client's row was lost gets its client back, its
    // next op id past every edit read.
    let mut missing: Vec<(String, i64)> = Vec::new();
    for (client, op_id, ..) in &out.outbox {
        if !out.clients.iter().any(|(_, id, _)| id == client) {
            match missing.iter_mut().find(|(id, _)| id == client) {
                Some((_, next)) => *next = (*next).max(op_id + 1),
                None => missing.push((client.clone(), op_id + 1)),
            }
        }
    }
    for (client, next) in missing {
        let slot = (0..MAX_SLOTS)
            .find(|s| !out.clients.iter().any(|(taken, _, _)| taken == s))
            .unwrap_or(MAX_SLOTS);
        out.clients.push((slot, client, next));
    }
    out
}

fn claim_slot(path: &Path) -> Result<(u32, File)> {
    for slot in 0..MAX_SLOTS {
        let lock_path = PathBuf::from(format!("{}.slot{slot}.lock", path.display()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|err| LocalError::Io {
                what: format!("opening {}", lock_path.display()),
                err,
            })?;
        if file.try_lock().is_ok() {
            return Ok((slot, file));
        }
    }
    Err(LocalError::AllSlotsBusy(path.to_path_buf()))
}

/// A client id unique to this install and slot: 128 random bits from the
/// operating system's generator (the hub's resend key: two installs must
/// never share one).
fn new_client_id() -> Result<String> {
    let mut bits = [0u8; 16];
    getrandom::fill(&mut bits).map_err(|e| LocalError::Io {
        what: "making a client id from the system's random generator".into(),
        err: std::io::Error::other(e.to_string()),
    })?;
    let mut id = String::with_capacity(33);
    id.push('c');
    for b in bits {
        id.push_str(&format!("{b:02x}"));
    }
    Ok(id)
}

/// The stamp in columns seq, user, client, at from `from` on, its names
/// shared through `names`.
fn stamp_of(names: &mut Names, r: &rusqlite::Row, from: usize) -> rusqlite::Result<Stamp> {
    Ok(names.stamp(
        r.get::<_, i64>(from)? as Seq,
        r.get(from + 1)?,
        r.get(from + 2)?,
        r.get(from + 3)?,
    ))
}

fn record_change(entity: &str, key: &str, json: &str) -> Result<Change> {
    let bad = |e: serde_json::Error| LocalError::Corrupt(format!("{entity} `{key}`: {e}"));
    Ok(match entity {
        "staff" => Change::Staff {
            staff: serde_json::from_str(json).map_err(bad)?,
        },
        "code" => Change::Code {
            code: key.to_string(),
            def: Some(serde_json::from_str(json).map_err(bad)?),
        },
        "rule" => Change::Rule {
            id: key.to_string(),
            rule: Some(serde_json::from_str(json).map_err(bad)?),
        },
        "settings" => Change::Settings {
            settings: serde_json::from_str(json).map_err(bad)?,
        },
        other => {
            return Err(LocalError::Corrupt(format!(
                "unknown record kind `{other}`"
            )));
        }
    })
}

const PUT_CELL: &str = "INSERT OR REPLACE INTO cells(staff, date, code, seq, user, client, at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// Writes cells to the cache with one prepared statement.
struct CellWriter<'a> {
    put: rusqlite::CachedStatement<'a>,
    date: String,
}

fn write_change(
    tx: &Transaction,
    cells: &mut CellWriter,
    change: &Change,
    stamp: (Seq, &str, &str, i64),
) -> rusqlite::Result<()> {
    let (seq, user, client, at) = stamp;
    let seq = seq as i64;
    let put = |entity: &str, key: &str, json: String| {
        tx.execute(
            "INSERT OR REPLACE INTO records(entity, key, json, seq, user, client, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![entity, key, json, seq, user, client, at],
        )
    };
    let delete = |entity: &str, key: &str| {
        tx.execute(
            "DELETE FROM records WHERE entity = ?1 AND key = ?2",
            params![entity, key],
        )
    };
    match change {
        Change::Cell { staff, date, code } => {
            cells.date.clear();
            // Writing into a String cannot fail.
            let _ = write!(cells.date, "{date}");
            cells
                .put
                .execute(params![staff, cells.date, code, seq, user, client, at])?;
        }
        Change::Staff { staff } => {
            put("staff", &staff.id, staff.json())?;
        }
        Change::Code { code, def } => match def {
            Some(def) => {
                put("code", code, def.json())?;
            }
            None => {
                delete("code", code)?;
            }
        },
        Change::Rule { id, rule } => match rule {
            Some(rule) => {
                put("rule", id, rule.json())?;
            }
            None => {
                delete("rule", id)?;
            }
        },
        Change::Settings { settings } => {
            put("settings", "", settings.json())?;
        }
    }
    Ok(())
}

fn set_last_seq(tx: &Transaction, seq: Seq) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO meta(key, value) VALUES ('last_seq', ?1)",
        [seq.to_string()],
    )?;
    Ok(())
}

fn insert_entry(
    tx: &Transaction,
    client: &str,
    ops: &[Op],
    note: Option<&str>,
    force: bool,
    now: i64,
) -> rusqlite::Result<u64> {
    let op_id: i64 = tx.query_row(
        "SELECT next_op_id FROM clients WHERE client_id = ?1",
        [client],
        |r| r.get(0),
    )?;
    tx.execute(
        "UPDATE clients SET next_op_id = ?2 WHERE client_id = ?1",
        params![client, op_id + 1],
    )?;
    tx.execute(
        "INSERT INTO outbox(client_id, op_id, ops, note, state, created, force)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            client,
            op_id,
            ops.json(),
            note,
            EntryState::Pending.json(),
            now,
            force
        ],
    )?;
    Ok(op_id as u64)
}

fn delete_entry(tx: &Transaction, client: &str, op_id: u64) -> rusqlite::Result<()> {
    tx.execute(
        "DELETE FROM outbox WHERE client_id = ?1 AND op_id = ?2",
        params![client, op_id as i64],
    )?;
    Ok(())
}

fn last_seq_in(conn: &Connection) -> Result<Seq> {
    let v: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'last_seq'", [], |r| {
            r.get(0)
        })
        .optional()?;
    match v {
        None => Ok(0),
        Some(v) => v
            .parse()
            .map_err(|_| LocalError::Corrupt(format!("last_seq `{v}`"))),
    }
}
