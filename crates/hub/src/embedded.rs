//! A hub in an editor's process, on a data dir no hub owns: started on a
//! loopback port, on a runtime of its own (two worker threads of its own,
//! so the editor's sync runtime, a single thread, never runs the hub's
//! connections), and stopped whole (its writer's last commit done, its
//! lock released) before `stop` returns.

use crate::server::{Config, Hub, ServeError};
use std::path::Path;
use std::sync::mpsc;
use tokio::sync::oneshot;

/// A hub running in this process.
pub struct Embedded {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Why no hub was started here.
#[derive(Debug)]
pub enum StartError {
    /// Another process owns the dir: its hub's URL, to join.
    Taken {
        url: String,
    },
    Failed(String),
}

impl Embedded {
    /// Starts a hub on `dir` on 127.0.0.1 (any free port). Blocking: it
    /// returns once the hub listens, or why it does not.
    pub fn start(dir: &Path) -> Result<Embedded, StartError> {
        let dir = dir.to_path_buf();
        let (ready_tx, ready) = mpsc::channel::<Result<String, StartError>>();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("rota-embedded-hub".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("rota-hub")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(StartError::Failed(format!(
                            "cannot start its runtime: {e}"
                        ))));
                        return;
                    }
                };
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(StartError::Failed(e.to_string())));
                            return;
                        }
                    };
                    let addr = match listener.local_addr() {
                        Ok(a) => a,
                        Err(e) => {
                            let _ = ready_tx.send(Err(StartError::Failed(e.to_string())));
                            return;
                        }
                    };
                    match Hub::bind(listener, Config::new(dir)) {
                        Ok(hub) => {
                            let _ = ready_tx.send(Ok(format!("ws://{addr}/ws")));
                            hub.serve(async move {
                                let _ = stopped.await;
                            })
                            .await;
                        }
                        Err(ServeError::Locked {
                            holder: Some(h), ..
                        }) => {
                            let _ = ready_tx.send(Err(StartError::Taken {
                                url: format!("ws://{}/ws", h.addr),
                            }));
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(StartError::Failed(e.to_string())));
                        }
                    }
                });
            })
            .map_err(|e| StartError::Failed(format!("cannot start its thread: {e}")))?;
        match ready.recv() {
            Ok(Ok(url)) => Ok(Embedded {
                url,
                stop: Some(stop),
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(StartError::Failed(
                    "its thread ended before it listened".into(),
                ))
            }
        }
    }

    /// Its WebSocket URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops it; returns when its thread has ended.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        self.halt();
    }
}
