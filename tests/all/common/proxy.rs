//! A small TCP proxy on 127.0.0.1 between a client and a hub, which a test
//! can tell to cut every connection, refuse new ones, stall either
//! direction, or cut a connection after some bytes (in the middle of a
//! frame). The upstream address can change, so a restarted hub on a new port
//! sits behind the same client URL.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Clone, Debug, Default)]
struct Rules {
    upstream: Option<SocketAddr>,
    refuse: bool,
    stall_up: bool,
    stall_down: bool,
    /// For the next connection only: cut after this many bytes up / down.
    cut_up_after: Option<usize>,
    cut_down_after: Option<usize>,
    /// Hold client -> hub bytes once the hub has answered twice (the
    /// WebSocket upgrade, then the welcome): what a client sends after
    /// reading the roster waits in the proxy until released.
    hold_after_welcome: bool,
    /// Like `hold_after_welcome` for the first read after the welcome, then
    /// reads nothing more: the client's writes back up and block, as on a
    /// hub that stopped reading.
    stall_after_welcome: bool,
}

pub struct Proxy {
    pub addr: SocketAddr,
    rules: Arc<Mutex<Rules>>,
    /// Bumped to cut every open connection.
    generation: watch::Sender<u64>,
    /// Bumped whenever a rule changes, so stalled pumps look again.
    changed: watch::Sender<u64>,
    accepted: Arc<Mutex<u64>>,
    /// Bytes held by `hold_after_welcome` so far.
    held: watch::Sender<usize>,
}

/// What both pumps of one connection share.
#[derive(Clone)]
struct Link {
    /// Reads forwarded hub -> client.
    down_reads: Arc<std::sync::atomic::AtomicUsize>,
    held: watch::Sender<usize>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let rules = Arc::new(Mutex::new(Rules {
            upstream: Some(upstream),
            ..Rules::default()
        }));
        let (generation, _) = watch::channel(0u64);
        let (changed, _) = watch::channel(0u64);
        let accepted = Arc::new(Mutex::new(0));
        let (held, _) = watch::channel(0usize);
        let held_tx = held.clone();
        let p = Proxy {
            addr,
            rules: rules.clone(),
            generation: generation.clone(),
            changed: changed.clone(),
            accepted: accepted.clone(),
            held,
        };
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (up, refuse, cut_up, cut_down) = {
                    let mut r = rules.lock().unwrap();
                    (
                        r.upstream,
                        r.refuse,
                        r.cut_up_after.take(),
                        r.cut_down_after.take(),
                    )
                };
                *accepted.lock().unwrap() += 1;
                if refuse {
                    drop(client);
                    continue;
                }
                let Some(up) = up else { continue };
                let Ok(server) = TcpStream::connect(up).await else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                let gen_rx = generation.subscribe();
                let stop_a = gen_rx.clone();
                let stop_b = gen_rx;
                let rules_a = rules.clone();
                let rules_b = rules.clone();
                let ch_a = changed.subscribe();
                let ch_b = changed.subscribe();
                let link = Link {
                    down_reads: Arc::default(),
                    held: held_tx.clone(),
                };
                let up_pump = pump(cr, sw, stop_a, ch_a, rules_a, true, cut_up, link.clone());
                tokio::spawn(up_pump);
                tokio::spawn(pump(sr, cw, stop_b, ch_b, rules_b, false, cut_down, link));
            }
        });
        p
    }

    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    fn update(&self, f: impl FnOnce(&mut Rules)) {
        f(&mut self.rules.lock().unwrap());
        self.changed.send_modify(|g| *g += 1);
    }

    pub fn set_upstream(&self, addr: SocketAddr) {
        self.update(|r| r.upstream = Some(addr));
    }
    /// Closes every open connection at once.
    pub fn cut_all(&self) {
        self.generation.send_modify(|g| *g += 1);
    }
    /// New connections are closed as soon as they are accepted.
    pub fn refuse(&self, on: bool) {
        self.update(|r| r.refuse = on);
    }
    /// Stops forwarding client -> hub bytes (they wait in the proxy).
    pub fn stall_up(&self, on: bool) {
        self.update(|r| r.stall_up = on);
    }
    /// Stops forwarding hub -> client bytes.
    pub fn stall_down(&self, on: bool) {
        self.update(|r| r.stall_down = on);
    }
    /// The next connection is cut after `up` bytes client -> hub and/or
    /// `down` bytes hub -> client.
    pub fn cut_next_after(&self, up: Option<usize>, down: Option<usize>) {
        self.update(|r| {
            r.cut_up_after = up;
            r.cut_down_after = down;
        });
    }
    /// Holds what clients send after their welcome (see `Rules`), counting
    /// from zero, or releases everything held and forwards as usual again.
    pub fn hold_after_welcome(&self, on: bool) {
        if on {
            self.held.send_replace(0);
        }
        self.update(|r| r.hold_after_welcome = on);
    }
    /// See `Rules::stall_after_welcome`; off releases what is held.
    pub fn stall_after_welcome(&self, on: bool) {
        if on {
            self.held.send_replace(0);
        }
        self.update(|r| r.stall_after_welcome = on);
    }
    /// Waits (bounded) until at least `bytes` are held; panics after `WAIT`.
    pub async fn wait_held(&self, bytes: usize) {
        self.wait_held_for(bytes, super::WAIT).await
    }
    /// [`Proxy::wait_held`] with a bound of its own (a client that has much
    /// to do first, in a debug build under load).
    pub async fn wait_held_for(&self, bytes: usize, within: std::time::Duration) {
        let mut rx = self.held.subscribe();
        let waited = tokio::time::timeout(within, rx.wait_for(|&n| n >= bytes)).await;
        assert!(
            matches!(waited, Ok(Ok(_))),
            "the proxy never held {bytes} bytes"
        );
    }
    pub fn accepted(&self) -> u64 {
        *self.accepted.lock().unwrap()
    }
}

#[allow(clippy::too_many_arguments)]
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut stop: watch::Receiver<u64>,
    mut changed: watch::Receiver<u64>,
    rules: Arc<Mutex<Rules>>,
    upward: bool,
    mut cut_after: Option<usize>,
    link: Link,
) {
    use std::sync::atomic::Ordering;
    let start_gen = *stop.borrow_and_update();
    let mut buf = vec![0u8; 16 * 1024];
    let mut held: Vec<u8> = Vec::new();
    loop {
        let holding = upward
            && {
                let r = rules.lock().unwrap();
                r.hold_after_welcome || r.stall_after_welcome
            }
            && link.down_reads.load(Ordering::SeqCst) >= 2;
        if !holding && !held.is_empty() {
            if to.write_all(&held).await.is_err() {
                return;
            }
            held.clear();
        }
        // While stalled, wait for a rule change or a cut.
        loop {
            let stalled = {
                let r = rules.lock().unwrap();
                if upward {
                    r.stall_up || (r.stall_after_welcome && !held.is_empty())
                } else {
                    r.stall_down
                }
            };
            if !stalled {
                break;
            }
            tokio::select! {
                _ = changed.changed() => {}
                _ = stop.changed() => return,
            }
        }
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            _ = stop.changed() => {
                if *stop.borrow() != start_gen { return; }
                continue;
            }
            _ = changed.changed() => continue_read_later(),
        };
        if n == usize::MAX {
            continue;
        }
        // Looked at again after the read: the welcome may have passed while
        // this pump waited.
        let holding = upward
            && {
                let r = rules.lock().unwrap();
                r.hold_after_welcome || r.stall_after_welcome
            }
            && link.down_reads.load(Ordering::SeqCst) >= 2;
        if holding {
            held.extend_from_slice(&buf[..n]);
            link.held.send_modify(|h| *h += n);
            continue;
        }
        if !upward {
            link.down_reads.fetch_add(1, Ordering::SeqCst);
        }
        let mut chunk = &buf[..n];
        let mut cut = false;
        if let Some(left) = cut_after.as_mut() {
            if chunk.len() >= *left {
                chunk = &chunk[..*left];
                cut = true;
            } else {
                *left -= chunk.len();
            }
        }
        if to.write_all(chunk).await.is_err() {
            return;
        }
        if cut {
            // Drop both halves: the peer sees the connection end mid-stream.
            return;
        }
    }
}

/// A rule changed while waiting to read: go round and look at the rules.
fn continue_read_later() -> usize {
    usize::MAX
}
