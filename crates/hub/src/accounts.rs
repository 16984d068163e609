//! The hub's accounts: users, each one's role per roster (or the hub-wide
//! owner role), bearer tokens kept only as SHA-256 hashes, and which account
//! owns each client id. One SQLite file in the data dir, written by the hub
//! and by `rota --serve --add-user` (and the other account flags) from
//! another process; the hub notices such writes through `data_version`.
//! Blocking, like the store. Knows nothing of rosters' contents or the wire.
//!
//! A hub with no users is open: every client may do everything, under the
//! name it gives (the embedded hub of a lone editor works so). Once one user
//! exists, every connection must show a token.

use rota_core::clock::now_ms;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The accounts file's name inside the hub's data dir.
pub const ACCOUNTS_FILE: &str = "accounts.sqlite3";

/// Most characters of a user name.
pub use rota_core::domain::MAX_USER_CHARS;

pub use rota_core::domain::Role;

mod calendars;
pub use calendars::CalendarInfo;

/// Who a connection is: the account its token belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    /// The public id of the token it showed (the part before the secret).
    pub token_id: String,
}

/// Why a token was not taken. The messages are safe to show the client:
/// they never say whether a user or token id exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    Missing,
    /// Not a token of this hub (or its secret is wrong).
    Refused,
    /// A token of this hub, its secret right, that was revoked (or whose
    /// user was removed): said only to one who holds the whole token.
    Revoked,
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthError::Missing => f.write_str(
                "this hub has accounts: send a token (rota's --token, ROTA_TOKEN or the config file's `token`)",
            ),
            AuthError::Refused => {
                f.write_str("the token was refused: it is mistyped, revoked or not of this hub")
            }
            AuthError::Revoked => f.write_str(
                "the token was revoked (or its user removed): ask an admin of this hub for a new one",
            ),
        }
    }
}

/// A failure of the accounts file, or a request it cannot grant.
#[derive(Debug)]
pub enum AccountsError {
    Sqlite(PathBuf, rusqlite::Error),
    /// The file is damaged or not an accounts file.
    Damaged(PathBuf, String),
    /// A request that makes no sense (unknown user, bad name, ...).
    Invalid(String),
}

impl std::fmt::Display for AccountsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccountsError::Sqlite(p, e) => write!(f, "accounts file {}: {e}", p.display()),
            AccountsError::Damaged(p, m) => {
                write!(f, "accounts file {} is damaged: {m}", p.display())
            }
            AccountsError::Invalid(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for AccountsError {}

pub type Result<T> = std::result::Result<T, AccountsError>;

#[derive(Clone, Debug, Default, PartialEq)]
struct UserRec {
    owner: bool,
    roles: BTreeMap<String, Role>,
    /// The staff row each roster's staff role is bound to.
    staff: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq)]
struct TokenRec {
    user: String,
    hash: [u8; 32],
    revoked: bool,
}

/// One user as listed: `--list-users` and the editor's users panel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub owner: bool,
    pub roles: Vec<(String, Role)>,
    /// Token ids and whether each is revoked.
    pub tokens: Vec<(String, bool)>,
    /// (roster, staff id) where they have the staff role.
    pub staff: Vec<(String, String)>,
}

/// Everything the hub checks a connection against, read whole from the
/// file: small (a few rows per user) and replaced whole when it changes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Accounts {
    users: HashMap<String, UserRec>,
    tokens: HashMap<String, TokenRec>,
    clients: HashMap<String, String>,
    /// Calendar feeds by id.
    calendars: HashMap<String, calendars::CalRec>,
}

impl Accounts {
    /// Whether any user exists: if not, the hub is open.
    pub fn enabled(&self) -> bool {
        !self.users.is_empty()
    }

    /// The account a bearer token (the header's value after `Bearer `)
    /// belongs to. The secret is compared in constant time.
    pub fn authenticate(&self, token: Option<&str>) -> std::result::Result<Identity, AuthError> {
        let token = token.ok_or(AuthError::Missing)?;
        let (id, secret) = split_token(token).ok_or(AuthError::Refused)?;
        let rec = self.tokens.get(id).ok_or(AuthError::Refused)?;
        let matches = constant_time_eq(&hash_secret(secret), &rec.hash);
        if !matches {
            return Err(AuthError::Refused);
        }
        if rec.revoked || !self.users.contains_key(&rec.user) {
            return Err(AuthError::Revoked);
        }
        Ok(Identity {
            user: rec.user.clone(),
            token_id: id.to_string(),
        })
    }

    /// Whether a connection authenticated as `who` may stay: its token is
    /// not revoked and its user not removed.
    pub fn still_valid(&self, who: &Identity) -> bool {
        self.tokens
            .get(&who.token_id)
            .is_some_and(|t| !t.revoked && t.user == who.user)
            && self.users.contains_key(&who.user)
    }

    pub fn is_owner(&self, user: &str) -> bool {
        self.users.get(user).is_some_and(|u| u.owner)
    }

    /// `user`'s role on `roster`: an owner is admin of every roster.
    pub fn role_on(&self, user: &str, roster: &str) -> Option<Role> {
        let u = self.users.get(user)?;
        if u.owner {
            return Some(Role::Admin);
        }
        u.roles.get(roster).copied()
    }

    /// The staff row `user` is bound to on `roster`, when their role there
    /// is staff.
    pub fn staff_row(&self, user: &str, roster: &str) -> Option<&str> {
        let u = self.users.get(user)?;
        if u.owner || u.roles.get(roster) != Some(&Role::Staff) {
            return None;
        }
        u.staff.get(roster).map(String::as_str)
    }

    /// `user`'s roles by roster (an owner's are not listed: they have all).
    pub fn roles_of(&self, user: &str) -> Vec<(String, Role)> {
        self.users.get(user).map_or_else(Vec::new, |u| {
            u.roles.iter().map(|(r, role)| (r.clone(), *role)).collect()
        })
    }

    /// The account that first used `client_id`, if any did.
    pub fn client_owner(&self, client_id: &str) -> Option<&str> {
        self.clients.get(client_id).map(String::as_str)
    }

    /// The users with a role on `roster` (owners included, as admins), by name.
    pub fn users_of(&self, roster: &str) -> Vec<(String, Role, bool)> {
        let mut out: Vec<(String, Role, bool)> = self
            .users
            .iter()
            .filter_map(|(name, u)| {
                let role = if u.owner {
                    Role::Admin
                } else {
                    *u.roles.get(roster)?
                };
                Some((name.clone(), role, u.owner))
            })
            .collect();
        out.sort();
        out
    }
}

/// `rota_<id>_<secret>`: the id is public (it names the token in lists and
/// revocations), the secret is 256 bits and stored only as its hash.
fn split_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix("rota_")?;
    let (id, secret) = rest.split_once('_')?;
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(id, TOKEN_ID_BYTES * 2) && hex(secret, TOKEN_SECRET_BYTES * 2)).then_some((id, secret))
}

const TOKEN_ID_BYTES: usize = 8;
const TOKEN_SECRET_BYTES: usize = 32;

fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Equal or not, in time that does not depend on where they differ.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)
        .map_err(|e| AccountsError::Invalid(format!("the OS's random generator failed: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// What a user name must be (see [`rota_core::domain::check_user_name`]).
pub fn check_user_name(name: &str) -> Result<()> {
    rota_core::domain::check_user_name(name).map_err(AccountsError::Invalid)
}

/// A new account's name is in one script (Japanese's Han and kana count as
/// one): a Cyrillic а in a Latin name reads as Latin to everyone.
fn check_one_script(name: &str) -> Result<()> {
    use unicode_security::MixedScript;
    if !name.is_single_script() {
        return Err(AccountsError::Invalid(format!(
            "user name `{name}` mixes scripts (a Cyrillic or Greek letter among Latin ones reads as Latin): write it in one"
        )));
    }
    Ok(())
}

/// What two account names that read alike have in common: Unicode's
/// confusable skeleton (UTS #39) of the name in lower case with its
/// accents taken off, so that `οlga` (Greek omicron), `OLGA` and `ólga`
/// all read as `olga`.
fn reads_as(name: &str) -> String {
    let skeleton: String = unicode_security::skeleton(&name.to_lowercase()).collect();
    skeleton
        .chars()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .collect()
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS rota_accounts(version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS users(
    name TEXT PRIMARY KEY,
    owner INTEGER NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS roles(
    user TEXT NOT NULL,
    roster TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY(user, roster)
);
CREATE TABLE IF NOT EXISTS tokens(
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    hash BLOB NOT NULL,
    created INTEGER NOT NULL,
    revoked INTEGER
);
CREATE TABLE IF NOT EXISTS clients(
    client_id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    first_seen INTEGER NOT NULL
);
";

/// How an account flag run beside a hub knows the hub has taken up its
/// change: the flag counts `changes` up, the hub sets `seen` to the count it
/// read once its writer has passed a group checked against the new
/// accounts (`server::auth`).
const HANDSHAKE: &str = "
CREATE TABLE IF NOT EXISTS handshake(
    id INTEGER PRIMARY KEY CHECK (id = 1),
    changes INTEGER NOT NULL DEFAULT 0,
    seen INTEGER NOT NULL DEFAULT 0
);
";

/// Which staff row a staff role is bound to, per user and roster. Made by
/// the first write that needs it (so an older rota's hub reads the file as
/// before: it knows no `staff` role, which grants nothing there).
const STAFF_ROWS: &str = "
CREATE TABLE IF NOT EXISTS staff_rows(
    user TEXT NOT NULL,
    roster TEXT NOT NULL,
    staff TEXT NOT NULL,
    PRIMARY KEY (user, roster)
) WITHOUT ROWID;
";

/// The accounts file, open.
pub struct AccountsFile {
    conn: Connection,
    path: PathBuf,
}

impl AccountsFile {
    /// The accounts file of the data dir `dir`, made whole when missing. An
    /// empty or damaged file is refused, naming it.
    pub fn open_in(dir: &Path) -> Result<AccountsFile> {
        AccountsFile::open(&dir.join(ACCOUNTS_FILE))
    }

    /// Whether the data dir `dir` has users, without making a file there.
    pub fn has_users(dir: &Path) -> Result<bool> {
        let path = dir.join(ACCOUNTS_FILE);
        if !path.exists() {
            return Ok(false);
        }
        Ok(AccountsFile::open(&path)?.load()?.enabled())
    }

    pub fn open(path: &Path) -> Result<AccountsFile> {
        let damaged = |m: String| AccountsError::Damaged(path.to_path_buf(), m);
        let sqlite = |e| AccountsError::Sqlite(path.to_path_buf(), e);
        match rota_db::sqlite_file::is_empty(path) {
            Ok(Some(true)) => {
                return Err(damaged(
                    "the file is empty (0 bytes); restore it from a backup, or move it away to start with no accounts (an open hub)".into(),
                ));
            }
            Ok(Some(false)) => {}
            Ok(None) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| damaged(format!("cannot create its directory: {e}")))?;
                }
                rota_db::sqlite_file::create_whole(path, |c: &mut Connection| {
                    c.execute_batch(SCHEMA)?;
                    c.execute("INSERT INTO rota_accounts(version) VALUES (1)", [])
                        .map(|_| ())
                })
                .map_err(|e| damaged(format!("cannot create it: {e}")))?
            }
            Err(e) => return Err(damaged(format!("cannot read it: {e}"))),
        }
        let conn = Connection::open(path).map_err(sqlite)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .and_then(|()| conn.pragma_update(None, "synchronous", "FULL"))
            .and_then(|()| conn.busy_timeout(std::time::Duration::from_secs(5)))
            .map_err(|e| {
                if rota_db::sqlite_file::is_damage(&e) {
                    damaged(e.to_string())
                } else {
                    sqlite(e)
                }
            })?;
        let version: Option<i64> = conn
            .query_row("SELECT version FROM rota_accounts", [], |r| r.get(0))
            .optional()
            .map_err(|e| damaged(format!("not a rota accounts file ({e})")))?;
        if version != Some(1) {
            return Err(damaged(format!(
                "its version is {version:?}; this rota reads version 1"
            )));
        }
        Ok(AccountsFile {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Says that this process changed the accounts: returns the change's
    /// number, which a running hub marks seen (see [`AccountsFile::seen`])
    /// once nothing it acknowledges is checked against older accounts.
    pub fn announce_change(&self) -> Result<i64> {
        self.conn
            .execute_batch(HANDSHAKE)
            .map_err(|e| self.sqlite(e))?;
        self.conn
            .query_row(
                "INSERT INTO handshake(id, changes) VALUES (1, 1) \
                 ON CONFLICT(id) DO UPDATE SET changes = changes + 1 RETURNING changes",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.sqlite(e))
    }

    /// The number of the latest change announced.
    pub fn changes(&self) -> Result<i64> {
        self.handshake_field("changes")
    }

    /// The number of the latest change a running hub has taken up whole.
    pub fn seen(&self) -> Result<i64> {
        self.handshake_field("seen")
    }

    /// The hub has taken up every change up to `n`.
    pub fn mark_seen(&self, n: i64) -> Result<()> {
        self.conn
            .execute_batch(HANDSHAKE)
            .map_err(|e| self.sqlite(e))?;
        self.conn
            .execute(
                "INSERT INTO handshake(id, seen) VALUES (1, ?1) \
                 ON CONFLICT(id) DO UPDATE SET seen = max(seen, excluded.seen)",
                [n],
            )
            .map(|_| ())
            .map_err(|e| self.sqlite(e))
    }

    /// A field of the handshake; 0 in a file that has none yet (it is made
    /// by the first write, so reading never writes).
    fn handshake_field(&self, field: &str) -> Result<i64> {
        let exists: bool = self
            .conn
            .query_row(
                "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'handshake'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.sqlite(e))?;
        if !exists {
            return Ok(0);
        }
        self.conn
            .query_row(&format!("SELECT {field} FROM handshake"), [], |r| r.get(0))
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(|e| self.sqlite(e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sqlite(&self, e: rusqlite::Error) -> AccountsError {
        if rota_db::sqlite_file::is_damage(&e) {
            AccountsError::Damaged(self.path.clone(), e.to_string())
        } else {
            AccountsError::Sqlite(self.path.clone(), e)
        }
    }

    /// Changes whenever another connection (another process) has committed
    /// to the file since this one last looked.
    pub fn data_version(&self) -> Result<i64> {
        self.conn
            .pragma_query_value(None, "data_version", |r| r.get(0))
            .map_err(|e| self.sqlite(e))
    }

    /// Everything in the file, for checking connections against.
    pub fn load(&self) -> Result<Accounts> {
        self.load_inner().map_err(|e| self.sqlite(e))
    }

    fn load_inner(&self) -> rusqlite::Result<Accounts> {
        let mut acc = Accounts::default();
        let mut stmt = self.conn.prepare("SELECT name, owner FROM users")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))? {
            let (name, owner) = row?;
            acc.users.insert(
                name,
                UserRec {
                    owner,
                    roles: BTreeMap::new(),
                    staff: BTreeMap::new(),
                },
            );
        }
        let mut stmt = self.conn.prepare("SELECT user, roster, role FROM roles")?;
        for row in stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })? {
            let (user, roster, role) = row?;
            // A role this rota does not know grants nothing.
            if let (Some(u), Some(role)) = (acc.users.get_mut(&user), Role::parse(&role)) {
                u.roles.insert(roster, role);
            }
        }
        let has_staff_rows: bool = self.conn.query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'staff_rows'",
            [],
            |r| r.get(0),
        )?;
        if has_staff_rows {
            let mut stmt = self
                .conn
                .prepare("SELECT user, roster, staff FROM staff_rows")?;
            for row in stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })? {
                let (user, roster, staff) = row?;
                if let Some(u) = acc.users.get_mut(&user) {
                    u.staff.insert(roster, staff);
                }
            }
        }
        let mut stmt = self
            .conn
            .prepare("SELECT id, user, hash, revoked IS NOT NULL FROM tokens")?;
        for row in stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })? {
            let (id, user, hash, revoked) = row?;
            // A hash of the wrong length matches no secret.
            if let Ok(hash) = <[u8; 32]>::try_from(hash.as_slice()) {
                acc.tokens.insert(
                    id,
                    TokenRec {
                        user,
                        hash,
                        revoked,
                    },
                );
            }
        }
        let mut stmt = self.conn.prepare("SELECT client_id, user FROM clients")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (client, user) = row?;
            acc.clients.insert(client, user);
        }
        self.load_calendars(&mut acc)?;
        Ok(acc)
    }

    /// An existing user whose name reads the same as `name` but is not it
    /// (`οlga` with a Greek omicron, `OLGA` or `ólga` beside `olga`):
    /// [`reads_as`] compared.
    fn lookalike(&self, name: &str) -> Result<Option<String>> {
        let want = reads_as(name);
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM users")
            .map_err(|e| self.sqlite(e))?;
        let names = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.sqlite(e))?;
        for other in names {
            let other = other.map_err(|e| self.sqlite(e))?;
            if other != name && reads_as(&other) == want {
                return Ok(Some(other));
            }
        }
        Ok(None)
    }

    fn user_exists(&self, name: &str) -> Result<bool> {
        self.conn
            .query_row("SELECT 1 FROM users WHERE name = ?1", [name], |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
            .map_err(|e| self.sqlite(e))
    }

    fn must_exist(&self, name: &str) -> Result<()> {
        if self.user_exists(name)? {
            Ok(())
        } else {
            Err(AccountsError::Invalid(format!(
                "no user `{name}` on this hub"
            )))
        }
    }

    /// Adds a user with `grant` and returns their first token, to be shown
    /// once: only its hash is kept.
    pub fn add_user(&mut self, name: &str, grant: Grant) -> Result<String> {
        check_user_name(name)?;
        if self.user_exists(name)? {
            return Err(AccountsError::Invalid(format!(
                "user `{name}` exists already: change their role with --set-role, or give them another token with --new-token"
            )));
        }
        if let Some(other) = self.lookalike(name)? {
            return Err(AccountsError::Invalid(format!(
                "user name `{name}` looks the same as the user `{other}` (Unicode's confusables, case and accents): choose a name that reads differently"
            )));
        }
        check_one_script(name)?;
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(|e| AccountsError::Sqlite(path.clone(), e))?;
        let owner = matches!(grant, Grant::Owner);
        tx.execute(
            "INSERT INTO users(name, owner, created) VALUES (?1, ?2, ?3)",
            params![name, owner, now_ms()],
        )
        .map_err(|e| AccountsError::Sqlite(path.clone(), e))?;
        match &grant {
            Grant::Owner => {}
            Grant::Role { roster, role } => {
                put_role(&tx, name, roster, Some(*role))
                    .map_err(|e| AccountsError::Sqlite(path.clone(), e))?;
            }
            Grant::Staff { roster, staff } => {
                check_staff_row(roster, staff)?;
                put_role(&tx, name, roster, Some(Role::Staff))
                    .and_then(|()| put_staff_row(&tx, name, roster, Some(staff)))
                    .map_err(|e| AccountsError::Sqlite(path.clone(), e))?;
            }
        }
        let token = issue_token(&tx, name, &path)?;
        tx.commit()
            .map_err(|e| AccountsError::Sqlite(path.clone(), e))?;
        Ok(token)
    }

    /// Gives `user` the role `role` on `roster` (None: no role there). The
    /// staff role keeps the row it is bound to; a user who has none there
    /// needs [`AccountsFile::set_staff`].
    pub fn set_role(&mut self, user: &str, roster: &str, role: Option<Role>) -> Result<()> {
        self.must_exist(user)?;
        rota_core::domain::check_roster_name(roster)
            .map_err(|m| AccountsError::Invalid(format!("--roster: {m}")))?;
        if role == Some(Role::Staff) {
            let bound = self
                .load()?
                .users
                .get(user)
                .and_then(|u| u.staff.get(roster).cloned());
            let Some(staff) = bound else {
                return Err(AccountsError::Invalid(format!(
                    "the staff role is bound to one staff row: say whose with --staff ID (user `{user}`, roster `{roster}`)"
                )));
            };
            return self.set_staff(user, roster, &staff);
        }
        let path = self.path.clone();
        let sql = |e| AccountsError::Sqlite(path.clone(), e);
        let tx = self.conn.transaction().map_err(sql)?;
        put_role(&tx, user, roster, role)
            .and_then(|()| put_staff_row(&tx, user, roster, None))
            .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// Gives `user` the staff role on `roster`, bound to the staff row
    /// `staff`: they read the roster, and enter and withdraw that row's
    /// requests only.
    pub fn set_staff(&mut self, user: &str, roster: &str, staff: &str) -> Result<()> {
        self.must_exist(user)?;
        rota_core::domain::check_roster_name(roster)
            .map_err(|m| AccountsError::Invalid(format!("--roster: {m}")))?;
        check_staff_row(roster, staff)?;
        let path = self.path.clone();
        let sql = |e| AccountsError::Sqlite(path.clone(), e);
        let tx = self.conn.transaction().map_err(sql)?;
        put_role(&tx, user, roster, Some(Role::Staff))
            .and_then(|()| put_staff_row(&tx, user, roster, Some(staff)))
            .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// Makes `user` an owner of the whole hub, or not.
    pub fn set_owner(&mut self, user: &str, owner: bool) -> Result<()> {
        self.must_exist(user)?;
        self.conn
            .execute(
                "UPDATE users SET owner = ?2 WHERE name = ?1",
                params![user, owner],
            )
            .map(|_| ())
            .map_err(|e| self.sqlite(e))
    }

    /// Another token for `user`, shown once.
    pub fn new_token(&mut self, user: &str) -> Result<String> {
        self.must_exist(user)?;
        issue_token(&self.conn, user, &self.path)
    }

    /// Revokes the token `id` (its public part, or the whole token).
    /// Returns whose it was.
    pub fn revoke_token(&mut self, id: &str) -> Result<String> {
        let id = split_token(id).map_or(id, |(id, _)| id);
        let user: Option<String> = self
            .conn
            .query_row("SELECT user FROM tokens WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(|e| self.sqlite(e))?;
        let user =
            user.ok_or_else(|| AccountsError::Invalid(format!("no token `{id}` on this hub")))?;
        self.conn
            .execute(
                "UPDATE tokens SET revoked = ?2 WHERE id = ?1 AND revoked IS NULL",
                params![id, now_ms()],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(user)
    }

    /// Removes `user`: their roles go and their tokens are revoked. The
    /// client ids they used stay theirs, so no one else can take them.
    pub fn remove_user(&mut self, user: &str) -> Result<()> {
        self.must_exist(user)?;
        let path = self.path.clone();
        let sql = |e| AccountsError::Sqlite(path.clone(), e);
        let tx = self.conn.transaction().map_err(sql)?;
        tx.execute("DELETE FROM roles WHERE user = ?1", [user])
            .map_err(sql)?;
        tx.execute_batch(STAFF_ROWS).map_err(sql)?;
        tx.execute("DELETE FROM staff_rows WHERE user = ?1", [user])
            .map_err(sql)?;
        tx.execute(
            "UPDATE tokens SET revoked = ?2 WHERE user = ?1 AND revoked IS NULL",
            params![user, now_ms()],
        )
        .map_err(sql)?;
        tx.execute("DELETE FROM users WHERE name = ?1", [user])
            .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// Records that `client_id` is `user`'s, unless it is another's already.
    /// Err(owner) names that other account.
    pub fn claim_client(
        &mut self,
        client_id: &str,
        user: &str,
    ) -> Result<std::result::Result<(), String>> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO clients(client_id, user, first_seen) VALUES (?1, ?2, ?3)",
                params![client_id, user, now_ms()],
            )
            .map_err(|e| self.sqlite(e))?;
        let owner: String = self
            .conn
            .query_row(
                "SELECT user FROM clients WHERE client_id = ?1",
                [client_id],
                |r| r.get(0),
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(if owner == user { Ok(()) } else { Err(owner) })
    }

    /// Every user, by name, with roles and token ids.
    pub fn list(&self) -> Result<Vec<UserInfo>> {
        let acc = self.load()?;
        let mut tokens: Vec<(&String, &TokenRec)> = acc.tokens.iter().collect();
        tokens.sort_by_key(|(id, _)| *id);
        let mut out: Vec<UserInfo> = acc
            .users
            .iter()
            .map(|(name, u)| UserInfo {
                name: name.clone(),
                owner: u.owner,
                roles: u.roles.iter().map(|(r, role)| (r.clone(), *role)).collect(),
                staff: u
                    .staff
                    .iter()
                    .filter(|(r, _)| u.roles.get(*r) == Some(&Role::Staff))
                    .map(|(r, s)| (r.clone(), s.clone()))
                    .collect(),
                tokens: tokens
                    .iter()
                    .filter(|(_, t)| &t.user == name)
                    .map(|(id, t)| ((*id).clone(), t.revoked))
                    .collect(),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

/// What a new user is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grant {
    /// The hub-wide owner role: every roster, every user.
    Owner,
    Role {
        roster: String,
        role: Role,
    },
    /// The staff role on `roster`, bound to the staff row `staff`.
    Staff {
        roster: String,
        staff: String,
    },
}

/// A staff role's roster and row, checked.
fn check_staff_row(roster: &str, staff: &str) -> Result<()> {
    rota_core::domain::check_roster_name(roster)
        .map_err(|m| AccountsError::Invalid(format!("--roster: {m}")))?;
    rota_core::domain::check_id("--staff", staff).map_err(AccountsError::Invalid)
}

/// Binds (Some) or unbinds (None) `user`'s staff role on `roster`.
fn put_staff_row(
    conn: &Connection,
    user: &str,
    roster: &str,
    staff: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute_batch(STAFF_ROWS)?;
    match staff {
        Some(staff) => conn.execute(
            "INSERT INTO staff_rows(user, roster, staff) VALUES (?1, ?2, ?3)
             ON CONFLICT(user, roster) DO UPDATE SET staff = excluded.staff",
            params![user, roster, staff],
        ),
        None => conn.execute(
            "DELETE FROM staff_rows WHERE user = ?1 AND roster = ?2",
            params![user, roster],
        ),
    }
    .map(drop)
}

fn put_role(
    conn: &Connection,
    user: &str,
    roster: &str,
    role: Option<Role>,
) -> rusqlite::Result<()> {
    match role {
        Some(role) => conn.execute(
            "INSERT INTO roles(user, roster, role) VALUES (?1, ?2, ?3)
             ON CONFLICT(user, roster) DO UPDATE SET role = excluded.role",
            params![user, roster, role.as_str()],
        ),
        None => conn.execute(
            "DELETE FROM roles WHERE user = ?1 AND roster = ?2",
            params![user, roster],
        ),
    }
    .map(|_| ())
}

/// A new token of `user`, stored as its hash in `conn` (of the file `path`).
fn issue_token(conn: &Connection, user: &str, path: &Path) -> Result<String> {
    let id = random_hex(TOKEN_ID_BYTES)?;
    let secret = random_hex(TOKEN_SECRET_BYTES)?;
    conn.execute(
        "INSERT INTO tokens(id, user, hash, created) VALUES (?1, ?2, ?3, ?4)",
        params![id, user, hash_secret(&secret).to_vec(), now_ms()],
    )
    .map_err(|e| AccountsError::Sqlite(path.to_path_buf(), e))?;
    Ok(format!("rota_{id}_{secret}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> (tempfile::TempDir, AccountsFile) {
        let dir = tempfile::tempdir().unwrap();
        let f = AccountsFile::open_in(dir.path()).unwrap();
        (dir, f)
    }

    fn editor_of(roster: &str) -> Grant {
        Grant::Role {
            roster: roster.into(),
            role: Role::Editor,
        }
    }

    #[test]
    fn a_token_authenticates_its_user_until_revoked() {
        let (_d, mut f) = file();
        assert!(!f.load().unwrap().enabled());
        let token = f.add_user("ann", editor_of("ward-3")).unwrap();
        let acc = f.load().unwrap();
        assert!(acc.enabled());
        let who = acc.authenticate(Some(&token)).unwrap();
        assert_eq!(who.user, "ann");
        assert_eq!(acc.role_on("ann", "ward-3"), Some(Role::Editor));
        assert_eq!(acc.role_on("ann", "ward-4"), None);
        // One hex digit of the secret changed: refused.
        let mut wrong = token.clone().into_bytes();
        let last = wrong.len() - 1;
        wrong[last] = if wrong[last] == b'0' { b'1' } else { b'0' };
        let wrong = String::from_utf8(wrong).unwrap();
        assert_eq!(acc.authenticate(Some(&wrong)), Err(AuthError::Refused));
        assert_eq!(acc.authenticate(None), Err(AuthError::Missing));
        assert_eq!(acc.authenticate(Some("rota_x_y")), Err(AuthError::Refused));
        f.revoke_token(&who.token_id).unwrap();
        let acc = f.load().unwrap();
        // Its holder is told it was revoked (found by a new user, told
        // only "mistyped, revoked or not of this hub"); a guess is not.
        assert_eq!(acc.authenticate(Some(&token)), Err(AuthError::Revoked));
        assert!(AuthError::Revoked.to_string().contains("revoked"));
        assert_eq!(acc.authenticate(Some(&wrong)), Err(AuthError::Refused));
        assert!(!acc.still_valid(&who));
    }

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let (dir, mut f) = file();
        let a = f.add_user("ann", editor_of("w")).unwrap();
        let b = f.new_token("ann").unwrap();
        assert_ne!(a, b);
        let (_, secret) = split_token(&a).unwrap();
        assert_eq!(secret.len(), 64, "256 bits of secret");
        drop(f);
        let bytes = std::fs::read(dir.path().join(ACCOUNTS_FILE)).unwrap();
        let wal =
            std::fs::read(dir.path().join(format!("{ACCOUNTS_FILE}-wal"))).unwrap_or_default();
        for blob in [&bytes, &wal] {
            assert!(
                !blob.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "the secret is not stored"
            );
        }
    }

    #[test]
    fn roles_change_and_owners_are_admins_everywhere() {
        let (_d, mut f) = file();
        f.add_user("olga", Grant::Owner).unwrap();
        f.add_user("ann", editor_of("w")).unwrap();
        f.set_role("ann", "w", Some(Role::Viewer)).unwrap();
        f.set_role("ann", "x", Some(Role::Admin)).unwrap();
        let acc = f.load().unwrap();
        assert_eq!(acc.role_on("olga", "anything"), Some(Role::Admin));
        assert_eq!(acc.role_on("ann", "w"), Some(Role::Viewer));
        assert_eq!(acc.role_on("ann", "x"), Some(Role::Admin));
        assert_eq!(
            acc.users_of("w"),
            vec![
                ("ann".to_string(), Role::Viewer, false),
                ("olga".to_string(), Role::Admin, true)
            ]
        );
        f.set_role("ann", "w", None).unwrap();
        assert_eq!(f.load().unwrap().role_on("ann", "w"), None);
        assert!(matches!(
            f.set_role("nobody", "w", Some(Role::Viewer)),
            Err(AccountsError::Invalid(m)) if m.contains("no user `nobody`")
        ));
        assert!(matches!(
            f.add_user("ann", Grant::Owner),
            Err(AccountsError::Invalid(m)) if m.contains("exists already")
        ));
        assert!(f.add_user(" ann", Grant::Owner).is_err());
    }

    #[test]
    fn a_client_id_stays_with_the_account_that_first_used_it() {
        let (_d, mut f) = file();
        f.add_user("ann", editor_of("w")).unwrap();
        f.add_user("bob", editor_of("w")).unwrap();
        assert_eq!(f.claim_client("c1", "ann").unwrap(), Ok(()));
        assert_eq!(f.claim_client("c1", "ann").unwrap(), Ok(()));
        assert_eq!(f.claim_client("c1", "bob").unwrap(), Err("ann".into()));
        // Removing ann does not free her client ids.
        f.remove_user("ann").unwrap();
        assert_eq!(f.claim_client("c1", "bob").unwrap(), Err("ann".into()));
        assert_eq!(f.load().unwrap().client_owner("c1"), Some("ann"));
    }

    #[test]
    fn removing_a_user_revokes_their_tokens() {
        let (_d, mut f) = file();
        let t = f.add_user("ann", editor_of("w")).unwrap();
        f.remove_user("ann").unwrap();
        let acc = f.load().unwrap();
        assert_eq!(acc.authenticate(Some(&t)), Err(AuthError::Revoked));
        let list = f.list().unwrap();
        assert!(list.is_empty());
    }

    #[test]
    fn another_process_writing_is_seen_by_data_version() {
        let (dir, hub) = file();
        let before = hub.data_version().unwrap();
        let mut cli = AccountsFile::open_in(dir.path()).unwrap();
        cli.add_user("ann", Grant::Owner).unwrap();
        assert_ne!(hub.data_version().unwrap(), before);
        assert!(hub.load().unwrap().enabled());
    }

    #[test]
    fn an_empty_or_foreign_file_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(ACCOUNTS_FILE);
        std::fs::write(&path, b"").unwrap();
        let e = AccountsFile::open(&path).err().unwrap().to_string();
        assert!(
            e.contains(&path.display().to_string()) && e.contains("empty"),
            "{e}"
        );
        std::fs::write(&path, b"not a database at all, just text").unwrap();
        let e = AccountsFile::open(&path).err().unwrap().to_string();
        assert!(e.contains("damaged"), "{e}");
    }
}
