//! The store in PostgreSQL (`--database postgres://…`): the same records
//! as the SQLite store (rosters, their records and cells, the change log,
//! history's index, the answers), in tables of its own ([`schema`]), through
//! the synchronous `postgres` client (rust-postgres) on the writer's and
//! readers' own threads. Every connection sets `synchronous_commit = on`: a
//! group is acknowledged only once the database has made it durable.
//!
//! What the database decides, so that several hubs may share it: each
//! roster's seq (a group claims a roster, under a lock held to its commit,
//! before it applies an edit to it: [`Group::claim`]); the uniqueness of a
//! batch's seq and of an answer's (roster, client, op id), by primary keys.
//!
//! One room a seam: [`schema`] (the tables, migrations), [`group`] (a group
//! commit, its writes gathered and sent in a few statements at commit),
//! [`read`] (loading, catch-up, history, lists: on a transaction or a
//! reader's connection).

use super::{Result, StoreError};
use postgres::{Client, NoTls, Statement};
use std::collections::HashMap;

mod group;
mod import;
pub mod pool;
mod read;
mod schema;

pub use group::Group;
pub use import::Importer;
pub use read::Reader;

/// The `application_name` of rota's connections (unless the URL names one).
pub const APPLICATION: &str = "rota hub";

/// Runs `f` on a thread of its own, outside any async runtime: the
/// synchronous client blocks on a runtime of its own, which Tokio refuses
/// inside another's (the hub's start, a task's blocking section). Its
/// connections may then be used on any thread without one.
pub fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(f)
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Connects to the database at `url`, saying which one when it cannot.
///
/// TLS as the URL asks, in libpq's words: `sslmode=disable` never,
/// `prefer` (the default) when the server offers it, `require`,
/// `verify-ca` or `verify-full` always. The server's certificate is always
/// checked, against the CA file `sslrootcert=` (or `PGSSLROOTCERT`) names,
/// else the system's roots: a connection encrypted to whoever answers
/// would be no safer than none.
fn connect(url: &str) -> Result<Client> {
    let place = without_password(url);
    let (url, ca) = tls_params(url);
    let mut config: postgres::Config = url.parse().map_err(|e| {
        StoreError::Refused(format!(
            "`{place}` is not a PostgreSQL URL (postgres://USER@HOST:PORT/DB): {}",
            describe(&e)
        ))
    })?;
    // Names the hub's connections, for the database's own views and for
    // `--migrate`, which will not write into a database a hub serves.
    if config.get_application_name().is_none() {
        config.application_name(APPLICATION);
    }
    let connected = match config.get_ssl_mode() {
        postgres::config::SslMode::Disable => config.connect(NoTls),
        postgres::config::SslMode::Prefer => match tls(ca.as_deref()) {
            Ok(tls) => config.connect(tls),
            // Nothing to check a certificate against: plain, as preferring
            // allows; `require` refuses instead.
            Err(_) if ca.is_none() => config.connect(NoTls),
            Err(e) => return Err(e.at_place(&place)),
        },
        _ => config.connect(tls(ca.as_deref()).map_err(|e| e.at_place(&place))?),
    };
    let mut client = connected.map_err(|e| StoreError::Postgres(e).at_place(&place))?;
    // Durable before acknowledged, whatever the server's default.
    client.batch_execute("SET synchronous_commit TO on")?;
    Ok(client)
}

/// `url` as the driver reads it, and the CA file it names: libpq's
/// `sslrootcert` is taken out (the driver knows no such setting), and
/// `sslmode=verify-ca` or `verify-full` read as `require` (every
/// certificate is checked here). Without `sslrootcert`, `PGSSLROOTCERT`.
fn tls_params(url: &str) -> (String, Option<std::path::PathBuf>) {
    let env = || std::env::var_os("PGSSLROOTCERT").map(std::path::PathBuf::from);
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), env());
    };
    let mut ca = None;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("sslrootcert", path)) => ca = Some(std::path::PathBuf::from(path)),
            Some(("sslmode", "verify-ca" | "verify-full")) => kept.push("sslmode=require"),
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (url, ca.or_else(env))
}

/// The TLS connector for the database: rustls, the server's certificate
/// checked against the CA file `ca`, else the system's roots.
fn tls(ca: Option<&std::path::Path>) -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
    let config = rota_tls::client_config(ca).map_err(|e| {
        StoreError::Refused(match ca {
            Some(_) => format!("TLS to the database: {e}"),
            None => "TLS to the database: no system root certificates found; name the \
                     database server's CA file with sslrootcert=FILE in the URL (or \
                     PGSSLROOTCERT), or connect with sslmode=disable"
                .to_string(),
        })
    })?;
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(
        (*config).clone(),
    ))
}

/// What went wrong, as PostgreSQL said it (the client's own words for
/// errors from the server are only "db error").
pub fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{} ({})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                s.push_str(": ");
                s.push_str(detail);
            }
            s
        }
        None => {
            let mut s = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                s.push_str(": ");
                s.push_str(&cause.to_string());
                source = cause.source();
            }
            s
        }
    }
}

/// `url` with its password, if any, left out (for messages and logs).
pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some(split) => split,
        None => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// A column of a row read back, as a store error (naming the column) when
/// it does not hold what the schema says: never a panic on what a
/// database holds.
pub(super) trait Col {
    fn col<'a, T: postgres::types::FromSql<'a>>(&'a self, i: usize) -> Result<T>;
}

impl Col for postgres::Row {
    fn col<'a, T: postgres::types::FromSql<'a>>(&'a self, i: usize) -> Result<T> {
        self.try_get(i).map_err(|e| {
            let name = self.columns().get(i).map_or("?", |c| c.name());
            StoreError::Corrupt(format!("column `{name}`: {}", describe(&e)))
        })
    }
}

/// A writer's connection, and the statements it has prepared.
pub struct Store {
    conn: Conn,
    prepared: Prepared,
}

/// A connection that is made again when it was lost (the database
/// restarted, the network dropped it): the next use after that tries
/// once, and fails (so does what it was for) while the database is away.
pub(super) struct Conn {
    url: String,
    /// The URL without its password, for messages.
    place: String,
    client: Client,
}

impl Conn {
    pub(super) fn open(url: &str) -> Result<Conn> {
        Ok(Conn {
            url: url.to_string(),
            place: without_password(url),
            client: connect(url)?,
        })
    }

    /// The client, connected again first if the connection was lost;
    /// whether it was.
    pub(super) fn live(&mut self) -> Result<(&mut Client, bool)> {
        let lost = self.client.is_closed();
        if lost {
            self.client = connect(&self.url)?;
            tracing::info!("{}: connected to the database again", self.place);
        }
        Ok((&mut self.client, lost))
    }
}

/// Statements prepared once per connection, by their SQL.
#[derive(Default)]
pub(super) struct Prepared(HashMap<&'static str, Statement>);

impl Prepared {
    pub(super) fn get(
        &mut self,
        conn: &mut impl postgres::GenericClient,
        sql: &'static str,
    ) -> Result<Statement> {
        if let Some(s) = self.0.get(sql) {
            return Ok(s.clone());
        }
        let s = conn.prepare(sql)?;
        self.0.insert(sql, s.clone());
        Ok(s)
    }
}

impl Store {
    /// Connects to the database at `url`, creating or migrating its tables.
    pub fn connect(url: &str) -> Result<Store> {
        let mut conn = Conn::open(url)?;
        schema::migrate(&mut conn.client).map_err(|e| e.at_place(&conn.place))?;
        Ok(Store {
            conn,
            prepared: Prepared::default(),
        })
    }

    /// The client, and its prepared statements (forgotten with a lost
    /// connection: they were the old one's).
    fn client(&mut self) -> Result<&mut Client> {
        let (client, lost) = self.conn.live()?;
        if lost {
            self.prepared = Prepared::default();
        }
        Ok(client)
    }

    /// Runs `op` on the connection; when the database dropped it since
    /// its last use (a restart: found out only by using it), once more on
    /// a new one. For what may be run twice: reads, and a group's BEGIN.
    fn retried<T>(&mut self, op: impl Fn(&mut Client) -> Result<T>) -> Result<T> {
        match op(self.client()?) {
            Err(e) if e.is_unreachable() && self.conn.client.is_closed() => op(self.client()?),
            other => other,
        }
    }

    pub fn group(&mut self) -> Result<Group<'_>> {
        self.retried(|c| Ok(c.batch_execute("BEGIN")?))?;
        Group::begun(&mut self.conn.client, &mut self.prepared)
    }

    pub fn load_roster(&mut self, name: &str) -> Result<rota_core::domain::Roster> {
        let place = self.conn.place.clone();
        self.retried(|c| {
            let mut tx = c.transaction()?;
            let roster = read::load_roster(&mut tx, name)?;
            tx.commit()?;
            Ok(roster)
        })
        .map_err(|e| e.at_place(&place))
    }

    pub fn changes_since(
        &mut self,
        roster: &str,
        seq: rota_core::domain::Seq,
        max_changes: usize,
    ) -> Result<Option<Vec<rota_core::protocol::ChangeSet>>> {
        let place = self.conn.place.clone();
        let read = self.retried(|c| {
            let mut tx = c.transaction()?;
            read::changes_since(&mut tx, roster, seq, max_changes)
        });
        match read {
            Err(e) if e.is_damage() => {
                tracing::error!(
                    "{place}: the change log of roster {roster} after seq {seq} cannot be read ({e}); sending a snapshot instead"
                );
                Ok(None)
            }
            other => other,
        }
    }

    pub fn list_rosters(&mut self) -> Result<Vec<rota_core::protocol::RosterInfo>> {
        self.retried(read::list_rosters)
    }

    pub fn roster_names(&mut self) -> Result<Vec<String>> {
        self.retried(|c| {
            let rows = c.query(
                "SELECT name FROM rosters UNION SELECT DISTINCT roster FROM answers",
                &[],
            )?;
            rows.iter().map(|r| r.col(0)).collect()
        })
    }

    /// One page of history on the writer's own connection (for tests).
    #[cfg(test)]
    pub fn history(
        &mut self,
        roster: &str,
        q: &rota_core::protocol::HistoryQuery,
        view: rota_core::domain::View,
    ) -> Result<(Vec<rota_core::protocol::HistoryEntry>, Option<String>)> {
        let mut tx = self.client()?.transaction()?;
        read::history(&mut tx, roster, q, view)
    }
}

/// A connection that hears of every group committed by any hub on the
/// database (`LISTEN rota`; [`Group::commit`] notifies "seq roster").
pub struct Listener {
    client: Client,
}

impl Listener {
    pub fn connect(url: &str) -> Result<Listener> {
        let mut client = connect(url)?;
        client.batch_execute("LISTEN rota")?;
        Ok(Listener { client })
    }

    /// The next commit heard of (its roster and seq), or None when none
    /// came within `wait`. An error means the connection is lost: what was
    /// committed meanwhile must be read, not waited for.
    pub fn next(
        &mut self,
        wait: std::time::Duration,
    ) -> Result<Option<(String, rota_core::domain::Seq)>> {
        use postgres::fallible_iterator::FallibleIterator;
        let mut notes = self.client.notifications();
        let mut heard = notes.timeout_iter(wait);
        while let Some(n) = heard.next()? {
            let parsed = n
                .payload()
                .split_once(' ')
                .and_then(|(seq, roster)| Some((roster.to_string(), seq.parse().ok()?)));
            match parsed {
                Some(note) => return Ok(Some(note)),
                None => tracing::warn!("ignoring a notification on `rota`: {:?}", n.payload()),
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn a_password_is_never_shown() {
        assert_eq!(
            without_password("postgres://ann:s3cret@db:5432/rota"),
            "postgres://ann:***@db:5432/rota"
        );
        assert_eq!(
            without_password("postgres://ann@db/rota"),
            "postgres://ann@db/rota"
        );
        assert_eq!(without_password("not a url"), "not a url");
    }

    /// libpq's TLS settings are read as the driver cannot: `sslrootcert`
    /// taken out, `verify-full` read as `require`, the rest kept.
    #[test]
    fn libpq_tls_settings_are_read_for_the_driver() {
        let (url, ca) = super::tls_params(
            "postgres://a@db/rota?sslmode=verify-full&sslrootcert=/etc/db-ca.pem&application_name=x",
        );
        assert_eq!(
            url,
            "postgres://a@db/rota?sslmode=require&application_name=x"
        );
        assert_eq!(ca.as_deref(), Some(std::path::Path::new("/etc/db-ca.pem")));
        let (url, _) = super::tls_params("postgres://a@db/rota?sslrootcert=/ca.pem");
        assert_eq!(url, "postgres://a@db/rota");
    }
}
