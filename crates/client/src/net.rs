//! The connection task: find the hub (or start the embedded one), connect,
//! handshake with the last seq, hand every message to the core, send what
//! the core says to send, keep the link alive with pings, and reconnect
//! with exponential backoff and jitter when it drops. Owns no roster state.

use super::{ConnState, HubAddr, Shared, SyncConfig};
use crate::host::{HostError, HostedHub};
use futures_util::{SinkExt, StreamExt};
use rota_core::protocol::{self, ServerMsg};
use rota_db::lock;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// An in-process hub this engine started because none owned the data dir.
struct Embedded(Box<dyn HostedHub>);

impl Embedded {
    /// Stopped off the engine's runtime (stopping waits for the hub).
    async fn stop(self) {
        let _ = tokio::task::spawn_blocking(move || self.0.stop()).await;
    }
}

/// Why a session ended.
enum Ended {
    /// The engine is stopping.
    Stopped,
    /// Reconnect after the backoff.
    Lost(String),
    /// Reconnect at once (a resync, or the user asked).
    Again(String),
    /// The hub refused us: wait until asked before trying again.
    Refused(String),
}

pub(crate) async fn run(shared: Arc<Shared>, config: SyncConfig, mut stop: watch::Receiver<bool>) {
    let mut embedded: Option<Embedded> = None;
    let mut attempt: u32 = 0;
    // Which of several hubs is tried, and how many in a row failed at once.
    let (mut hub, mut passed) = (0usize, 0usize);
    loop {
        if *stop.borrow() {
            break;
        }
        attempt = attempt.saturating_add(1);
        if !shared.may_host.load(std::sync::atomic::Ordering::SeqCst)
            && let Some(e) = embedded.take()
        {
            // Handed over: stopped here, so another editor starts it.
            e.stop().await;
            shared.hosting.send_replace(false);
        }
        shared.core().set_conn(ConnState::Connecting { attempt });
        let may_host = shared.may_host.load(std::sync::atomic::Ordering::SeqCst);
        let ended = match resolve(&shared, &config, &mut embedded, may_host, hub).await {
            Ok(url) => session(&shared, &config, &url, &mut stop, &mut attempt).await,
            Err(reason) => Ended::Lost(reason),
        };
        let reason = match ended {
            Ended::Stopped => break,
            Ended::Refused(reason) => {
                tracing::debug!("the hub refused this client: {reason}");
                shared.core().set_conn(ConnState::Refused { reason });
                tokio::select! {
                    _ = shared.reconnect.notified() => {}
                    _ = stop.changed() => break,
                }
                attempt = 0;
                continue;
            }
            Ended::Again(reason) => {
                tracing::debug!("reconnecting at once: {reason}");
                continue;
            }
            Ended::Lost(reason) => reason,
        };
        if *stop.borrow() {
            break;
        }
        if let HubAddr::Several(urls) = &config.hub {
            // Another hub on the same database: tried at once, each once,
            // before the backoff (connected since: a new round).
            if attempt == 0 {
                passed = 0;
            }
            hub = (hub + 1) % urls.len();
            if passed + 1 < urls.len() {
                passed += 1;
                tracing::debug!("trying the next hub at once: {reason}");
                continue;
            }
            passed = 0;
        }
        let delay = backoff(&config, attempt);
        tracing::debug!(?delay, "not connected: {reason}");
        shared.core().set_conn(ConnState::Retrying {
            retry_in: delay,
            reason,
        });
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shared.reconnect.notified() => {}
            _ = stop.changed() => break,
        }
    }
    shared.core().set_conn(ConnState::Offline {
        reason: "stopped".into(),
    });
    if let Some(e) = embedded {
        e.stop().await;
        shared.hosting.send_replace(false);
    }
}

/// The delay before attempt `attempt + 1`: doubling from `backoff_min` up to
/// `backoff_max`, then a random point in its upper half, so that many
/// editors cut off together do not come back together.
fn backoff(config: &SyncConfig, attempt: u32) -> Duration {
    let doubled = config
        .backoff_min
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let full = doubled.min(config.backoff_max);
    let half = full / 2;
    half + half.mul_f64(jitter())
}

/// A number in [0, 1) from the operating system's random generator (0.5
/// should it fail: the backoff is then the middle of its range).
fn jitter() -> f64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

/// The URL to connect to. For the local data dir: the running hub that owns
/// it, else a hub started here on a loopback port (when `may_host`).
async fn resolve(
    shared: &Shared,
    config: &SyncConfig,
    embedded: &mut Option<Embedded>,
    may_host: bool,
    hub: usize,
) -> Result<String, String> {
    let dir = match &config.hub {
        HubAddr::Url(u) => return Ok(u.clone()),
        HubAddr::Several(urls) => {
            return urls
                .get(hub % urls.len().max(1))
                .cloned()
                .ok_or_else(|| "no hub address".to_string());
        }
        HubAddr::Local(dir) => dir,
    };
    if let Some(e) = embedded {
        return Ok(e.0.url().to_string());
    }
    if let Some(h) = lock::holder(dir) {
        return Ok(format!("ws://{}/ws", h.addr));
    }
    if !may_host {
        return Err("the hub was handed to another editor; none runs it yet".into());
    }
    let Some(host) = config.host.clone() else {
        return Err(format!("no hub runs on {}", dir.display()));
    };
    let at = dir.clone();
    let started = tokio::task::spawn_blocking(move || host.0.start(&at))
        .await
        .map_err(|e| format!("cannot start a local hub: {e}"))?;
    match started {
        Ok(hub) => {
            let url = hub.url().to_string();
            tracing::info!(%url, "started a local hub on {}", dir.display());
            *embedded = Some(Embedded(hub));
            shared.hosting.send_replace(true);
            Ok(url)
        }
        // Another rota took the dir a moment ago: join it.
        Err(HostError::Taken { url }) => Ok(url),
        Err(HostError::Failed(e)) => Err(format!("cannot start a local hub: {e}")),
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn session(
    shared: &Shared,
    config: &SyncConfig,
    url: &str,
    stop: &mut watch::Receiver<bool>,
    attempt: &mut u32,
) -> Ended {
    let mut ws = match connect(shared, config, url).await {
        Ok(ws) => ws,
        Err(Refusal::Refused(reason)) => return Ended::Refused(reason),
        Err(Refusal::Failed(reason)) => return Ended::Lost(reason),
    };
    *attempt = 0;
    let mut ping = tokio::time::interval(config.ping_interval);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    // When the hub must have answered by (something was sent, with a
    // ping, and nothing heard since).
    let mut answer_by: Option<Instant> = None;
    let silent = config.answer_timeout;
    loop {
        let frames = shared.core().take_frames_to_send();
        if !frames.is_empty() {
            answer_by.get_or_insert_with(|| Instant::now() + silent);
            // A hub that stops reading must not hold up a shutdown.
            let sent = tokio::select! {
                r = send_all(shared, &mut ws, frames) => r,
                _ = stop.changed() => return Ended::Stopped,
            };
            match sent {
                Ok(()) => {}
                Err(Sending::Withdrawn(op_id)) => {
                    // The hub drops the parts it holds when we hang up.
                    return Ended::Again(format!("edit {op_id} was withdrawn while being sent"));
                }
                Err(Sending::Lost(e)) => return Ended::Lost(format!("connection lost: {e}")),
            }
        }
        {
            let core = shared.core();
            if core.needs_snapshot {
                return Ended::Again("reloading the roster".into());
            }
            if let Some(reason) = core.retry_later.clone() {
                return Ended::Lost(reason);
            }
        }
        tokio::select! {
            biased;
            _ = stop.changed() => {
                let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
                return Ended::Stopped;
            }
            msg = ws.next() => {
                answer_by = None;
                match msg {
                    Some(Ok(Message::Text(t))) => match protocol::decode_server(&t) {
                        Ok(m) => {
                            if let Err(e) = shared.core().handle(m) {
                                return Ended::Lost(format!("local store: {e}"));
                            }
                        }
                        Err(e) => tracing::warn!("unreadable message from the hub: {e}"),
                    },
                    Some(Ok(Message::Ping(_))) => {
                        // tungstenite queued the pong; send it now.
                        if let Err(e) = ws.flush().await {
                            return Ended::Lost(format!("connection lost: {e}"));
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        // A new role that sees another view: back at once,
                        // to be sent it (nothing is lost, nothing to say).
                        if frame
                            .as_ref()
                            .is_some_and(|f| u16::from(f.code) == protocol::close::VIEW_CHANGED)
                        {
                            return Ended::Again("the role's view changed".into());
                        }
                        let why = frame
                            .map(|f| format!(" ({} {})", u16::from(f.code), f.reason))
                            .unwrap_or_default();
                        return Ended::Lost(format!("the hub closed the connection{why}"));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Ended::Lost(format!("connection lost: {e}")),
                    None => return Ended::Lost("connection closed".into()),
                }
            }
            _ = shared.wake.notified() => {}
            _ = shared.reconnect.notified() => return Ended::Again("asked to reconnect".into()),
            _ = tokio::time::sleep_until(answer_by.unwrap_or_else(Instant::now)), if answer_by.is_some() => {
                return Ended::Lost(format!(
                    "no answer from the hub within {} s",
                    silent.as_secs_f64().ceil()
                ));
            }
            _ = ping.tick() => {
                answer_by.get_or_insert_with(|| Instant::now() + silent);
                if let Err(e) = ws.send(Message::Ping(Vec::new().into())).await {
                    return Ended::Lost(format!("connection lost: {e}"));
                }
            }
        }
    }
}

/// Why a connection did not come about.
enum Refusal {
    /// The hub said no (a 401, or `forbidden` to the hello): trying again
    /// with the same token would only be refused again.
    Refused(String),
    /// Anything else: try again after the backoff.
    Failed(String),
}

/// Connects, says hello and applies the welcome.
async fn connect(shared: &Shared, config: &SyncConfig, url: &str) -> Result<Ws, Refusal> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::http::HeaderValue;
    let within = config.connect_timeout;
    let failed = Refusal::Failed;
    let mut request = url
        .into_client_request()
        .map_err(|e| failed(format!("bad hub URL {url}: {e}")))?;
    if let Some(token) = &config.token {
        let value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| Refusal::Refused("the token holds characters no token has".into()))?;
        request.headers_mut().insert("authorization", value);
    }
    let tls = if url.starts_with("wss://") {
        let config = rota_tls::client_config(config.ca.as_deref()).map_err(Refusal::Refused)?;
        Some(tokio_tungstenite::Connector::Rustls(config))
    } else {
        None
    };
    let (mut ws, _) = tokio::time::timeout(
        within,
        tokio_tungstenite::connect_async_tls_with_config(request, None, true, tls),
    )
    .await
    .map_err(|_| {
        failed(format!(
            "{url} did not take the connection within {} s",
            within.as_secs_f64()
        ))
    })?
    .map_err(|e| refusal_of(url, e))?;
    let hello = shared.core().hello(&config.roster);
    ws.send(Message::Text(protocol::encode_client(&hello).into()))
        .await
        .map_err(|e| failed(format!("connection lost: {e}")))?;
    let welcome = tokio::time::timeout(within, first_message(&mut ws))
        .await
        .map_err(|_| failed(format!("no welcome from {url} within {within:?}")))?
        .map_err(failed)?;
    match welcome {
        ServerMsg::Welcome { .. } => {
            let mut core = shared.core();
            core.connected();
            core.handle(welcome)
                .map_err(|e| failed(format!("local store: {e}")))?;
            Ok(ws)
        }
        ServerMsg::Error { code, message, .. } if code == protocol::codes::FORBIDDEN => {
            // Said as the hub says it: whoever shows it says who refused.
            Err(Refusal::Refused(message))
        }
        ServerMsg::Error { code, message, .. } => {
            Err(failed(format!("the hub refused: {code}: {message}")))
        }
        other => Err(failed(format!("expected a welcome, got {other:?}"))),
    }
}

/// A failed upgrade: a 401 is a refusal (with the hub's reason), the rest
/// are failures to retry.
fn refusal_of(url: &str, e: tokio_tungstenite::tungstenite::Error) -> Refusal {
    use tokio_tungstenite::tungstenite::Error;
    match e {
        Error::Http(resp) if resp.status().as_u16() == 401 => {
            let why = resp
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).trim().to_string())
                .filter(|b| !b.is_empty())
                .unwrap_or_else(|| "the hub refused the token (HTTP 401)".into());
            Refusal::Refused(format!("{why} ({url})"))
        }
        // A certificate that does not check out will not on the next try.
        // rustls reports it as an I/O error carrying its own.
        Error::Tls(e) => Refusal::Refused(format!(
            "cannot connect to {url}: TLS: {e} (is the hub's CA given with --ca?)"
        )),
        Error::Io(e) if e.get_ref().is_some_and(|i| i.is::<rustls::Error>()) => Refusal::Refused(
            format!("cannot connect to {url}: TLS: {e} (is the hub's CA given with --ca?)"),
        ),
        e => Refusal::Failed(format!("cannot connect to {url}: {e}")),
    }
}

async fn first_message(ws: &mut Ws) -> Result<ServerMsg, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                return protocol::decode_server(&t).map_err(|e| format!("unreadable welcome: {e}"));
            }
            Some(Ok(Message::Close(frame))) => {
                let why = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                return Err(format!("the hub closed the connection: {why}"));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("connection lost: {e}")),
            None => return Err("connection closed".into()),
        }
    }
}

/// Why frames stopped being sent.
enum Sending {
    Lost(tokio_tungstenite::tungstenite::Error),
    /// An edit was withdrawn before its last part went.
    Withdrawn(u64),
}

/// Writes frames in order, one flush at the end. Before each part of an
/// edit, asks the core whether it may still go (see `may_send_part`).
async fn send_all(
    shared: &Shared,
    ws: &mut Ws,
    frames: Vec<super::core::Outgoing>,
) -> Result<(), Sending> {
    for f in frames {
        if let Some((op_id, last)) = f.edit
            && !shared.core().may_send_part(op_id, last)
        {
            return Err(Sending::Withdrawn(op_id));
        }
        ws.feed(Message::Text(f.frame.into()))
            .await
            .map_err(Sending::Lost)?;
    }
    // A ping after them: a live hub answers it at once, however long the
    // edits take to commit (the answer the session waits for).
    ws.feed(Message::Ping(Vec::new().into()))
        .await
        .map_err(Sending::Lost)?;
    ws.flush().await.map_err(Sending::Lost)
}
