//! A roster's rows as stored, for `rota --migrate` (see [`super::super::copy`]):
//! a batch kept in parts is put back together as one JSON array.

use super::*;
use crate::store::copy::{AnswerRow, BatchRow, CellRow, RecordRow, Rows, SpanRow, Stamp};

impl Store {
    pub fn export(&self, roster: &str) -> Result<Rows> {
        let conn = &self.conn;
        let mut rows = Rows {
            name: roster.to_string(),
            ..Rows::default()
        };
        rows.roster = conn
            .query_row(
                "SELECT seq, created_at FROM rosters WHERE name = ?1",
                [roster],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let mut stmt = conn.prepare(
            "SELECT kind, key, value, seq, user, client, at FROM entities WHERE roster = ?1",
        )?;
        let stamp = |r: &rusqlite::Row| -> rusqlite::Result<Stamp> {
            Ok(Stamp {
                seq: r.get(3)?,
                user: r.get(4)?,
                client: r.get(5)?,
                at: r.get(6)?,
            })
        };
        rows.entities = stmt
            .query_map([roster], |r| {
                Ok(RecordRow {
                    kind: r.get(0)?,
                    key: r.get(1)?,
                    value: r.get(2)?,
                    stamp: stamp(r)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut stmt = conn.prepare(
            "SELECT staff, date, code, seq, user, client, at FROM cells WHERE roster = ?1",
        )?;
        rows.cells = stmt
            .query_map([roster], |r| {
                Ok(CellRow {
                    staff: r.get(0)?,
                    date: r.get(1)?,
                    code: r.get(2)?,
                    stamp: stamp(r)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut stmt = conn.prepare(
            "SELECT seq, user, client, op_id, at, note, count, changes, parts FROM batches
             WHERE roster = ?1 ORDER BY seq",
        )?;
        let mut found = stmt.query([roster])?;
        while let Some(r) = found.next()? {
            let seq: i64 = r.get(0)?;
            let stored = StoredChanges {
                roster,
                seq,
                json: r.get(7)?,
                parts: r.get(8)?,
            };
            let changes = if stored.parts == 0 {
                stored.json.clone()
            } else {
                let all = stored.read_all::<serde_json::Value>(conn)?;
                serde_json::to_string(&Logged(all.iter().map(|(_, c, b)| (c, b))))
                    .map_err(|e| StoreError::Corrupt(format!("batch {seq}: {e}")))?
            };
            rows.batches.push(BatchRow {
                seq,
                user: r.get(1)?,
                client: r.get(2)?,
                op_id: r.get(3)?,
                at: r.get(4)?,
                note: r.get(5)?,
                count: r.get(6)?,
                changes,
            });
        }
        for (table, key, out) in [
            ("batch_staff", "staff", &mut rows.staff_spans),
            ("batch_dates", "date", &mut rows.date_spans),
        ] {
            let mut stmt = conn.prepare(&format!(
                "SELECT {key}, first, last FROM {table} WHERE roster = ?1"
            ))?;
            *out = stmt
                .query_map([roster], |r| {
                    Ok(SpanRow {
                        key: r.get(0)?,
                        first: r.get(1)?,
                        last: r.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
        }
        let mut stmt = conn.prepare(
            "SELECT client, op_id, fingerprint, answer, at FROM answers WHERE roster = ?1",
        )?;
        rows.answers = stmt
            .query_map([roster], |r| {
                Ok(AnswerRow {
                    client: r.get(0)?,
                    op_id: r.get(1)?,
                    fingerprint: r.get(2)?,
                    answer: r.get(3)?,
                    at: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}
