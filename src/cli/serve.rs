//! `rota --serve`: run the hub until Ctrl-C or SIGTERM.

use super::{Cli, default_data_dir};
use crate::server::{self, Config};
use std::time::Duration;

/// Runs `rota --serve` until Ctrl-C or SIGTERM. Returns the process exit code.
pub async fn serve(cli: &Cli) -> i32 {
    if super::accounts::asked(cli) {
        return super::accounts::run(cli);
    }
    let Some(data_dir) = cli.data.clone().or_else(default_data_dir) else {
        eprintln!("rota: no data dir: the platform has no home directory; pass --data DIR");
        return 2;
    };
    let tls = match (&cli.tls_cert, &cli.tls_key) {
        (Some(cert), Some(key)) => match crate::tls::server_config(cert, key) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("rota: --tls-cert/--tls-key: {e}");
                return 2;
            }
        },
        _ => None,
    };
    if !cli.listen.ip().is_loopback() && !cli.insecure {
        let has_accounts = crate::accounts::AccountsFile::has_users(&data_dir);
        let missing = match (has_accounts, tls.is_some()) {
            (Err(e), _) => {
                eprintln!("rota: {e}");
                return 1;
            }
            (Ok(true), true) => None,
            (Ok(false), true) => Some(
                "it has no accounts, so anyone who can reach it could read and change every roster (add one: --add-user NAME --role owner)",
            ),
            (Ok(true), false) => Some(
                "it has no TLS, so tokens and rosters would cross the network in clear (give --tls-cert and --tls-key)",
            ),
            (Ok(false), false) => Some(
                "it has no accounts and no TLS, so anyone who can reach it could read and change every roster (add a user with --add-user, give --tls-cert and --tls-key)",
            ),
        };
        if let Some(why) = missing {
            eprintln!(
                "rota: refusing to listen on {}: {why}; or listen on 127.0.0.1, or pass --insecure",
                cli.listen
            );
            return 2;
        }
    }
    if let Some(url) = &cli.database
        && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
    {
        eprintln!(
            "rota: --database `{url}`: expected postgres://USER[:PASSWORD]@HOST:PORT/DB (a PostgreSQL URL)"
        );
        return 2;
    }
    if cli.database.is_some() {
        let sqlite_only = [
            ("--max-db-mb", cli.max_db_mb.is_some()),
            ("--backup-dir", cli.backup_dir.is_some()),
        ];
        if let Some((flag, _)) = sqlite_only.iter().find(|(_, given)| *given) {
            eprintln!(
                "rota: {flag} is for the SQLite store; with --database, the database's own \
                 limits and backups (pg_dump, replicas) apply: see README"
            );
            return 2;
        }
    }
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
    config.max_per_address = cli.max_connections_per_address;
    config.idle_timeout = Duration::from_secs(cli.idle_timeout.max(1));
    config.hello_timeout = Duration::from_secs(cli.hello_timeout.max(1));
    config.max_assembly_bytes = cli.max_parts_mb.max(1).saturating_mul(1 << 20);
    config.max_edits_per_sec = cli.max_edits_per_sec.max(1);
    config.outbound_queue = cli.outbound_queue.max(16);
    config.writers = cli.writers.clamp(1, 64);
    config.max_db_bytes = cli.max_db_mb.map(|mb| mb.saturating_mul(1 << 20));
    config.database = cli.database.clone();
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    config.tls = tls;
    config.ping_interval = config
        .ping_interval
        .min(config.idle_timeout / 2)
        .max(Duration::from_millis(500));
    let hub = match server::Hub::bind(listener, config) {
        Ok(hub) => hub,
        Err(e) => {
            eprintln!("rota: {e}");
            // What it was given does not do (a database URL, TLS to it):
            // bad input, as a bad flag is.
            let refused = matches!(&e, server::ServeError::Store(s) if s.is_refusal());
            return if refused { 2 } else { 1 };
        }
    };
    // Signal handlers go in before the hub says it is ready, so a SIGTERM
    // sent as soon as the line appears still means a graceful stop.
    let shutdown = shutdown_signal();
    // Tests and scripts read this line to find the port when listening on :0.
    let rosters = match &cli.database {
        Some(url) => format!(", rosters: {}", crate::store::Place::Database(url.clone())),
        None => String::new(),
    };
    println!(
        "rota hub listening on {scheme}://{addr}/ws (data: {}{rosters})",
        data_dir.display()
    );
    if let (Some(dir), Some(every)) = (&cli.backup_dir, cli.backup_every) {
        tokio::spawn(super::backup::every(
            data_dir.clone(),
            dir.clone(),
            every,
            usize::try_from(cli.backup_keep.max(1)).unwrap_or(usize::MAX),
        ));
    }
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
