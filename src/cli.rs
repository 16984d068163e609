//! Command-line flags and the modes they start. Parsing only, plus the glue
//! that turns flags into a running hub; no roster logic here.

use crate::server::{self, Config};
use crate::sync::{ConnState, HubAddr, SyncConfig, SyncEngine};
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "rota",
    version,
    about = "A terminal shift-roster editor that several people use at once"
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

    /// Hub to use, `ws://HOST:PORT` (`/ws` implied). Default: the hub that
    /// owns the data dir, started in this process when none runs.
    #[arg(long, value_name = "URL", env = "ROTA_SERVER")]
    pub server: Option<String>,

    /// Your name on the hub (default: your login name).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// Roster to work on.
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub roster: String,

    /// Seconds `--sync` waits for the hub (to connect, then to acknowledge).
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,

    /// Address the hub listens on (WebSocket at /ws, plus /health and /metrics).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7878")]
    pub listen: SocketAddr,

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

    /// Seconds of silence after which the hub closes an editor's connection.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub idle_timeout: u64,

    /// Batches an editor may fall behind on its roster before the hub closes
    /// it (it then reconnects and catches up). Memory: up to this many recent
    /// batches are kept per roster.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub outbound_queue: usize,

    /// Cap the hub's database at this many MiB; edits past it are refused
    /// (storage_failed) and nothing stored is harmed. Default: no cap.
    #[arg(long, value_name = "MIB")]
    pub max_db_mb: Option<u64>,
}

/// The platform's data dir for rota, e.g. ~/.local/share/rota on Linux.
pub fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "rota").map(|d| d.data_dir().to_path_buf())
}

/// Logs to stderr at `level`, else RUST_LOG, else `default`.
pub fn init_logging(level: Option<&str>, default: &str) {
    let filter = match level {
        Some(l) => tracing_subscriber::EnvFilter::new(l),
        None => tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs `rota --serve` until Ctrl-C or SIGTERM. Returns the process exit code.
pub async fn serve(cli: &Cli) -> i32 {
    let Some(data_dir) = cli.data.clone().or_else(default_data_dir) else {
        eprintln!("rota: no data dir: the platform has no home directory; pass --data DIR");
        return 2;
    };
    let listener = match tokio::net::TcpListener::bind(cli.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("rota: cannot listen on {}: {e}", cli.listen);
            return 1;
        }
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let mut config = Config::new(data_dir.clone());
    config.max_connections = cli.max_connections.max(1);
    config.idle_timeout = Duration::from_secs(cli.idle_timeout.max(1));
    config.outbound_queue = cli.outbound_queue.max(16);
    config.max_db_bytes = cli.max_db_mb.map(|mb| mb.saturating_mul(1 << 20));
    config.ping_interval = config
        .ping_interval
        .min(config.idle_timeout / 2)
        .max(Duration::from_millis(500));
    let hub = match server::Hub::bind(listener, config) {
        Ok(hub) => hub,
        Err(e) => {
            eprintln!("rota: {e}");
            return 1;
        }
    };
    // Signal handlers go in before the hub says it is ready, so a SIGTERM
    // sent as soon as the line appears still means a graceful stop.
    let shutdown = shutdown_signal();
    // Tests and scripts read this line to find the port when listening on :0.
    println!(
        "rota hub listening on ws://{addr}/ws (data: {})",
        data_dir.display()
    );
    hub.serve(shutdown).await;
    0
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(term) => {}
                _ = wait(int) => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The login name, for `--user`'s default.
pub fn login_name() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "user".to_string())
}

/// The sync engine's settings from the client flags.
pub fn sync_config(cli: &Cli) -> Result<SyncConfig, String> {
    let data_dir = cli
        .data
        .clone()
        .or_else(default_data_dir)
        .ok_or("no data dir: the platform has no home directory; pass --data DIR")?;
    let hub = match &cli.server {
        Some(s) => HubAddr::parse_server(s)?,
        None => HubAddr::Local(data_dir.clone()),
    };
    let user = cli.user.clone().unwrap_or_else(login_name);
    crate::domain::check_id("--user", &user)?;
    crate::domain::check_roster_name(&cli.roster).map_err(|m| format!("--roster: {m}"))?;
    Ok(SyncConfig::new(hub, &user, &cli.roster, &data_dir))
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
}

/// `rota --sync`: connect, send the outbox, pull the roster, exit.
pub async fn sync(cli: &Cli) -> i32 {
    let config = match sync_config(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rota: {e}");
            return exit::USAGE;
        }
    };
    let engine = match SyncEngine::start(config) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("rota: {e}");
            return exit::LOCAL;
        }
    };
    let timeout = Duration::from_secs(cli.timeout.max(1));
    // Connected, or failed for the first time: --sync does not retry.
    let (status, _) = engine
        .wait_until(timeout, |s| {
            matches!(
                s.conn,
                ConnState::Connected { .. } | ConnState::Retrying { .. }
            )
        })
        .await;
    let code = match &status.conn {
        ConnState::Connected { .. } => {
            let (status, done) = engine
                .wait_until(timeout, |s| {
                    s.pending == 0 || !matches!(s.conn, ConnState::Connected { .. })
                })
                .await;
            report_sync(&status, done)
        }
        ConnState::Retrying { reason, .. } if status.pending + status.conflicted == 0 => {
            // Nothing is left unsaved, which is what --sync is for; say that
            // the local copy is as old as it was.
            eprintln!("rota: nothing queued; hub unreachable ({reason}), local copy not refreshed");
            exit::OK
        }
        ConnState::Retrying { reason, .. } => {
            eprintln!("rota: {}: hub unreachable ({reason})", left_over(&status));
            exit::UNREACHABLE
        }
        _ => {
            eprintln!(
                "rota: {}: no answer from the hub within {}s",
                left_over(&status),
                timeout.as_secs()
            );
            exit::UNREACHABLE
        }
    };
    tokio::task::spawn_blocking(move || engine.shutdown())
        .await
        .ok();
    code
}

fn report_sync(status: &crate::sync::Status, done: bool) -> i32 {
    if status.pending > 0 {
        let why = match (&status.conn, done) {
            (ConnState::Retrying { reason, .. }, _) => format!("connection lost ({reason})"),
            _ => "the hub did not acknowledge them in time".to_string(),
        };
        eprintln!("rota: {}: {why}", left_over(status));
        return exit::UNREACHABLE;
    }
    if status.conflicted > 0 || status.rejected > 0 {
        eprintln!(
            "rota: {} conflicted and {} rejected: resolve them in the editor",
            edits(status.conflicted),
            edits(status.rejected)
        );
        return exit::CONFLICT;
    }
    println!("rota: all changes saved (roster at seq {})", status.seq);
    exit::OK
}

/// "2 edits still queued, 1 conflicted".
fn left_over(status: &crate::sync::Status) -> String {
    let mut s = format!("{} still queued", edits(status.pending));
    if status.conflicted > 0 {
        s.push_str(&format!(", {} conflicted", status.conflicted));
    }
    s
}

fn edits(n: usize) -> String {
    if n == 1 {
        "1 edit".into()
    } else {
        format!("{n} edits")
    }
}
