//! Hubs on one database hear of each other: a thread of each hub listens
//! for commits on the database ([`crate::store::pg::Listener`]) and tells
//! the roster's writer, which reads what it missed from the change log and
//! hands it to the roster's editors, in seq order (the writer does the
//! same before it applies an edit: it never builds on a stale copy).
//!
//! Notifications are only a prompt: one lost while the connection to the
//! database was down is caught up by reading. On every (re)connection each
//! writer is told to check every roster it holds.

use super::Shared;
use super::writer::Cmd;
use super::writers::Writers;
use crate::store::pg::Listener;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How long a wait for a notification lasts before the thread looks
/// whether the hub is still running.
const WAIT: Duration = Duration::from_millis(500);
/// How long after a failed connection it tries again.
const RETRY: Duration = Duration::from_secs(1);

/// Starts the listening thread; it ends once the hub's writers are gone.
pub fn start(url: String, writers: &Arc<Writers>, shared: &Arc<Shared>) -> std::io::Result<()> {
    let writers = Arc::downgrade(writers);
    let shared = Arc::downgrade(shared);
    std::thread::Builder::new()
        .name("rota-listen".into())
        .spawn(move || run(&url, &writers, &shared))
        .map(drop)
}

/// Tells the hub whether its database can be reached (for `/health`).
fn reached(shared: &Weak<Shared>, lost: Option<String>) {
    if let Some(shared) = shared.upgrade() {
        match lost {
            Some(why) => shared.database_lost(why),
            None => shared.database_back(),
        }
    }
}

fn run(url: &str, writers: &Weak<Writers>, shared: &Weak<Shared>) {
    let place = crate::store::Place::Database(url.to_string());
    let mut logged_down = false;
    while writers.strong_count() > 0 {
        let mut listener = match Listener::connect(url) {
            Ok(l) => l,
            Err(e) => {
                if !logged_down {
                    tracing::error!(
                        "{place}: cannot listen for other hubs' commits: {e}; retrying"
                    );
                    logged_down = true;
                }
                reached(shared, Some(e.to_string()));
                // Waiting to retry a connection: nothing to wait on but time.
                std::thread::sleep(RETRY);
                continue;
            }
        };
        if logged_down {
            tracing::info!("{place}: listening for other hubs' commits again");
        }
        reached(shared, None);
        // Whatever was committed while nobody listened.
        if !tell_all(writers) {
            return;
        }
        loop {
            match listener.next(WAIT) {
                Ok(Some((roster, seq))) if held_here(shared, &roster, seq) => {}
                Ok(Some((roster, seq))) => {
                    let Some(w) = writers.upgrade() else { return };
                    let _ = w
                        .for_roster(&roster)
                        .blocking_send(Cmd::CatchUp { roster, seq });
                }
                Ok(None) if writers.strong_count() == 0 => return,
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(
                        "{place}: lost the connection listening for other hubs' commits: {e}"
                    );
                    reached(shared, Some(e.to_string()));
                    logged_down = true;
                    break;
                }
            }
        }
    }
}

/// Whether this hub holds `roster` up to `seq` already (its own commit,
/// heard back, or one it caught up on): nothing to do.
fn held_here(shared: &Weak<Shared>, roster: &str, seq: rota_core::domain::Seq) -> bool {
    shared.upgrade().is_some_and(|s| {
        s.seqs
            .lock()
            .ok()
            .and_then(|seqs| seqs.get(roster).copied())
            .is_some_and(|own| own >= seq)
    })
}

/// Tells every writer to check every roster it holds; false once the hub
/// has stopped.
fn tell_all(writers: &Weak<Writers>) -> bool {
    let Some(w) = writers.upgrade() else {
        return false;
    };
    for tx in w.all() {
        let _ = tx.blocking_send(Cmd::CatchUpAll);
    }
    true
}
