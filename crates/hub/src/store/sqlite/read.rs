//! Reads: history pages and catch-up from the change log, rosters loaded
//! and checked, on the writer's connection or a reader's own.

use super::*;

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

    /// One page of history, read in one transaction (one view of the store),
    /// as the connection's `view` may see it.
    pub fn history(
        &self,
        roster: &str,
        q: &HistoryQuery,
        view: View,
    ) -> Result<(Vec<HistoryEntry>, Option<String>)> {
        let tx = self.conn.unchecked_transaction()?;
        let page = Reads(&tx).history(roster, q, view)?;
        tx.finish()?;
        Ok(page)
    }

    pub fn list_rosters(&self) -> Result<Vec<RosterInfo>> {
        Reads(&self.conn).list_rosters()
    }
}

/// The reads of the store, on any connection to it.
pub(super) struct Reads<'c>(pub(super) &'c Connection);

impl Reads<'_> {
    /// One page of the change log, newest first. The batches that can hold
    /// a match are found by staff or date; their changes are then filtered
    /// one by one, so a page reads no more batches than it needs. Read for
    /// the published view of a roster that publishes, it holds no cell:
    /// staff and viewers are never shown the draft, not even its past.
    pub fn history(
        &self,
        roster: &str,
        q: &HistoryQuery,
        view: View,
    ) -> Result<(Vec<HistoryEntry>, Option<String>)> {
        let publishes = self.0.query_row(
            "SELECT EXISTS(SELECT 1 FROM entities WHERE roster = ?1 AND kind = 'publication')",
            [roster],
            |r| r.get::<_, bool>(0),
        )?;
        let mut page = Page::new(q, view, publishes);
        let top = page.top();
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
        'spans: while let Some(span) = spans.next()? {
            let (first, last): (i64, i64) = (span.get(0)?, span.get(1)?);
            let mut rows = batches.query(params![roster, first, last.min(top)])?;
            while let Some(row) = rows.next()? {
                let seq: i64 = row.get(0)?;
                let by = history::Author {
                    user: row.get(1)?,
                    client: row.get(2)?,
                    op_id: row.get(3)?,
                    at: row.get(4)?,
                    note: row.get(5)?,
                };
                let stored = StoredChanges {
                    roster,
                    seq,
                    json: row.get(6)?,
                    parts: row.get(7)?,
                };
                let full = stored.newest_first::<serde_json::Value>(
                    self.0,
                    &filter,
                    page.below(seq),
                    |idx, change, before| page.offer(seq, idx, change, before, &by),
                )?;
                if full {
                    break 'spans;
                }
            }
        }
        Ok(page.finish())
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

/// Loads `name` from the store file at `path`, on a read-only connection
/// of its own, in one transaction (the calendar feed's read).
pub fn load_roster_at(path: &Path, name: &str) -> Result<Roster> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let tx = conn.unchecked_transaction()?;
    let roster = load_roster_from(&tx, name)?;
    tx.finish()?;
    Ok(roster)
}

pub(super) fn load_roster_from(conn: &Connection, name: &str) -> Result<Roster> {
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

/// SQLite's check of every page's structure; anything but "ok" is damage.
pub(super) fn quick_check(conn: &Connection) -> Result<()> {
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

/// Which parts of a large batch may hold what a read wants.
pub(super) enum PartFilter {
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
pub(super) struct StoredChanges<'a> {
    pub(super) roster: &'a str,
    pub(super) seq: i64,
    pub(super) json: String,
    pub(super) parts: i64,
}

impl StoredChanges<'_> {
    /// Every change, with its place in the batch and the value it replaced
    /// (read as `B`), in the batch's order.
    pub(super) fn read_all<B: serde::de::DeserializeOwned>(
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
    pub(super) fn newest_first<B: serde::de::DeserializeOwned>(
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
    pub(super) fn parts_for(
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

pub(super) fn change_from_row(
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
        "publication" => Change::Publication {
            publication: serde_json::from_str(after).map_err(bad)?,
        },
        "proposal" => {
            let (Some(staff), Some(date)) = (staff, date) else {
                return Err(StoreError::Corrupt(format!(
                    "proposal `{key}` without staff or date"
                )));
            };
            Change::Proposal {
                staff,
                date,
                code: serde_json::from_str(after).map_err(bad)?,
            }
        }
        "request" => {
            let (Some(staff), Some(date)) = (staff, date) else {
                return Err(StoreError::Corrupt(format!(
                    "request `{key}` without staff or date"
                )));
            };
            Change::Request {
                staff,
                date,
                request: serde_json::from_str(after).map_err(bad)?,
            }
        }
        other => {
            return Err(StoreError::Corrupt(format!(
                "unknown entity kind `{other}`"
            )));
        }
    })
}

pub(super) fn parse_date(s: &str) -> Result<Date> {
    s.parse().map_err(StoreError::Corrupt)
}

pub(super) fn parse_json(s: &str) -> Result<serde_json::Value> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Who used `client` in the change log under another name than `user` (a
/// client id from before the hub had accounts is that name's). Read on a
/// connection of its own, read-only: asked once per client id, when an
/// account first says hello with it. The answers (indexed by client) say
/// first whether the id was ever used at all.
pub fn other_user_of_client(
    path: &std::path::Path,
    client: &str,
    user: &str,
) -> Result<Option<String>> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let used: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM answers WHERE client = ?1)",
        params![client],
        |r| r.get(0),
    )?;
    if !used {
        return Ok(None);
    }
    Ok(conn
        .query_row(
            "SELECT user FROM batches WHERE client = ?1 AND user != ?2 LIMIT 1",
            params![client, user],
            |r| r.get(0),
        )
        .optional()?)
}
