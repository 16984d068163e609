//! Reads of the database: a roster loaded and checked, catch-up from the
//! change log, history pages, lists. Each runs on any client (a writer's
//! transaction, or a reader's connection, in a read-only transaction).

use super::super::batch::{check_loaded, decode_changes};
use super::super::history::{self, Page};
use super::super::{Result, StoreError};
use super::{Col, Conn};
use postgres::{GenericClient, IsolationLevel};
use rota_core::domain::{Change, Roster, Seq, View};
use rota_core::protocol::{ChangeSet, HistoryEntry, HistoryQuery, RosterInfo};
use rota_db::roster_db::Loader;

/// A reader thread's connection.
pub struct Reader {
    conn: Conn,
}

impl Reader {
    pub fn connect(url: &str) -> Result<Reader> {
        Ok(Reader {
            conn: Conn::open(url)?,
        })
    }

    /// Runs `read` in one read-only transaction: one view of the database.
    /// A connection the database dropped since the last read (a restart)
    /// is found out only by using it: the read is then made once more, on
    /// a new connection.
    fn read<T>(&mut self, read: impl Fn(&mut postgres::Transaction) -> Result<T>) -> Result<T> {
        match self.read_once(&read) {
            Err(e) if e.is_unreachable() && self.conn.client.is_closed() => self.read_once(&read),
            other => other,
        }
    }

    fn read_once<T>(
        &mut self,
        read: &impl Fn(&mut postgres::Transaction) -> Result<T>,
    ) -> Result<T> {
        let mut tx = self
            .conn
            .live()?
            .0
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let out = read(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }

    pub fn history(
        &mut self,
        roster: &str,
        q: &HistoryQuery,
        view: View,
    ) -> Result<(Vec<HistoryEntry>, Option<String>)> {
        self.read(|tx| history(tx, roster, q, view))
    }

    pub fn list_rosters(&mut self) -> Result<Vec<RosterInfo>> {
        self.read(|tx| list_rosters(tx))
    }

    pub fn load_roster(&mut self, name: &str) -> Result<Roster> {
        self.read(|tx| load_roster(tx, name))
    }

    /// Who used `client` in the change log under another name than `user`.
    pub fn other_user_of_client(&mut self, client: &str, user: &str) -> Result<Option<String>> {
        self.read(|tx| {
            let used: bool = tx
                .query_one(
                    "SELECT EXISTS(SELECT 1 FROM answers WHERE client = $1)",
                    &[&client],
                )?
                .col(0)?;
            if !used {
                return Ok(None);
            }
            tx.query_opt(
                r#"SELECT "user" FROM batches WHERE client = $1 AND "user" <> $2 LIMIT 1"#,
                &[&client, &user],
            )?
            .map(|r| r.col(0))
            .transpose()
        })
    }
}

/// Loads a roster's records and cells and its seq, and checks them.
pub(super) fn load_roster(db: &mut impl GenericClient, name: &str) -> Result<Roster> {
    let Some(seq) = db.query_opt("SELECT seq FROM rosters WHERE name = $1", &[&name])? else {
        return Ok(Roster::default());
    };
    let seq: i64 = seq.col(0)?;
    let mut out = Loader::default();
    let rows = db.query(
        r#"SELECT kind, key, value, seq, "user", client, at FROM entities WHERE roster = $1
           ORDER BY seq, kind COLLATE "C", key COLLATE "C""#,
        &[&name],
    )?;
    for r in rows {
        let stamp = (r.col(3)?, r.col(4)?, r.col(5)?, r.col(6)?);
        out.record(r.col(0)?, r.col(1)?, r.col(2)?, stamp)
            .map_err(StoreError::Corrupt)?;
    }
    let rows = db.query(
        r#"SELECT staff, date, code, seq, "user", client, at FROM cells WHERE roster = $1
           ORDER BY staff COLLATE "C", date COLLATE "C""#,
        &[&name],
    )?;
    for r in rows {
        let stamp = (r.col(3)?, r.col(4)?, r.col(5)?, r.col(6)?);
        out.cell(r.col(0)?, r.col(1)?, r.col(2)?, stamp)
            .map_err(StoreError::Corrupt)?;
    }
    let mut roster = out.finish();
    roster.set_seq(seq as Seq);
    check_loaded(&roster, name)?;
    Ok(roster)
}

pub(super) fn changes_since(
    db: &mut impl GenericClient,
    roster: &str,
    seq: Seq,
    max_changes: usize,
) -> Result<Option<Vec<ChangeSet>>> {
    let after = seq.min(i64::MAX as Seq) as i64;
    // The counts first: a long gap is answered without reading its batches.
    let total: i64 = db
        .query_one(
            "SELECT CAST(coalesce(sum(count), 0) AS BIGINT) FROM batches WHERE roster = $1 AND seq > $2",
            &[&roster, &after],
        )?
        .col(0)?;
    if total as usize > max_changes {
        return Ok(None);
    }
    let rows = db.query(
        r#"SELECT seq, "user", client, op_id, at, note, changes FROM batches
           WHERE roster = $1 AND seq > $2 ORDER BY seq"#,
        &[&roster, &after],
    )?;
    let mut sets = Vec::with_capacity(rows.len());
    for r in rows {
        let seq = r.col::<i64>(0)? as Seq;
        let logged: Vec<(Change, serde::de::IgnoredAny)> = decode_changes(seq, r.col(6)?)?;
        sets.push(ChangeSet {
            seq,
            user: r.col(1)?,
            client: r.col(2)?,
            op_id: r.col::<i64>(3)? as u64,
            at: r.col(4)?,
            note: r.col(5)?,
            changes: logged.into_iter().map(|(c, _)| c).collect(),
        });
    }
    Ok(Some(sets))
}

/// One page of the change log, newest first: the spans of seqs that may
/// hold a match (found by staff or date in history's index), their
/// batches newest first, each batch's changes offered to the page.
pub(super) fn history(
    db: &mut impl GenericClient,
    roster: &str,
    q: &HistoryQuery,
    view: View,
) -> Result<(Vec<HistoryEntry>, Option<String>)> {
    let publishes: bool = db
        .query_one(
            "SELECT EXISTS(SELECT 1 FROM entities WHERE roster = $1 AND kind = 'publication')",
            &[&roster],
        )?
        .col(0)?;
    let mut page = Page::new(q, view, publishes);
    let top = page.top();
    let (from, to) = (q.from.map(|d| d.to_string()), q.to.map(|d| d.to_string()));
    let spans: Vec<(i64, i64)> = {
        let rows = if let (Some(staff), Some(date)) = (&q.staff, q.date) {
            db.query(
                "SELECT s.first, s.last FROM batch_staff s
                 WHERE s.roster = $1 AND s.staff = $2 AND s.first <= $3
                   AND EXISTS (SELECT 1 FROM batch_dates d
                               WHERE d.roster = $1 AND d.date = $4 AND d.first = s.first)
                 ORDER BY s.first DESC",
                &[&roster, staff, &top, &date.to_string()],
            )?
        } else if let Some(staff) = &q.staff {
            db.query(
                "SELECT first, last FROM batch_staff WHERE roster = $1 AND staff = $2 AND first <= $3
                 ORDER BY first DESC",
                &[&roster, staff, &top],
            )?
        } else if let Some(date) = q.date {
            db.query(
                "SELECT first, last FROM batch_dates WHERE roster = $1 AND date = $2 AND first <= $3
                 ORDER BY first DESC",
                &[&roster, &date.to_string(), &top],
            )?
        } else if from.is_some() || to.is_some() {
            db.query(
                "SELECT DISTINCT first, last FROM batch_dates WHERE roster = $1 AND first <= $2
                 AND ($3::text IS NULL OR date >= $3) AND ($4::text IS NULL OR date <= $4)
                 ORDER BY first DESC",
                &[&roster, &top, &from, &to],
            )?
        } else {
            Vec::new()
        };
        if q.staff.is_none() && q.date.is_none() && from.is_none() && to.is_none() {
            vec![(0, top)]
        } else {
            rows.iter()
                .map(|r| Ok((r.col(0)?, r.col(1)?)))
                .collect::<Result<_>>()?
        }
    };
    let batches = db.prepare(
        r#"SELECT seq, "user", client, op_id, at, note, changes FROM batches
           WHERE roster = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq DESC"#,
    )?;
    'spans: for (first, last) in spans {
        // A portal, so a span of many batches is read a few at a time, as
        // the page needs them.
        let mut rows = db.query_raw(
            &batches,
            [
                &roster as &(dyn postgres::types::ToSql + Sync),
                &first,
                &last.min(top),
            ],
        )?;
        while let Some(row) = postgres::fallible_iterator::FallibleIterator::next(&mut rows)? {
            let seq: i64 = row.col(0)?;
            let by = history::Author {
                user: row.col(1)?,
                client: row.col(2)?,
                op_id: row.col(3)?,
                at: row.col(4)?,
                note: row.col(5)?,
            };
            let logged: Vec<(Change, serde_json::Value)> = decode_changes(seq as Seq, row.col(6)?)?;
            let below = page.below(seq).unwrap_or(usize::MAX);
            for (idx, (change, before)) in logged.into_iter().enumerate().rev() {
                if idx < below && !page.offer(seq, idx, change, before, &by) {
                    break 'spans;
                }
            }
        }
    }
    Ok(page.finish())
}

pub(super) fn list_rosters(db: &mut impl GenericClient) -> Result<Vec<RosterInfo>> {
    let rows = db.query(
        "SELECT name, seq,
            (SELECT count(*) FROM entities e WHERE e.roster = r.name AND e.kind = 'staff'),
            (SELECT count(*) FROM cells c WHERE c.roster = r.name AND c.code IS NOT NULL)
         FROM rosters r ORDER BY name",
        &[],
    )?;
    rows.iter()
        .map(|r| {
            Ok(RosterInfo {
                name: r.col(0)?,
                seq: r.col::<i64>(1)? as Seq,
                staff: r.col::<i64>(2)? as usize,
                cells: r.col::<i64>(3)? as usize,
            })
        })
        .collect()
}
