//! A group of batches written as one transaction: each batch's rows,
//! its change log entry and its answer, committed together.

use super::*;

/// A large batch's writer gives its core away this often (in changes
/// written): another roster's writer, woken by a one-cell edit, then runs
/// at once rather than after the time slice the big batch was given
/// (issue 25: 10,000-cell edits on one roster, one-cell edits on another).
const YIELD_EVERY: usize = 512;

impl Group<'_> {
    /// The answer given earlier to the batch `key` names.
    pub fn find_answer(&self, key: &AnswerKey<'_>) -> Result<Option<StoredAnswer>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT answer, fingerprint FROM answers WHERE roster = ?1 AND client = ?2 AND op_id = ?3",
        )?;
        Ok(stmt
            .query_row(params![key.roster, key.client, key.op_id as i64], |r| {
                Ok(StoredAnswer {
                    answer: r.get(0)?,
                    fingerprint: r.get(1)?,
                })
            })
            .optional()?)
    }

    /// Stores the answer to a batch under its roster, client and op id,
    /// with the fingerprint of its content.
    pub fn put_answer(
        &self,
        key: &AnswerKey<'_>,
        fingerprint: &[u8],
        answer: &str,
        at: i64,
    ) -> Result<()> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO answers (roster, client, op_id, fingerprint, answer, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        stmt.execute(params![
            key.roster,
            key.client,
            key.op_id as i64,
            fingerprint,
            answer,
            at
        ])?;
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
        let mut state = rota_db::roster_db::Writer::new(&self.tx)?;
        for (i, rec) in applied.changes.iter().enumerate() {
            state.write(roster, &rec.change, (applied.seq, user, client, at))?;
            if i % YIELD_EVERY == YIELD_EVERY - 1 {
                std::thread::yield_now();
            }
        }
        let meta = BatchMeta {
            user,
            client,
            op_id,
            at,
            note,
        };
        let logged = applied.changes.iter().map(|r| (&r.change, &r.before));
        log_batch(&self.tx, roster, seq, &meta, logged.clone())?;
        Touched::note(
            &mut self.touched.borrow_mut(),
            roster,
            seq,
            at,
            logged.map(|(c, _)| c),
        );
        Ok(())
    }

    /// The highest op id `client` has an answer for on `roster` (0 for
    /// none), among those stored as non-negative numbers (op ids up to
    /// `i64::MAX`).
    pub fn highest_answered(&self, roster: &str, client: &str) -> Result<u64> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT max(op_id) FROM answers WHERE roster = ?1 AND client = ?2 AND op_id >= 0",
        )?;
        let max: Option<i64> = stmt.query_row([roster, client], |r| r.get(0))?;
        Ok(max.map_or(0, |m| m as u64))
    }

    /// The roster's stored seq when another writer may write the file too
    /// (see [`Store::share`]); None where this writer alone does.
    pub fn claim(&self, roster: &str) -> Result<Option<Seq>> {
        if !self.shared {
            return Ok(None);
        }
        let seq: Option<i64> = self
            .tx
            .query_row("SELECT seq FROM rosters WHERE name = ?1", [roster], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(Some(seq.unwrap_or(0) as Seq))
    }

    /// The batches of `roster` after `seq`, in this group's transaction.
    pub fn changes_since(&self, roster: &str, seq: Seq) -> Result<Vec<ChangeSet>> {
        Ok(changes_in(&self.tx, roster, seq, usize::MAX)?.unwrap_or_default())
    }

    /// Writes each roster's seq and history's index rows, then commits.
    pub fn commit(self) -> Result<()> {
        let mut put_roster = self.tx.prepare_cached(
            "INSERT INTO rosters (name, seq, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
        )?;
        let mut by_staff = self.tx.prepare_cached(
            "INSERT OR REPLACE INTO batch_staff (roster, staff, first, last) VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut by_date = self.tx.prepare_cached(
            "INSERT OR REPLACE INTO batch_dates (roster, date, first, last) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for t in self.touched.take() {
            put_roster.execute(params![t.roster, t.last, t.at])?;
            for s in &t.staff {
                by_staff.execute(params![t.roster, s, t.first, t.last])?;
            }
            for d in &t.dates {
                by_date.execute(params![t.roster, d.to_string(), t.first, t.last])?;
            }
        }
        drop((put_roster, by_staff, by_date));
        Ok(self.tx.commit()?)
    }
}
