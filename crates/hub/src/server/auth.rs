//! The hub's live view of its accounts and the one place that says what a
//! connection may do. The accounts file's contents are held in memory and
//! replaced whole when they change: by the hub itself (a client id claimed)
//! or by another process (`rota --serve --add-user`, `--revoke-token`, ...),
//! which a watcher thread notices through SQLite's `data_version`. Each
//! change bumps a generation that every connection watches, so a revoked
//! token's connections close at once. Never touches the store.
//!
//! An account flag returns only once the hub has taken its change up whole
//! (the file's handshake): the accounts reloaded, every connection told, and
//! the writer past a group checked against them, so nothing is acknowledged
//! under what the flag took away after it returns, and what it gave works.

use crate::accounts::{Accounts, AccountsError, AccountsFile, Identity, Role};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;
use tokio::sync::watch;

/// How often the watcher looks for another process's writes to the file:
/// an account flag waits up to this long for the hub to take its change up.
/// One pragma a look.
const WATCH_EVERY: Duration = Duration::from_millis(20);

/// Waits until the writer has finished every group it began before the
/// call, so the next one is checked against the accounts now in memory.
pub type Barrier = Box<dyn Fn() + Send + Sync>;

pub struct Gate {
    file: Mutex<AccountsFile>,
    current: RwLock<Arc<Accounts>>,
    generation: watch::Sender<u64>,
    /// The file's `data_version` the accounts in memory were read at.
    seen: std::sync::atomic::AtomicI64,
    /// The hub's data dir, for what an admin is told to run on it.
    pub dir: std::path::PathBuf,
    /// Set once the writer runs; until then there is nothing to wait for.
    barrier: std::sync::OnceLock<Barrier>,
}

impl Gate {
    /// Opens (creating when missing) the data dir's accounts file and starts
    /// watching it; the watcher ends when the gate is dropped.
    pub fn open(dir: &Path) -> Result<Arc<Gate>, AccountsError> {
        let file = AccountsFile::open_in(dir)?;
        // The version before the read: a change made meanwhile is read
        // again by the watcher, never lost.
        let version = file.data_version()?;
        let announced = file.changes()?;
        let accounts = file.load()?;
        // What a flag announced before this hub had a writer is in force
        // now: nothing was acknowledged under the old accounts.
        file.mark_seen(announced)?;
        let gate = Arc::new(Gate {
            file: Mutex::new(file),
            current: RwLock::new(Arc::new(accounts)),
            generation: watch::channel(0).0,
            seen: std::sync::atomic::AtomicI64::new(version),
            dir: dir.to_path_buf(),
            barrier: std::sync::OnceLock::new(),
        });
        let weak = Arc::downgrade(&gate);
        // The watcher is a convenience for other processes' writes; a hub
        // whose thread could not start still checks every connection, it
        // only learns of such writes at its next own one.
        let _ = std::thread::Builder::new()
            .name("rota-accounts".into())
            .spawn(move || watch_file(weak));
        Ok(gate)
    }

    /// Gives the gate the writer's barrier (once).
    pub fn set_barrier(&self, barrier: Barrier) {
        let _ = self.barrier.set(barrier);
    }

    /// Waits for the writer to be past every group checked against older
    /// accounts. Blocking.
    fn settle(&self) {
        if let Some(wait) = self.barrier.get() {
            wait();
        }
    }

    /// The accounts as they are now.
    pub fn current(&self) -> Arc<Accounts> {
        self.current
            .read()
            .map(|a| a.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// The accounts as the file has them this moment: read again first when
    /// another process wrote it since (a token issued a moment ago, before
    /// the watcher saw it). Blocking, but short: one pragma when nothing
    /// changed. For what would otherwise be refused.
    pub fn fresh(&self) -> Arc<Accounts> {
        if let Ok(file) = self.file.lock() {
            self.catch_up(&file);
        }
        self.current()
    }

    /// Reads the file again when its version moved since the last read,
    /// and tells the flag that changed it once the change is in force.
    fn catch_up(&self, file: &AccountsFile) {
        use std::sync::atomic::Ordering;
        match file.data_version() {
            Ok(v) if v != self.seen.load(Ordering::SeqCst) => {
                self.seen.store(v, Ordering::SeqCst);
                // Read before the accounts: what they hold is at least as new.
                let announced = file.changes();
                if self.reload(file) {
                    self.settle();
                    match announced.and_then(|n| file.mark_seen(n)) {
                        Ok(()) => {}
                        Err(e) => tracing::error!("cannot answer an account flag: {e}"),
                    }
                }
            }
            Ok(_) => {}
            Err(e) => tracing::error!("cannot watch the accounts: {e}"),
        }
    }

    /// Changes each time the accounts do.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Reads the file again and tells every connection; false when it
    /// could not be read.
    fn reload(&self, file: &AccountsFile) -> bool {
        match file.load() {
            Ok(acc) => {
                if let Ok(mut cur) = self.current.write() {
                    *cur = Arc::new(acc);
                }
                self.generation.send_modify(|g| *g += 1);
                true
            }
            // The last good accounts stay in force.
            Err(e) => {
                tracing::error!("cannot read the accounts: {e}");
                false
            }
        }
    }

    /// Records `client_id` as `user`'s unless another account has it.
    /// Blocking (a commit): call it off the async threads.
    pub fn claim_client(
        &self,
        client_id: &str,
        user: &str,
    ) -> Result<Result<(), String>, AccountsError> {
        if let Some(owner) = self.current().client_owner(client_id) {
            return Ok(if owner == user {
                Ok(())
            } else {
                Err(owner.to_string())
            });
        }
        // Takes nothing away from anyone: no need to wait for the writer.
        self.change(false, |f| f.claim_client(client_id, user))
    }

    /// Runs a change to the file and reloads it for every connection, then
    /// (`settle`) waits for the writer to be past the groups checked against
    /// the old accounts. Blocking: call it off the async threads.
    fn change<T>(
        &self,
        settle: bool,
        f: impl FnOnce(&mut AccountsFile) -> Result<T, AccountsError>,
    ) -> Result<T, AccountsError> {
        let mut file = self
            .file
            .lock()
            .map_err(|_| AccountsError::Invalid("the accounts file's lock was poisoned".into()))?;
        let out = f(&mut file)?;
        if self.reload(&file) && settle {
            self.settle();
        }
        Ok(out)
    }

    /// `user`'s role on `roster` (None takes it away). Blocking.
    pub fn set_role(
        &self,
        user: &str,
        roster: &str,
        role: Option<Role>,
        staff: Option<&str>,
    ) -> Result<(), AccountsError> {
        self.change(true, |f| match (role, staff) {
            (Some(Role::Staff), Some(staff)) => f.set_staff(user, roster, staff),
            _ => f.set_role(user, roster, role),
        })
    }

    /// A new user with `role` on `roster` (the staff role bound to the row
    /// `staff`); their token. Blocking.
    pub fn add_user(
        &self,
        user: &str,
        roster: &str,
        role: Role,
        staff: Option<&str>,
    ) -> Result<String, AccountsError> {
        let grant = match (role, staff) {
            (Role::Staff, Some(staff)) => crate::accounts::Grant::Staff {
                roster: roster.to_string(),
                staff: staff.to_string(),
            },
            (Role::Staff, None) => {
                return Err(AccountsError::Invalid(
                    "staff: the staff role is bound to one staff row; say whose".into(),
                ));
            }
            (role, _) => crate::accounts::Grant::Role {
                roster: roster.to_string(),
                role,
            },
        };
        self.change(true, |f| f.add_user(user, grant))
    }
}

fn watch_file(gate: Weak<Gate>) {
    loop {
        std::thread::sleep(WATCH_EVERY);
        let Some(gate) = gate.upgrade() else {
            return;
        };
        let Ok(file) = gate.file.lock() else {
            return;
        };
        gate.catch_up(&file);
    }
}

/// What the connection `who` (None: a hub without accounts) may do on
/// `roster` right now: None when it has no role there.
pub fn role_of(accounts: &Accounts, who: Option<&Identity>, roster: &str) -> Option<Role> {
    match who {
        Some(id) if accounts.still_valid(id) => accounts.role_on(&id.user, roster),
        Some(_) => None,
        // An open hub: everyone may do everything.
        None if !accounts.enabled() => Some(Role::Admin),
        None => None,
    }
}

/// The staff row `who` is bound to on `roster`, when their role there is
/// staff (and their token still valid).
pub fn staff_row_of(accounts: &Accounts, who: Option<&Identity>, roster: &str) -> Option<String> {
    let id = who.filter(|id| accounts.still_valid(id))?;
    accounts.staff_row(&id.user, roster).map(str::to_string)
}

/// Which rosters a list may name for `who`: None for all.
pub fn visible_rosters(
    accounts: &Accounts,
    who: Option<&Identity>,
) -> Option<std::collections::BTreeSet<String>> {
    match who {
        None if !accounts.enabled() => None,
        Some(id) if accounts.still_valid(id) && accounts.is_owner(&id.user) => None,
        Some(id) if accounts.still_valid(id) => Some(
            accounts
                .roles_of(&id.user)
                .into_iter()
                .map(|(r, _)| r)
                .collect(),
        ),
        _ => Some(Default::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Grant;
    use rota_core::domain::Op;

    #[test]
    fn cells_need_an_editor_and_everything_else_an_admin() {
        let cell = Op::SetCell {
            staff: "a".into(),
            date: "2026-01-01".parse().unwrap(),
            code: None,
            base: 0,
        };
        let staff = Op::RemoveStaff {
            id: "a".into(),
            base: None,
        };
        assert_eq!(Role::needed_for(std::slice::from_ref(&cell)), Role::Editor);
        assert_eq!(Role::needed_for(&[cell, staff]), Role::Admin);
        assert_eq!(
            Role::needed_for(&[Op::SetConflictMode {
                mode: rota_core::domain::ConflictMode::LastWriterWins
            }]),
            Role::Admin
        );
    }

    #[test]
    fn a_connection_without_a_token_has_no_role_once_there_are_accounts() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = AccountsFile::open_in(dir.path()).unwrap();
        assert_eq!(
            role_of(&f.load().unwrap(), None, "w"),
            Some(Role::Admin),
            "open hub"
        );
        let t = f
            .add_user(
                "ann",
                Grant::Role {
                    roster: "w".into(),
                    role: Role::Viewer,
                },
            )
            .unwrap();
        let acc = f.load().unwrap();
        assert_eq!(role_of(&acc, None, "w"), None);
        let ann = acc.authenticate(Some(&t)).unwrap();
        assert_eq!(role_of(&acc, Some(&ann), "w"), Some(Role::Viewer));
        assert_eq!(role_of(&acc, Some(&ann), "x"), None);
        assert_eq!(
            visible_rosters(&acc, Some(&ann)),
            Some(["w".to_string()].into())
        );
        f.revoke_token(&ann.token_id).unwrap();
        let acc = f.load().unwrap();
        assert_eq!(role_of(&acc, Some(&ann), "w"), None);
        assert_eq!(visible_rosters(&acc, Some(&ann)), Some(Default::default()));
    }
}
