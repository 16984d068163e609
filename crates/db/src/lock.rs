//! One hub per data dir: an exclusive advisory lock (flock) on `rota.lock`,
//! held for the hub's lifetime. The OS drops it when the process dies, even
//! by kill -9, so a crashed hub never needs a manual clean-up. The file also
//! records the holder's pid and address, so a second rota can say who holds
//! the dir (and an editor can join that hub instead of starting one).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

pub const LOCK_FILE: &str = "rota.lock";

#[derive(Clone, Debug, PartialEq)]
pub struct LockInfo {
    pub pid: u32,
    /// The `HOST:PORT` the holding hub listens on.
    pub addr: String,
}

/// Why the data dir could not be taken.
#[derive(Debug)]
pub enum LockError {
    /// Another live hub owns the data dir.
    Locked {
        dir: std::path::PathBuf,
        holder: Option<LockInfo>,
    },
    Io {
        what: String,
        err: std::io::Error,
    },
}

/// Held while the hub runs; dropping it releases the dir.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    pub fn acquire(dir: &Path, addr: &str) -> Result<DataDirLock, LockError> {
        let io = |what: &str, err| LockError::Io {
            what: format!("{what} {}", dir.display()),
            err,
        };
        std::fs::create_dir_all(dir).map_err(|e| io("creating data dir", e))?;
        // Not truncated on open: the current holder's record must survive
        // a refused attempt.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))
            .map_err(|e| io("opening the lock file in", e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LockError::Locked {
                    dir: dir.to_path_buf(),
                    holder: read_info(&mut file),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io("locking", e)),
        }
        let record = format!("pid {}\naddr {addr}\n", std::process::id());
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(record.as_bytes()))
            .and_then(|()| file.sync_all())
            .map_err(|e| io("writing the lock file in", e))?;
        Ok(DataDirLock { _file: file })
    }
}

/// Who holds the data dir's lock now, if a live hub does.
pub fn holder(dir: &Path) -> Option<LockInfo> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.join(LOCK_FILE))
        .ok()?;
    match file.try_lock() {
        // We got it, so nobody holds it (and dropping the file releases it).
        Ok(()) => None,
        Err(_) => read_info(&mut file),
    }
}

fn read_info(file: &mut File) -> Option<LockInfo> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
    };
    Some(LockInfo {
        pid: field("pid ")?.parse().ok()?,
        addr: field("addr ")?,
    })
}
