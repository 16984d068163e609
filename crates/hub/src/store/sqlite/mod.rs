//! The store in SQLite files (the default): one file (WAL,
//! `synchronous=FULL`) holding every roster's current state, the change log
//! and the answers given to each batch. Owns the schema and its migrations.
//!
//! One room a seam: [`schema`] (the tables and the migrations that made
//! them), [`write`] (a group of batches committed as one transaction: the
//! roster's rows, the change log, the answers), [`log`] (how a batch is
//! laid out in the change log, in parts), [`read`] (history and catch-up
//! from the log, rosters loaded and checked).

use super::batch::*;
use super::history::{self, Page};
use super::{AnswerKey, Result, StoreError, StoredAnswer};
use rota_core::domain::{Applied, Author, Change, Date, Roster, Seq, View};
use rota_core::protocol::{ChangeSet, HistoryEntry, HistoryQuery, RosterInfo};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::BTreeSet;
use std::path::Path;

mod export;
mod log;
mod read;
mod schema;
#[cfg(test)]
mod tests;
mod write;

use log::*;
use read::*;
pub use read::{Reader, load_roster_at, load_roster_in, other_user_of_client};
use schema::*;

/// Most changes a batch keeps in its `changes` column, and in each part of a
/// larger batch.
const PART_CHANGES: usize = 64;
/// Fewest changes in a part that ends with a run (not the batch).
const MIN_PART_CHANGES: usize = 16;

/// SQLite page cache of the hub's store, in KiB.
const CACHE_KIB: i64 = 64 * 1024;

pub struct Store {
    conn: Connection,
    path: std::path::PathBuf,
    /// The cap on the file and its WAL together, if any.
    max_bytes: Option<u64>,
    /// Whether another writer may write the file too (the simulation's
    /// second hub): groups then claim a roster as on a shared database.
    shared: bool,
}

/// One group commit: many batches, one transaction, one fsync.
pub struct Group<'a> {
    tx: rusqlite::Transaction<'a>,
    /// See [`Store::share`].
    shared: bool,
    /// What this group did to each roster, written once at commit rather
    /// than once per batch: its seq, and history's index.
    touched: std::cell::RefCell<Vec<Touched>>,
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
            shared: false,
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

    /// Lets another writer write the file too (the simulation's second
    /// hub): each group's claim of a roster then reads its stored seq, in
    /// the group's transaction, which holds the file's write lock.
    #[cfg(test)]
    pub fn share(&mut self) {
        self.shared = true;
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
            shared: self.shared,
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
        changes_in(&self.conn, roster, seq, max_changes)
    }

    /// One page of the change log, newest first, read on the writer's own
    /// connection: for tests; the hub reads with [`Reader::history`].
    #[cfg(test)]
    pub fn history(
        &self,
        roster: &str,
        q: &HistoryQuery,
    ) -> Result<(Vec<HistoryEntry>, Option<String>)> {
        Reads(&self.conn).history(roster, q, View::Draft)
    }

    /// Every roster, with its seq and counts.
    pub fn list_rosters(&self) -> Result<Vec<RosterInfo>> {
        Reads(&self.conn).list_rosters()
    }

    /// Every roster this file holds anything of: state, or only answers
    /// (a roster whose every edit was refused or changed nothing).
    pub fn roster_names(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM rosters UNION SELECT DISTINCT roster FROM answers")?;
        let names = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(names)
    }
}

/// The batches of `roster` after `seq` on `conn`, in order, or None when
/// they hold more than `max_changes` changes.
pub(super) fn changes_in(
    conn: &Connection,
    roster: &str,
    seq: Seq,
    max_changes: usize,
) -> Result<Option<Vec<ChangeSet>>> {
    // The counts first: a long gap is answered without reading its batches.
    let total: i64 = conn.query_row(
        "SELECT coalesce(sum(count), 0) FROM batches WHERE roster = ?1 AND seq > ?2",
        params![roster, seq as i64],
        |r| r.get(0),
    )?;
    if total as usize > max_changes {
        return Ok(None);
    }
    let mut stmt = conn.prepare_cached(
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
        let logged = stored.read_all::<serde::de::IgnoredAny>(conn)?;
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
