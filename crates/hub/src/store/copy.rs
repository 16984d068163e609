//! Moving a hub's rosters from SQLite files into a PostgreSQL database
//! (`rota --migrate`): each roster's rows as stored, read from a file
//! ([`sqlite::Store::export`]) and written to the database in one
//! transaction ([`pg::Store::import`]), then checked: the roster loaded
//! back from the database is the roster loaded from the file (a digest of
//! its whole state), with as many batches and answers.

use super::{Result, StoreError, pg, sqlite};
use rota_core::domain::Seq;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// One roster's rows, as either store keeps them.
#[derive(Default)]
pub struct Rows {
    pub name: String,
    /// The roster's seq and when it was made (None: a roster with only
    /// answers, every edit to it refused).
    pub roster: Option<(i64, i64)>,
    pub entities: Vec<RecordRow>,
    pub cells: Vec<CellRow>,
    pub batches: Vec<BatchRow>,
    /// History's index: the spans of seqs that touched a staff member, a date.
    pub staff_spans: Vec<SpanRow>,
    pub date_spans: Vec<SpanRow>,
    pub answers: Vec<AnswerRow>,
}

/// Who wrote a row, and when: seq, user, client, time (ms).
pub struct Stamp {
    pub seq: i64,
    pub user: String,
    pub client: String,
    pub at: i64,
}

pub struct RecordRow {
    pub kind: String,
    pub key: String,
    pub value: String,
    pub stamp: Stamp,
}

pub struct CellRow {
    pub staff: String,
    pub date: String,
    pub code: Option<String>,
    pub stamp: Stamp,
}

pub struct BatchRow {
    pub seq: i64,
    pub user: String,
    pub client: String,
    pub op_id: i64,
    pub at: i64,
    pub note: Option<String>,
    pub count: i64,
    /// Its changes as one JSON array (`[[change, before], ...]`).
    pub changes: String,
}

/// A staff id or a date, and the span of seqs of a group that touched it.
pub struct SpanRow {
    pub key: String,
    pub first: i64,
    pub last: i64,
}

pub struct AnswerRow {
    pub client: String,
    pub op_id: i64,
    pub fingerprint: Option<Vec<u8>>,
    pub answer: String,
    pub at: i64,
}

/// What was moved of one roster, as checked.
pub struct Moved {
    pub roster: String,
    pub file: PathBuf,
    pub seq: Seq,
    pub staff: usize,
    pub cells: usize,
    pub batches: usize,
    pub answers: usize,
    /// SHA-256 of the roster's whole state, the same read from both.
    pub digest: String,
}

/// The digest of a roster's whole state: its snapshot's JSON.
fn digest(roster: &rota_core::domain::Roster) -> String {
    let snap = rota_core::protocol::Snapshot::of(roster);
    let json = serde_json::to_vec(&snap).unwrap_or_default();
    let hash = Sha256::digest(&json);
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Copies every roster of the store files `files` into the database at
/// `url`, all in one transaction, committed only once each roster reads
/// back from it as it reads from its file. Refuses a database that holds
/// rosters or answers already.
pub fn to_database(files: &[PathBuf], url: &str) -> Result<Vec<Moved>> {
    pg::off_runtime(|| {
        let mut target = pg::Store::connect(url)?;
        target.importing(|into| {
            let serving = into.hubs_connected()?;
            if serving > 0 {
                return Err(StoreError::Refused(format!(
                    "{} is in use by a running hub ({serving} connection(s) named `{}`): \
                     stop the hubs on it first, or migrate into another database",
                    pg::without_password(url),
                    pg::APPLICATION
                )));
            }
            let held = into.roster_names()?;
            if !held.is_empty() {
                return Err(StoreError::Refused(format!(
                    "{} already holds {} roster(s) ({}): rota --migrate only fills an empty database",
                    pg::without_password(url),
                    held.len(),
                    held.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            let mut moved = Vec::new();
            for file in files {
                let source = sqlite::Store::open(file)?;
                for name in source.roster_names()? {
                    let rows = source.export(&name).map_err(|e| e.at(file))?;
                    into.import(&rows)?;
                    let from = source.load_roster(&name)?;
                    let to = into.load_roster(&name)?;
                    let (d_from, d_to) = (digest(&from), digest(&to));
                    let counted = into.counts(&name)?;
                    let want = (rows.batches.len(), rows.answers.len());
                    if d_from != d_to || counted != want {
                        return Err(StoreError::Corrupt(format!(
                            "roster `{name}` from {} reads back differently from the database \
                             (digest {d_from} against {d_to}; batches and answers {want:?} \
                             against {counted:?}): nothing was written",
                            file.display(),
                        )));
                    }
                    moved.push(Moved {
                        roster: name,
                        file: file.clone(),
                        seq: from.seq(),
                        staff: from.staff().len(),
                        cells: from.cells().into_iter().filter(|c| c.2.is_some()).count(),
                        batches: rows.batches.len(),
                        answers: rows.answers.len(),
                        digest: d_to,
                    });
                }
            }
            Ok(moved)
        })
    })
}
