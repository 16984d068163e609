//! Sessions: slow readers, presence, rosters, history, shutdown, the data dir's lock, HTTP, idle connections.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_does_not_hold_up_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().to_path_buf());
    config.outbound_queue = 16;
    config.write_timeout = Duration::from_secs(2);
    let hub = Hub::start_with(config).await;
    let (mut admin, _) = Client::join(&hub.url(), "admin", "c-admin", "default", 0).await;
    ack_seq(&admin.edit(1, setup_ops(20)).await);

    // Joins, then never reads again.
    let (stuck, _) = Client::join(&hub.url(), "stuck", "c-stuck", "default", 0).await;
    let (mut reader, _) = Client::join(&hub.url(), "reader", "c-reader", "default", 0).await;
    let (mut writer, _) = Client::join(&hub.url(), "writer", "c-writer", "default", 0).await;

    // Large batches fill the stuck socket's buffers quickly (~40 KB each).
    let batches = 300u64;
    let mut sent = Vec::new();
    for b in 0..batches {
        let code = if b % 2 == 0 { "D" } else { "N" };
        let ops: Vec<Op> = (0..500)
            .map(|i| {
                set(
                    &format!("s{}", 1 + i % 20),
                    &format!("2027-{:02}-{:02}", 1 + (i / 20) % 12, 1 + i / 240),
                    Some(code),
                    0,
                )
            })
            .collect();
        writer
            .send(&ClientMsg::Edit {
                op_id: b + 1,
                ops,
                note: None,
                force: false,
                more: false,
                part: None,
            })
            .await;
        sent.push(ack_seq(&writer.answer().await));
        // The reader keeps up as it goes.
        let ServerMsg::Change(cs) = reader
            .recv_until(|m| matches!(m, ServerMsg::Change(_)))
            .await
        else {
            unreachable!()
        };
        assert_eq!(cs.seq, *sent.last().unwrap());
    }
    // The stuck one was cut loose: reading at last, it finds its stream ends
    // (with a close frame, when the hub could still get one through).
    let mut stuck = stuck;
    let (code, _) = stuck.closed().await;
    assert!(
        code == 0 || code == rota::protocol::close::OUTBOUND_OVERFLOW,
        "closed with {code}"
    );
    assert!(metric(hub.addr, "rota_broadcast_queue_drops_total").await >= 1.0);
    drop(stuck);
    hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_is_relayed_and_departures_announced() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path()).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "ward", 0).await;
    let (mut bob, welcome) = Client::join(&hub.url(), "bob", "c-bob", "ward", 0).await;
    let ServerMsg::Welcome {
        presence,
        session: bob_session,
        ..
    } = welcome
    else {
        unreachable!()
    };
    assert_eq!(
        presence.iter().map(|p| p.user.as_str()).collect::<Vec<_>>(),
        vec!["ann"]
    );
    bob.send(&ClientMsg::Presence {
        cursor: Some(rota::protocol::Cursor {
            staff: "s1".into(),
            date: d("2026-12-03"),
        }),
    })
    .await;
    let m = ann
        .recv_until(|m| matches!(m, ServerMsg::Presence(p) if p.cursor.is_some()))
        .await;
    let ServerMsg::Presence(p) = m else {
        unreachable!()
    };
    assert_eq!((p.user.as_str(), p.session), ("bob", bob_session));
    drop(bob);
    let m = ann
        .recv_until(|m| matches!(m, ServerMsg::Left { .. }))
        .await;
    assert_eq!(
        m,
        ServerMsg::Left {
            session: bob_session,
            user: "bob".into()
        }
    );
    hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rosters_are_separate_listed_and_created_by_their_first_write() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path()).await;
    let (mut a, welcome) = Client::join(&hub.url(), "ann", "c-ann", "ward-a", 0).await;
    assert!(matches!(welcome, ServerMsg::Welcome { seq: 0, .. }));
    a.send(&ClientMsg::ListRosters { req: None }).await;
    assert_eq!(
        a.answer().await,
        ServerMsg::Rosters {
            rosters: vec![],
            req: None
        }
    );
    ack_seq(&a.edit(1, setup_ops(2)).await);
    let (mut b, _) = Client::join(&hub.url(), "bob", "c-bob", "ward-b", 0).await;
    ack_seq(&b.edit(1, setup_ops(3)).await);
    a.send(&ClientMsg::ListRosters { req: None }).await;
    let ServerMsg::Rosters { rosters, .. } = a.answer().await else {
        panic!()
    };
    let got: Vec<_> = rosters
        .iter()
        .map(|r| (r.name.as_str(), r.seq, r.staff))
        .collect();
    assert_eq!(got, vec![("ward-a", 1, 2), ("ward-b", 1, 3)]);
    let (status, body) = hub.http_get("/health").await;
    assert_eq!(status, 200);
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["rosters"], 2);
    assert_eq!(health["status"], "ok");
    hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 1).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    for i in 0..7u64 {
        let code = if i % 2 == 0 { "D" } else { "N" };
        ack_seq(
            &ann.edit(i + 1, vec![set("s1", "2026-12-01", Some(code), 0)])
                .await,
        );
    }
    let mut seqs = Vec::new();
    let mut before = None;
    for _ in 0..10 {
        ann.send(&ClientMsg::History {
            req: None,
            query: HistoryQuery {
                staff: Some("s1".into()),
                date: Some(d("2026-12-01")),
                before: before.clone(),
                limit: Some(3),
                ..Default::default()
            },
        })
        .await;
        let ServerMsg::History { entries, next, .. } = ann.answer().await else {
            panic!()
        };
        seqs.extend(entries.iter().map(|e| e.seq));
        before = next;
        if before.is_none() {
            break;
        }
    }
    assert_eq!(seqs, (2..=8).rev().collect::<Vec<u64>>());
    hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_commits_and_closes_every_editor_normally() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 1).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    let seq = ack_seq(
        &ann.edit(1, vec![set("s1", "2026-12-01", Some("D"), 0)])
            .await,
    );
    let url = hub.url();
    let stopping = tokio::spawn(hub.stop());
    let (code, reason) = ann.closed().await;
    assert_eq!(code, 1000, "{reason}");
    stopping.await.unwrap().unwrap();
    let hub = Hub::start(dir.path()).await;
    assert_ne!(hub.url(), "", "{url}");
    let (_, welcome) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    assert!(matches!(welcome, ServerMsg::Welcome { seq: s, .. } if s == seq));
    hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_hub_on_the_same_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = rota::server::run(
        listener,
        Config::new(dir.path().to_path_buf()),
        std::future::pending::<()>(),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("in use by another rota hub"), "{msg}");
    assert!(msg.contains(&hub.addr.to_string()), "{msg}");
    // An editor can find the running hub through the lock.
    let holder = rota::server::lock::holder(dir.path()).expect("a holder");
    assert_eq!(
        (holder.addr, holder.pid),
        (hub.addr.to_string(), std::process::id())
    );
    hub.stop().await.unwrap();
    assert_eq!(rota::server::lock::holder(dir.path()), None);
    // Once the first is gone, the dir is free again.
    let hub = Hub::start(dir.path()).await;
    hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_endpoints_answer() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path()).await;
    let (status, body) = hub.http_get("/metrics").await;
    assert_eq!(status, 200);
    for name in [
        "rota_connections",
        "rota_edits_accepted_total",
        "rota_conflicts_total",
        "rota_broadcast_queue_drops_total",
        "rota_commit_batch_size_bucket",
        "rota_commit_seconds_count",
    ] {
        assert!(body.contains(name), "{name} missing");
    }
    assert_eq!(hub.http_get("/nowhere").await.0, 404);
    assert_eq!(hub.http_get("/ws").await.0, 426);
    hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().to_path_buf());
    config.idle_timeout = Duration::from_millis(600);
    config.ping_interval = Duration::from_millis(200);
    let hub = Hub::start_with(config).await;
    // A raw socket that upgrades and then never answers a ping: only
    // collects what the hub sends until the hub hangs up.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(hub.addr).await.unwrap();
    tcp.write_all(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut bytes = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut bytes))
        .await
        .expect("hub hangs up")
        .ok();
    assert!(bytes.starts_with(b"HTTP/1.1 101"));
    // An unmasked close frame: 0x88, length, then the status code 4010.
    let code = rota::protocol::close::IDLE.to_be_bytes();
    let closed = bytes.windows(4).any(|w| w[0] == 0x88 && w[2..] == code);
    assert!(closed, "no 4010 close frame in {bytes:?}");
    hub.stop().await.unwrap();
}
