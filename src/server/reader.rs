//! Reads served beside the writer: history pages and roster lists, by a
//! small pool of threads, each with a read-only connection to the store
//! (SQLite's WAL lets them read while the writer commits, and they see only
//! what is committed). The writer only writes: a slow read never holds up
//! anyone's edit. Each connection may have at most [`MAX_READS_WAITING`]
//! reads waiting; past that it is not read from until one is answered.

use crate::protocol::{self, HistoryQuery, ServerMsg};
use crate::store::{Reader, StoreError};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// Most reads one connection may have waiting or being served.
pub const MAX_READS_WAITING: usize = 4;
/// Threads (and read connections) in the pool.
const READERS: usize = 2;
/// Reads queued for the pool across all connections.
const QUEUE: usize = 1024;

pub enum Read {
    History {
        roster: String,
        req: Option<u64>,
        query: HistoryQuery,
        reply: mpsc::Sender<Utf8Bytes>,
    },
    ListRosters {
        req: Option<u64>,
        reply: mpsc::Sender<Utf8Bytes>,
    },
}

/// Starts the pool's threads on the store at `path`; they stop when every
/// sender of the returned queue is gone.
pub fn start(path: &Path) -> Result<mpsc::Sender<Read>, StoreError> {
    let (tx, rx) = mpsc::channel::<Read>(QUEUE);
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..READERS {
        let reader = Reader::open(path)?;
        let rx = rx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("rota-reader-{i}"))
            .spawn(move || serve(reader, rx));
        if let Err(e) = spawned {
            tracing::error!("starting reader thread {i}: {e}");
        }
    }
    Ok(tx)
}

fn serve(reader: Reader, rx: Arc<Mutex<mpsc::Receiver<Read>>>) {
    loop {
        // One thread waits on the queue at a time; the others wait on the lock.
        let next = match rx.lock() {
            Ok(mut rx) => rx.blocking_recv(),
            Err(_) => None,
        };
        let Some(read) = next else { return };
        let (msg, reply) = answer(&reader, read);
        let _ = reply.try_send(protocol::encode(&msg).into());
    }
}

fn answer(reader: &Reader, read: Read) -> (ServerMsg, mpsc::Sender<Utf8Bytes>) {
    match read {
        Read::History {
            roster,
            req,
            query,
            reply,
        } => {
            let msg = match reader.history(&roster, &query) {
                Ok((entries, next)) => ServerMsg::History { req, entries, next },
                Err(e) => storage_error(req, &e),
            };
            (msg, reply)
        }
        Read::ListRosters { req, reply } => {
            let msg = match reader.list_rosters() {
                Ok(rosters) => ServerMsg::Rosters { req, rosters },
                Err(e) => storage_error(req, &e),
            };
            (msg, reply)
        }
    }
}

fn storage_error(req: Option<u64>, e: &StoreError) -> ServerMsg {
    ServerMsg::Error {
        code: protocol::codes::STORAGE.into(),
        message: format!("the hub could not read this: {e}"),
        op_id: None,
        req,
    }
}
