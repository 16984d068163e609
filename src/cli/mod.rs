//! Command-line flags and the modes they start, one file per mode. Glue
//! only: roster logic lives in `domain` and `script`, syncing in `sync`.
//!
//! - [`serve`]: `--serve`, the hub.
//! - [`accounts`]: `--serve --add-user` and the other account flags.
//! - [`sync`]: `--sync`, send the outbox and refresh the local copy.
//! - [`apply`]: `--apply FILE`, scripted changes and imports.
//! - [`export`]: `--export FORMAT`.
//! - [`check`]: `--check`, the roster's rule findings.

pub mod accounts;
pub mod answer;
pub mod apply;
pub mod backup;
pub mod check;
pub mod edit;
pub mod export;
pub mod fill;
pub mod migrate;
pub mod mine;
pub mod out;
pub mod publish;
pub mod serve;
pub mod sync;

use crate::sync::{ConnState, HubAddr, Status, SyncConfig, SyncEngine};
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "rota",
    version,
    about = "A terminal shift-roster editor that several people use at once",
    group(clap::ArgGroup::new("account").multiple(false))
)]
pub struct Cli {
    /// Run the hub: keep rosters durably and sync every editor.
    #[arg(long)]
    pub serve: bool,

    /// Send the outbox, pull the roster into the local cache, and exit:
    /// 0 when nothing is left unsaved, 3 when edits are conflicted or were
    /// rejected, 4 when the hub could not be reached (edits stay queued).
    #[arg(long, conflicts_with = "serve")]
    pub sync: bool,

    /// Apply the changes in FILE (`-` for standard input) to the roster, as
    /// one all-or-nothing edit. Exit status: 0 applied, 2 bad input, 3
    /// conflict, 4 hub unreachable, 5 local store.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["serve", "sync"])]
    pub apply: Option<String>,

    /// Format of the --apply file: csv, json or nrp (default: by the file's
    /// extension, else by its content).
    #[arg(long, value_name = "FORMAT", requires = "apply")]
    pub format: Option<String>,

    /// For --format nrp: the date of day 0 (a Monday in the benchmark data).
    #[arg(long, value_name = "DATE", requires = "apply")]
    pub start: Option<String>,

    /// With --apply: print what would change, cell by cell, and change
    /// nothing. With --fill: fill and print the scores, send nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// With --apply: apply over cells changed on the hub since the file was
    /// read (last writer wins), listing what was overwritten.
    #[arg(long, requires = "apply")]
    pub force: bool,

    /// With --apply: if the hub cannot be reached, check the file against
    /// the local copy and queue the edit in the outbox (exit 0); `rota
    /// --sync` or the editor sends it later.
    #[arg(long, requires = "apply")]
    pub queue: bool,

    /// Print the roster's rule findings (staffing under or over, forbidden
    /// sequences, per-person limits), then its unmet requests and soft
    /// score, and exit 0 when there are no rule findings, 1 when there are
    /// (unmet requests never change it).
    #[arg(long, conflicts_with_all = ["serve", "sync", "apply"])]
    pub check: bool,

    /// With --check: the score only, as the benchmark counts it: the rules
    /// broken (hard; cover with weights is soft), then the soft score split
    /// by kind (requests, cover under, cover over).
    #[arg(long, requires = "check")]
    pub score: bool,

    /// With --check: the findings, unmet requests and soft score as JSON.
    #[arg(long, requires = "check")]
    pub json: bool,

    /// Write the roster out as csv, json, ics (iCalendar) or txt (a
    /// printable grid), to standard output or --out.
    #[arg(long, value_name = "FORMAT", conflicts_with_all = ["serve", "sync", "apply"])]
    pub export: Option<String>,

    /// With --export: the file to write (replaced whole). For ics, an
    /// existing directory gets one file per person, named by staff id.
    /// With --fill: write the filled cells there as --apply CSV instead of
    /// sending them.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,

    /// With --export: the first date to include. With --publish: the
    /// first date to publish. With --fill: the first date to fill. With
    /// --migrate: the data dir of the hub to move.
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,

    /// With --export: the last date to include. With --publish: the last
    /// date to publish. With --fill: the last date to fill. With
    /// --migrate: the database to move it into.
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,

    /// Move a SQLite hub's rosters (--from DIR, its data dir, no hub
    /// running) into an empty PostgreSQL database (--to postgres://...):
    /// all or nothing, each roster checked (counts and a digest of its
    /// state); the files are left as they were.
    #[arg(long, conflicts_with_all = ["serve", "sync", "apply", "export", "check", "publish", "diff_published", "mine", "fill", "backup", "restore"])]
    pub migrate: bool,

    /// Publish the roster's cells from --from to --to as its staff are to
    /// see them (admins), as the next numbered publication.
    #[arg(long, conflicts_with_all = ["serve", "sync", "apply", "export", "check"])]
    pub publish: bool,

    /// With --publish: a note kept with the publication ("March, final").
    #[arg(long, value_name = "TEXT", requires = "publish")]
    pub note: Option<String>,

    /// List the cells whose code differs from what staff were shown at
    /// the last publication of their date ("published -> now").
    #[arg(long, conflicts_with_all = ["serve", "sync", "apply", "export", "check", "publish"])]
    pub diff_published: bool,

    /// One person's published shifts from today, with times, hours and
    /// totals: yours (a staff account) or --staff ID's.
    #[arg(long, conflicts_with_all = ["serve", "sync", "apply", "export", "check", "publish"])]
    pub mine: bool,

    /// Fill the empty cells of the planning period (or of --from to --to;
    /// only the rows of --staff when given) so that no rule is broken and the soft score is as
    /// low as the search finds within --seconds; cells already set are
    /// kept. Sent to the hub as one edit (--dry-run: only the scores;
    /// --out FILE: as --apply CSV).
    #[arg(long, conflicts_with_all = ["serve", "sync", "apply", "export", "check", "publish", "diff_published", "mine"])]
    pub fill: bool,

    /// With --fill: how long the search runs, in seconds.
    #[arg(long, value_name = "N", default_value_t = 10, requires = "fill",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub seconds: u64,

    /// With --fill: how many threads search (default: every core).
    #[arg(long, value_name = "N", requires = "fill",
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: Option<u64>,

    /// With --mine: how many weeks from today.
    #[arg(long, value_name = "N", default_value_t = 4, requires = "mine")]
    pub weeks: u32,

    /// With --export: write what staff see (each date as its last
    /// publication left it), not the draft.
    #[arg(long, requires = "export")]
    pub published: bool,

    /// With --export: only this person (staff id or unique display name).
    /// With --fill: only these people (ids or names, comma-separated).
    /// With --role staff (--add-user, --set-role): the staff id of the
    /// row the user is bound to.
    #[arg(long, value_name = "NAME")]
    pub staff: Option<String>,

    /// With --export txt: list every rule warning under the grid (without
    /// it, how many of each kind).
    #[arg(long, requires = "export")]
    pub warnings: bool,

    /// With --export csv: write the staff's requests
    /// (staff,date,request,weight,note) instead of the cells; --apply
    /// reads them back.
    #[arg(long, requires = "export")]
    pub requests: bool,

    /// With the editor: open a roster the hub does not have yet, to set it
    /// up (without it, a roster that does not exist is an error, so that a
    /// misspelt name is not taken for a new roster).
    #[arg(long, conflicts_with_all = ["serve", "sync", "apply", "export", "check", "demo"])]
    pub create: bool,

    /// With --export txt: the page width in characters.
    #[arg(
        long,
        value_name = "COLUMNS",
        default_value_t = 80,
        requires = "export"
    )]
    pub width: usize,

    /// Hub to use, `ws://HOST:PORT` (`/ws` implied). Default: the hub that
    /// owns the data dir, started in this process when none runs.
    #[arg(long, value_name = "URL", env = "ROTA_SERVER")]
    pub server: Option<String>,

    /// Your name on the hub (default: your login name).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// Token for a hub with accounts (also ROTA_TOKEN, or the config file's
    /// `token`). Sent in the WebSocket upgrade's Authorization header.
    #[arg(long, value_name = "TOKEN", env = "ROTA_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// With --serve: add a user to the hub's accounts with --role (and
    /// --roster, unless the role is owner), print their token once, and exit.
    #[arg(long, value_name = "NAME", requires_all = ["serve", "role"], group = "account")]
    pub add_user: Option<String>,

    /// With --serve: give a user --role on --roster (viewer, editor, admin,
    /// or none to take it away); without --roster, --role owner or none
    /// makes them an owner of the whole hub or not. Then exit.
    #[arg(long, value_name = "NAME", requires_all = ["serve", "role"], group = "account")]
    pub set_role: Option<String>,

    /// The role for --add-user or --set-role: staff (with --staff), viewer,
    /// editor, admin, owner (the whole hub) or none.
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,

    /// With --serve: print another token for a user, and exit.
    #[arg(long, value_name = "NAME", requires = "serve", group = "account")]
    pub new_token: Option<String>,

    /// With --serve: revoke a token (its id, as --list-users shows, or the
    /// whole token), or a calendar feed (its id), and exit. A running hub
    /// closes its connections (or the feed) at once.
    #[arg(long, value_name = "ID", requires = "serve", group = "account")]
    pub revoke_token: Option<String>,

    /// With --serve: remove a user (their roles go, their tokens are
    /// revoked), and exit.
    #[arg(long, value_name = "NAME", requires = "serve", group = "account")]
    pub remove_user: Option<String>,

    /// Back up the hub's data dir (--data) into PATH, a new directory:
    /// every store file and the accounts, copied with SQLite's online
    /// backup API (a running hub's editors wait at most a moment), and
    /// manifest.json (each file's size and SHA-256, each roster's seq).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["serve", "sync", "apply", "export", "check", "publish", "diff_published", "mine", "fill", "restore"])]
    pub backup: Option<PathBuf>,

    /// Restore a backup (--backup's directory) into the data dir (--data),
    /// no hub running on it: every file is checked first (SHA-256, SQLite's
    /// integrity check, each roster's change log gap free up to its seq),
    /// then the files it replaces are moved to replaced-TIME in the data
    /// dir, never deleted.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["serve", "sync", "apply", "export", "check", "publish", "diff_published", "mine", "fill"])]
    pub restore: Option<PathBuf>,

    /// With --serve: take a backup (as --backup does) into a new directory
    /// under DIR every --backup-every, keeping the last --backup-keep.
    #[arg(long, value_name = "DIR", requires_all = ["serve", "backup_every"])]
    pub backup_dir: Option<PathBuf>,

    /// How often --backup-dir takes a backup: 30s, 15m, 1h, 1d.
    #[arg(long, value_name = "DURATION", requires = "backup_dir", value_parser = parse_every)]
    pub backup_every: Option<Duration>,

    /// How many backups --backup-dir keeps (the oldest go).
    #[arg(long, value_name = "N", default_value_t = 24, requires = "backup_dir",
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub backup_keep: u64,

    /// With --serve: list the hub's users, roles and token ids, and exit.
    #[arg(long, requires = "serve", group = "account")]
    pub list_users: bool,

    /// With --serve and --roster: make a calendar feed of this person's
    /// published shifts (staff id or display name) and print its secret address
    /// once, and exit. --revoke-token revokes it by its id.
    #[arg(long, value_name = "STAFF", requires_all = ["serve", "roster"], group = "account")]
    pub calendar_url: Option<String>,

    /// Roster to work on (default: the config file's, else `default`).
    #[arg(long, value_name = "NAME")]
    pub roster: Option<String>,

    /// Open the editor on a demo roster (25 staff, 6 weeks around today) in
    /// a data dir of its own (DATA/demo), never your real data. With
    /// --check, --export or --apply: work on that demo roster.
    #[arg(long, conflicts_with_all = ["serve", "roster", "server"])]
    pub demo: bool,

    /// The editor's config file (default: the platform's config dir, e.g.
    /// ~/.config/rota/config.toml; a missing file is fine).
    #[arg(long, value_name = "FILE", env = "ROTA_CONFIG")]
    pub config: Option<PathBuf>,

    /// Seconds --sync, --apply and --export wait for the hub (to connect,
    /// then for its answer).
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,

    /// Address the hub listens on (WebSocket at /ws, plus /health and /metrics).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7878")]
    pub listen: SocketAddr,

    /// Listen on an address other than loopback although the hub lacks
    /// accounts or TLS: anyone who can reach it could read and change
    /// rosters, or see the traffic.
    #[arg(long)]
    pub insecure: bool,

    /// With --serve: serve wss:// with this certificate chain (PEM).
    #[arg(long, value_name = "FILE", requires_all = ["serve", "tls_key"])]
    pub tls_cert: Option<PathBuf>,

    /// With --serve: the private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires_all = ["serve", "tls_cert"])]
    pub tls_key: Option<PathBuf>,

    /// For a wss:// hub: the CA certificates (PEM) its certificate must
    /// chain to, instead of the system's roots (also the config file's `ca`).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,

    /// Data directory: the hub's store, and every client's local cache and
    /// outbox (default: the platform's data dir for rota).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// Log level: error, warn, info, debug or trace (overrides RUST_LOG).
    /// Default: info for the hub, warn for the client modes.
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,

    /// Most connections the hub keeps open at once.
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    pub max_connections: usize,

    /// Most connections open at once from one client address (0: no limit);
    /// more get HTTP 429. Loopback addresses are not counted: a proxy or
    /// tunnel on the hub's machine speaks for many.
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub max_connections_per_address: usize,

    /// Seconds of silence after which the hub closes an editor's connection.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub idle_timeout: u64,

    /// Edits one connection may begin a second; more are refused with
    /// `rate_limited` (nothing applied; send again).
    #[arg(long, value_name = "N", default_value_t = 5000)]
    pub max_edits_per_sec: u32,

    /// MiB of edits arriving in parts the hub holds for all editors
    /// together; past it a new part is refused with `busy`.
    #[arg(long, value_name = "MB", default_value_t = 256)]
    pub max_parts_mb: usize,

    /// Seconds a new WebSocket connection has to send its hello before the
    /// hub closes it (so sockets that never speak cannot hold the slots).
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub hello_timeout: u64,

    /// Batches an editor may fall behind on its roster before the hub closes
    /// it (it then reconnects and catches up). Memory: up to this many recent
    /// batches are kept per roster.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub outbound_queue: usize,

    /// Store files and writer threads: rosters in different ones commit in
    /// parallel (a new roster goes to the one its name hashes to). A data
    /// dir with more files keeps them all. --max-db-mb applies to each.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub writers: usize,

    /// Cap the hub's database at this many MiB; edits past it are refused
    /// (storage_failed) and nothing stored is harmed. Default: no cap.
    #[arg(long, value_name = "MIB")]
    pub max_db_mb: Option<u64>,

    /// Keep rosters, their change log and the answers to edits in this
    /// PostgreSQL database instead of SQLite files in the data dir
    /// (postgres://USER[:PASSWORD]@HOST:PORT/DB; also ROTA_DATABASE). Its
    /// tables are made on first use. Accounts stay in --data.
    #[arg(long, value_name = "URL", env = "ROTA_DATABASE")]
    pub database: Option<String>,
}

impl Cli {
    /// The roster the flags name, `default` when none.
    pub fn roster(&self) -> &str {
        if self.demo {
            return "demo";
        }
        self.roster.as_deref().unwrap_or("default")
    }

    /// The data dir the flags name, else the platform's; with --demo, its
    /// `demo` dir (the demo's own hub, never the real data).
    pub fn data_dir(&self) -> Result<PathBuf, String> {
        let base = self.data.clone().or_else(default_data_dir).ok_or_else(|| {
            "no data dir: the platform has no home directory; pass --data DIR".to_string()
        })?;
        Ok(if self.demo { base.join("demo") } else { base })
    }

    /// The hub named by --server (none with --demo: its local hub).
    pub fn server(&self) -> Option<&str> {
        self.server.as_deref().filter(|_| !self.demo)
    }
}

/// A duration as `--backup-every` takes it: a whole number and s, m, h or
/// d, at least 1 s.
fn parse_every(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (n, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{s}`: a whole number and a unit (30s, 15m, 1h, 1d)"))?;
    let secs = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3_600),
        "d" => n.saturating_mul(86_400),
        _ => {
            return Err(format!(
                "`{s}`: the unit is s, m, h or d (30s, 15m, 1h, 1d)"
            ));
        }
    };
    if secs == 0 {
        return Err(format!("`{s}`: at least 1s"));
    }
    Ok(Duration::from_secs(secs))
}

/// The platform's data dir for rota, e.g. ~/.local/share/rota on Linux.
pub fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "rota").map(|d| d.data_dir().to_path_buf())
}

/// `level`, else RUST_LOG, else `default`.
fn log_filter(level: Option<&str>, default: &str) -> tracing_subscriber::EnvFilter {
    match level {
        Some(l) => tracing_subscriber::EnvFilter::new(l),
        None => tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
    }
}

/// Logs to a file (the editor's: never onto its screen) at `level`, else
/// RUST_LOG, else `default`.
pub fn init_file_logging(
    path: &std::path::Path,
    level: Option<&str>,
    default: &str,
) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot open the log {}: {e}", path.display()))?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(log_filter(level, default))
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
    Ok(())
}

/// Logs to stderr at `level`, else RUST_LOG, else `default`.
pub fn init_logging(level: Option<&str>, default: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(log_filter(level, default))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// The login name, for `--user`'s default: from the environment, else
/// the account this process runs as (a service or `env -i` has no $USER),
/// else "user".
pub fn login_name() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
        .or_else(account_name)
        .unwrap_or_else(|| "user".to_string())
}

/// The name of the account this process runs as, from /etc/passwd (no
/// `unsafe` call to getpwuid needed).
fn account_name() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        (f.nth(1)? == uid && !name.is_empty()).then(|| name.to_string())
    })
}

/// The sync engine's settings for every client mode (the editor and the
/// scripts alike): the flags, else the config file, else the defaults.
pub fn sync_config(cli: &Cli) -> Result<SyncConfig, String> {
    resolve(cli, &config_file(cli)?)
}

/// The one settings resolver: the flags (and ROTA_TOKEN) over the config
/// file's `server`, `user`, `roster`, `token` and `ca` over the defaults;
/// the demo keeps to its own data dir and roster.
pub fn resolve(cli: &Cli, file: &crate::tui::config::Config) -> Result<SyncConfig, String> {
    let data_dir = cli.data_dir()?;
    let roster = roster_of(cli, file);
    crate::domain::check_roster_name(&roster).map_err(|m| format!("roster: {m}"))?;
    let user = cli
        .user
        .clone()
        .or_else(|| file.user.clone())
        .unwrap_or_else(login_name);
    crate::domain::check_id("user", &user)?;
    let server = if cli.demo {
        None
    } else {
        cli.server()
            .map(str::to_string)
            .or_else(|| file.server.clone())
    };
    let hub = match server {
        Some(s) => HubAddr::parse_server(&s)?,
        None => HubAddr::Local(data_dir.clone()),
    };
    let mut config = SyncConfig::new(hub, &user, &roster, &data_dir);
    config.host = Some(in_process_host());
    set_credentials(&mut config, cli, file)?;
    Ok(config)
}

/// The roster a client mode works on: `--roster`, else the config file's,
/// else `default` (the demo's own). Messages name it as the work does.
fn roster_of(cli: &Cli, file: &crate::tui::config::Config) -> String {
    if cli.demo {
        cli.roster().to_string()
    } else {
        cli.roster
            .clone()
            .or_else(|| file.roster.clone())
            .unwrap_or_else(|| "default".into())
    }
}

/// [`roster_of`] with the config file the flags name.
pub fn roster_name(cli: &Cli) -> String {
    match config_file(cli) {
        Ok(file) => roster_of(cli, &file),
        Err(_) => cli.roster().to_string(),
    }
}

/// How a client of this binary starts a hub on a data dir none owns: the
/// hub crate's embedded hub, handed to the engine (which does not know the
/// server).
pub fn in_process_host() -> rota_client::Host {
    rota_client::Host(std::sync::Arc::new(InProcess))
}

struct InProcess;

impl rota_client::HubHost for InProcess {
    fn start(
        &self,
        dir: &std::path::Path,
    ) -> Result<Box<dyn rota_client::HostedHub>, rota_client::HostError> {
        use rota_hub::embedded::{Embedded, StartError};
        match Embedded::start(dir) {
            Ok(hub) => Ok(Box::new(Hosted(hub))),
            Err(StartError::Taken { url }) => Err(rota_client::HostError::Taken { url }),
            Err(StartError::Failed(m)) => Err(rota_client::HostError::Failed(m)),
        }
    }
}

struct Hosted(rota_hub::embedded::Embedded);

impl rota_client::HostedHub for Hosted {
    fn url(&self) -> &str {
        self.0.url()
    }

    fn stop(self: Box<Self>) {
        self.0.stop();
    }
}

/// Writes the demo roster, when its hub has none yet, as the user "demo"
/// (its history says so, not that whoever opened the demo first wrote
/// it), and waits until the hub has it. `config`: the demo's (its data
/// dir, roster `demo`); the user is replaced.
pub async fn seed_demo(config: &SyncConfig) -> Result<(), String> {
    const WAIT: Duration = Duration::from_secs(10);
    let mut seed = config.clone();
    seed.user = "demo".into();
    let seeder = SyncEngine::start(seed).map_err(|e| e.to_string())?;
    let result = async {
        connect(&seeder, WAIT)
            .await
            .map_err(|e| format!("the demo's hub: {e}"))?;
        if seeder.status().seq == 0 {
            let today = crate::domain::Date(chrono::Local::now().date_naive());
            let ops = crate::tui::demo_ops(today)?;
            seeder
                .edit_script(ops, "demo", false)
                .map_err(|e| e.to_string())?;
        }
        let (_, saved) = seeder.wait_until(WAIT, |s| s.saved() && s.seq > 0).await;
        if saved {
            Ok(())
        } else {
            Err("the demo's hub did not store it in time".to_string())
        }
    }
    .await;
    stop(seeder).await;
    result
}

/// The token and CA file for the hub: the flags' (`--token` also from
/// ROTA_TOKEN), else the config file's. A CA file is read now, so a bad one
/// is a usage error, not a connection that never comes.
pub fn set_credentials(
    sync: &mut SyncConfig,
    cli: &Cli,
    file: &crate::tui::config::Config,
) -> Result<(), String> {
    sync.token = cli
        .token
        .as_deref()
        .or(file.token.as_deref())
        .map(|t| t.trim().to_string());
    sync.ca = cli.ca.clone().or_else(|| file.ca.clone());
    if let Some(path) = &sync.ca {
        crate::tls::client_config(Some(path)).map_err(|e| format!("--ca: {e}"))?;
    }
    Ok(())
}

/// The config file the flags name (or the usual one); a missing file is
/// the defaults. Client modes read its `token` and `ca`.
pub fn config_file(cli: &Cli) -> Result<crate::tui::config::Config, String> {
    let Some(path) = cli.config.clone().or_else(crate::tui::config::default_path) else {
        return Ok(Default::default());
    };
    crate::tui::config::load(&path).map_err(|e| format!("bad config file: {e}"))
}

/// Exit statuses shared by the client modes.
pub mod exit {
    pub const OK: i32 = 0;
    /// Bad flags or input.
    pub const USAGE: i32 = 2;
    /// Edits conflicted or were rejected: someone must decide.
    pub const CONFLICT: i32 = 3;
    /// The hub could not be reached in time; edits stay queued.
    pub const UNREACHABLE: i32 = 4;
    /// The local store failed.
    pub const LOCAL: i32 = 5;
    /// Interrupted by Ctrl-C (128 + SIGINT, as shells report it).
    pub const INTERRUPTED: i32 = 130;
    /// The hub refused this client: its token, or its role on the roster.
    pub const REFUSED: i32 = 6;
}

/// Why a client mode did not join the hub.
#[derive(Clone, Debug, PartialEq)]
pub enum Unreached {
    /// The hub answered no: a missing, mistyped or revoked token, or no
    /// role on the roster. Trying again will not help; queuing will not
    /// either.
    Refused(String),
    /// No hub answered in time: worth trying again later.
    Unreachable(String),
}

impl Unreached {
    /// Says why on stderr and gives the exit status for it. `hint`: what
    /// else may be done when the hub is only unreachable (as `--queue`).
    pub fn report(&self, hint: &str) -> i32 {
        match self {
            Unreached::Refused(reason) if reason.contains("TLS") => {
                eprintln!("rota: the hub could not be trusted: {reason}");
                eprintln!(
                    "rota: give the CA of the hub's certificate with --ca (or the config file's `ca`)"
                );
                exit::REFUSED
            }
            Unreached::Refused(reason) => {
                eprintln!("rota: the hub refused this client: {reason}");
                // The hub's reason says what to do when it is not the
                // token or the role (a client id of another account's).
                if reason.contains("you may open") {
                    // Most often the roster: none given, `default` asked.
                    eprintln!(
                        "rota: name the roster you have a role on with --roster NAME, or ask an admin of the roster for a role"
                    );
                } else if reason.contains("token") || reason.contains("role") {
                    eprintln!(
                        "rota: check the token (--token, ROTA_TOKEN or the config file's `token`), or ask an admin of the roster for a role"
                    );
                }
                exit::REFUSED
            }
            Unreached::Unreachable(reason) => {
                eprintln!("rota: hub unreachable ({reason}){hint}");
                exit::UNREACHABLE
            }
        }
    }
}

impl std::fmt::Display for Unreached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreached::Refused(r) => write!(f, "refused by the hub: {r}"),
            Unreached::Unreachable(r) => f.write_str(r),
        }
    }
}

/// Waits (bounded) until the engine has joined the hub and caught up, or
/// has failed to reach it once: the client modes do not retry forever.
/// Err says whether the hub refused, or could not be reached, and why.
pub async fn connect(engine: &SyncEngine, timeout: Duration) -> Result<Status, Unreached> {
    let (status, _) = engine
        .wait_until(timeout, |s| {
            matches!(
                s.conn,
                ConnState::Connected { .. }
                    | ConnState::Retrying { .. }
                    | ConnState::Refused { .. }
            )
        })
        .await;
    match &status.conn {
        ConnState::Connected { .. } => Ok(status),
        ConnState::Refused { reason } => Err(Unreached::Refused(reason.clone())),
        ConnState::Retrying { reason, .. } => Err(Unreached::Unreachable(reason.clone())),
        _ => Err(Unreached::Unreachable(format!(
            "no answer within {}s",
            timeout.as_secs()
        ))),
    }
}

/// On a joined engine: Ok when the roster exists on the hub (it has been
/// written); else the exit status, after saying so and listing the
/// rosters there are (`--apply` creates a roster; other modes refuse a
/// name the hub does not know, so that a typo is not taken for a new
/// roster).
pub async fn roster_exists(engine: &SyncEngine, timeout: Duration) -> Result<(), i32> {
    if engine.status().seq > 0 {
        return Ok(());
    }
    let roster = engine.config().roster.clone();
    let names = match list_rosters(engine, timeout).await {
        Ok(list) if list.is_empty() => "none yet".to_string(),
        Ok(list) => list.join(", "),
        Err(e) => format!("(could not list them: {e})"),
    };
    eprintln!("rota: the hub has no roster `{roster}`. Rosters there: {names}.");
    eprintln!(
        "rota: name one with --roster; `rota --apply FILE --roster {roster}` creates it (the editor: `rota --create --roster {roster}`)"
    );
    Err(exit::USAGE)
}

/// The rosters the hub lets this client open, by name.
pub async fn list_rosters(engine: &SyncEngine, timeout: Duration) -> Result<Vec<String>, String> {
    use crate::sync::SyncEvent;
    let mut events = engine.subscribe();
    let req = engine.request_id();
    engine.list_rosters(req)?;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(SyncEvent::Rosters { req: r, rosters })) if r == req => {
                let mut names: Vec<String> = rosters.into_iter().map(|r| r.name).collect();
                names.sort();
                return Ok(names);
            }
            Ok(Ok(SyncEvent::RequestFailed { req: r, message })) if r == req => {
                return Err(message);
            }
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(_)) => return Err("the engine stopped".into()),
            Err(_) => return Err(format!("no answer within {}s", timeout.as_secs())),
        }
    }
}

/// The hub's roster for a mode that only reads it: joined and caught up,
/// or, when the hub cannot be reached and this machine has a copy, that
/// copy (said, with what is `doing` with it: "checking"). Err: the exit
/// status, the reason said (`no_copy`: what is missing when there is no
/// copy either).
pub async fn read_roster(
    cli: &Cli,
    engine: &SyncEngine,
    doing: &str,
    no_copy: &str,
) -> Result<crate::domain::Roster, i32> {
    let timeout = Duration::from_secs(cli.timeout.max(1));
    match connect(engine, timeout).await {
        Ok(_) => roster_exists(engine, timeout)
            .await
            .map(|()| engine.server_roster()),
        Err(Unreached::Unreachable(reason)) if engine.status().seq > 0 => {
            eprintln!(
                "rota: hub unreachable ({reason}); {doing} the local copy (roster at seq {})",
                engine.status().seq
            );
            Ok(engine.server_roster())
        }
        Err(e) => Err(e.report(no_copy)),
    }
}

/// The sync engine for the client flags, or the exit status to end with
/// (the reason is already printed).
pub fn start_engine(cli: &Cli) -> Result<SyncEngine, i32> {
    let config = sync_config(cli).map_err(|e| {
        eprintln!("rota: {e}");
        exit::USAGE
    })?;
    let engine = SyncEngine::start(config).map_err(|e| {
        eprintln!("rota: {e}");
        exit::LOCAL
    })?;
    if let Some(r) = engine.recovered() {
        eprintln!("rota: {}", r.message());
    }
    Ok(engine)
}

/// Stops an engine without blocking the runtime.
pub async fn stop(engine: SyncEngine) {
    tokio::task::spawn_blocking(move || engine.shutdown())
        .await
        .ok();
}

/// `--staff` says whose rows an export covers, or which row a staff role
/// is bound to: anywhere else it would be quietly ignored, so it is refused.
pub fn flags_fit(cli: &Cli) -> Result<(), String> {
    if (cli.from.is_some() || cli.to.is_some())
        && cli.export.is_none()
        && !cli.publish
        && !cli.fill
        && !cli.migrate
    {
        return Err("--from and --to go with --export, --publish, --fill or --migrate".into());
    }
    let fits = cli.export.is_some()
        || cli.mine
        || cli.fill
        || cli.add_user.is_some()
        || cli.set_role.is_some();
    if cli.staff.is_some() && !fits {
        return Err(
            "--staff goes with --export, --mine or --fill (whose rows), or with --add-user/--set-role and --role staff (the row the user is bound to)"
                .into(),
        );
    }
    if cli.dry_run && cli.apply.is_none() && !cli.fill {
        return Err("--dry-run goes with --apply or --fill".into());
    }
    if cli.out.is_some() && cli.export.is_none() && !cli.fill {
        return Err("--out goes with --export or --fill".into());
    }
    if cli.fill && cli.dry_run && cli.out.is_some() {
        return Err(
            "--fill takes --dry-run (print the scores) or --out FILE (write the cells), not both"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Without $USER, the default user is the account's name, as `id -un`
    /// gives it.
    #[test]
    fn the_account_name_is_the_systems() {
        let id = std::process::Command::new("id").arg("-un").output();
        let Ok(id) = id else {
            return;
        };
        let want = String::from_utf8_lossy(&id.stdout).trim().to_string();
        assert_eq!(super::account_name().as_deref(), Some(want.as_str()));
    }
}
