//! The database's tables and the migrations that made them, in order;
//! `rota_schema.version` counts those run. Never edit one that has
//! shipped: add another.

use super::super::{Result, StoreError};
use super::Col;
use postgres::Client;

/// The key of the advisory lock migrations run under: two hubs starting
/// at once on an empty database migrate one after the other.
const MIGRATION_LOCK: i64 = 0x726f_7461_0001;

const MIGRATIONS: &[&str] = &[
    // The same records as the SQLite store's (see rota_db::roster_db and
    // store::sqlite::schema), a batch's changes in one row however many
    // (`[[change, before], ...]`). `user` is a keyword here: quoted.
    r#"
CREATE TABLE rosters (
    name       TEXT PRIMARY KEY,
    seq        BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE entities (
    roster TEXT NOT NULL,
    kind   TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    seq    BIGINT NOT NULL,
    "user" TEXT NOT NULL,
    client TEXT NOT NULL,
    at     BIGINT NOT NULL,
    PRIMARY KEY (roster, kind, key)
);
CREATE TABLE cells (
    roster TEXT NOT NULL,
    staff  TEXT NOT NULL,
    date   TEXT NOT NULL,
    code   TEXT,
    seq    BIGINT NOT NULL,
    "user" TEXT NOT NULL,
    client TEXT NOT NULL,
    at     BIGINT NOT NULL,
    PRIMARY KEY (roster, staff, date)
);
CREATE TABLE batches (
    roster  TEXT NOT NULL,
    seq     BIGINT NOT NULL,
    "user"  TEXT NOT NULL,
    client  TEXT NOT NULL,
    op_id   BIGINT NOT NULL,
    at      BIGINT NOT NULL,
    note    TEXT,
    count   BIGINT NOT NULL,
    changes TEXT NOT NULL,
    PRIMARY KEY (roster, seq)
);
CREATE INDEX batches_by_client ON batches (client);
CREATE TABLE batch_staff (
    roster TEXT NOT NULL,
    staff  TEXT NOT NULL,
    first  BIGINT NOT NULL,
    last   BIGINT NOT NULL,
    PRIMARY KEY (roster, staff, first)
);
CREATE TABLE batch_dates (
    roster TEXT NOT NULL,
    date   TEXT NOT NULL,
    first  BIGINT NOT NULL,
    last   BIGINT NOT NULL,
    PRIMARY KEY (roster, date, first)
);
CREATE TABLE answers (
    roster      TEXT NOT NULL,
    client      TEXT NOT NULL,
    op_id       BIGINT NOT NULL,
    fingerprint BYTEA,
    answer      TEXT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (roster, client, op_id)
);
CREATE INDEX answers_by_client ON answers (client);
"#,
];

/// Brings the database's tables up to date, in one transaction: a crash
/// leaves them as they were. A database newer than this build is refused.
pub(super) fn migrate(client: &mut Client) -> Result<()> {
    let known = MIGRATIONS.len() as i64;
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    // Looked for first: `IF NOT EXISTS` would have the server say so
    // (a notice in the hub's log) at every start.
    let made: bool = tx
        .query_one("SELECT to_regclass('rota_schema') IS NOT NULL", &[])?
        .col(0)?;
    if !made {
        tx.batch_execute("CREATE TABLE rota_schema (version BIGINT NOT NULL)")?;
    }
    let found: i64 = match tx.query_opt("SELECT version FROM rota_schema", &[])? {
        Some(row) => row.get(0),
        None => {
            tx.execute("INSERT INTO rota_schema (version) VALUES (0)", &[])?;
            0
        }
    };
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    for step in &MIGRATIONS[found as usize..] {
        tx.batch_execute(step)?;
    }
    tx.execute("UPDATE rota_schema SET version = $1", &[&known])?;
    tx.commit()?;
    Ok(())
}
