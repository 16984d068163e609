//! The store's tables and the migrations that made them, in order.

use super::*;

/// Schema migrations, applied in order; `PRAGMA user_version` records how
/// many have run. Never edit one that has shipped: add another.
pub(super) type Migration = rota_db::roster_db::Migration<StoreError>;

/// Schema 1: the roster tables (see [`rota_db::roster_db`]), each roster's
/// seq, the change log of that time, and the answers.
pub(super) fn schema_1(tx: &rusqlite::Transaction) -> Result<()> {
    tx.execute_batch(rota_db::roster_db::TABLES)?;
    tx.execute_batch(SCHEMA_1_REST)?;
    Ok(())
}

/// What schema 1 held beside the roster tables.
pub(super) const SCHEMA_1_REST: &str = r#"
CREATE TABLE rosters (
    name       TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL,
    created_at INTEGER NOT NULL
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
"#;

pub(super) const MIGRATIONS: &[Migration] = &[
    Migration::Code(schema_1),
    // The change log as one row per batch (its changes as one JSON array)
    // instead of one row per change with two indexes: a batch of 100,000
    // cells wrote 300,000 log rows and index entries, and repeated its
    // author and note in each. History by staff or date finds its batches
    // through two narrow tables with one row per staff member and per date a
    // batch touched.
    Migration::Sql(
        r#"
CREATE TABLE batches (
    roster  TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    user    TEXT NOT NULL,
    client  TEXT NOT NULL,
    op_id   INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    note    TEXT,
    count   INTEGER NOT NULL,
    -- [[change, before], ...]: the change as the protocol carries it, and
    -- the value it replaced (a code or null for a cell, else the record).
    changes TEXT NOT NULL,
    PRIMARY KEY (roster, seq)
) WITHOUT ROWID;
CREATE TABLE batch_staff (
    roster TEXT NOT NULL,
    staff  TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (roster, staff, seq)
) WITHOUT ROWID;
CREATE TABLE batch_dates (
    roster TEXT NOT NULL,
    date   TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (roster, date, seq)
) WITHOUT ROWID;
"#,
    ),
    Migration::Code(move_changes_to_batches),
    Migration::Sql("DROP TABLE changes;"),
    // History's index by group commit, not by batch: a row per staff member
    // and per date for each group that touched them, naming the span of
    // seqs that group made on the roster (history reads those batches and
    // keeps the changes it wants). Under load a group holds hundreds of
    // one-cell batches, and two index rows for each was two fifths of the
    // writer's work per edit. Rows from before name one batch each.
    Migration::Sql(
        r#"
CREATE TABLE batch_staff_spans (
    roster TEXT NOT NULL,
    staff  TEXT NOT NULL,
    first  INTEGER NOT NULL,
    last   INTEGER NOT NULL,
    PRIMARY KEY (roster, staff, first)
) WITHOUT ROWID;
INSERT INTO batch_staff_spans SELECT roster, staff, seq, seq FROM batch_staff;
DROP TABLE batch_staff;
ALTER TABLE batch_staff_spans RENAME TO batch_staff;
CREATE TABLE batch_dates_spans (
    roster TEXT NOT NULL,
    date   TEXT NOT NULL,
    first  INTEGER NOT NULL,
    last   INTEGER NOT NULL,
    PRIMARY KEY (roster, date, first)
) WITHOUT ROWID;
INSERT INTO batch_dates_spans SELECT roster, date, seq, seq FROM batch_dates;
DROP TABLE batch_dates;
ALTER TABLE batch_dates_spans RENAME TO batch_dates;
"#,
    ),
    // Answers keyed per roster, with a fingerprint of the edit they answer.
    // Keyed by (client, op_id) alone, a client with one op counter per
    // roster had its edit to a second roster answered with the first
    // roster's ack, and an op id reused for another edit got the old answer.
    // Answers from before have no fingerprint: a resend of one is answered
    // as it was (there is nothing to tell it from another edit by).
    Migration::Sql(
        r#"
CREATE TABLE answers_by_roster (
    roster      TEXT NOT NULL,
    client      TEXT NOT NULL,
    op_id       INTEGER NOT NULL,
    fingerprint BLOB,
    answer      TEXT NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (roster, client, op_id)
) WITHOUT ROWID;
INSERT INTO answers_by_roster SELECT roster, client, op_id, NULL, answer, at FROM answers;
DROP TABLE answers;
ALTER TABLE answers_by_roster RENAME TO answers;
"#,
    ),
    // A large batch's changes in parts of PART_CHANGES, in the batch's
    // order, with the range of staff and dates each part holds: a page of
    // history reads the parts that hold it, newest first, not the whole
    // batch (an import of 100,000 cells took 120 to 211 ms to decode for
    // every cell history asked of it). `changes` of such a batch is `[]`;
    // `parts` says how many it has (0: all in `changes`).
    Migration::Sql(
        r#"
ALTER TABLE batches ADD COLUMN parts INTEGER NOT NULL DEFAULT 0;
CREATE TABLE batch_parts (
    roster  TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    part    INTEGER NOT NULL,
    -- [[change, before], ...]: the batch's changes from part_ranges.first on.
    changes TEXT NOT NULL,
    PRIMARY KEY (roster, seq, part)
) WITHOUT ROWID;
-- What each part holds, in narrow rows apart from it: the least and
-- greatest staff id ('' for changes of no one) and date (NULL when none is
-- dated). A part ends where a run of one person's changes or of one date's
-- ends (imports come in such runs), so these ranges are tight and a read
-- finds its parts by them.
CREATE TABLE part_ranges (
    roster   TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    part     INTEGER NOT NULL,
    -- The place in the batch of its first change.
    first    INTEGER NOT NULL,
    staff_lo TEXT NOT NULL,
    staff_hi TEXT NOT NULL,
    date_lo  TEXT,
    date_hi  TEXT,
    PRIMARY KEY (roster, seq, part)
) WITHOUT ROWID;
"#,
    ),
];

pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    rota_db::roster_db::migrate(conn, MIGRATIONS, |found, known| StoreError::TooNew {
        found,
        known,
    })
}

/// Migration 3: the change log of schema 1 (a row per change) rewritten as
/// a row per batch, in the same transaction as the rest.
pub(super) fn move_changes_to_batches(tx: &rusqlite::Transaction) -> Result<()> {
    let mut stmt = tx.prepare(
        "SELECT roster, seq, entity, key, staff, date, before, after, user, client, op_id, at, note
         FROM changes ORDER BY roster, seq, idx",
    )?;
    let mut rows = stmt.query([])?;
    // (roster, seq, user, client, op_id, at, note) and its changes.
    type Head = (String, i64, String, String, i64, i64, Option<String>);
    let mut batch: Option<(Head, Vec<(Change, serde_json::Value)>)> = None;
    let flush = |batch: Option<(Head, Vec<(Change, serde_json::Value)>)>| -> Result<()> {
        let Some(((roster, seq, user, client, op_id, at, note), changes)) = batch else {
            return Ok(());
        };
        let meta = BatchMeta {
            user: &user,
            client: &client,
            op_id: op_id as u64,
            at,
            note: note.as_deref(),
        };
        log_batch_schema_2(tx, &roster, seq, &meta, changes.iter().map(|(c, b)| (c, b)))?;
        // History's index as schema 2 had it: a row per batch (migration 5
        // turns them into spans of one batch).
        let staff: BTreeSet<&str> = changes
            .iter()
            .filter_map(|(c, _)| staff_and_date(c).0)
            .collect();
        let dates: BTreeSet<Date> = changes
            .iter()
            .filter_map(|(c, _)| staff_and_date(c).1)
            .collect();
        for s in staff {
            tx.execute(
                "INSERT OR IGNORE INTO batch_staff (roster, staff, seq) VALUES (?1, ?2, ?3)",
                params![roster, s, seq],
            )?;
        }
        for d in dates {
            tx.execute(
                "INSERT OR IGNORE INTO batch_dates (roster, date, seq) VALUES (?1, ?2, ?3)",
                params![roster, d.to_string(), seq],
            )?;
        }
        Ok(())
    };
    while let Some(row) = rows.next()? {
        let roster: String = row.get(0)?;
        let seq: i64 = row.get(1)?;
        let entity: String = row.get(2)?;
        let key: String = row.get(3)?;
        let date = row
            .get::<_, Option<String>>(5)?
            .map(|d| parse_date(&d))
            .transpose()?;
        let change = change_from_row(&entity, &key, row.get(4)?, date, &row.get::<_, String>(7)?)?;
        let before = parse_json(&row.get::<_, String>(6)?)?;
        let same = batch
            .as_ref()
            .is_some_and(|(head, _)| head.0 == roster && head.1 == seq);
        if !same {
            flush(batch.take())?;
            let head = (
                roster,
                seq,
                row.get(8)?,
                row.get(9)?,
                row.get(10)?,
                row.get(11)?,
                row.get(12)?,
            );
            batch = Some((head, Vec::new()));
        }
        if let Some((_, changes)) = batch.as_mut() {
            changes.push((change, before));
        }
    }
    flush(batch)
}
