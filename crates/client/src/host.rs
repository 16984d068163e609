//! A hub started in this process on a data dir no hub owns: the editor on
//! its own (`rota` with no `--server`) hosts the hub its colleagues on the
//! same machine join. The engine does not know how a hub is made: the
//! binary hands it a [`HubHost`] (rota-hub's embedded hub), so the client
//! crate never depends on the server.

use std::path::Path;
use std::sync::Arc;

/// Starts hubs on data dirs.
pub trait HubHost: Send + Sync + 'static {
    /// Starts a hub serving `dir` on a loopback port. Blocking (it binds
    /// and opens the store); the engine calls it off its runtime.
    fn start(&self, dir: &Path) -> Result<Box<dyn HostedHub>, HostError>;
}

/// A hub this process started.
pub trait HostedHub: Send {
    /// Its WebSocket URL (`ws://127.0.0.1:PORT/ws`).
    fn url(&self) -> &str;
    /// Stops it and returns when it has (blocking: its writer finishes
    /// its commit and its lock is released).
    fn stop(self: Box<Self>);
}

/// Why no hub was started.
#[derive(Debug)]
pub enum HostError {
    /// Another process owns the dir (it took it a moment ago): join it.
    Taken {
        url: String,
    },
    Failed(String),
}

/// A [`HubHost`] in a [`SyncConfig`](crate::SyncConfig), which is cloned
/// and printed.
#[derive(Clone)]
pub struct Host(pub Arc<dyn HubHost>);

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Host(..)")
    }
}
