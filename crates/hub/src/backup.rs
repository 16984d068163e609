//! Backups of the embedded store (issue 24): every SQLite file of a hub's
//! data dir (the store's files and the accounts) copied with SQLite's
//! online backup API in one step, that is one read transaction: the store
//! is in WAL mode, where a reader never blocks the writers, so a running
//! hub's editors do not wait for it (copied a few pages a step instead,
//! the copy would start over at every commit of a busy hub and might never
//! end); and a restore that checks each copy
//! (its digest, `PRAGMA integrity_check`, every roster's change log gap
//! free up to its seq) before it replaces anything, keeping what it
//! replaces.
//!
//! A backup is a directory: the copies, and `manifest.json` naming each
//! file with its size and SHA-256 and each roster with its seq. Each file
//! is copied as one consistent snapshot; a roster lives in one file, so
//! every roster in a backup is whole as of a moment during the backup.

use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The manifest's file name in a backup.
pub const MANIFEST: &str = "manifest.json";

/// Pages copied per step of the online backup: all (see the module's doc).
const PAGES_PER_STEP: std::os::raw::c_int = -1;

/// What a backup holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The rota version that wrote it.
    pub version: String,
    /// Unix time (ms) the backup was taken.
    pub at: i64,
    pub files: Vec<FileEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
    /// The rosters stored in it, with their seqs.
    #[serde(default)]
    pub rosters: Vec<(String, u64)>,
}

/// The SQLite files of a data dir that a backup takes: the store's files
/// (`hub.sqlite3`, `hub-N.sqlite3`) and the accounts, by name.
fn data_files(dir: &Path) -> Result<Vec<String>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| {
            n == crate::server::STORE_FILE
                || n == crate::accounts::ACCOUNTS_FILE
                || (n.starts_with("hub-") && n.ends_with(".sqlite3"))
        })
        .collect();
    names.sort();
    Ok(names)
}

fn sha256_of(path: &Path) -> Result<(u64, String), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let digest = Sha256::digest(&bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok((bytes.len() as u64, hex))
}

/// The rosters a store file holds, with their seqs (none in the accounts).
fn rosters_in(conn: &Connection) -> Vec<(String, u64)> {
    let Ok(mut stmt) = conn.prepare("SELECT name, seq FROM rosters ORDER BY name") else {
        return Vec::new();
    };
    stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
    })
    .map(|rows| rows.flatten().collect())
    .unwrap_or_default()
}

/// Backs up the data dir `data` (a hub may be running on it) into the new
/// directory `to`.
pub fn backup(data: &Path, to: &Path) -> Result<Manifest, String> {
    if to.exists()
        && std::fs::read_dir(to)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(format!(
            "{} exists and is not empty: give a new directory",
            to.display()
        ));
    }
    let names = data_files(data)?;
    if !names.iter().any(|n| n == crate::server::STORE_FILE) {
        return Err(format!(
            "{} holds no hub store ({}): nothing to back up (a hub on PostgreSQL keeps its \
             rosters in the database: back that up with pg_dump, see docs/postgres.md)",
            data.display(),
            crate::server::STORE_FILE
        ));
    }
    std::fs::create_dir_all(to).map_err(|e| format!("creating {}: {e}", to.display()))?;
    let mut files = Vec::new();
    for name in names {
        let src_path = data.join(&name);
        let dst_path = to.join(&name);
        let src = Connection::open_with_flags(
            &src_path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| format!("opening {}: {e}", src_path.display()))?;
        let _ = src.busy_timeout(Duration::from_secs(10));
        let mut dst = Connection::open(&dst_path)
            .map_err(|e| format!("creating {}: {e}", dst_path.display()))?;
        {
            let step = rusqlite::backup::Backup::new(&src, &mut dst)
                .map_err(|e| format!("backing up {}: {e}", src_path.display()))?;
            copy_all(&step).map_err(|e| format!("backing up {}: {e}", src_path.display()))?;
        }
        // One file, no WAL beside it: the copy stands alone.
        dst.execute_batch("PRAGMA journal_mode = DELETE;")
            .map_err(|e| format!("finishing {}: {e}", dst_path.display()))?;
        let rosters = rosters_in(&dst);
        drop(dst);
        let (bytes, sha256) = sha256_of(&dst_path)?;
        files.push(FileEntry {
            name,
            bytes,
            sha256,
            rosters,
        });
    }
    let manifest = Manifest {
        version: env!("CARGO_PKG_VERSION").to_string(),
        at: chrono::Utc::now().timestamp_millis(),
        files,
    };
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    std::fs::write(to.join(MANIFEST), json)
        .map_err(|e| format!("writing {}: {e}", to.join(MANIFEST).display()))?;
    Ok(manifest)
}

/// Runs a backup in one step, trying again while the source is busy or
/// locked (a checkpoint, a writer's moment), for up to 10 s.
fn copy_all(b: &rusqlite::backup::Backup<'_, '_>) -> Result<(), String> {
    use rusqlite::backup::StepResult;
    let until = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match b.step(PAGES_PER_STEP).map_err(|e| e.to_string())? {
            StepResult::Done => return Ok(()),
            StepResult::More | StepResult::Busy | StepResult::Locked
                if std::time::Instant::now() < until =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            _ => return Err("the store stayed busy for 10 s".into()),
        }
    }
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub manifest: Manifest,
    /// Where the files it replaced went (None: there were none).
    pub kept: Option<PathBuf>,
}

/// Checks one copied store file: SQLite's own integrity check, and each
/// roster's change log holding every seq from 1 to the roster's seq once.
fn check_file(path: &Path, entry: &FileEntry) -> Result<(), String> {
    let (bytes, sha256) = sha256_of(path)?;
    if bytes != entry.bytes || sha256 != entry.sha256 {
        return Err(format!(
            "{}: not the file the backup took (size or SHA-256 differs from {MANIFEST})",
            path.display()
        ));
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if ok != "ok" {
        // SQLite lists every page it finds wrong: the first line says it.
        let mut lines = ok.lines().filter(|l| !l.trim_start().starts_with("***"));
        let first = lines.next().unwrap_or("damaged");
        let more = lines.count();
        let rest = if more > 0 {
            format!(" (and {more} more problems)")
        } else {
            String::new()
        };
        return Err(format!(
            "{}: SQLite's integrity check: {first}{rest}",
            path.display()
        ));
    }
    if entry.name == crate::accounts::ACCOUNTS_FILE {
        return Ok(());
    }
    for (roster, seq) in rosters_in(&conn) {
        let (count, low, high): (i64, Option<i64>, Option<i64>) = conn
            .query_row(
                "SELECT COUNT(DISTINCT seq), MIN(seq), MAX(seq) FROM batches WHERE roster = ?1",
                [&roster],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(|e| format!("{}: roster {roster}: {e}", path.display()))?;
        let gap_free = match (low, high) {
            (None, None) => seq == 0,
            (Some(low), Some(high)) => low == 1 && high as u64 == seq && count as u64 == seq,
            _ => false,
        };
        if !gap_free {
            return Err(format!(
                "{}: roster {roster} says seq {seq} but its change log holds {count} batches from {low:?} to {high:?}",
                path.display()
            ));
        }
    }
    Ok(())
}

/// Restores the backup `from` into the data dir `data` (no hub may be
/// running on it): every file is checked first, and only then are the
/// data dir's own files moved aside (into `replaced-<time>` beside them)
/// and the copies put in their place.
pub fn restore(from: &Path, data: &Path) -> Result<Restored, String> {
    let text = std::fs::read_to_string(from.join(MANIFEST)).map_err(|e| {
        format!(
            "{}: {e} (is it a rota backup?)",
            from.join(MANIFEST).display()
        )
    })?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}: {e} (is it a rota backup, whole?)",
            from.join(MANIFEST).display()
        )
    })?;
    for entry in &manifest.files {
        let name_ok = entry.name == crate::server::STORE_FILE
            || entry.name == crate::accounts::ACCOUNTS_FILE
            || (entry.name.starts_with("hub-")
                && entry.name.ends_with(".sqlite3")
                && !entry.name.contains(['/', '\\']));
        if !name_ok {
            return Err(format!(
                "{}: names a file `{}` a data dir does not hold",
                from.join(MANIFEST).display(),
                entry.name
            ));
        }
        check_file(&from.join(&entry.name), entry)?;
    }
    if let Some(h) = rota_db::lock::holder(data) {
        return Err(format!(
            "a hub is running on {} (pid {}, {}): stop it first; nothing replaced",
            data.display(),
            h.pid,
            h.addr
        ));
    }
    let lock = rota_db::lock::DataDirLock::acquire(data, "restore")
        .map_err(|e| format!("{}: {e:?}; nothing replaced", data.display()))?;
    let old = data_files(data)?;
    let kept = if old.is_empty() {
        None
    } else {
        let aside = data.join(format!(
            "replaced-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ));
        std::fs::create_dir_all(&aside).map_err(|e| format!("{}: {e}", aside.display()))?;
        for name in &old {
            for suffix in ["", "-wal", "-shm"] {
                let f = data.join(format!("{name}{suffix}"));
                if f.exists() {
                    std::fs::rename(&f, aside.join(format!("{name}{suffix}")))
                        .map_err(|e| format!("moving {} aside: {e}", f.display()))?;
                }
            }
        }
        Some(aside)
    };
    for entry in &manifest.files {
        let to = data.join(&entry.name);
        std::fs::copy(from.join(&entry.name), &to)
            .map_err(|e| format!("copying into {}: {e}", to.display()))?;
    }
    drop(lock);
    Ok(Restored { manifest, kept })
}
