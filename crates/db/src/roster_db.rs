//! A roster's current state in SQLite, the one home of its tables: staff,
//! shift codes, rules and settings as JSON records (`entities`), and every
//! cell (`cells`), each with the stamp of the write that made it. How a
//! roster is loaded from them, written to them change by change or from a
//! snapshot, and the versioned migration runner that brings a file's
//! schema up to date.
//!
//! Both of rota's SQLite files keep rosters here: the hub's store every
//! roster by its name, an editor's local file its one roster under the
//! name [`LOCAL`]. A store of another kind (PostgreSQL) holds the same
//! records in its own tables. Blocking; knows nothing of the network, the
//! change log or the outbox.

use rota_core::domain::{Change, Date, Names, Roster, Seq};
use rota_core::protocol::Snapshot;
use rusqlite::{Connection, Transaction, TransactionBehavior, params};
use std::fmt::Write as _;

/// The tables, as every file of either kind has them.
pub const TABLES: &str = r#"
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
"#;

/// The name an editor's local file keeps its one roster under (the file
/// is per roster).
pub const LOCAL: &str = "";

/// Why a roster could not be read: SQLite failed, or what it holds does not
/// make a roster (a hand-edited or damaged file).
#[derive(Debug)]
pub enum DbError {
    Sqlite(rusqlite::Error),
    Corrupt(String),
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Sqlite(e)
    }
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Sqlite(e) => write!(f, "{e}"),
            DbError::Corrupt(m) => f.write_str(m),
        }
    }
}

/// Loads the records and cells of `roster` (its seq is the caller's: each
/// file keeps it its own way).
pub fn load(conn: &Connection, roster: &str) -> Result<Roster, DbError> {
    let mut out = Loader::default();
    let mut stmt = conn.prepare_cached(
        "SELECT kind, key, value, seq, user, client, at FROM entities WHERE roster = ?1
         ORDER BY seq, kind, key",
    )?;
    let mut rows = stmt.query([roster])?;
    while let Some(row) = rows.next()? {
        let (kind, key, value): (String, String, String) = (row.get(0)?, row.get(1)?, row.get(2)?);
        let stamp = (row.get::<_, i64>(3)?, row.get(4)?, row.get(5)?, row.get(6)?);
        out.record(&kind, &key, &value, stamp)
            .map_err(DbError::Corrupt)?;
    }
    let mut stmt = conn.prepare_cached(
        "SELECT staff, date, code, seq, user, client, at FROM cells WHERE roster = ?1
         ORDER BY staff, date",
    )?;
    let mut rows = stmt.query([roster])?;
    while let Some(row) = rows.next()? {
        let (staff, date, code): (String, String, Option<String>) =
            (row.get(0)?, row.get(1)?, row.get(2)?);
        let stamp = (row.get::<_, i64>(3)?, row.get(4)?, row.get(5)?, row.get(6)?);
        out.cell(staff, &date, code, stamp)
            .map_err(DbError::Corrupt)?;
    }
    Ok(out.finish())
}

/// A stored stamp as read: seq, user, client, time (ms).
pub type StampRow = (i64, String, String, i64);

/// A roster built from stored rows, whichever database they come from:
/// records first (in seq order), then cells. Every stamp's names are
/// shared through one table of names, not allocated a cell at a time.
#[derive(Default)]
pub struct Loader {
    out: Roster,
    names: Names,
}

impl Loader {
    /// A record row: `kind` its entity kind, `value` its JSON.
    pub fn record(
        &mut self,
        kind: &str,
        key: &str,
        value: &str,
        stamp: StampRow,
    ) -> Result<(), String> {
        let change = record_change(kind, key, value)?;
        let (seq, user, client, at) = stamp;
        let stamp = self.names.stamp(seq as Seq, user, client, at);
        self.out.apply_accepted(&change, stamp);
        Ok(())
    }

    /// A cell row (`date` as stored, `YYYY-MM-DD`).
    pub fn cell(
        &mut self,
        staff: String,
        date: &str,
        code: Option<String>,
        stamp: StampRow,
    ) -> Result<(), String> {
        let parsed: Date = date
            .parse()
            .map_err(|m| format!("cell {staff}/{date}: {m}"))?;
        let (seq, user, client, at) = stamp;
        let stamp = self.names.stamp(seq as Seq, user, client, at);
        self.out.apply_accepted(
            &Change::Cell {
                staff,
                date: parsed,
                code,
            },
            stamp,
        );
        Ok(())
    }

    pub fn finish(self) -> Roster {
        self.out
    }
}

/// The change a record stands for: `kind` is its entity kind (staff, code,
/// rule, settings), `value` its JSON.
pub fn record_change(kind: &str, key: &str, value: &str) -> Result<Change, String> {
    let bad = |e: serde_json::Error| format!("{kind} `{key}`: {e}");
    Ok(match kind {
        "staff" => Change::Staff {
            staff: serde_json::from_str(value).map_err(bad)?,
        },
        "code" => Change::Code {
            code: key.to_string(),
            def: Some(serde_json::from_str(value).map_err(bad)?),
        },
        "rule" => Change::Rule {
            id: key.to_string(),
            rule: Some(serde_json::from_str(value).map_err(bad)?),
        },
        "settings" => Change::Settings {
            settings: serde_json::from_str(value).map_err(bad)?,
        },
        "publication" => Change::Publication {
            publication: serde_json::from_str(value).map_err(bad)?,
        },
        "request" => {
            let r: rota_core::domain::Request = serde_json::from_str(value).map_err(bad)?;
            Change::Request {
                staff: r.staff.clone(),
                date: r.date,
                request: Some(r),
            }
        }
        "proposal" => {
            let p: rota_core::domain::Proposed = serde_json::from_str(value).map_err(bad)?;
            Change::Proposal {
                staff: p.staff,
                date: p.date,
                code: Some(p.code),
            }
        }
        other => return Err(format!("unknown record kind `{other}`")),
    })
}

/// A record as JSON. Serialising rota's own types cannot fail; a failure
/// would store `null`, which loading reports as damage.
fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// The stamp a write is stored with: seq, user, client, time (ms).
pub type StampCols<'a> = (Seq, &'a str, &'a str, i64);

/// Writes changes to the tables with prepared statements kept for the
/// whole transaction (a script's edit may hold 100,000 cells).
pub struct Writer<'c> {
    put_cell: rusqlite::CachedStatement<'c>,
    put_entity: rusqlite::CachedStatement<'c>,
    del_entity: rusqlite::CachedStatement<'c>,
    date: String,
}

impl<'c> Writer<'c> {
    pub fn new(conn: &'c Connection) -> rusqlite::Result<Writer<'c>> {
        Ok(Writer {
            put_cell: conn.prepare_cached(
                "INSERT OR REPLACE INTO cells (roster, staff, date, code, seq, user, client, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?,
            put_entity: conn.prepare_cached(
                "INSERT OR REPLACE INTO entities (roster, kind, key, value, seq, user, client, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?,
            del_entity: conn.prepare_cached(
                "DELETE FROM entities WHERE roster = ?1 AND kind = ?2 AND key = ?3",
            )?,
            date: String::with_capacity(10),
        })
    }

    /// Writes one accepted change of `roster` with its stamp.
    pub fn write(
        &mut self,
        roster: &str,
        change: &Change,
        stamp: StampCols<'_>,
    ) -> rusqlite::Result<()> {
        let (seq, user, client, at) = stamp;
        let seq = seq as i64;
        match record_write(change) {
            RecordWrite::Cell { staff, date, code } => {
                self.date.clear();
                // Writing into a String cannot fail.
                let _ = write!(self.date, "{date}");
                self.put_cell.execute(params![
                    roster, staff, self.date, code, seq, user, client, at
                ])?;
            }
            RecordWrite::Put { kind, key, value } => {
                self.put_entity
                    .execute(params![roster, kind, key, value, seq, user, client, at])?;
            }
            RecordWrite::Delete { kind, key } => {
                self.del_entity.execute(params![roster, kind, key])?;
            }
        }
        Ok(())
    }
}

/// What an accepted change does to the tables, whichever database holds
/// them: a cell written (its code, or none), a record put as JSON, or a
/// record deleted.
pub enum RecordWrite<'a> {
    Cell {
        staff: &'a str,
        date: Date,
        code: Option<&'a str>,
    },
    Put {
        kind: &'static str,
        key: std::borrow::Cow<'a, str>,
        value: String,
    },
    Delete {
        kind: &'static str,
        key: std::borrow::Cow<'a, str>,
    },
}

/// The write `change` makes (see [`RecordWrite`]).
pub fn record_write(change: &Change) -> RecordWrite<'_> {
    use std::borrow::Cow::{Borrowed, Owned};
    let put = |kind, key, value| RecordWrite::Put { kind, key, value };
    let target = || Owned(change.target().key());
    match change {
        Change::Cell { staff, date, code } => RecordWrite::Cell {
            staff,
            date: *date,
            code: code.as_deref(),
        },
        Change::Staff { staff } => put("staff", Borrowed(staff.id.as_str()), json(staff)),
        Change::Code {
            code,
            def: Some(def),
        } => put("code", Borrowed(code.as_str()), json(def)),
        Change::Rule {
            id,
            rule: Some(rule),
        } => put("rule", Borrowed(id.as_str()), json(rule)),
        Change::Settings { settings } => put("settings", Borrowed(""), json(settings)),
        Change::Code { code, def: None } => RecordWrite::Delete {
            kind: "code",
            key: Borrowed(code.as_str()),
        },
        Change::Rule { id, rule: None } => RecordWrite::Delete {
            kind: "rule",
            key: Borrowed(id.as_str()),
        },
        Change::Request {
            request: Some(r), ..
        } => put("request", target(), json(r)),
        Change::Request { request: None, .. } => RecordWrite::Delete {
            kind: "request",
            key: target(),
        },
        Change::Proposal {
            staff,
            date,
            code: Some(code),
        } => {
            let p = rota_core::domain::Proposed {
                staff: staff.clone(),
                date: *date,
                code: code.clone(),
                seq: 0,
            };
            put("proposal", target(), json(&p))
        }
        Change::Proposal { code: None, .. } => RecordWrite::Delete {
            kind: "proposal",
            key: target(),
        },
        Change::Publication { publication } => put("publication", target(), json(publication)),
    }
}

/// Replaces everything of `roster` by a snapshot (its records and cells
/// with their seqs; who wrote them is not in a snapshot).
pub fn write_snapshot(tx: &Transaction, roster: &str, snap: &Snapshot) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM entities WHERE roster = ?1", [roster])?;
    tx.execute("DELETE FROM cells WHERE roster = ?1", [roster])?;
    let mut w = Writer::new(tx)?;
    w.write(
        roster,
        &Change::Settings {
            settings: snap.settings.clone(),
        },
        (snap.settings.seq, "", "", 0),
    )?;
    for s in &snap.staff {
        let change = Change::Staff { staff: s.clone() };
        w.write(roster, &change, (s.seq, "", "", 0))?;
    }
    for c in &snap.codes {
        let change = Change::Code {
            code: c.code.clone(),
            def: Some(c.clone()),
        };
        w.write(roster, &change, (c.seq, "", "", 0))?;
    }
    for r in &snap.rules {
        let change = Change::Rule {
            id: r.id.clone(),
            rule: Some(r.clone()),
        };
        w.write(roster, &change, (r.seq, "", "", 0))?;
    }
    for r in &snap.requests {
        let change = Change::Request {
            staff: r.staff.clone(),
            date: r.date,
            request: Some(r.clone()),
        };
        w.write(roster, &change, (r.seq, "", "", 0))?;
    }
    for p in &snap.publications {
        let change = Change::Publication {
            publication: p.clone(),
        };
        w.write(roster, &change, (p.seq, "", "", 0))?;
    }
    for p in &snap.proposals {
        let change = Change::Proposal {
            staff: p.staff.clone(),
            date: p.date,
            code: Some(p.code.clone()),
        };
        w.write(roster, &change, (p.seq, "", "", 0))?;
    }
    for (staff, date, code, seq) in snap.cells.iter() {
        let change = Change::Cell {
            staff: staff.to_string(),
            date: *date,
            code: code.as_deref().map(str::to_string),
        };
        w.write(roster, &change, (*seq, "", "", 0))?;
    }
    Ok(())
}

/// One step of a file's schema: SQL, or what SQL alone cannot do. Each
/// runs in the same transaction as the rest, and the file's
/// `user_version` counts the steps done.
pub enum Migration<E> {
    Sql(&'static str),
    Code(fn(&Transaction) -> Result<(), E>),
}

/// Brings the file's schema up to date with `steps`, all in one exclusive
/// transaction: a crash leaves it as it was. A file newer than this build
/// knows is refused with `too_new(found, known)`.
pub fn migrate<E: From<rusqlite::Error>>(
    conn: &mut Connection,
    steps: &[Migration<E>],
    too_new: fn(i64, i64) -> E,
) -> Result<(), E> {
    let known = steps.len() as i64;
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > known {
        return Err(too_new(found, known));
    }
    if found == known {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    for (i, step) in steps.iter().enumerate().skip(found as usize) {
        match step {
            Migration::Sql(sql) => tx.execute_batch(sql)?,
            Migration::Code(run) => run(&tx)?,
        }
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rota_core::domain::{Op, ShiftCode};

    fn d(s: &str) -> Date {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    /// What is written change by change, or as a snapshot, loads back as
    /// the same roster, under its own name only.
    #[test]
    fn a_roster_written_loads_back_the_same_by_either_way() {
        let mut r = Roster::default();
        let ops = vec![
            Op::PutCode {
                code: ShiftCode::new("D", 8.0, true),
                base: None,
            },
            Op::AddStaff {
                id: "s1".into(),
                name: "Ann".into(),
                group: "Nurses".into(),
                order: None,
            },
            Op::SetCell {
                staff: "s1".into(),
                date: d("2026-12-01"),
                code: Some("D".into()),
                base: 0,
            },
        ];
        let author = rota_core::domain::Author {
            user: "ann".into(),
            client: "c1".into(),
        };
        let applied = r.apply_batch(&ops, &author, 5).expect("valid");
        let mut conn = Connection::open_in_memory().expect("memory");
        conn.execute_batch(TABLES).expect("tables");
        let tx = conn.transaction().expect("tx");
        let mut w = Writer::new(&tx).expect("writer");
        for rec in &applied.changes {
            w.write("a", &rec.change, (applied.seq, "ann", "c1", 5))
                .expect("written");
        }
        drop(w);
        write_snapshot(&tx, "b", &Snapshot::of(&r)).expect("snapshot");
        tx.commit().expect("commit");
        for name in ["a", "b"] {
            let mut back = load(&conn, name).expect("loads");
            back.set_seq(r.seq());
            assert_eq!(Snapshot::of(&back), Snapshot::of(&r), "{name}");
        }
        assert!(load(&conn, "c").expect("loads").staff().is_empty());
    }
}
