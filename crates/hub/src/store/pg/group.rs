//! A group commit in PostgreSQL: many batches, one transaction. Each write
//! to the database is a round trip, so a group gathers its writes (cells,
//! records, log rows, answers, history's index) and sends each kind as one
//! statement over arrays (`unnest`) before it commits: a group of 200
//! one-cell edits is a handful of statements, not a thousand.

use super::super::batch::{Logged, Touched};
use super::super::{AnswerKey, Result, StoreError, StoredAnswer};
use super::{Col, Prepared};
use postgres::Client;
use rota_core::domain::{Applied, Author, Date, Roster, Seq};
use rota_core::protocol::ChangeSet;
use rota_db::roster_db::{RecordWrite, record_write};
use std::collections::HashMap;

pub struct Group<'a> {
    /// The connection, inside the group's transaction (begun by
    /// [`super::Store::group`], ended by [`Group::commit`] or, dropped, by
    /// a rollback).
    tx: &'a mut Client,
    committed: bool,
    prepared: &'a mut Prepared,
    /// Rosters claimed (locked to this group's end), with the seq found.
    claimed: HashMap<String, Seq>,
    /// Writes not yet sent, the last per key winning.
    cells: HashMap<(String, String, Date), Stamped<Option<String>>>,
    records: HashMap<(String, &'static str, String), Option<Stamped<String>>>,
    batches: Vec<LogRow>,
    answers: Vec<AnswerRow>,
    /// Where each (roster, client, op id) is in `answers`.
    answered: HashMap<(String, String, i64), usize>,
    /// What this group did to each roster: its seqs, and history's index.
    touched: Vec<Touched>,
}

struct Stamped<T> {
    value: T,
    seq: i64,
    user: String,
    client: String,
    at: i64,
}

struct LogRow {
    roster: String,
    seq: i64,
    user: String,
    client: String,
    op_id: i64,
    at: i64,
    note: Option<String>,
    count: i64,
    changes: String,
}

struct AnswerRow {
    roster: String,
    client: String,
    op_id: i64,
    fingerprint: Vec<u8>,
    answer: String,
    at: i64,
}

/// Builds a column of `rows` for an array parameter.
fn col<'r, R, T>(rows: &'r [R], f: impl Fn(&'r R) -> T) -> Vec<T> {
    rows.iter().map(f).collect()
}

impl<'a> Group<'a> {
    /// A group on `client`, whose transaction has begun.
    pub(super) fn begun(client: &'a mut Client, prepared: &'a mut Prepared) -> Result<Group<'a>> {
        Ok(Group {
            tx: client,
            committed: false,
            prepared,
            claimed: HashMap::new(),
            cells: HashMap::new(),
            records: HashMap::new(),
            batches: Vec::new(),
            answers: Vec::new(),
            answered: HashMap::new(),
            touched: Vec::new(),
        })
    }

    /// Locks `roster` until this group ends and returns its stored seq (0
    /// for a roster not yet stored). Another hub's group claiming it waits
    /// for this one to commit, then sees the seq it left.
    pub fn claim(&mut self, roster: &str) -> Result<Seq> {
        if let Some(seq) = self.claimed.get(roster) {
            return Ok(*seq);
        }
        // A lock on the name, not on its row: a roster not yet stored has
        // no row to lock, and two hubs creating it must also take turns.
        let lock = self.prepared.get(
            self.tx,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 7))",
        )?;
        self.tx.execute(&lock, &[&roster])?;
        let read = self
            .prepared
            .get(self.tx, "SELECT seq FROM rosters WHERE name = $1")?;
        let seq = match self.tx.query_opt(&read, &[&roster])? {
            Some(r) => r.col::<i64>(0)? as Seq,
            None => 0,
        };
        self.claimed.insert(roster.to_string(), seq);
        Ok(seq)
    }

    pub fn find_answer(&mut self, key: &AnswerKey<'_>) -> Result<Option<StoredAnswer>> {
        let op_id = key.op_id as i64;
        let id = (key.roster.to_string(), key.client.to_string(), op_id);
        if let Some(i) = self.answered.get(&id) {
            let a = &self.answers[*i];
            return Ok(Some(StoredAnswer {
                answer: a.answer.clone(),
                fingerprint: Some(a.fingerprint.clone()),
            }));
        }
        let stmt = self.prepared.get(
            self.tx,
            "SELECT answer, fingerprint FROM answers WHERE roster = $1 AND client = $2 AND op_id = $3",
        )?;
        match self
            .tx
            .query_opt(&stmt, &[&key.roster, &key.client, &op_id])?
        {
            Some(r) => Ok(Some(StoredAnswer {
                answer: r.col(0)?,
                fingerprint: r.col(1)?,
            })),
            None => Ok(None),
        }
    }

    pub fn put_answer(&mut self, key: &AnswerKey<'_>, fingerprint: &[u8], answer: &str, at: i64) {
        let op_id = key.op_id as i64;
        self.answered.insert(
            (key.roster.to_string(), key.client.to_string(), op_id),
            self.answers.len(),
        );
        self.answers.push(AnswerRow {
            roster: key.roster.to_string(),
            client: key.client.to_string(),
            op_id,
            fingerprint: fingerprint.to_vec(),
            answer: answer.to_string(),
            at,
        });
    }

    pub fn highest_answered(&mut self, roster: &str, client: &str) -> Result<u64> {
        let stmt = self.prepared.get(
            self.tx,
            "SELECT max(op_id) FROM answers WHERE roster = $1 AND client = $2 AND op_id >= 0",
        )?;
        let stored: Option<i64> = self.tx.query_one(&stmt, &[&roster, &client])?.col(0)?;
        let here = self
            .answers
            .iter()
            .filter(|a| a.roster == roster && a.client == client && a.op_id >= 0)
            .map(|a| a.op_id)
            .max();
        Ok(stored.max(here).map_or(0, |m| m as u64))
    }

    pub fn put_applied(
        &mut self,
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
        fn stamped<T>(value: T, seq: i64, user: &str, client: &str, at: i64) -> Stamped<T> {
            Stamped {
                value,
                seq,
                user: user.to_string(),
                client: client.to_string(),
                at,
            }
        }
        for rec in &applied.changes {
            match record_write(&rec.change) {
                RecordWrite::Cell { staff, date, code } => {
                    let key = (roster.to_string(), staff.to_string(), date);
                    self.cells.insert(
                        key,
                        stamped(code.map(str::to_string), seq, user, client, at),
                    );
                }
                RecordWrite::Put { kind, key, value } => {
                    let key = (roster.to_string(), kind, key.into_owned());
                    self.records
                        .insert(key, Some(stamped(value, seq, user, client, at)));
                }
                RecordWrite::Delete { kind, key } => {
                    self.records
                        .insert((roster.to_string(), kind, key.into_owned()), None);
                }
            }
        }
        let logged = applied.changes.iter().map(|r| (&r.change, &r.before));
        let changes = serde_json::to_string(&Logged(logged.clone()))
            .map_err(|e| StoreError::Corrupt(format!("batch {seq} could not be encoded: {e}")))?;
        self.batches.push(LogRow {
            roster: roster.to_string(),
            seq,
            user: user.to_string(),
            client: client.to_string(),
            op_id: op_id as i64,
            at,
            note: note.map(str::to_string),
            count: applied.changes.len() as i64,
            changes,
        });
        Touched::note(&mut self.touched, roster, seq, at, logged.map(|(c, _)| c));
        Ok(())
    }

    /// The batches of `roster` after `seq`, in this group's transaction
    /// (after its claim: what other hubs wrote, to catch up on).
    pub fn changes_since(&mut self, roster: &str, seq: Seq) -> Result<Vec<ChangeSet>> {
        self.send_writes()?;
        Ok(super::read::changes_since(self.tx, roster, seq, usize::MAX)?.unwrap_or_default())
    }

    /// Loads a roster inside the group: what the group wrote so far is sent
    /// first, so the load sees it.
    pub fn load_roster(&mut self, name: &str) -> Result<Roster> {
        self.send_writes()?;
        let mut roster = super::read::load_roster(self.tx, name)?;
        if let Some(t) = self.touched.iter().find(|t| t.roster == name) {
            roster.set_seq((t.last as Seq).max(roster.seq()));
        }
        Ok(roster)
    }

    /// Sends the writes gathered so far (before a read inside the group):
    /// records, cells, log rows, answers.
    fn send_writes(&mut self) -> Result<()> {
        self.send_records()?;
        self.send_rows(&[])
    }

    /// Sends the records gathered so far (deleted, then put).
    fn send_records(&mut self) -> Result<()> {
        let records = std::mem::take(&mut self.records);
        let (gone, put): (Vec<_>, Vec<_>) = records.into_iter().partition(|(_, v)| v.is_none());
        if !gone.is_empty() {
            let stmt = self.prepared.get(
                self.tx,
                "DELETE FROM entities e USING unnest($1::text[], $2::text[], $3::text[]) AS g(roster, kind, key)
                 WHERE e.roster = g.roster AND e.kind = g.kind AND e.key = g.key",
            )?;
            let keys: Vec<_> = gone.into_iter().map(|(k, _)| k).collect();
            self.tx.execute(
                &stmt,
                &[
                    &col(&keys, |k| k.0.as_str()),
                    &col(&keys, |k| k.1),
                    &col(&keys, |k| k.2.as_str()),
                ],
            )?;
        }
        let put: Vec<_> = put
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        if !put.is_empty() {
            let stmt = self.prepared.get(
                self.tx,
                r#"INSERT INTO entities (roster, kind, key, value, seq, "user", client, at)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[],
                                      $6::text[], $7::text[], $8::int8[])
                 ON CONFLICT (roster, kind, key) DO UPDATE SET value = excluded.value,
                     seq = excluded.seq, "user" = excluded."user", client = excluded.client,
                     at = excluded.at"#,
            )?;
            self.tx.execute(
                &stmt,
                &[
                    &col(&put, |(k, _)| k.0.as_str()),
                    &col(&put, |(k, _)| k.1),
                    &col(&put, |(k, _)| k.2.as_str()),
                    &col(&put, |(_, v)| v.value.as_str()),
                    &col(&put, |(_, v)| v.seq),
                    &col(&put, |(_, v)| v.user.as_str()),
                    &col(&put, |(_, v)| v.client.as_str()),
                    &col(&put, |(_, v)| v.at),
                ],
            )?;
        }
        Ok(())
    }

    /// Sends the cells, log rows and answers gathered so far, with each
    /// of the rosters `touched` its seq, history's index rows and the
    /// notification to other hubs (none before a read inside the group):
    /// one statement, each kind of row an `INSERT` of its own in a `WITH`.
    fn send_rows(&mut self, touched: &[Touched]) -> Result<()> {
        let cells: Vec<_> = std::mem::take(&mut self.cells).into_iter().collect();
        let batches = std::mem::take(&mut self.batches);
        let answers = std::mem::take(&mut self.answers);
        self.answered.clear();
        let spans = |t: &Touched, keys: Vec<String>| {
            keys.into_iter()
                .map(|k| (t.roster.clone(), k, t.first, t.last))
                .collect::<Vec<_>>()
        };
        let staff: Vec<_> = touched
            .iter()
            .flat_map(|t| spans(t, t.staff.iter().cloned().collect()))
            .collect();
        let dates: Vec<_> = touched
            .iter()
            .flat_map(|t| spans(t, t.dates.iter().map(|d| d.to_string()).collect()))
            .collect();
        let stmt = self.prepared.get(
            self.tx,
            r#"WITH
             c AS (INSERT INTO cells (roster, staff, date, code, seq, "user", client, at)
                   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[],
                                        $6::text[], $7::text[], $8::int8[])
                   ON CONFLICT (roster, staff, date) DO UPDATE SET code = excluded.code,
                       seq = excluded.seq, "user" = excluded."user", client = excluded.client,
                       at = excluded.at),
             b AS (INSERT INTO batches (roster, seq, "user", client, op_id, at, note, count, changes)
                   SELECT * FROM unnest($9::text[], $10::int8[], $11::text[], $12::text[],
                                        $13::int8[], $14::int8[], $15::text[], $16::int8[],
                                        $17::text[])),
             a AS (INSERT INTO answers (roster, client, op_id, fingerprint, answer, at)
                   SELECT * FROM unnest($18::text[], $19::text[], $20::int8[], $21::bytea[],
                                        $22::text[], $23::int8[])),
             r AS (INSERT INTO rosters (name, seq, created_at)
                   SELECT * FROM unnest($24::text[], $25::int8[], $26::int8[])
                   ON CONFLICT (name) DO UPDATE SET seq = excluded.seq),
             s AS (INSERT INTO batch_staff (roster, staff, first, last)
                   SELECT * FROM unnest($27::text[], $28::text[], $29::int8[], $30::int8[])
                   ON CONFLICT (roster, staff, first) DO UPDATE SET last = excluded.last),
             d AS (INSERT INTO batch_dates (roster, date, first, last)
                   SELECT * FROM unnest($31::text[], $32::text[], $33::int8[], $34::int8[])
                   ON CONFLICT (roster, date, first) DO UPDATE SET last = excluded.last)
             SELECT pg_notify('rota', n) FROM unnest($35::text[]) AS n"#,
        )?;
        // Other hubs hear of the new seqs when this commits (LISTEN rota):
        // "seq roster", the roster's name last, whatever it holds.
        let notes = col(touched, |t| format!("{} {}", t.last, t.roster));
        let (b, a, t) = (&batches, &answers, touched);
        self.tx.execute(
            &stmt,
            &[
                &col(&cells, |(k, _)| k.0.as_str()),
                &col(&cells, |(k, _)| k.1.as_str()),
                &col(&cells, |(k, _)| k.2.to_string()),
                &col(&cells, |(_, v)| v.value.as_deref()),
                &col(&cells, |(_, v)| v.seq),
                &col(&cells, |(_, v)| v.user.as_str()),
                &col(&cells, |(_, v)| v.client.as_str()),
                &col(&cells, |(_, v)| v.at),
                &col(b, |r| r.roster.as_str()),
                &col(b, |r| r.seq),
                &col(b, |r| r.user.as_str()),
                &col(b, |r| r.client.as_str()),
                &col(b, |r| r.op_id),
                &col(b, |r| r.at),
                &col(b, |r| r.note.as_deref()),
                &col(b, |r| r.count),
                &col(b, |r| r.changes.as_str()),
                &col(a, |r| r.roster.as_str()),
                &col(a, |r| r.client.as_str()),
                &col(a, |r| r.op_id),
                &col(a, |r| r.fingerprint.as_slice()),
                &col(a, |r| r.answer.as_str()),
                &col(a, |r| r.at),
                &col(t, |t| t.roster.as_str()),
                &col(t, |t| t.last),
                &col(t, |t| t.at),
                &col(&staff, |r| r.0.as_str()),
                &col(&staff, |r| r.1.as_str()),
                &col(&staff, |r| r.2),
                &col(&staff, |r| r.3),
                &col(&dates, |r| r.0.as_str()),
                &col(&dates, |r| r.1.as_str()),
                &col(&dates, |r| r.2),
                &col(&dates, |r| r.3),
                &notes,
            ],
        )?;
        Ok(())
    }

    /// Sends what is left and commits: records first (rare: a code, a
    /// person), then every other row as one statement, so that a group
    /// costs begin, claim, that and the commit, whatever it holds.
    pub fn commit(mut self) -> Result<()> {
        self.send_records()?;
        let touched = std::mem::take(&mut self.touched);
        self.send_rows(&touched)?;
        self.tx.batch_execute("COMMIT")?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Group<'_> {
    /// A group not committed leaves nothing: its transaction is rolled
    /// back (on a lost connection, the database has done so already).
    fn drop(&mut self) {
        if !self.committed {
            let _ = self.tx.batch_execute("ROLLBACK");
        }
    }
}
