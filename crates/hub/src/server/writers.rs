//! Rosters committed in parallel: the store is split into a few files
//! (shards), each written by a writer thread of its own ([`super::writer`]),
//! and every roster lives in one of them. SQLite commits one transaction at
//! a time per file, and one writer thread does one group at a time, so with
//! a single file a 10,000-cell edit on one roster made every editor of every
//! other roster wait for its commit. A roster's guarantees are its writer's
//! as before (all or nothing, a gap-free seq, acknowledged after commit);
//! only rosters in different shards commit side by side.
//!
//! Where a roster lives: the shard whose file holds it (read at start), or,
//! for a roster not yet stored, the shard its name hashes to (FNV-1a, so the
//! same on every run and version), where its first commit puts it. Nothing
//! is remembered for a name that is never stored: joining made-up names
//! costs no memory. Two rosters in one shard still commit one after the
//! other: with 4 shards, a quarter of all pairs.

use super::writer::{self, Cmd};
use super::{STORE_FILE, ServeError, Shared};
use crate::store::{Place, Store};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The file of shard `i` in the data dir `dir`: the first is the store file
/// of hubs from before shards, so their rosters stay where they are.
pub fn shard_file(dir: &Path, i: usize) -> PathBuf {
    if i == 0 {
        dir.join(STORE_FILE)
    } else {
        dir.join(format!("hub-{i}.sqlite3"))
    }
}

/// The shard number of a file named as [`shard_file`] names them.
fn shard_number(name: &str) -> Option<usize> {
    if name == STORE_FILE {
        return Some(0);
    }
    let n = name.strip_prefix("hub-")?.strip_suffix(".sqlite3")?;
    if n.starts_with('0') || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok().filter(|n| *n > 0)
}

/// How many shards the data dir `dir` has files for: one past the highest
/// numbered (a gap, say a file moved away, still counts its place).
fn shards_on_disk(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| shard_number(&e.file_name().to_string_lossy()))
                .map(|n| n + 1)
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// Every shard file of the data dir `dir` that exists, first to last.
pub fn store_files(dir: &Path) -> Vec<PathBuf> {
    (0..shards_on_disk(dir))
        .map(|i| shard_file(dir, i))
        .filter(|p| p.exists())
        .collect()
}

/// The writers, and which one holds each roster.
pub struct Writers {
    senders: Vec<mpsc::Sender<Cmd>>,
    /// The shard of each roster stored when the hub started, where that is
    /// not the one its name hashes to (a store from before shards, or
    /// another number of them).
    stored: HashMap<String, usize>,
    /// Whether one store (a database) holds every roster, whichever
    /// writer writes it.
    one_store: bool,
}

/// FNV-1a of `name`: a hash that never changes with the platform or Rust.
fn fnv1a(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Writers started, and what tells when each has finished.
pub struct Started {
    pub writers: Arc<Writers>,
    pub done: Vec<oneshot::Receiver<()>>,
    /// The stores, shard by shard, or the one database (for the readers).
    pub places: Vec<Place>,
}

impl Writers {
    /// The shard holding `roster`, or that will.
    pub fn shard_of(&self, roster: &str) -> usize {
        placed(&self.stored, self.senders.len(), roster)
    }

    /// The writer of `roster`.
    pub fn for_roster(&self, roster: &str) -> mpsc::Sender<Cmd> {
        self.senders[self.shard_of(roster)].clone()
    }

    /// Where each roster lives, without the writers (holding a sender would
    /// keep a writer from ending when the hub stops).
    pub fn placement(&self) -> Placement {
        Placement {
            stored: self.stored.clone(),
            shards: self.senders.len(),
            one_store: self.one_store,
        }
    }

    /// Which of [`Started::places`] holds `roster`.
    pub fn store_of(&self, roster: &str) -> usize {
        if self.one_store {
            0
        } else {
            self.shard_of(roster)
        }
    }

    /// Every writer (for what all of them must do: sweep, pass a barrier).
    pub fn all(&self) -> &[mpsc::Sender<Cmd>] {
        &self.senders
    }
}

/// Opens the hub's stores and starts a writer on each: the data dir's
/// store files (`config.writers` of them, or as many as it has, creating
/// the missing ones), or as many connections to the database, which holds
/// every roster (a roster's writer is then the one its name hashes to).
pub fn start(config: &super::Config, shared: &Arc<Shared>) -> Result<Started, ServeError> {
    let dir = &config.data_dir;
    let shards = match &config.database {
        Some(_) => config.writers.max(1),
        None => config.writers.max(1).max(shards_on_disk(dir)),
    };
    let mut stored = HashMap::new();
    let mut found: HashMap<String, usize> = HashMap::new();
    let mut places = Vec::with_capacity(shards);
    let mut senders = Vec::with_capacity(shards);
    let mut done = Vec::with_capacity(shards);
    for i in 0..shards {
        let place = match &config.database {
            Some(url) => Place::Database(url.clone()),
            None => Place::File(shard_file(dir, i)),
        };
        let mut store = Store::open(&place).map_err(ServeError::Store)?;
        if let Some(bytes) = config.max_db_bytes {
            store.set_max_bytes(bytes).map_err(ServeError::Store)?;
        }
        // Every roster of a database is where its name hashes to.
        let names = match &config.database {
            None => store.roster_names().map_err(ServeError::Store)?,
            Some(_) => Vec::new(),
        };
        for name in names {
            if let Some(first) = found.insert(name.clone(), i) {
                return Err(ServeError::Store(crate::store::StoreError::Corrupt(
                    format!(
                        "roster `{name}` is in two store files, {} and {}: keep the one with its \
                     history (move the other away), then start again",
                        shard_file(dir, first).display(),
                        shard_file(dir, i).display()
                    ),
                )));
            }
            if placed(&HashMap::new(), shards, &name) != i {
                stored.insert(name, i);
            }
        }
        if config.database.is_none() || places.is_empty() {
            places.push(place);
        }
        let writer = writer::Writer::new(
            store,
            shared.clone(),
            config.outbound_queue,
            config.max_group,
            config.roster_idle,
        )
        .map_err(ServeError::Store)?;
        let (tx, rx) = mpsc::channel(4096);
        let (done_tx, done_rx) = oneshot::channel::<()>();
        let name = format!("rota-writer-{i}");
        std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                writer.run(rx, &name);
                let _ = done_tx.send(());
            })
            .map_err(|err| ServeError::Io {
                what: "starting a writer thread".into(),
                err,
            })?;
        senders.push(tx);
        done.push(done_rx);
    }
    let writers = Arc::new(Writers {
        senders,
        stored,
        one_store: config.database.is_some(),
    });
    // Weak: the gate must not keep the writers alive past the hub.
    let weak: Vec<_> = writers.senders.iter().map(|s| s.downgrade()).collect();
    shared.gate.set_barrier(Box::new(move || {
        // Every writer is asked first, then waited for: the wait is the
        // longest group in progress, not their sum.
        let mut passed = Vec::new();
        for w in &weak {
            let Some(tx) = w.upgrade() else {
                continue;
            };
            let (passed_tx, passed_rx) = oneshot::channel();
            if tx.blocking_send(Cmd::Barrier(passed_tx)).is_ok() {
                passed.push(passed_rx);
            }
        }
        for p in passed {
            let _ = p.blocking_recv();
        }
    }));
    Ok(Started {
        writers,
        done,
        places,
    })
}

/// The shard a roster not yet stored goes to, of `shards`.
pub fn home_shard(roster: &str, shards: usize) -> usize {
    placed(&HashMap::new(), shards, roster)
}

/// Where `roster` is among `shards`: where it was stored, else where its
/// name hashes to.
/// Which shard holds each roster, apart from the writers.
#[derive(Clone, Debug)]
pub struct Placement {
    stored: HashMap<String, usize>,
    shards: usize,
    one_store: bool,
}

impl Placement {
    /// Which of [`Started::places`] holds `roster`.
    pub fn store_of(&self, roster: &str) -> usize {
        if self.one_store {
            0
        } else {
            placed(&self.stored, self.shards, roster)
        }
    }
}

/// Where the hub's rosters are read from, beside its writers: the data
/// dir's store files, or the database.
pub fn read_places(config: &super::Config) -> Vec<Place> {
    places(&config.data_dir, config.database.as_deref())
}

/// The stores of a hub on the data dir `dir` and, if given, the database
/// at `database` (which then holds every roster).
pub fn places(dir: &Path, database: Option<&str>) -> Vec<Place> {
    match database {
        Some(url) => vec![Place::Database(url.to_string())],
        None => store_files(dir).into_iter().map(Place::File).collect(),
    }
}

fn placed(stored: &HashMap<String, usize>, shards: usize, roster: &str) -> usize {
    match stored.get(roster) {
        Some(i) => *i,
        None => (fnv1a(roster) % shards.max(1) as u64) as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_files_are_found_by_name_gaps_and_all() {
        assert_eq!(shard_number("hub.sqlite3"), Some(0));
        assert_eq!(shard_number("hub-2.sqlite3"), Some(2));
        for not in [
            "hub-0.sqlite3",
            "hub-02.sqlite3",
            "hub-x.sqlite3",
            "hub-2.sqlite3-wal",
            "accounts.sqlite3",
        ] {
            assert_eq!(shard_number(not), None, "{not}");
        }
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "hub.sqlite3",
            "hub-2.sqlite3",
            "hub-2.sqlite3-wal",
            "accounts.sqlite3",
        ] {
            std::fs::write(dir.path().join(f), b"").unwrap();
        }
        assert_eq!(shards_on_disk(dir.path()), 3, "hub-1 missing still counts");
        assert_eq!(
            store_files(dir.path()),
            vec![shard_file(dir.path(), 0), shard_file(dir.path(), 2)]
        );
    }

    #[test]
    fn a_roster_is_where_it_was_stored_else_where_its_name_hashes() {
        // FNV-1a's published values: the placement never changes.
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
        let stored = HashMap::from([("old".to_string(), 0)]);
        assert_eq!(placed(&stored, 4, "old"), 0);
        let spread: std::collections::BTreeSet<usize> = (0..40)
            .map(|i| placed(&stored, 4, &format!("ward-{i}")))
            .collect();
        assert_eq!(spread.len(), 4, "new rosters spread over every shard");
        assert_eq!(placed(&stored, 1, "anything"), 0);
    }
}
