//! Limits: deadlines, connection slots, memory, presence, hostile clients, rates.

use super::*;

/// A WebSocket that never says hello is closed (4011) at the hello
/// deadline, freeing its slot; an editor that said hello is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_never_says_hello_is_closed_at_the_hello_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().to_path_buf());
    config.hello_timeout = Duration::from_millis(300);
    let hub = Hub::start_with(config).await;
    seed(&hub.url(), 1).await;
    let (mut editor, welcome) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    assert!(matches!(welcome, ServerMsg::Welcome { .. }));
    let mut mute = Client::raw(&hub.url()).await;
    let (code, reason) = mute.closed().await;
    assert_eq!(code, rota::protocol::close::NO_HELLO, "{reason}");
    assert!(reason.contains("no hello within 0.3 s"), "{reason}");
    // Past the deadline, the editor that joined still edits.
    let ack = editor
        .edit(1, vec![set("s1", "2026-12-01", Some("D"), 0)])
        .await;
    assert!(ack_seq(&ack) > 0, "{ack:?}");
}

/// With every connection slot taken, /health and /metrics are still
/// answered; anything else gets 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_served_when_every_connection_slot_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().to_path_buf());
    config.max_connections = 2;
    let hub = Hub::start_with(config).await;
    seed(&hub.url(), 1).await;
    let (_a, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    let (_b, _) = Client::join(&hub.url(), "bob", "c-bob", "default", 0).await;
    let (status, body) = hub.http_get("/health").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("default"), "{body}");
    let (status, _) = hub.http_get("/metrics").await;
    assert_eq!(status, 200);
    let (status, body) = hub.http_get("/ws").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("connection limit"), "{body}");
}

/// One address may hold at most `max_per_address` connections: more get
/// 429 (still /health and /metrics), a closed one frees its place, and
/// other addresses are not affected (here: loopback, spared by default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_may_hold_only_its_share_of_connections() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().to_path_buf());
    config.max_per_address = 2;
    config.spare_loopback = false;
    let hub = Hub::start_with(config).await;
    let (a, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    let (_b, _) = Client::join(&hub.url(), "bob", "c-bob", "default", 0).await;
    let (status, body) = hub.http_get("/ws").await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body.contains("too many connections from your address"),
        "{body}"
    );
    assert_eq!(hub.http_get("/health").await.0, 200);
    drop(a);
    // The hub notices the close; then a place is free again.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(c) = Client::raw_as(&hub.url(), None).await {
            drop(c);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no place freed");
    }
    // Loopback is spared by default: many connections from 127.0.0.1.
    let dir2 = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir2.path().to_path_buf());
    config.max_per_address = 2;
    let hub2 = Hub::start_with(config).await;
    let mut held = Vec::new();
    for i in 0..5 {
        held.push(Client::join(&hub2.url(), "x", &format!("c{i}"), "default", 0).await);
    }
}

/// Reads `name` from /metrics until `pred` holds (bounded by WAIT); each
/// look is a request to the hub.
pub(super) async fn until_metric(
    addr: std::net::SocketAddr,
    name: &str,
    pred: impl Fn(f64) -> bool,
) -> f64 {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let v = metric(addr, name).await;
        if pred(v) {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} stuck at {v}"
        );
    }
}

/// Rosters cost memory only while someone uses them: joins of made-up
/// roster names, once their connections are gone, hold nothing (the
/// writer lets go of a roster nobody listens to at the next join, here at
/// once), and a roster let go loads again whole from the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rosters_nobody_uses_are_let_go_and_load_again_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().to_path_buf());
    config.roster_idle = Duration::ZERO;
    let hub = Hub::start_with(config).await;
    seed(&hub.url(), 2).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    let ack = ann
        .edit(1, vec![set("s1", "2026-12-01", Some("N"), 0)])
        .await;
    let seq = ack_seq(&ack);
    let mut ghosts = Vec::new();
    for i in 0..40 {
        let (c, w) = Client::join(
            &hub.url(),
            "x",
            &format!("c-x{i}"),
            &format!("ghost-{i}"),
            0,
        )
        .await;
        assert!(matches!(w, ServerMsg::Welcome { .. }));
        ghosts.push(c);
    }
    assert!(metric(hub.addr, "rota_rosters_loaded").await >= 41.0);
    drop(ghosts);
    drop(ann);
    until_metric(hub.addr, "rota_connections", |v| v == 0.0).await;
    // With no join at all, the hub's timer lets go of every roster nobody
    // listens to.
    until_metric(hub.addr, "rota_rosters_loaded", |v| v == 0.0).await;
    // The roster let go comes back whole from the store.
    let (_bob, s, snap) = join_snapshot(&hub.url(), "bob", "c-bob").await;
    assert_eq!(metric(hub.addr, "rota_rosters_loaded").await, 1.0);
    assert_eq!(s, seq);
    assert_eq!(snap.cells.len(), 1, "the roster loaded again whole");
    assert_eq!(snap.staff.len(), 2);
    // Made-up names left nothing behind in the store either.
    let (_c, _, list) = {
        let (mut c, _) = Client::join(&hub.url(), "bob", "c-bob2", "default", 0).await;
        c.send(&ClientMsg::ListRosters { req: Some(1) }).await;
        let m = c.answer().await;
        (c, 0, m)
    };
    let text = format!("{list:?}");
    assert!(!text.contains("ghost-"), "{text}");
}

/// `n` cells of staff `s1` from 2026-12-01, each carrying a long code
/// string the roster would refuse (what matters here is their size).
pub(super) fn heavy_cells(n: usize, chars: usize) -> Vec<Op> {
    day_cells(0, n, &"X".repeat(chars))
}

/// A string longer than any operation may carry is refused in the part
/// that brings it, before anything is held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_carrying_an_oversized_string_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path()).await;
    seed(&hub.url(), 1).await;
    let (mut c, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    c.send(&part(5, 0, heavy_cells(2, 2000), false, true)).await;
    let (code, message, op_id, _) = error_of(c.answer().await);
    assert_eq!((code.as_str(), op_id), ("too_large", Some(5)), "{message}");
    assert!(
        message.contains("ops[0]: a string of 2000 characters"),
        "{message}"
    );
    assert_eq!(metric(hub.addr, "rota_assembling_bytes").await, 0.0);
}

/// Edits arriving in parts are bounded in bytes: one edit's parts
/// together, and all connections' together (`busy`, sent again later);
/// what a refused, finished or closed edit held is given back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_in_parts_are_bounded_in_bytes_per_edit_and_across_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().to_path_buf());
    config.max_assembly_bytes = 400_000;
    config.max_edit_bytes = 300_000;
    let hub = Hub::start_with(config).await;
    seed(&hub.url(), 1).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    let (mut bob, _) = Client::join(&hub.url(), "bob", "c-bob", "default", 0).await;
    // Ann holds about 250 KB; Bob's 250 KB part does not fit: busy.
    ann.send(&part(1, 0, heavy_cells(250, 1000), false, true))
        .await;
    bob.send(&part(7, 0, heavy_cells(250, 1000), false, true))
        .await;
    let (code, message, op_id, _) = error_of(bob.answer().await);
    assert_eq!((code.as_str(), op_id), ("busy", Some(7)), "{message}");
    assert!(message.contains("send it again in a moment"), "{message}");
    let held = metric(hub.addr, "rota_assembling_bytes").await;
    assert!(held > 250_000.0 && held < 400_000.0, "{held}");
    // Ann's connection goes: what it held is given back.
    drop(ann);
    until_metric(hub.addr, "rota_assembling_bytes", |v| v == 0.0).await;
    // One edit's parts past its own bound: refused, and let go.
    bob.send(&part(9, 0, heavy_cells(150, 1000), false, true))
        .await;
    bob.send(&part(9, 1, heavy_cells(180, 1000), false, true))
        .await;
    let (code, message, op_id, _) = error_of(bob.answer().await);
    assert_eq!((code.as_str(), op_id), ("too_large", Some(9)), "{message}");
    assert!(
        message.contains("its parts together pass 300000 bytes"),
        "{message}"
    );
    assert_eq!(metric(hub.addr, "rota_assembling_bytes").await, 0.0);
    // Bob now sends a real edit in parts; it is applied whole.
    bob.send(&part(8, 0, day_cells(0, 2, "D"), false, true))
        .await;
    bob.send(&part(8, 1, day_cells(2, 2, "N"), false, false))
        .await;
    let ack = bob.answer().await;
    assert!(ack_seq(&ack) > 0, "{ack:?}");
    assert_eq!(metric(hub.addr, "rota_assembling_bytes").await, 0.0);
}

pub(super) fn cursor_on(day: u32) -> ClientMsg {
    ClientMsg::Presence {
        cursor: Some(rota::protocol::Cursor {
            staff: "s1".into(),
            date: rota::domain::Date(d("2026-01-01").0 + chrono::Days::new(u64::from(day))),
        }),
    }
}

/// Cursor moves are bounded: an oversized one is refused, and a burst is
/// coalesced (at most 20 a second relayed), the latest always arriving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_is_bounded_in_size_and_rate_and_the_latest_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path()).await;
    seed(&hub.url(), 1).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    let (mut bob, _) = Client::join(&hub.url(), "bob", "c-bob", "default", 0).await;
    ann.send(&ClientMsg::Presence {
        cursor: Some(rota::protocol::Cursor {
            staff: "x".repeat(100_000),
            date: d("2026-01-01"),
        }),
    })
    .await;
    let (code, message, _, _) = error_of(ann.answer().await);
    assert_eq!(code, "bad_message", "{message}");
    assert!(message.contains("cursor.staff"), "{message}");
    for day in 1..=200 {
        ann.send(&cursor_on(day)).await;
    }
    let last = rota::domain::Date(d("2026-01-01").0 + chrono::Days::new(200));
    let mut relayed = 0;
    loop {
        match bob.recv().await {
            ServerMsg::Presence(p) if p.user == "ann" => {
                relayed += 1;
                if p.cursor.as_ref().is_some_and(|c| c.date == last) {
                    break;
                }
            }
            _ => {}
        }
    }
    assert!(relayed < 100, "{relayed} of 200 cursor moves relayed");
    eprintln!("{relayed} of 200 cursor moves relayed");
}

/// Upgrades a raw socket to a WebSocket by hand; what follows the 101.
pub(super) async fn raw_upgrade(
    addr: std::net::SocketAddr,
    http: &str,
) -> (tokio::net::TcpStream, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /ws {http}\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(WAIT, tcp.read(&mut byte))
            .await
            .unwrap()
            .unwrap();
        if n == 0 {
            break;
        }
        head.push(byte[0]);
    }
    (tcp, String::from_utf8_lossy(&head).into_owned())
}

/// A frame over the hard limit closes the connection with 1009 and a
/// close frame saying why (not a dropped socket); an HTTP/1.0 upgrade is
/// refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_is_closed_with_1009_and_http_1_0_is_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path()).await;
    let (mut tcp, head) = raw_upgrade(hub.addr, "HTTP/1.1").await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // A masked text frame announcing 17 MiB (only its head is sent).
    let mut frame = vec![0x81u8, 0xFF];
    frame.extend_from_slice(&(17u64 << 20).to_be_bytes());
    frame.extend_from_slice(&[1, 2, 3, 4]);
    tcp.write_all(&frame).await.unwrap();
    let mut bytes = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut bytes))
        .await
        .expect("hub hangs up")
        .ok();
    assert!(
        bytes.len() >= 4 && bytes[0] == 0x88,
        "no close frame: {bytes:?}"
    );
    assert_eq!(u16::from_be_bytes([bytes[2], bytes[3]]), 1009);
    let reason = String::from_utf8_lossy(&bytes[4..]);
    assert!(reason.contains("the limit is 16 MiB"), "{reason}");
    // HTTP/1.0 cannot upgrade.
    let (_tcp, head) = raw_upgrade(hub.addr, "HTTP/1.0").await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
}

/// Each honest editor sets its own person's cell on `day`, all at once;
/// how long each waited for its ack.
pub(super) async fn honest_round(honest: &mut [Client], day: u32, op: &mut u64) -> Vec<Duration> {
    let mut futs = Vec::new();
    for (i, c) in honest.iter_mut().enumerate() {
        *op += 1;
        let id = *op;
        let cell = set(
            &format!("s{}", i + 1),
            &format!("2026-12-{day:02}"),
            Some("D"),
            0,
        );
        futs.push(async move {
            let t = std::time::Instant::now();
            let ack = c.edit(id, vec![cell]).await;
            assert!(ack_seq(&ack) > 0, "{ack:?}");
            t.elapsed()
        });
    }
    futures_util::future::join_all(futs).await
}

/// Hostile clients beside ten honest editors: a head sent one line and
/// then nothing (slowloris), a client that joins and never reads, an
/// oversized frame, an oversized head, and a flood of silent connections
/// up to the limit. Each is answered as documented, and every honest edit
/// is served and converges. The honest editors' ack latency is reported
/// (speed belongs to the benchmarks, so it is not asserted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_leave_honest_editors_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().to_path_buf());
    config.max_connections = 40;
    let hub = Hub::start_with(config).await;
    seed(&hub.url(), 10).await;
    let mut honest = Vec::new();
    for i in 0..10 {
        let (c, _) = Client::join(
            &hub.url(),
            &format!("h{i}"),
            &format!("c-h{i}"),
            "default",
            0,
        )
        .await;
        honest.push(c);
    }
    // An oversized head: 431, nothing else.
    let mut tcp = tokio::net::TcpStream::connect(hub.addr).await.unwrap();
    let mut head = String::from("GET /ws HTTP/1.1\r\nHost: x\r\n");
    head.push_str(&format!("X-Pad: {}\r\n\r\n", "a".repeat(20_000)));
    let _ = tcp.write_all(head.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(WAIT, tcp.read_to_end(&mut answer)).await;
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 431"));
    // An oversized frame: 1009.
    let (mut big, _) = raw_upgrade(hub.addr, "HTTP/1.1").await;
    let mut frame = vec![0x81u8, 0xFF];
    frame.extend_from_slice(&(17u64 << 20).to_be_bytes());
    frame.extend_from_slice(&[1, 2, 3, 4]);
    big.write_all(&frame).await.unwrap();
    let mut bytes = Vec::new();
    let _ = tokio::time::timeout(WAIT, big.read_to_end(&mut bytes)).await;
    assert_eq!(bytes.get(2..4), Some(&1009u16.to_be_bytes()[..]));
    // A slowloris head and a client that joins and never reads: both stay.
    let mut slow = tokio::net::TcpStream::connect(hub.addr).await.unwrap();
    slow.write_all(b"GET /ws HTTP/1.1\r\n").await.unwrap();
    let (_mute, _) = Client::join(&hub.url(), "mute", "c-mute", "default", 0).await;
    // The honest editors edit, each its own person, in turns.
    let mut latencies = Vec::new();
    let mut op = 0u64;
    for day in 1..=10 {
        latencies.extend(honest_round(&mut honest, day, &mut op).await);
    }
    // A flood of silent connections up to the limit: the next gets 503,
    // and the editors already connected are still served.
    let mut flood = Vec::new();
    loop {
        let (status, _) = hub.http_get("/ws").await;
        if status == 503 {
            break;
        }
        flood.push(tokio::net::TcpStream::connect(hub.addr).await.unwrap());
        assert!(flood.len() <= 40, "the limit never bit");
    }
    for day in 11..=20 {
        latencies.extend(honest_round(&mut honest, day, &mut op).await);
    }
    // Converged: the hub holds every honest edit, and a late joiner sees them.
    drop(flood);
    // The hub sees the flood go (each look a request; bounded).
    let deadline = tokio::time::Instant::now() + WAIT;
    while hub.http_get("/ws").await.0 == 503 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the flood's slots never came back"
        );
    }
    let (_c, _, snap) = join_snapshot(&hub.url(), "late", "c-late").await;
    assert_eq!(snap.cells.len(), 200);
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    eprintln!(
        "honest acks beside hostile clients: {} edits, p50 {:?}, p99 {:?}",
        latencies.len(),
        at(0.5),
        at(0.99)
    );
    drop(slow);
}

/// One connection may begin at most `max_edits_per_sec` edits a second:
/// past it each is refused with `rate_limited`, naming it, and nothing of
/// it applied; another connection is not held back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_past_the_rate_are_refused_by_name_and_others_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().to_path_buf());
    config.max_edits_per_sec = 5;
    let hub = Hub::start_with(config).await;
    seed(&hub.url(), 2).await;
    let (mut fast, _) = Client::join(&hub.url(), "fast", "c-fast", "default", 0).await;
    let (mut calm, _) = Client::join(&hub.url(), "calm", "c-calm", "default", 0).await;
    for i in 1..=12u32 {
        fast.send(&ClientMsg::Edit {
            op_id: u64::from(i),
            ops: vec![set("s1", &format!("2026-12-{i:02}"), Some("D"), 0)],
            note: None,
            force: false,
            more: false,
            part: None,
        })
        .await;
    }
    let (mut acked, mut limited) = (0, Vec::new());
    for _ in 0..12 {
        match fast.answer().await {
            ServerMsg::Error {
                code,
                op_id,
                message,
                ..
            } if code == "rate_limited" => {
                assert!(message.contains("more than 5 edits a second"), "{message}");
                limited.push(op_id.expect("names its edit"));
            }
            m => {
                assert!(ack_seq(&m) > 0, "{m:?}");
                acked += 1;
            }
        }
    }
    assert!(
        acked <= 5 && acked + limited.len() == 12,
        "{acked} acked, {limited:?}"
    );
    // The other connection is served at once.
    let ack = calm
        .edit(1, vec![set("s2", "2026-12-01", Some("N"), 0)])
        .await;
    assert!(ack_seq(&ack) > 0, "{ack:?}");
    // Nothing of a refused edit was applied.
    let (_, cells) = hub_cells(&hub.url()).await;
    assert_eq!(cells.len(), acked + 1);
}

/// Issue 25, hole 4: `rate_limited` is an answer, not a fault: a client
/// pipelining within the in-flight limit past the rate gets every answer,
/// however many are `rate_limited`, and its connection stays open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_answers_never_close_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().to_path_buf());
    config.max_edits_per_sec = 2;
    let hub = Hub::start_with(config).await;
    seed(&hub.url(), 1).await;
    let (mut fast, _) = Client::join(&hub.url(), "fast", "c-fast", "default", 0).await;
    // Three rounds of 60 (within the 64 in flight), more than the 50
    // faults a connection may make in a window.
    let mut limited = 0;
    for round in 0..3u64 {
        for i in 1..=60u64 {
            fast.send(&ClientMsg::Edit {
                op_id: round * 100 + i,
                ops: vec![set(
                    "s1",
                    "2026-12-01",
                    Some(if i % 2 == 0 { "D" } else { "N" }),
                    0,
                )],
                note: None,
                force: true,
                more: false,
                part: None,
            })
            .await;
        }
        for _ in 0..60 {
            match fast.answer().await {
                ServerMsg::Error { code, .. } if code == "rate_limited" => limited += 1,
                ServerMsg::Ack { .. } => {}
                other => panic!("round {round}: expected an ack or rate_limited, got {other:?}"),
            }
        }
    }
    assert!(limited > 150, "{limited} rate_limited answers");
    // Still served.
    let probe = fast
        .edit(999, vec![set("s1", "2026-12-02", Some("D"), 0)])
        .await;
    assert!(
        matches!(probe, ServerMsg::Ack { .. } | ServerMsg::Error { .. }),
        "{probe:?}"
    );
}

/// Issue 25, hole 5: a rejection is bounded. 5,000 stale writes are
/// answered with the first 1,000 conflicts and the rest counted; 2,000
/// operations naming a 1,000-character unknown staff id with the first
/// 1,000 problems, each cut short. Each answer (and its replay to a resend)
/// is a frame far under the message limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_lists_the_first_problems_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 1).await;
    let (mut admin, _) = Client::join(&hub.url(), "admin", "c-admin", "default", 0).await;
    let day =
        |i: usize| rota::domain::Date(d("2026-12-01").0 + chrono::Days::new(i as u64)).to_string();
    let written: Vec<Op> = (0..5_000)
        .map(|i| set("s1", &day(i), Some("D"), 0))
        .collect();
    assert!(ack_seq(&admin.edit(100, written).await) > 0);
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    let stale: Vec<Op> = (0..5_000)
        .map(|i| set("s1", &day(i), Some("N"), 0))
        .collect();
    for attempt in 0..2 {
        ann.send(&ClientMsg::Edit {
            op_id: 7,
            ops: stale.clone(),
            note: None,
            force: false,
            more: false,
            part: None,
        })
        .await;
        let answer = ann.answer().await;
        let size = serde_json::to_string(&answer).unwrap().len();
        match answer {
            ServerMsg::Rejected {
                code,
                conflicts,
                omitted,
                message,
                ..
            } => {
                assert_eq!(code, "conflict");
                assert_eq!(
                    (conflicts.len(), omitted),
                    (1_000, 4_000),
                    "attempt {attempt}"
                );
                assert!(message.starts_with("5000 write(s)"), "{message}");
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
        assert!(
            size < MAX_MESSAGE_BYTES / 2,
            "attempt {attempt}: {size} bytes"
        );
    }
    // Unknown staff: 2,000 operations, the first 1,000 problems listed.
    let invalid = |ann_ops: Vec<Op>, op_id: u64| ClientMsg::Edit {
        op_id,
        ops: ann_ops,
        note: None,
        force: false,
        more: false,
        part: None,
    };
    let unknown: Vec<Op> = (0..2_000)
        .map(|i| set("nobody", &day(i), Some("D"), 0))
        .collect();
    ann.send(&invalid(unknown, 8)).await;
    match ann.answer().await {
        ServerMsg::Rejected {
            code,
            problems,
            omitted,
            message,
            ..
        } => {
            assert_eq!(code, "invalid");
            assert_eq!((problems.len(), omitted), (1_000, 1_000));
            assert!(
                message.ends_with("and 1990 more"),
                "{}",
                &message[message.len() - 40..]
            );
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    // A 1,000-character unknown id: each problem's words cut short.
    let long = "x".repeat(1_000);
    let unknown: Vec<Op> = (0..600)
        .map(|i| set(&long, &day(i), Some("D"), 0))
        .collect();
    ann.send(&invalid(unknown, 9)).await;
    let answer = ann.answer().await;
    let size = serde_json::to_string(&answer).unwrap().len();
    match answer {
        ServerMsg::Rejected { problems, .. } => {
            assert_eq!(problems.len(), 600);
            assert!(problems.iter().all(|p| p.message.chars().count() <= 301));
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(size < 400_000, "{size} bytes for 600 problems");
}

/// Issue 25, hole 4: a connection closed for its faults first sends the
/// answers it owes (its edits in flight, committed meanwhile) and then its
/// close frame: the client learns each edit's outcome and why it was
/// closed, never a reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_connection_sends_what_it_owes_then_its_close_frame() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 2).await;
    let (mut c, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    let day =
        |i: usize| rota::domain::Date(d("2026-01-01").0 + chrono::Days::new(i as u64)).to_string();
    // 60 edits of 1,500 cells in flight, then 60 frames that are faults.
    // (Under 2,000 operations, so they commit at the writer's own priority:
    // a big edit with nobody else about commits at nice +10, which on a
    // machine busy with other tests could outlast the 2 s the closing
    // connection waits for its answers.)
    for e in 0..60u64 {
        let code = if e % 2 == 0 { "D" } else { "N" };
        let ops: Vec<Op> = (0..1_500)
            .map(|i| {
                set(
                    if i % 2 == 0 { "s1" } else { "s2" },
                    &day(i / 2),
                    Some(code),
                    0,
                )
            })
            .collect();
        c.send(&ClientMsg::Edit {
            op_id: e + 1,
            ops,
            note: None,
            force: true,
            more: false,
            part: None,
        })
        .await;
    }
    for _ in 0..60 {
        c.send_text("{\"type\":\"no such thing\"}").await;
    }
    let (mut acks, mut errors) = (0, 0);
    let deadline = tokio::time::Instant::now() + WAIT;
    let close = loop {
        let msg = tokio::time::timeout_at(deadline, c.ws.next())
            .await
            .expect("the connection ends in time");
        match msg {
            Some(Ok(Message::Text(t))) => {
                let m = rota::protocol::decode_server(&t).unwrap();
                let msgs = match m {
                    ServerMsg::Batch { msgs } => msgs,
                    m => vec![m],
                };
                for m in msgs {
                    match m {
                        ServerMsg::Ack { .. } => acks += 1,
                        ServerMsg::Error { .. } => errors += 1,
                        _ => {}
                    }
                }
            }
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("{acks} acks, {errors} errors, then {e} (no close frame)"),
            None => panic!("{acks} acks, {errors} errors, then the end (no close frame)"),
        }
    };
    let frame = close.expect("a close frame with a code");
    assert_eq!(u16::from(frame.code), 4009, "{frame:?}");
    assert_eq!(
        acks, 60,
        "every edit in flight answered before the close ({errors} errors)"
    );
}
