//! The plain-HTTP front of the hub's one port: reads a request head, answers
//! `GET /health` and `GET /metrics` itself, and upgrades `GET /ws` to a
//! WebSocket. Everything else gets a short HTTP error. Nothing here knows
//! about rosters.

use super::Shared;
use super::metrics::resident_bytes;
use super::stream::HubStream;
use crate::accounts::Identity;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

const MAX_HEAD: usize = 16 * 1024;
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// What a connection turned out to be.
pub enum Routed {
    /// Upgraded, with who it is (None on a hub without accounts).
    WebSocket(Box<WebSocketStream<HubStream>>, Option<Identity>),
    /// Answered (or dropped) already.
    Done,
}

/// Small buffers keep an idle connection cheap: tungstenite's defaults are
/// 128 KiB each way, 2.5 GB for 10,000 editors.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(2 * 1024)
        .write_buffer_size(8 * 1024)
        .max_message_size(Some(rota_core::protocol::HARD_MAX_MESSAGE_BYTES))
        .max_frame_size(Some(rota_core::protocol::HARD_MAX_MESSAGE_BYTES))
}

pub(super) struct Head {
    pub(super) method: String,
    pub(super) path: String,
    upgrade_ws: bool,
    key: Option<String>,
    version_ok: bool,
    /// HTTP/1.1 or later (a WebSocket upgrade needs it: RFC 6455 4.1).
    http11: bool,
    /// The token of an `Authorization: Bearer` header.
    bearer: Option<String>,
    /// Forwarded by a proxy (`Forwarded`, `X-Forwarded-For`, `X-Real-IP`):
    /// from anywhere, whatever address the connection came from.
    forwarded: bool,
    /// `If-None-Match` and `If-Modified-Since`, for the calendar feed.
    pub(super) if_none_match: Option<String>,
    pub(super) if_modified_since: Option<String>,
    /// Bytes read past the end of the head (a client that did not wait).
    rest: Vec<u8>,
}

/// Connections past the limit whose request head is read at once, to
/// answer /health and /metrics; past these, 503 without reading.
pub const OVER_LIMIT_PROBES: usize = 64;
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a connection is over a limit: the status and body it gets.
#[derive(Clone, Copy)]
pub enum Over {
    /// The hub's own limit (503).
    Hub,
    /// The limit per client address (429).
    Address,
}

/// A connection past a limit: /health and /metrics are answered (a
/// monitor must see a full hub as alive), anything else gets 503 (the hub
/// is full) or 429 (its address has too many).
pub async fn over_limit(
    over: Over,
    tcp: tokio::net::TcpStream,
    tls: Option<&std::sync::Arc<rustls::ServerConfig>>,
    shared: &Shared,
    probes: &std::sync::Arc<tokio::sync::Semaphore>,
    local: bool,
) {
    let (status, full) = match over {
        Over::Hub => (503, "hub is at its connection limit\n"),
        Over::Address => (
            429,
            "too many connections from your address (--max-connections-per-address)\n",
        ),
    };
    let Ok(_probe) = probes.clone().try_acquire_owned() else {
        // A plain 503 means nothing inside TLS: a TLS client just sees the
        // connection close.
        if tls.is_none() {
            respond(&mut HubStream::Plain(tcp), status, "text/plain", full).await;
        }
        return;
    };
    let Ok(Some(mut stream)) =
        tokio::time::timeout(PROBE_TIMEOUT, super::stream::secure(tcp, tls)).await
    else {
        return;
    };
    let head = tokio::time::timeout(PROBE_TIMEOUT, read_head(&mut stream)).await;
    let (path, bearer, local) = match &head {
        Ok(Ok(Some(h))) if h.method == "GET" => (
            h.path.split('?').next().unwrap_or(""),
            h.bearer.as_deref(),
            h.is_local(local),
        ),
        _ => ("", None, false),
    };
    match path {
        "/health" => {
            let body = shared.health_json(health_detail(shared, bearer, local));
            respond(
                &mut stream,
                shared.health_status(),
                "application/json",
                &body,
            )
            .await
        }
        "/metrics" => {
            let body = shared.metrics.render(resident_bytes());
            respond(&mut stream, 200, "text/plain; version=0.0.4", &body).await;
        }
        _ => respond(&mut stream, status, "text/plain", full).await,
    }
}

/// Whether `/health` may say each roster's seq to this request: on a hub
/// without accounts, to a loopback client (`local`) whose request no proxy
/// forwarded, or with an owner's token; else it says only that the hub is
/// up and ready.
fn health_detail(shared: &Shared, bearer: Option<&str>, local: bool) -> bool {
    let accounts = shared.gate.current();
    !accounts.enabled()
        || local
        || accounts
            .authenticate(bearer)
            .is_ok_and(|who| accounts.is_owner(&who.user))
}

pub async fn route(mut stream: HubStream, shared: &Shared, local: bool) -> Routed {
    let head = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(Some(head))) => head,
        Ok(Ok(None)) => return Routed::Done,
        Ok(Err(status)) => {
            respond(&mut stream, status, "text/plain", status_text(status)).await;
            return Routed::Done;
        }
        Err(_) => return Routed::Done,
    };
    let path = head.path.split('?').next().unwrap_or("");
    match (head.method.as_str(), path) {
        ("GET", "/health") => {
            let local = head.is_local(local);
            let body = shared.health_json(health_detail(shared, head.bearer.as_deref(), local));
            respond(
                &mut stream,
                shared.health_status(),
                "application/json",
                &body,
            )
            .await;
            Routed::Done
        }
        ("GET", "/metrics") => {
            let body = shared.metrics.render(resident_bytes());
            respond(&mut stream, 200, "text/plain; version=0.0.4", &body).await;
            Routed::Done
        }
        ("GET", "/ws") => upgrade(stream, head, shared).await,
        ("GET" | "HEAD", p) if p.starts_with("/calendar/") => {
            super::calendar::serve(&mut stream, &head, shared).await;
            Routed::Done
        }
        (_, "/health" | "/metrics" | "/ws") => {
            respond(
                &mut stream,
                405,
                "text/plain",
                "method not allowed: use GET\n",
            )
            .await;
            Routed::Done
        }
        _ => {
            respond(
                &mut stream,
                404,
                "text/plain",
                "not found: try /ws, /health or /metrics\n",
            )
            .await;
            Routed::Done
        }
    }
}

async fn upgrade(mut stream: HubStream, head: Head, shared: &Shared) -> Routed {
    if !head.http11 {
        respond(
            &mut stream,
            400,
            "text/plain",
            "a WebSocket upgrade needs HTTP/1.1 (RFC 6455)\n",
        )
        .await;
        return Routed::Done;
    }
    let key = match (&head.key, head.upgrade_ws, head.version_ok) {
        (Some(key), true, true) => key,
        (_, _, false) if head.upgrade_ws => {
            let body = "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            let _ = stream.write_all(body.as_bytes()).await;
            return Routed::Done;
        }
        _ => {
            respond(
                &mut stream,
                426,
                "text/plain",
                "/ws is a WebSocket endpoint: connect with a WebSocket client\n",
            )
            .await;
            return Routed::Done;
        }
    };
    // Before the upgrade completes: a client without leave exchanges no frame.
    let mut accounts = shared.gate.current();
    if accounts.enabled() && accounts.authenticate(head.bearer.as_deref()).is_err() {
        // Perhaps a token issued a moment ago: the file, read again.
        let gate = shared.gate.clone();
        if let Ok(fresh) = tokio::task::spawn_blocking(move || gate.fresh()).await {
            accounts = fresh;
        }
    }
    let who = if accounts.enabled() {
        match accounts.authenticate(head.bearer.as_deref()) {
            Ok(who) => Some(who),
            Err(e) => {
                super::Metrics::inc(&shared.metrics.auth_refused);
                let body = format!("{e}\n");
                // Head and body in one write: a client that reads only what
                // came with the head still gets the reason.
                let answer = format!(
                    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"rota\"\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
                return Routed::Done;
            }
        }
    } else {
        None
    };
    let accept = derive_accept_key(key.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    if stream.write_all(response.as_bytes()).await.is_err() {
        return Routed::Done;
    }
    let ws =
        WebSocketStream::from_partially_read(stream, head.rest, Role::Server, Some(ws_config()))
            .await;
    Routed::WebSocket(Box::new(ws), who)
}

/// Reads up to the blank line ending the request head. `Ok(None)`: the peer
/// went away; `Err(status)`: a head we will not serve.
impl Head {
    /// Whether the request comes from this machine: over loopback
    /// (`loopback`, the connection's address) and forwarded by no proxy (a
    /// proxy on this machine forwards requests from anywhere).
    fn is_local(&self, loopback: bool) -> bool {
        loopback && !self.forwarded
    }
}

async fn read_head(stream: &mut HubStream) -> Result<Option<Head>, u16> {
    // Read straight into the buffer: a chunk on the stack would be held in
    // every connection's task while it waits.
    let mut buf = Vec::with_capacity(1024);
    let end = loop {
        if buf.capacity() == buf.len() {
            buf.reserve(1024);
        }
        let n = stream.read_buf(&mut buf).await.map_err(|_| 400u16)?;
        if n == 0 {
            return Ok(None);
        }
        match buf.windows(4).position(|w| w == b"\r\n\r\n") {
            Some(i) if i + 4 <= MAX_HEAD => break i + 4,
            Some(_) => return Err(431),
            None if buf.len() > MAX_HEAD => return Err(431),
            None => {}
        }
    };
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(&buf[..end]) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(400),
    }
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(str::trim)
    };
    let upgrade_ws = header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
        && header("connection").is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
        });
    Ok(Some(Head {
        method: req.method.unwrap_or("").to_string(),
        path: req.path.unwrap_or("").to_string(),
        upgrade_ws,
        key: header("sec-websocket-key").map(str::to_string),
        version_ok: header("sec-websocket-version") == Some("13"),
        http11: req.version.is_some_and(|v| v >= 1),
        bearer: header("authorization").and_then(bearer_token),
        forwarded: ["forwarded", "x-forwarded-for", "x-real-ip"]
            .iter()
            .any(|h| header(h).is_some()),
        if_none_match: header("if-none-match").map(str::to_string),
        if_modified_since: header("if-modified-since").map(str::to_string),
        rest: buf[end..].to_vec(),
    }))
}

/// The token of an `Authorization` header's value, `Bearer TOKEN` (the
/// scheme's case does not matter: RFC 9110 11.1).
fn bearer_token(value: &str) -> Option<String> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

pub async fn respond(stream: &mut HubStream, status: u16, content_type: &str, body: &str) {
    respond_with(stream, status, content_type, "", body).await;
}

/// [`respond`] with more header lines (`extra`: each ending in CRLF).
pub async fn respond_with(
    stream: &mut HubStream,
    status: u16,
    content_type: &str,
    extra: &str,
    body: &str,
) {
    respond_head(stream, status, content_type, extra, body, true).await;
}

/// [`respond_with`], the body left out when `with_body` is false (a HEAD
/// request: the same head, its Content-Length the body's).
pub async fn respond_head(
    stream: &mut HubStream,
    status: u16,
    content_type: &str,
    extra: &str,
    body: &str,
    with_body: bool,
) {
    // One write: head and body arrive together.
    let answer = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{}",
        status_text(status),
        body.len(),
        if with_body { body } else { "" }
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}
