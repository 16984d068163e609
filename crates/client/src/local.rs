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
use rota_core::domain::{Op, Roster, Seq};
use rota_core::protocol::{ChangeSet, Snapshot};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::fmt;
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
            LocalError::Sqlite { err, .. } => rota_db::sqlite_file::is_damage(err),
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

/// The tables of a local file beside the roster's (see
/// [`rota_db::roster_db`]): the last seq, the editors sharing the file, and
/// each one's outbox.
const LOCAL_TABLES: &str = "
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE clients(
    slot INTEGER PRIMARY KEY, client_id TEXT NOT NULL UNIQUE, next_op_id INTEGER NOT NULL);
CREATE TABLE outbox(
    client_id TEXT NOT NULL, op_id INTEGER NOT NULL, ops TEXT NOT NULL, note TEXT,
    state TEXT NOT NULL, created INTEGER NOT NULL, force INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY(client_id, op_id)) WITHOUT ROWID;
";

/// The file's schema, step by step (its `user_version` counts them).
const MIGRATIONS: &[rota_db::roster_db::Migration<LocalError>] =
    &[rota_db::roster_db::Migration::Code(schema_1)];

/// Schema 1: the roster's tables shared with the hub, and the local ones.
/// A file made before schemas were numbered (its roster in `records` and a
/// `cells` without a roster column) is brought over, queue and all.
fn schema_1(tx: &Transaction) -> Result<()> {
    let has = |table: &str| -> rusqlite::Result<bool> {
        tx.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")?
            .exists([table])
    };
    if !has("records")? {
        tx.execute_batch(rota_db::roster_db::TABLES)?;
        tx.execute_batch(LOCAL_TABLES)?;
        return Ok(());
    }
    let has_force = tx
        .prepare("SELECT 1 FROM pragma_table_info('outbox') WHERE name = 'force'")?
        .exists([])?;
    if !has_force {
        tx.execute_batch("ALTER TABLE outbox ADD COLUMN force INTEGER NOT NULL DEFAULT 0")?;
    }
    tx.execute_batch("ALTER TABLE cells RENAME TO cells_unnumbered")?;
    tx.execute_batch(rota_db::roster_db::TABLES)?;
    tx.execute(
        "INSERT INTO entities (roster, kind, key, value, seq, user, client, at)
         SELECT ?1, entity, key, json, seq, user, client, at FROM records",
        [rota_db::roster_db::LOCAL],
    )?;
    tx.execute(
        "INSERT INTO cells (roster, staff, date, code, seq, user, client, at)
         SELECT ?1, staff, date, code, seq, user, client, at FROM cells_unnumbered",
        [rota_db::roster_db::LOCAL],
    )?;
    tx.execute_batch("DROP TABLE records; DROP TABLE cells_unnumbered;")?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<()> {
    rota_db::roster_db::migrate(conn, MIGRATIONS, |found, known| {
        LocalError::Corrupt(format!(
            "it was written by a newer rota (schema {found}; this one knows {known}): update rota"
        ))
    })
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
        match rota_db::sqlite_file::is_empty(path) {
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
        let mut conn = conn;
        check_tables(&conn)
            .and_then(|()| migrate(&mut conn))
            .map_err(|e| match e {
                LocalError::Sqlite { err, .. } => sql(err),
                other => other,
            })?;
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
    /// A value this client keeps for itself beside the roster (what a
    /// member of staff last saw of their shifts), by key.
    pub fn kept(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [format!("kept:{key}")],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Keeps `value` under `key` (see [`LocalStore::kept`]).
    pub fn keep(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
            rusqlite::params![format!("kept:{key}"), value],
        )?;
        Ok(())
    }

    pub fn load_roster(&self) -> Result<Roster> {
        let seq = last_seq_in(&self.conn).map_err(|e| match e {
            LocalError::Sqlite { err, .. } => self.err(err),
            other => other,
        })?;
        let mut roster = rota_db::roster_db::load(&self.conn, rota_db::roster_db::LOCAL).map_err(
            |e| match e {
                rota_db::roster_db::DbError::Sqlite(e) => self.err(e),
                rota_db::roster_db::DbError::Corrupt(m) => LocalError::Corrupt(m),
            },
        )?;
        roster.set_seq(seq);
        roster.compact();
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
                let mut w = rota_db::roster_db::Writer::new(tx)?;
                for change in &cs.changes {
                    w.write(rota_db::roster_db::LOCAL, change, stamp)?;
                }
                drop(w);
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
    rota_db::roster_db::write_snapshot(tx, rota_db::roster_db::LOCAL, snap)?;
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

/// All of rota's tables are there: those every local file has had, and
/// its roster's (as schema 1 has them, or as files made before it did).
/// An empty or foreign SQLite file, or one cut short, is damaged.
fn check_tables(conn: &Connection) -> Result<()> {
    let has = |t: &str| -> Result<bool> {
        Ok(conn
            .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")?
            .exists([t])?)
    };
    let mut missing = Vec::new();
    for t in ["meta", "cells", "clients", "outbox"] {
        if !has(t)? {
            missing.push(t);
        }
    }
    if !has("entities")? && !has("records")? {
        missing.push("entities");
    }
    match missing.len() {
        0 => Ok(()),
        5 => Err(LocalError::Corrupt("it holds none of rota's tables".into())),
        n => Err(LocalError::Corrupt(format!(
            "{n} of rota's 5 tables are missing ({})",
            missing.join(", ")
        ))),
    }
}

/// Makes a new local file whole (see [`rota_db::sqlite_file::create_whole`]),
/// holding what was salvaged from a damaged one.
fn create_whole(path: &Path, salvage: &Salvage) -> Result<()> {
    rota_db::sqlite_file::create_whole(path, |conn| {
        migrate(conn)?;
        let tx = conn.transaction()?;
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
        Ok(tx.commit()?)
    })
    .map_err(|e| match e {
        rota_db::sqlite_file::MakeError::Open(path, err) => LocalError::Sqlite { path, err },
        rota_db::sqlite_file::MakeError::Init(path, LocalError::Sqlite { err, .. }) => {
            LocalError::Sqlite { path, err }
        }
        rota_db::sqlite_file::MakeError::Init(_, other) => other,
        rota_db::sqlite_file::MakeError::Io(path, err) => LocalError::Io {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A file made before its schema was numbered (the roster in `records`
    /// and a `cells` of its own, an outbox without `force`) is brought
    /// over on open: its roster, its client and its queued edit kept.
    #[test]
    fn a_file_from_before_numbered_schemas_is_brought_over_whole() {
        let dir = tempfile::tempdir().expect("a dir");
        let path = dir.path().join("old.sqlite3");
        let conn = Connection::open(&path).expect("opens");
        conn.execute_batch(
            r#"
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE records(
    entity TEXT NOT NULL, key TEXT NOT NULL, json TEXT NOT NULL,
    seq INTEGER NOT NULL, user TEXT NOT NULL, client TEXT NOT NULL, at INTEGER NOT NULL,
    PRIMARY KEY(entity, key)) WITHOUT ROWID;
CREATE TABLE cells(
    staff TEXT NOT NULL, date TEXT NOT NULL, code TEXT,
    seq INTEGER NOT NULL, user TEXT NOT NULL, client TEXT NOT NULL, at INTEGER NOT NULL,
    PRIMARY KEY(staff, date)) WITHOUT ROWID;
CREATE TABLE clients(
    slot INTEGER PRIMARY KEY, client_id TEXT NOT NULL UNIQUE, next_op_id INTEGER NOT NULL);
CREATE TABLE outbox(
    client_id TEXT NOT NULL, op_id INTEGER NOT NULL, ops TEXT NOT NULL, note TEXT,
    state TEXT NOT NULL, created INTEGER NOT NULL,
    PRIMARY KEY(client_id, op_id)) WITHOUT ROWID;
INSERT INTO meta VALUES ('last_seq', '2');
INSERT INTO records VALUES ('staff', 's1', '{"id":"s1","name":"Ann","group":"","order":0}', 1, 'admin', 'c-a', 10);
INSERT INTO records VALUES ('code', 'D', '{"code":"D","hours":8.0}', 1, 'admin', 'c-a', 10);
INSERT INTO cells VALUES ('s1', '2026-12-01', 'D', 2, 'ann', 'c-ann', 20);
INSERT INTO clients VALUES (0, 'c0123', 5);
INSERT INTO outbox VALUES ('c0123', 4, '[{"op":"set_cell","staff":"s1","date":"2026-12-02","code":"D","base":0}]', NULL, '{"state":"pending"}', 30);
"#,
        )
        .expect("an old file");
        drop(conn);
        let store = LocalStore::open(&path).expect("brought over");
        assert_eq!(store.client_id(), "c0123");
        let roster = store.load_roster().expect("loads");
        assert_eq!(roster.seq(), 2);
        let date: rota_core::domain::Date = "2026-12-01".parse().expect("a date");
        let (code, stamp) = roster.cell("s1", date).expect("the cell");
        assert_eq!((code, &*stamp.user), (Some("D"), "ann"));
        let queued = store.load_outbox().expect("the queue");
        assert_eq!(
            (queued.len(), queued[0].op_id, queued[0].force),
            (1, 4, false)
        );
        // Opened again (another editor, a restart): nothing to do.
        drop(store);
        assert!(LocalStore::open(&path).is_ok());
    }
}
