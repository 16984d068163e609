//! What the hub's store and the editor's local file share about their
//! SQLite files: a new file is made whole (built under another name, then
//! linked into place), and which SQLite errors mean the file is damaged.
//! Knows nothing of what the files hold.

use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// Why a file could not be made: opening the new file, filling it (the
/// caller's error), or linking it into place.
#[derive(Debug)]
pub enum MakeError<E> {
    Open(PathBuf, rusqlite::Error),
    Init(PathBuf, E),
    Io(PathBuf, std::io::Error),
}

impl<E: std::fmt::Display> std::fmt::Display for MakeError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MakeError::Open(p, e) => write!(f, "making {}: {e}", p.display()),
            MakeError::Init(p, e) => write!(f, "making {}: {e}", p.display()),
            MakeError::Io(p, e) => write!(f, "creating {}: {e}", p.display()),
        }
    }
}

/// Makes a new file at `path` whole: `init` fills it under another name
/// (fsynced commits), and it is linked into place only if no file is there
/// yet. A crash leaves no file or a complete one, never an empty one that
/// could later be taken for new; two processes making it at once both end
/// up with the same one.
pub fn create_whole<E>(
    path: &Path,
    init: impl FnOnce(&mut Connection) -> Result<(), E>,
) -> Result<(), MakeError<E>> {
    let mut nonce = [0u8; 8];
    let _ = getrandom::fill(&mut nonce);
    let tmp = PathBuf::from(format!(
        "{}.new-{}-{:x}",
        path.display(),
        std::process::id(),
        u64::from_le_bytes(nonce)
    ));
    let built = match Connection::open(&tmp)
        .and_then(|c| c.pragma_update(None, "synchronous", "FULL").map(|()| c))
    {
        Ok(mut conn) => init(&mut conn).map_err(|e| MakeError::Init(tmp.clone(), e)),
        Err(e) => Err(MakeError::Open(tmp.clone(), e)),
    };
    if let Err(e) = built {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(MakeError::Io(path.to_path_buf(), e)),
    }
}

/// An error that says the file itself is damaged (not busy, not full).
pub fn is_damage(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    matches!(e.sqlite_error_code(), Some(DatabaseCorrupt | NotADatabase))
}

/// Whether an existing file is empty (a file made whole never is).
pub fn is_empty(path: &Path) -> std::io::Result<Option<bool>> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some(m.len() == 0)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
