//! Command-line flags and the modes they start. Parsing only, plus the glue
//! that turns flags into a running hub; no roster logic here.

use crate::server::{self, Config};
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

    /// Address the hub listens on (WebSocket at /ws, plus /health and /metrics).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7878")]
    pub listen: SocketAddr,

    /// Data directory (default: the platform's data dir for rota).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// Log level: error, warn, info, debug or trace (overrides RUST_LOG).
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

pub fn init_logging(level: Option<&str>) {
    let filter = match level {
        Some(l) => tracing_subscriber::EnvFilter::new(l),
        None => tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
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
