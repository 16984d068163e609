//! Rosters' rows written into the database as they were stored elsewhere
//! (`rota --migrate`, see [`super::super::copy`]), all in one transaction,
//! committed only once every roster is written and checked; in chunks of
//! at most [`CHUNK`] rows a statement.

use super::super::copy::{Rows, Stamp};
use super::super::{Result, StoreError};
use super::{Col, Store};
use postgres::Transaction;
use postgres::types::ToSql;
use rota_core::domain::Roster;

/// Rows sent in one statement.
const CHUNK: usize = 5_000;

/// Sends `rows` in chunks: `sql` takes one array per column, which
/// `columns` makes from a chunk.
fn put<R>(
    tx: &mut postgres::Transaction,
    sql: &str,
    rows: &[R],
    columns: impl Fn(&[R]) -> Vec<Box<dyn ToSql + Sync>>,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let stmt = tx.prepare(sql)?;
    for chunk in rows.chunks(CHUNK) {
        let cols = columns(chunk);
        let params: Vec<&(dyn ToSql + Sync)> = cols.iter().map(|c| c.as_ref()).collect();
        tx.execute(&stmt, &params)?;
    }
    Ok(())
}

/// A chunk's stamps as the four columns records and cells both end with:
/// seq, user, client, time.
fn stamps<R>(rows: &[R], stamp: impl Fn(&R) -> &Stamp) -> [Box<dyn ToSql + Sync>; 4] {
    [
        col(rows, |r| stamp(r).seq),
        col(rows, |r| stamp(r).user.clone()),
        col(rows, |r| stamp(r).client.clone()),
        col(rows, |r| stamp(r).at),
    ]
}

/// A column of a chunk, boxed as a parameter.
fn col<R, T: ToSql + Sync + 'static>(rows: &[R], f: impl Fn(&R) -> T) -> Box<dyn ToSql + Sync> {
    Box::new(rows.iter().map(f).collect::<Vec<T>>())
}

impl Store {
    /// Runs `fill` in one transaction, committed only if it returns Ok.
    pub fn importing<T>(&mut self, fill: impl FnOnce(&mut Importer) -> Result<T>) -> Result<T> {
        let mut importer = Importer {
            tx: self.client()?.transaction()?,
        };
        let out = fill(&mut importer)?;
        importer.tx.commit()?;
        Ok(out)
    }
}

/// The transaction rosters are imported in.
pub struct Importer<'a> {
    tx: Transaction<'a>,
}

impl Importer<'_> {
    /// How many connections of running hubs the database has (rota's own,
    /// by their `application_name`), this one apart.
    pub fn hubs_connected(&mut self) -> Result<i64> {
        self.tx
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND application_name = $1
                   AND pid <> pg_backend_pid()",
                &[&super::APPLICATION],
            )?
            .col(0)
    }

    /// Rosters already held (a database `--migrate` will not write over).
    pub fn roster_names(&mut self) -> Result<Vec<String>> {
        let rows = self.tx.query(
            "SELECT name FROM rosters UNION SELECT DISTINCT roster FROM answers",
            &[],
        )?;
        rows.iter().map(|r| r.col(0)).collect()
    }

    /// The roster as this transaction reads it.
    pub fn load_roster(&mut self, name: &str) -> Result<Roster> {
        super::read::load_roster(&mut self.tx, name)
    }

    /// Writes one roster's rows; refuses a roster the database holds.
    pub fn import(&mut self, rows: &Rows) -> Result<()> {
        let name = rows.name.clone();
        let tx = &mut self.tx;
        let held: bool = tx
            .query_one(
                "SELECT EXISTS(SELECT 1 FROM rosters WHERE name = $1)
                     OR EXISTS(SELECT 1 FROM answers WHERE roster = $1)",
                &[&name],
            )?
            .col(0)?;
        if held {
            return Err(StoreError::Refused(format!(
                "the database already holds roster `{name}`: nothing of it was written"
            )));
        }
        if let Some((seq, created_at)) = rows.roster {
            tx.execute(
                "INSERT INTO rosters (name, seq, created_at) VALUES ($1, $2, $3)",
                &[&name, &seq, &created_at],
            )?;
        }
        let n = name.clone();
        put(
            tx,
            r#"INSERT INTO entities (roster, kind, key, value, seq, "user", client, at)
               SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::int8[], $6::text[], $7::text[], $8::int8[])"#,
            &rows.entities,
            |c| {
                let mut cols: Vec<Box<dyn ToSql + Sync>> = vec![
                    Box::new(n.clone()),
                    col(c, |r| r.kind.clone()),
                    col(c, |r| r.key.clone()),
                    col(c, |r| r.value.clone()),
                ];
                cols.extend(stamps(c, |r| &r.stamp));
                cols
            },
        )?;
        put(
            tx,
            r#"INSERT INTO cells (roster, staff, date, code, seq, "user", client, at)
               SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::int8[], $6::text[], $7::text[], $8::int8[])"#,
            &rows.cells,
            |c| {
                let mut cols: Vec<Box<dyn ToSql + Sync>> = vec![
                    Box::new(n.clone()),
                    col(c, |r| r.staff.clone()),
                    col(c, |r| r.date.clone()),
                    col(c, |r| r.code.clone()),
                ];
                cols.extend(stamps(c, |r| &r.stamp));
                cols
            },
        )?;
        put(
            tx,
            r#"INSERT INTO batches (roster, seq, "user", client, op_id, at, note, count, changes)
               SELECT $1, * FROM unnest($2::int8[], $3::text[], $4::text[], $5::int8[], $6::int8[], $7::text[], $8::int8[], $9::text[])"#,
            &rows.batches,
            |c| {
                vec![
                    Box::new(n.clone()),
                    col(c, |r| r.seq),
                    col(c, |r| r.user.clone()),
                    col(c, |r| r.client.clone()),
                    col(c, |r| r.op_id),
                    col(c, |r| r.at),
                    col(c, |r| r.note.clone()),
                    col(c, |r| r.count),
                    col(c, |r| r.changes.clone()),
                ]
            },
        )?;
        for (table, key, spans) in [
            ("batch_staff", "staff", &rows.staff_spans),
            ("batch_dates", "date", &rows.date_spans),
        ] {
            let sql = format!(
                "INSERT INTO {table} (roster, {key}, first, last)
                 SELECT $1, * FROM unnest($2::text[], $3::int8[], $4::int8[])"
            );
            put(tx, &sql, spans, |c| {
                vec![
                    Box::new(n.clone()),
                    col(c, |r| r.key.clone()),
                    col(c, |r| r.first),
                    col(c, |r| r.last),
                ]
            })?;
        }
        put(
            tx,
            "INSERT INTO answers (roster, client, op_id, fingerprint, answer, at)
             SELECT $1, * FROM unnest($2::text[], $3::int8[], $4::bytea[], $5::text[], $6::int8[])",
            &rows.answers,
            |c| {
                vec![
                    Box::new(n.clone()),
                    col(c, |r| r.client.clone()),
                    col(c, |r| r.op_id),
                    col(c, |r| r.fingerprint.clone()),
                    col(c, |r| r.answer.clone()),
                    col(c, |r| r.at),
                ]
            },
        )?;
        Ok(())
    }

    /// How many batches and answers the database holds of `roster`.
    pub fn counts(&mut self, roster: &str) -> Result<(usize, usize)> {
        let row = self.tx.query_one(
            "SELECT (SELECT count(*) FROM batches WHERE roster = $1),
                    (SELECT count(*) FROM answers WHERE roster = $1)",
            &[&roster],
        )?;
        Ok((row.col::<i64>(0)? as usize, row.col::<i64>(1)? as usize))
    }
}
