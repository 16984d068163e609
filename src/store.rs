//! The hub's durable store: one SQLite file (WAL, `synchronous=FULL`) holding
//! every roster's current state, the change log and the answers given to each
//! batch (for idempotent resends). Owns the schema and its migrations. Knows
//! nothing of sockets or tasks: the server's writer thread is its only user.

use crate::domain::{Applied, Author, Change, Date, Roster, Seq, Stamp, Target};
use crate::protocol::{ChangeSet, HistoryEntry, HistoryQuery, MAX_HISTORY_PAGE, RosterInfo};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

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
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE rosters (
    name       TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
-- Staff, shift codes, rules and settings: the current record as JSON.
CREATE TABLE entities (
    roster TEXT NOT NULL,
    kind   TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    user   TEXT NOT NULL,
    client TEXT NOT NULL,
    at     INTEGER NOT NULL,
    PRIMARY KEY (roster, kind, key)
) WITHOUT ROWID;
CREATE TABLE cells (
    roster TEXT NOT NULL,
    staff  TEXT NOT NULL,
    date   TEXT NOT NULL,
    code   TEXT,
    seq    INTEGER NOT NULL,
    user   TEXT NOT NULL,
    client TEXT NOT NULL,
    at     INTEGER NOT NULL,
    PRIMARY KEY (roster, staff, date)
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
"#];

/// SQLite page cache of the hub's store, in KiB.
const CACHE_KIB: i64 = 64 * 1024;

pub struct Store {
    conn: Connection,
}

/// One group commit: many batches, one transaction, one fsync.
pub struct Group<'a> {
    tx: rusqlite::Transaction<'a>,
}

impl Store {
    /// Opens (creating or migrating) the store at `path`.
    pub fn open(path: &Path) -> Result<Store> {
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
        migrate(&mut conn)?;
        Ok(Store { conn })
    }

    /// Caps the database at about `bytes`: a write past it fails (as on a full
    /// disk) and its whole group is refused, leaving what is stored intact.
    pub fn set_max_bytes(&self, bytes: u64) -> Result<()> {
        let page: i64 = self
            .conn
            .pragma_query_value(None, "page_size", |r| r.get(0))?;
        let pages = (bytes / page.max(512) as u64).max(1) as i64;
        self.conn.pragma_update(None, "max_page_count", pages)?;
        Ok(())
    }

    pub fn group(&mut self) -> Result<Group<'_>> {
        Ok(Group {
            tx: self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?,
        })
    }

    /// Loads a roster's current state; an unknown roster loads empty.
    pub fn load_roster(&self, name: &str) -> Result<Roster> {
        load_roster_from(&self.conn, name)
    }

    /// The batches after `seq`, in order, or `None` when there are more than
    /// `max_changes` changes (a snapshot is then cheaper).
    pub fn changes_since(
        &self,
        roster: &str,
        seq: Seq,
        max_changes: usize,
    ) -> Result<Option<Vec<ChangeSet>>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, entity, key, staff, date, after, user, client, op_id, at, note
             FROM changes WHERE roster = ?1 AND seq > ?2 ORDER BY seq, idx LIMIT ?3",
        )?;
        let mut rows = stmt.query(params![roster, seq as i64, (max_changes + 1) as i64])?;
        let mut sets: Vec<ChangeSet> = Vec::new();
        let mut count = 0;
        while let Some(row) = rows.next()? {
            count += 1;
            if count > max_changes {
                return Ok(None);
            }
            let seq = row.get::<_, i64>(0)? as Seq;
            let date = row
                .get::<_, Option<String>>(4)?
                .map(|d| parse_date(&d))
                .transpose()?;
            let change = change_from_row(
                &row.get::<_, String>(1)?,
                &row.get::<_, String>(2)?,
                row.get::<_, Option<String>>(3)?,
                date,
                &row.get::<_, String>(5)?,
            )?;
            match sets.last_mut() {
                Some(set) if set.seq == seq => set.changes.push(change),
                _ => sets.push(ChangeSet {
                    seq,
                    user: row.get(6)?,
                    client: row.get(7)?,
                    op_id: row.get::<_, i64>(8)? as u64,
                    at: row.get(9)?,
                    note: row.get(10)?,
                    changes: vec![change],
                }),
            }
        }
        Ok(Some(sets))
    }

    /// One page of the change log, newest first.
    pub fn history(
        &self,
        roster: &str,
        q: &HistoryQuery,
    ) -> Result<(Vec<HistoryEntry>, Option<String>)> {
        let mut sql = String::from(
            "SELECT seq, idx, entity, key, staff, date, before, after, user, client, op_id, at, note
             FROM changes WHERE roster = ?",
        );
        let mut args: Vec<rusqlite::types::Value> = vec![roster.to_string().into()];
        if let Some(staff) = &q.staff {
            sql.push_str(" AND staff = ?");
            args.push(staff.clone().into());
        }
        if let Some(date) = q.date {
            sql.push_str(" AND date = ?");
            args.push(date.to_string().into());
        }
        if let Some(from) = q.from {
            sql.push_str(" AND date >= ?");
            args.push(from.to_string().into());
        }
        if let Some(to) = q.to {
            sql.push_str(" AND date <= ?");
            args.push(to.to_string().into());
        }
        if let Some((seq, idx)) = q.before.as_deref().and_then(parse_cursor) {
            sql.push_str(" AND (seq < ? OR (seq = ? AND idx < ?))");
            args.extend([seq.into(), seq.into(), idx.into()]);
        }
        let limit = q.limit.unwrap_or(100).clamp(1, MAX_HISTORY_PAGE) as usize;
        sql.push_str(" ORDER BY seq DESC, idx DESC LIMIT ?");
        args.push(((limit + 1) as i64).into());
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        let mut entries = Vec::new();
        let mut next = None;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let idx: i64 = row.get(1)?;
            if entries.len() == limit {
                break;
            }
            next = Some(format!("{seq}:{idx}"));
            entries.push(HistoryEntry {
                seq: seq as Seq,
                entity: row.get(2)?,
                key: row.get(3)?,
                staff: row.get(4)?,
                date: row
                    .get::<_, Option<String>>(5)?
                    .map(|d| parse_date(&d))
                    .transpose()?,
                before: parse_json(&row.get::<_, String>(6)?)?,
                after: parse_json(&row.get::<_, String>(7)?)?,
                user: row.get(8)?,
                client: row.get(9)?,
                op_id: row.get::<_, i64>(10)? as u64,
                at: row.get(11)?,
                note: row.get(12)?,
            });
        }
        if entries.len() < limit {
            next = None;
        }
        Ok((entries, next))
    }

    pub fn list_rosters(&self) -> Result<Vec<RosterInfo>> {
        let mut stmt = self.conn.prepare(
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
    /// The answer given earlier to this batch, if any.
    pub fn find_answer(&self, client: &str, op_id: u64) -> Result<Option<String>> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT answer FROM answers WHERE client = ?1 AND op_id = ?2")?;
        Ok(stmt
            .query_row(params![client, op_id as i64], |r| r.get(0))
            .optional()?)
    }

    pub fn put_answer(
        &self,
        client: &str,
        op_id: u64,
        roster: &str,
        answer: &str,
        at: i64,
    ) -> Result<()> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT OR REPLACE INTO answers (client, op_id, roster, answer, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        stmt.execute(params![client, op_id as i64, roster, answer, at])?;
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
        let mut put_roster = self.tx.prepare_cached(
            "INSERT INTO rosters (name, seq, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
        )?;
        put_roster.execute(params![roster, seq, at])?;
        let mut put_cell = self.tx.prepare_cached(
            "INSERT OR REPLACE INTO cells (roster, staff, date, code, seq, user, client, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let mut put_entity = self.tx.prepare_cached(
            "INSERT OR REPLACE INTO entities (roster, kind, key, value, seq, user, client, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let mut del_entity = self
            .tx
            .prepare_cached("DELETE FROM entities WHERE roster = ?1 AND kind = ?2 AND key = ?3")?;
        let mut log = self.tx.prepare_cached(
            "INSERT INTO changes (roster, seq, idx, entity, key, staff, date, before, after, user, client, op_id, at, note)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )?;
        for (idx, rec) in applied.changes.iter().enumerate() {
            let entity = rec.target.entity();
            let key = rec.target.key();
            let after = after_json(&rec.change);
            let (staff, date) = match &rec.target {
                Target::Cell { staff, date } => (Some(staff.as_str()), Some(date.to_string())),
                Target::Staff { id } => (Some(id.as_str()), None),
                _ => (None, None),
            };
            match &rec.change {
                Change::Cell { staff, date, code } => {
                    put_cell.execute(params![
                        roster,
                        staff,
                        date.to_string(),
                        code,
                        seq,
                        user,
                        client,
                        at
                    ])?;
                }
                Change::Code { def: None, .. } | Change::Rule { rule: None, .. } => {
                    del_entity.execute(params![roster, entity, key])?;
                }
                _ => {
                    put_entity
                        .execute(params![roster, entity, key, after, seq, user, client, at])?;
                }
            }
            log.execute(params![
                roster,
                seq,
                idx as i64,
                entity,
                key,
                staff,
                date,
                rec.before.to_string(),
                after,
                user,
                client,
                op_id as i64,
                at,
                note
            ])?;
        }
        Ok(())
    }

    pub fn commit(self) -> Result<()> {
        Ok(self.tx.commit()?)
    }
}

fn load_roster_from(conn: &Connection, name: &str) -> Result<Roster> {
    let mut roster = Roster::default();
    let seq: Option<i64> = conn
        .query_row("SELECT seq FROM rosters WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?;
    let Some(seq) = seq else { return Ok(roster) };
    let mut names = Interner::default();
    let mut stmt = conn.prepare(
        "SELECT kind, key, value, seq, user, client, at FROM entities WHERE roster = ?1",
    )?;
    let mut rows = stmt.query([name])?;
    while let Some(row) = rows.next()? {
        let kind: String = row.get(0)?;
        let key: String = row.get(1)?;
        let value: String = row.get(2)?;
        let change = change_from_row(&kind, &key, None, None, &value)?;
        roster.apply_accepted(
            &change,
            names.stamp(row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?),
        );
    }
    let mut stmt = conn
        .prepare("SELECT staff, date, code, seq, user, client, at FROM cells WHERE roster = ?1")?;
    let mut rows = stmt.query([name])?;
    while let Some(row) = rows.next()? {
        let staff: String = row.get(0)?;
        let date = parse_date(&row.get::<_, String>(1)?)?;
        let code: Option<String> = row.get(2)?;
        let stamp = names.stamp(row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?);
        roster.apply_accepted(&Change::Cell { staff, date, code }, stamp);
    }
    roster.set_seq(seq as Seq);
    Ok(roster)
}

/// Loads a roster inside a group commit (it sees the group's own writes).
pub fn load_roster_in(group: &Group, name: &str) -> Result<Roster> {
    load_roster_from(&group.tx, name)
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let known = MIGRATIONS.len() as i64;
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    tx.commit()?;
    Ok(())
}

/// The JSON kept as a change's `after`: a code (or null) for a cell, the
/// record (or null) for the others.
fn after_json(change: &Change) -> String {
    let v = match change {
        Change::Cell { code, .. } => serde_json::to_value(code),
        Change::Staff { staff } => serde_json::to_value(staff),
        Change::Code { def, .. } => serde_json::to_value(def),
        Change::Rule { rule, .. } => serde_json::to_value(rule),
        Change::Settings { settings } => serde_json::to_value(settings),
    };
    v.unwrap_or_default().to_string()
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

fn parse_cursor(s: &str) -> Option<(i64, i64)> {
    let (a, b) = s.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Shares one `Arc<str>` per distinct user and client name while loading.
#[derive(Default)]
struct Interner(HashMap<String, Arc<str>>);

impl Interner {
    fn get(&mut self, s: String) -> Arc<str> {
        if let Some(a) = self.0.get(&s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s.as_str());
        self.0.insert(s, a.clone());
        a
    }
    fn stamp(&mut self, seq: i64, user: String, client: String, at: i64) -> Stamp {
        Stamp {
            seq: seq as Seq,
            user: self.get(user),
            client: self.get(client),
            at,
        }
    }
}
