//! The hub against real WebSocket clients on 127.0.0.1 (issue 2's tests).

use crate::common;

use common::*;
use futures_util::SinkExt;
use rota::domain::{ConflictMode, Op};
use rota::protocol::{ClientMsg, HistoryQuery, MAX_MESSAGE_BYTES, MAX_OPS_PER_BATCH, ServerMsg};
use rota::server::Config;
use std::time::Duration;

async fn hub_with_staff(dir: &std::path::Path, staff: usize) -> Hub {
    let hub = Hub::start(dir).await;
    let (mut admin, _) = Client::join(&hub.url(), "admin", "c-admin", "default", 0).await;
    ack_seq(&admin.edit(1, setup_ops(staff)).await);
    hub
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_reaches_the_other_editor_with_its_seq_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 2).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 1).await;
    let (mut bob, _) = Client::join(&hub.url(), "bob", "c-bob", "default", 1).await;
    let seq = ack_seq(
        &ann.edit(1, vec![set("s1", "2026-12-01", Some("N"), 0)])
            .await,
    );
    let ServerMsg::Change(cs) = bob.recv_until(|m| matches!(m, ServerMsg::Change(_))).await else {
        unreachable!()
    };
    assert_eq!(cs.seq, seq);
    assert_eq!(
        (cs.user.as_str(), cs.client.as_str(), cs.op_id),
        ("ann", "c-ann", 1)
    );
    assert_eq!(
        cs.changes,
        vec![rota::domain::Change::Cell {
            staff: "s1".into(),
            date: d("2026-12-01"),
            code: Some("N".into())
        }]
    );
    hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_write_conflicts_and_last_writer_wins_reports_what_it_overwrote() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 1).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    let (mut bob, _) = Client::join(&hub.url(), "bob", "c-bob", "default", 0).await;
    let seq = ack_seq(
        &ann.edit(1, vec![set("s1", "2026-12-01", Some("D"), 0)])
            .await,
    );

    // Bob writes based on the empty cell he saw: refused, with the current value.
    match bob
        .edit(1, vec![set("s1", "2026-12-01", Some("N"), 0)])
        .await
    {
        ServerMsg::Rejected {
            op_id,
            code,
            conflicts,
            ..
        } => {
            assert_eq!((op_id, code.as_str()), (1, "conflict"));
            assert_eq!(conflicts.len(), 1);
            let c = &conflicts[0];
            assert_eq!(
                (c.value.clone(), c.seq, c.user.as_str(), c.base),
                (serde_json::json!("D"), seq, "ann", 0)
            );
            assert!(c.at > 0);
        }
        other => panic!("expected conflict, got {other:?}"),
    }

    // Under last-writer-wins the same stale write is applied and reported.
    ack_seq(
        &ann.edit(
            2,
            vec![Op::SetConflictMode {
                mode: ConflictMode::LastWriterWins,
            }],
        )
        .await,
    );
    match bob
        .edit(2, vec![set("s1", "2026-12-01", Some("N"), 0)])
        .await
    {
        ServerMsg::Ack { overwritten, .. } => {
            assert_eq!(overwritten.len(), 1);
            assert_eq!(overwritten[0].value, serde_json::json!("D"));
            assert_eq!(overwritten[0].user, "ann");
        }
        other => panic!("expected ack, got {other:?}"),
    }
    let (_, _, s) = join_snapshot(&hub.url(), "eve", "c-eve").await;
    assert!(
        s.cells
            .iter()
            .any(|c| &*c.0 == "s1" && c.2.as_deref() == Some("N"))
    );
    hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_own_unacknowledged_write_never_makes_its_next_one_stale() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 1).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    // Both sent before either is answered, both based on "never written".
    for (op_id, code) in [(1, "D"), (2, "N")] {
        ann.send(&ClientMsg::Edit {
            op_id,
            ops: vec![set("s1", "2026-12-01", Some(code), 0)],
            note: None,
            force: false,
            more: false,
            part: None,
        })
        .await;
    }
    let (a1, a2) = (ann.answer().await, ann.answer().await);
    assert!(ack_seq(&a1) < ack_seq(&a2), "{a1:?} then {a2:?}");
    ann.send(&ClientMsg::History {
        req: None,
        query: HistoryQuery {
            staff: Some("s1".into()),
            date: Some(d("2026-12-01")),
            ..Default::default()
        },
    })
    .await;
    let ServerMsg::History { entries, .. } = ann.answer().await else {
        panic!("history")
    };
    let afters: Vec<_> = entries.iter().map(|e| e.after.clone()).collect();
    assert_eq!(afters, vec![serde_json::json!("N"), serde_json::json!("D")]);
    hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_sent_twice_is_answered_the_same_and_applied_once_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 1).await;
    let batch = ClientMsg::Edit {
        op_id: 7,
        ops: vec![
            set("s1", "2026-12-01", Some("D"), 0),
            set("s1", "2026-12-02", Some("N"), 0),
        ],
        note: Some("twice".into()),
        force: false,
        more: false,
        part: None,
    };
    let rejected = ClientMsg::Edit {
        op_id: 8,
        ops: vec![set("s1", "2026-12-03", Some("XX"), 0)],
        note: None,
        force: false,
        more: false,
        part: None,
    };
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    ann.send(&batch).await;
    let first = ann.answer().await;
    ann.send(&rejected).await;
    let first_rejection = ann.answer().await;
    assert!(matches!(first_rejection, ServerMsg::Rejected { .. }));
    ann.send(&batch).await;
    assert_eq!(ann.answer().await, first);
    let seq_after = ack_seq(&first);
    drop(ann);
    hub.stop().await.unwrap();

    let hub = Hub::start(dir.path()).await;
    let (mut ann, welcome) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    let ServerMsg::Welcome { seq, .. } = welcome else {
        unreachable!()
    };
    assert_eq!(seq, seq_after);
    ann.send(&batch).await;
    assert_eq!(ann.answer().await, first);
    ann.send(&rejected).await;
    assert_eq!(ann.answer().await, first_rejection);
    // Applied once: the log has exactly the two cell writes, the seq is unmoved.
    ann.send(&ClientMsg::History {
        req: None,
        query: HistoryQuery {
            staff: Some("s1".into()),
            from: Some(d("2026-12-01")),
            to: Some(d("2026-12-31")),
            ..Default::default()
        },
    })
    .await;
    let ServerMsg::History { entries, .. } = ann.answer().await else {
        panic!("history")
    };
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| e.note.as_deref() == Some("twice")));
    let (_, welcome) = Client::join(&hub.url(), "bob", "c-bob", "default", 0).await;
    let ServerMsg::Welcome { seq, .. } = welcome else {
        unreachable!()
    };
    assert_eq!(seq, seq_after);
    hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_with_the_last_seq_gets_exactly_the_missed_changes_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 3).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    let seen = ack_seq(
        &ann.edit(1, vec![set("s1", "2026-12-01", Some("D"), 0)])
            .await,
    );
    drop(ann);

    let (mut bob, _) = Client::join(&hub.url(), "bob", "c-bob", "default", 0).await;
    let mut missed = Vec::new();
    for i in 0..5u64 {
        let staff = format!("s{}", 1 + i % 3);
        let date = format!("2026-12-1{i}");
        missed.push(ack_seq(
            &bob.edit(i + 1, vec![set(&staff, &date, Some("N"), 0)])
                .await,
        ));
    }
    let (_, welcome) = Client::join(&hub.url(), "ann", "c-ann", "default", seen).await;
    let ServerMsg::Welcome {
        changes: Some(changes),
        snapshot: None,
        seq,
        ..
    } = welcome
    else {
        panic!("expected a delta, got {welcome:?}")
    };
    assert_eq!(changes.iter().map(|c| c.seq).collect::<Vec<_>>(), missed);
    assert_eq!(seq, *missed.last().unwrap());
    assert!(
        changes
            .iter()
            .all(|c| c.user == "bob" && c.changes.len() == 1)
    );

    // Up to date: an empty delta. From nothing: everything, from seq 1.
    let (_, welcome) = Client::join(&hub.url(), "ann", "c-ann", "default", seq).await;
    assert!(matches!(welcome, ServerMsg::Welcome { changes: Some(ref c), .. } if c.is_empty()));
    let (_, welcome) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    let ServerMsg::Welcome {
        changes: Some(all), ..
    } = welcome
    else {
        panic!("delta")
    };
    assert_eq!(all.first().map(|c| c.seq), Some(1));
    assert_eq!(all.len() as u64, seq);
    hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_gets_an_error_and_the_hub_goes_on_serving() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 1).await;
    let (mut watcher, _) = Client::join(&hub.url(), "wat", "c-wat", "default", 0).await;

    let expect_error = |m: ServerMsg, want: &str| match m {
        ServerMsg::Error { code, message, .. } => {
            assert_eq!(code, want, "{message}");
            assert!(!message.is_empty());
            message
        }
        other => panic!("expected {want} error, got {other:?}"),
    };

    // Before the handshake.
    let mut c = Client::raw(&hub.url()).await;
    c.send_text("{not json").await;
    expect_error(c.answer().await, "bad_json");
    c.send_text(r#"{"type":"edit","op_id":1,"ops":[{"op":"set_cell","staff":"s1","date":"2026-12-01","code":"D"}]}"#).await;
    expect_error(c.answer().await, "not_joined");
    c.ws.send(tokio_tungstenite::tungstenite::Message::Binary(
        vec![1u8, 2, 3].into(),
    ))
    .await
    .unwrap();
    expect_error(c.answer().await, "binary_not_supported");
    c.send_text(
        r#"{"type":"hello","protocol":"1.0","user":"x","client_id":"c-x","roster":"no spaces"}"#,
    )
    .await;
    expect_error(c.answer().await, "bad_roster");

    // After it.
    c.send_text(r#"{"type":"hello","protocol":"1.0","user":"x","client_id":"c-x"}"#)
        .await;
    assert!(matches!(c.answer().await, ServerMsg::Welcome { .. }));
    c.send_text(r#"{"type":"hello","protocol":"1.0","user":"x","client_id":"c-x"}"#)
        .await;
    expect_error(c.answer().await, "already_joined");
    c.send_text("[1,2").await;
    expect_error(c.answer().await, "bad_json");
    c.send_text(r#"{"type":"dance"}"#).await;
    expect_error(c.answer().await, "unknown_type");
    c.send_text(r#"{"type":"edit","op_id":2,"ops":[{"op":"set_cell","staff":"s1","date":"2026-02-30","code":"D"}]}"#).await;
    let m = expect_error(c.answer().await, "bad_date");
    assert!(m.contains("ops[0].date") && m.contains("2026-02-30"), "{m}");
    c.send_text(r#"{"type":"edit","ops":[]}"#).await;
    assert!(expect_error(c.answer().await, "bad_message").contains("op_id"));
    c.ws.send(tokio_tungstenite::tungstenite::Message::Binary(
        vec![0u8; 10].into(),
    ))
    .await
    .unwrap();
    expect_error(c.answer().await, "binary_not_supported");
    c.send_text(&format!(
        r#"{{"type":"presence","pad":"{}"}}"#,
        "x".repeat(MAX_MESSAGE_BYTES)
    ))
    .await;
    expect_error(c.answer().await, "too_large");
    let too_many: Vec<Op> = (0..=MAX_OPS_PER_BATCH)
        .map(|_| set("s1", "2026-12-01", Some("D"), 0))
        .collect();
    c.send(&ClientMsg::Edit {
        op_id: 3,
        ops: too_many,
        note: None,
        force: false,
        more: false,
        part: None,
    })
    .await;
    expect_error(c.answer().await, "too_many_ops");
    // Unknown staff or code: the batch is rejected, naming each bad op.
    match c
        .edit(
            4,
            vec![
                set("ghost", "2026-12-01", Some("D"), 0),
                set("s1", "2026-12-01", Some("ZZ"), 0),
            ],
        )
        .await
    {
        ServerMsg::Rejected { code, problems, .. } => {
            assert_eq!(code, "invalid");
            let got: Vec<_> = problems.iter().map(|p| (p.op, p.code.as_str())).collect();
            assert_eq!(got, vec![(0, "unknown_staff"), (1, "unknown_code")]);
        }
        other => panic!("expected rejection, got {other:?}"),
    }

    // Nothing was stored, and the hub still serves this connection and others.
    let ok = c.edit(5, vec![set("s1", "2026-12-01", Some("D"), 0)]).await;
    let seq = ack_seq(&ok);
    let ServerMsg::Change(cs) = watcher
        .recv_until(|m| matches!(m, ServerMsg::Change(_)))
        .await
    else {
        unreachable!()
    };
    assert_eq!(cs.seq, seq);
    assert_eq!(seq, 2, "only the setup and the good edit were stored");
    let (status, _) = hub.http_get("/health").await;
    assert_eq!(status, 200);
    assert!(metric(hub.addr, "rota_protocol_errors_total").await >= 12.0);
    hub.stop().await.unwrap();
}

/// An error's code, message, op id and req.
fn error_of(m: ServerMsg) -> (String, String, Option<u64>, Option<u64>) {
    match m {
        ServerMsg::Error {
            code,
            message,
            op_id,
            req,
        } => (code, message, op_id, req),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_about_an_edit_or_request_names_it_and_the_field_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 1).await;
    let (mut c, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 1).await;
    let cell = r#"{"op":"set_cell","staff":"s1","date":"2026-12-01","code":"D"}"#;
    // (frame, code, the message's start): each names op_id 7.
    let cases = [
        (
            format!(r#"{{"type":"edit","op_id":7,"ops":[{cell},{{"op":"set_cell","staff":"s1","date":"2026-12-32","code":"D"}}]}}"#),
            "bad_date",
            "ops[1].date: ",
        ),
        (
            format!(r#"{{"type":"edit","op_id":7,"ops":[{cell},{cell},{{"op":"set_cell","date":"2026-12-01","code":"D"}}]}}"#),
            "bad_message",
            "ops[2].staff: missing field",
        ),
        (
            r#"{"type":"edit","op_id":7,"ops":[{"op":"set_cell","staff":5,"date":"2026-12-01","code":"D"}]}"#.to_string(),
            "bad_message",
            "ops[0].staff: ",
        ),
        (
            r#"{"type":"edit","op_id":7,"ops":[{"op":"set_conflict_mode","mode":"lww"}]}"#.to_string(),
            "bad_message",
            "ops[0].mode: unknown variant `lww`",
        ),
        (
            r#"{"type":"edit","op_id":7,"ops":[{"op":"put_code","code":{"code":"D","label":"Day","hours":"eight"}}]}"#.to_string(),
            "bad_message",
            "ops[0].code.hours: ",
        ),
        (
            r#"{"type":"edit","op_id":7,"ops":[{"op":"put_rule","rule":{"id":"r","kind":"staffing","code":"D","min":"three"}}]}"#.to_string(),
            "bad_message",
            "ops[0].rule",
        ),
        (
            format!(r#"{{"type":"edit","op_id":7,"note":7,"ops":[{cell}]}}"#),
            "bad_message",
            "note: ",
        ),
        (
            format!(r#"{{"type":"edit","op_id":7,"ops":[{cell}],"note":"{}"}}"#, "n".repeat(201)),
            "bad_message",
            "note: 201 characters is over the limit of 200",
        ),
        (
            format!(r#"{{"type":"edit","op_id":7,"ops":[{cell}],"note":"{}"}}"#, "x".repeat(MAX_MESSAGE_BYTES)),
            "too_large",
            "message of ",
        ),
    ];
    for (frame, code, start) in &cases {
        c.send_text(frame).await;
        let (got, message, op_id, _) = error_of(c.answer().await);
        assert_eq!((got.as_str(), op_id), (*code, Some(7)), "{message}");
        assert!(message.starts_with(start), "{message} (wanted {start}...)");
    }
    // No op id to name: the message still names the field.
    c.send_text(&format!(r#"{{"type":"edit","ops":[{cell}]}}"#))
        .await;
    let (_, message, op_id, _) = error_of(c.answer().await);
    assert_eq!((message.as_str(), op_id), ("op_id: missing field", None));
    // JSON but not an object: bad_json; an object without a type: bad_message.
    c.send_text("[1,2]").await;
    assert_eq!(error_of(c.answer().await).0, "bad_json");
    c.send_text(r#"{"op_id":3}"#).await;
    let (code, message, ..) = error_of(c.answer().await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("bad_message", "type: missing field")
    );

    // History: refused with a reason, naming the request.
    for (query, start) in [
        (r#""limit":501"#, "limit: 501 is not between 1 and 500"),
        (r#""limit":0"#, "limit: 0 is not between 1 and 500"),
        (r#""before":"yesterday""#, "before: `yesterday` is not"),
        (
            r#""from":"2026-12-05","to":"2026-12-01""#,
            "from: 2026-12-05 is after",
        ),
    ] {
        c.send_text(&format!(r#"{{"type":"history","req":41,{query}}}"#))
            .await;
        let (code, message, op_id, req) = error_of(c.answer().await);
        assert_eq!((code.as_str(), op_id, req), ("bad_message", None, Some(41)));
        assert!(message.starts_with(start), "{message}");
    }
    c.send_text(r#"{"type":"history","req":42,"limit":"ten"}"#)
        .await;
    let (_, message, _, req) = error_of(c.answer().await);
    assert_eq!(req, Some(42));
    assert!(message.starts_with("limit: "), "{message}");
    // Answers carry their request's id, several in flight at once.
    for req in [1, 2, 3] {
        c.send(&ClientMsg::History {
            req: Some(req),
            query: HistoryQuery {
                limit: Some(req as u32),
                ..Default::default()
            },
        })
        .await;
    }
    c.send(&ClientMsg::ListRosters { req: Some(9) }).await;
    let mut reqs = Vec::new();
    for _ in 0..4 {
        match c.answer().await {
            ServerMsg::History {
                req: Some(r),
                entries,
                ..
            } => {
                assert!(entries.len() <= r as usize);
                reqs.push(r);
            }
            ServerMsg::Rosters { req: Some(r), .. } => reqs.push(r),
            other => panic!("expected an answer, got {other:?}"),
        }
    }
    reqs.sort();
    assert_eq!(reqs, [1, 2, 3, 9]);
    // Nothing of any of it was stored.
    let (seq, cells) = hub_cells(&hub.url()).await;
    assert_eq!((seq, cells.len()), (1, 0));
    hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_major_version_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path()).await;
    let mut c = Client::raw(&hub.url()).await;
    c.send_text(r#"{"type":"hello","protocol":"2.0","user":"x","client_id":"c-x"}"#)
        .await;
    match c.answer().await {
        ServerMsg::Error { code, message, .. } => {
            assert_eq!(code, "unsupported_version");
            assert!(
                message.contains("2.0") && message.contains(rota::protocol::PROTOCOL_VERSION),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.closed().await.0, 1002);
    hub.stop().await.unwrap();
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_changes_are_versioned_logged_and_broadcast_and_removal_keeps_history() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 2).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    let (mut bob, _) = Client::join(&hub.url(), "bob", "c-bob", "default", 0).await;
    ack_seq(
        &ann.edit(1, vec![set("s2", "2026-12-01", Some("D"), 0)])
            .await,
    );
    let rename = Op::UpdateStaff {
        id: "s2".into(),
        name: Some("Sam Jones".into()),
        group: Some("Porters".into()),
        order: Some(0),
        base: Some(1),
    };
    let seq = ack_seq(&ann.edit(2, vec![rename]).await);
    let ServerMsg::Change(cs) = bob
        .recv_until(|m| matches!(m, ServerMsg::Change(c) if c.seq == seq))
        .await
    else {
        unreachable!()
    };
    let rota::domain::Change::Staff { staff } = &cs.changes[0] else {
        panic!("{cs:?}")
    };
    assert_eq!(
        (
            staff.name.as_str(),
            staff.group.as_str(),
            staff.order,
            staff.seq
        ),
        ("Sam Jones", "Porters", 0, seq)
    );

    // A second rename based on the old version conflicts.
    let stale = Op::UpdateStaff {
        id: "s2".into(),
        name: Some("Samuel".into()),
        group: None,
        order: None,
        base: Some(1),
    };
    assert!(
        matches!(bob.edit(1, vec![stale]).await, ServerMsg::Rejected { ref code, .. } if code == "conflict")
    );

    ack_seq(
        &ann.edit(
            3,
            vec![Op::RemoveStaff {
                id: "s2".into(),
                base: None,
            }],
        )
        .await,
    );
    let (_, _, snap) = join_snapshot(&hub.url(), "eve", "c-eve").await;
    let s2 = snap.staff.iter().find(|s| s.id == "s2").unwrap();
    assert!(!s2.active);
    assert!(
        snap.cells
            .iter()
            .any(|c| &*c.0 == "s2" && c.2.as_deref() == Some("D"))
    );
    ann.send(&ClientMsg::History {
        req: None,
        query: HistoryQuery {
            staff: Some("s2".into()),
            ..Default::default()
        },
    })
    .await;
    let ServerMsg::History { entries, .. } = ann.answer().await else {
        panic!()
    };
    let kinds: Vec<_> = entries.iter().map(|e| e.entity.as_str()).collect();
    assert_eq!(kinds, vec!["staff", "staff", "cell", "staff"]);
    hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_editors_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 20).await;
    let (clients, per_client) = (20u64, 50u64);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let url = hub.url();
        tasks.push(tokio::spawn(async move {
            let (mut cl, _) = Client::join(&url, "u", &format!("c{c}"), "default", 0).await;
            // Pipelined: all sent, then all answers read.
            for i in 0..per_client {
                let date = format!("2027-{:02}-{:02}", 1 + i / 28, 1 + i % 28);
                cl.send(&ClientMsg::Edit {
                    op_id: i + 1,
                    ops: vec![set(&format!("s{}", c + 1), &date, Some("D"), 0)],
                    note: None,
                    force: false,
                    more: false,
                    part: None,
                })
                .await;
            }
            for _ in 0..per_client {
                ack_seq(&cl.answer().await);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let edits = clients * per_client + 1;
    let commits = metric(hub.addr, "rota_commit_batch_size_count").await as u64;
    let accepted = metric(hub.addr, "rota_edits_accepted_total").await as u64;
    assert_eq!(accepted, edits);
    assert!(
        commits < edits,
        "{commits} commits for {edits} edits: no group commit"
    );
    hub.stop().await.unwrap();
}

/// Batch `b` of 400 distinct cells over 30 staff.
fn fill_batch(b: u64) -> Vec<Op> {
    (0..400u64)
        .map(|i| {
            let day = b * 400 + i;
            let date = format!(
                "{}-{:02}-{:02}",
                2030 + day / 336,
                1 + (day / 28) % 12,
                1 + day % 28
            );
            set(&format!("s{}", 1 + i % 30), &date, Some("N"), 0)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_refuses_the_batch_and_harms_nothing_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().to_path_buf());
    config.max_db_bytes = Some(256 * 1024);
    let hub = Hub::start_with(config).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    ack_seq(&ann.edit(1, setup_ops(30)).await);
    // Fill until the store refuses: 400 cells a batch.
    let mut acked = Vec::new();
    let mut failed = None;
    for b in 0..200u64 {
        match ann.edit(b + 2, fill_batch(b)).await {
            ServerMsg::Ack { seq, .. } => acked.push(seq),
            ServerMsg::Error { code, op_id, .. } => {
                assert_eq!((code.as_str(), op_id), ("storage_failed", Some(b + 2)));
                failed = Some(b + 2);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    let failed = failed.expect("the cap was never reached");
    let last = *acked.last().unwrap();
    // The refused batch left no trace; everything acknowledged is there.
    let (_, seq, before) = join_snapshot(&hub.url(), "bob", "c-bob").await;
    assert_eq!(seq, last);
    assert_eq!(before.cells.len(), acked.len() * 400);
    assert!(before.cells.iter().all(|c| c.3 <= last));
    hub.stop().await.unwrap();

    // Without the cap: the same roster, and the refused batch (same op id,
    // never answered) now applies whole.
    let hub = Hub::start(dir.path()).await;
    let (mut ann, _, after) = join_snapshot(&hub.url(), "ann", "c-ann").await;
    assert_eq!(after, before);
    assert_eq!(
        ack_seq(&ann.edit(failed, fill_batch(failed - 2)).await),
        last + 1
    );
    hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_snapshots_and_changes_arrive_whole() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 20).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    let (mut bob, _) = Client::join(&hub.url(), "bob", "c-bob", "default", 0).await;
    let batch = |year: u64| -> Vec<Op> {
        (0..10_000u64)
            .map(|i| {
                let date = format!(
                    "{}-{:02}-{:02}",
                    year + i / 6720,
                    1 + (i / 560) % 12,
                    1 + (i / 20) % 28
                );
                set(
                    &format!("s{}", 1 + i % 20),
                    &date,
                    Some(if i % 2 == 0 { "D" } else { "N" }),
                    0,
                )
            })
            .collect()
    };
    for (op_id, year) in [(1, 2030), (2, 2040)] {
        let seq = ack_seq(&ann.edit(op_id, batch(year)).await);
        let ServerMsg::Change(cs) = bob
            .recv_until(|m| matches!(m, ServerMsg::Change(c) if c.seq == seq))
            .await
        else {
            unreachable!()
        };
        assert_eq!(cs.changes.len(), 10_000);
    }
    let (_, _, snap) = join_snapshot(&hub.url(), "eve", "c-eve").await;
    assert_eq!(snap.cells.len(), 20_000);
    hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_rules_and_settings_travel_like_cells_live_in_catch_up_and_across_restarts() {
    use rota::domain::{LimitMeasure, RuleKind, ShiftCode};
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 2).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    let (mut bob, welcome) = Client::join(&hub.url(), "bob", "c-bob", "default", 0).await;
    let ServerMsg::Welcome { seq: start, .. } = welcome else {
        unreachable!()
    };
    let early = ShiftCode {
        code: "E".into(),
        label: "Early".into(),
        colour: "#ff9800".into(),
        hours: 7.5,
        worked: true,
        start: Some("07:00".into()),
        end: Some("14:30".into()),
        seq: 0,
    };
    let batches = vec![
        vec![Op::PutCode {
            code: early,
            base: None,
        }],
        vec![
            rule(
                "no-n-e",
                RuleKind::ForbiddenSequence {
                    first: "N".into(),
                    then: "E".into(),
                },
            ),
            rule(
                "cover-e",
                RuleKind::Staffing {
                    code: "E".into(),
                    min: 1,
                    max: Some(2),
                    weekdays: vec![chrono::Weekday::Mon],
                    group: Some("Nurses".into()),
                    from: Some(d("2026-12-01")),
                    to: Some(d("2026-12-31")),
                },
            ),
            rule(
                "max-run",
                RuleKind::Limit {
                    measure: LimitMeasure::ConsecutiveWorked,
                    min: None,
                    max: Some(5.0),
                    period_days: Some(28),
                    code: None,
                    staff: Some("s1".into()),
                    group: None,
                },
            ),
        ],
        vec![Op::SetConflictMode {
            mode: ConflictMode::LastWriterWins,
        }],
        vec![
            Op::RemoveRule {
                id: "cover-e".into(),
                base: None,
            },
            Op::RemoveCode {
                code: "OFF".into(),
                base: None,
            },
        ],
    ];
    let mut live = Vec::new();
    for (i, ops) in batches.into_iter().enumerate() {
        let seq = ack_seq(&ann.edit(i as u64 + 1, ops).await);
        let m = bob
            .recv_until(|m| matches!(m, ServerMsg::Change(c) if c.seq == seq))
            .await;
        let ServerMsg::Change(cs) = m else {
            unreachable!()
        };
        live.push(cs);
    }
    // Catch-up rebuilt from the change log equals what went out live.
    let (_, welcome) = Client::join(&hub.url(), "bob", "c-bob", "default", start).await;
    let ServerMsg::Welcome {
        changes: Some(delta),
        ..
    } = welcome
    else {
        panic!("delta expected")
    };
    assert_eq!(delta, live);
    let (_, seq, before) = join_snapshot(&hub.url(), "eve", "c-eve").await;
    assert_eq!(before.settings.conflict_mode, ConflictMode::LastWriterWins);
    assert_eq!(
        before
            .rules
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        vec!["max-run", "no-n-e"]
    );
    assert_eq!(
        before
            .codes
            .iter()
            .map(|c| c.code.as_str())
            .collect::<Vec<_>>(),
        vec!["D", "E", "N"]
    );
    hub.stop().await.unwrap();

    // Reloaded from the store: the same roster, and still last-writer-wins.
    let hub = Hub::start(dir.path()).await;
    let (_, seq_after, after) = join_snapshot(&hub.url(), "eve", "c-eve").await;
    assert_eq!((seq_after, &after), (seq, &before));
    hub.stop().await.unwrap();
}

/// Part `n` of edit `op_id` (numbered when the edit is in parts).
fn part(op_id: u64, n: u32, ops: Vec<Op>, force: bool, more: bool) -> ClientMsg {
    ClientMsg::Edit {
        op_id,
        ops,
        note: Some("parts".into()),
        force,
        more,
        part: (more || n > 0).then_some(n),
    }
}

/// Cells s1 on consecutive days from 2026-12-01.
fn day_cells(from: usize, n: usize, code: &str) -> Vec<Op> {
    let start = d("2026-12-01").0;
    (from..from + n)
        .map(|i| Op::SetCell {
            staff: "s1".into(),
            date: rota::domain::Date(start + chrono::Days::new(i as u64)),
            code: Some(code.into()),
            base: 0,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_sent_in_parts_is_committed_as_one_change_set_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 1).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 1).await;
    let (mut bob, _) = Client::join(&hub.url(), "bob", "c-bob", "default", 1).await;

    // Three parts: nothing is answered or broadcast until the last.
    ann.send(&part(5, 0, day_cells(0, 10, "D"), false, true))
        .await;
    ann.send(&part(5, 1, day_cells(10, 10, "D"), false, true))
        .await;
    ann.send(&part(5, 2, day_cells(20, 5, "N"), false, false))
        .await;
    let seq = ack_seq(&ann.answer().await);
    assert_eq!(seq, 2, "one seq for the whole edit");
    let ServerMsg::Change(cs) = bob.recv_until(|m| matches!(m, ServerMsg::Change(_))).await else {
        unreachable!()
    };
    assert_eq!((cs.seq, cs.op_id, cs.changes.len()), (2, 5, 25));
    assert_eq!(cs.note.as_deref(), Some("parts"));

    // A bad op in the second part: nothing of any part is applied, and the
    // problem names the op by its place in the whole edit.
    let mut bad = day_cells(30, 10, "D");
    bad[3] = set("nobody", "2026-12-31", Some("D"), 0);
    ann.send(&part(6, 0, day_cells(40, 10, "D"), false, true))
        .await;
    ann.send(&part(6, 1, bad, false, false)).await;
    match ann.answer().await {
        ServerMsg::Rejected {
            op_id: 6, problems, ..
        } => {
            assert_eq!(problems.len(), 1);
            assert_eq!(problems[0].op, 13);
            assert_eq!(problems[0].code, "unknown_staff");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    let (seq_now, cells) = hub_cells(&hub.url()).await;
    assert_eq!((seq_now, cells.len()), (2, 25));
    hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_of_two_edits_interleaved_or_broken_are_never_applied_in_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 1).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 1).await;

    // Edit 7 begins, edit 8 starts before 7 ends: both refused.
    ann.send(&part(7, 0, day_cells(0, 3, "D"), false, true))
        .await;
    ann.send(&part(8, 0, day_cells(3, 3, "D"), false, true))
        .await;
    let mut refused = Vec::new();
    for _ in 0..2 {
        match ann.answer().await {
            ServerMsg::Error {
                code,
                op_id: Some(id),
                message,
                ..
            } => {
                assert_eq!(code, "bad_message");
                assert!(message.contains("in parts"), "{message}");
                refused.push(id);
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }
    refused.sort();
    assert_eq!(refused, vec![7, 8]);
    // The rest of edit 8 arrives: dropped, never applied as a tail.
    ann.send(&part(8, 1, day_cells(6, 3, "D"), false, false))
        .await;

    // Edit 9 begins, then a frame that cannot be read: edit 9 is refused,
    // and its last part is dropped.
    ann.send(&part(9, 0, day_cells(10, 3, "D"), false, true))
        .await;
    ann.send_text("{not json").await;
    match ann.answer().await {
        ServerMsg::Error {
            op_id: Some(9),
            code,
            ..
        } => assert_eq!(code, "bad_message"),
        other => panic!("expected edit 9 refused, got {other:?}"),
    }
    match ann.answer().await {
        ServerMsg::Error {
            op_id: None, code, ..
        } => assert_eq!(code, "bad_json"),
        other => panic!("expected bad_json, got {other:?}"),
    }
    ann.send(&part(9, 1, day_cells(13, 3, "D"), false, false))
        .await;

    // A whole edit after all that is applied as usual, and is the only one.
    let seq = ack_seq(&ann.edit(10, day_cells(20, 1, "N")).await);
    assert_eq!(seq, 2);
    let (_, cells) = hub_cells(&hub.url()).await;
    assert_eq!(cells.len(), 1, "{cells:?}");
    hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_edit_applies_over_stale_versions_and_says_what_it_overwrote() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 1).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 1).await;
    let (mut bob, _) = Client::join(&hub.url(), "bob", "c-bob", "default", 1).await;
    let bobs = ack_seq(
        &bob.edit(1, vec![set("s1", "2026-12-01", Some("N"), 0)])
            .await,
    );

    // Strict roster, stale base: refused without force...
    ann.send(&part(
        1,
        0,
        vec![set("s1", "2026-12-01", Some("D"), 0)],
        false,
        false,
    ))
    .await;
    assert!(matches!(
        ann.answer().await,
        ServerMsg::Rejected { ref code, .. } if code == "conflict"
    ));
    // ...applied with it, listing Bob's value.
    ann.send(&part(
        2,
        0,
        vec![set("s1", "2026-12-01", Some("D"), 0)],
        true,
        false,
    ))
    .await;
    match ann.answer().await {
        ServerMsg::Ack { overwritten, .. } => {
            assert_eq!(overwritten.len(), 1);
            assert_eq!(overwritten[0].value, serde_json::json!("N"));
            assert_eq!(
                (overwritten[0].seq, overwritten[0].user.as_str()),
                (bobs, "bob")
            );
        }
        other => panic!("expected an ack, got {other:?}"),
    }
    let (_, cells) = hub_cells(&hub.url()).await;
    assert_eq!(
        cells,
        vec![("s1".into(), d("2026-12-01"), Some("D".into()))]
    );
    hub.stop().await.unwrap();
}

/// An ack names the roster's seq; the author must have received every
/// change up to it first, even when its batch changed nothing (a reply sent
/// beside the stream could overtake the change that made the value current).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ack_never_overtakes_the_changes_before_its_seq() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 1).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 1).await;
    let (mut bob, _) = Client::join(&hub.url(), "bob", "c-bob", "default", 1).await;
    let mut bob_seq = 1;
    for i in 0..60u64 {
        let code = ["D", "N", "OFF"][(i % 3) as usize];
        // Both write the same value at once: one of them changes nothing.
        let edit = |op_id| ClientMsg::Edit {
            op_id,
            ops: vec![set("s1", "2026-12-01", Some(code), 0)],
            note: None,
            force: true,
            more: false,
            part: None,
        };
        ann.send(&edit(i + 1)).await;
        bob.send(&edit(i + 1)).await;
        ack_seq(&ann.answer().await);
        loop {
            match bob.recv().await {
                ServerMsg::Change(cs) => {
                    assert_eq!(cs.seq, bob_seq + 1, "changes in order");
                    bob_seq = cs.seq;
                }
                ServerMsg::Ack { seq, .. } => {
                    assert!(
                        seq == bob_seq || seq == bob_seq + 1,
                        "round {i}: ack at seq {seq} before change {seq} arrived (at {bob_seq})"
                    );
                    bob_seq = seq;
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    hub.stop().await.unwrap();
}

/// A returning editor that missed only the latest batches is served from
/// memory; one that missed more than memory holds, from the change log. Both
/// give the same change sets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_from_memory_and_from_the_change_log_agree() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().to_path_buf());
    config.outbound_queue = 16; // keeps the 16 latest batches in memory
    let hub = Hub::start_with(config).await;
    let (mut admin, _) = Client::join(&hub.url(), "admin", "c-admin", "default", 0).await;
    ack_seq(&admin.edit(1, setup_ops(2)).await);
    let mut seq = 1;
    for i in 0..40u64 {
        let day = format!("2026-12-{:02}", i % 28 + 1);
        let code = ["D", "N", "OFF"][(i % 3) as usize];
        seq = ack_seq(
            &admin
                .edit(i + 2, vec![set("s1", &day, Some(code), 0)])
                .await,
        );
    }
    assert_eq!(seq, 41);
    let changes_after = |last: u64| {
        let url = hub.url();
        async move {
            let (_c, welcome) = Client::join(&url, "bob", "c-bob", "default", last).await;
            match welcome {
                ServerMsg::Welcome {
                    changes: Some(c),
                    seq,
                    ..
                } => (seq, c),
                other => panic!("expected changes, got {other:?}"),
            }
        }
    };
    let (s1, recent) = changes_after(36).await; // 5 missed: in memory
    let (s2, all) = changes_after(1).await; // 40 missed: more than memory
    assert_eq!((s1, s2), (41, 41));
    assert_eq!(recent.len(), 5);
    assert_eq!(all.len(), 40);
    assert_eq!(&all[35..], &recent[..]);
    assert_eq!(recent[0].seq, 37);
    assert_eq!((recent[0].user.as_str(), recent[0].op_id), ("admin", 37));
    hub.stop().await.unwrap();
}

/// Editors joining at the same version share one encoded snapshot; after an
/// edit, the next joiner gets the new roster, not the shared copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_snapshot_is_never_stale() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 2).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 1).await;
    ack_seq(
        &ann.edit(1, vec![set("s1", "2026-12-01", Some("D"), 0)])
            .await,
    );
    let (_a, seq_a, first) = join_snapshot(&hub.url(), "x", "c-x").await;
    let (_b, seq_b, second) = join_snapshot(&hub.url(), "y", "c-y").await;
    assert_eq!((seq_a, seq_b), (2, 2));
    assert_eq!(first, second);
    assert_eq!(first.cells.len(), 1);
    ack_seq(
        &ann.edit(2, vec![set("s2", "2026-12-02", Some("N"), 0)])
            .await,
    );
    let (_c, seq_c, third) = join_snapshot(&hub.url(), "z", "c-z").await;
    assert_eq!(seq_c, 3);
    assert_eq!(third.cells.len(), 2);
    assert_eq!(third.staff, first.staff);
    hub.stop().await.unwrap();
}

/// Protocol 1.1: the batches one group commit makes reach a 1.1 editor as
/// one `batch` frame (its own batches as acks, in place) and a 1.0 editor as
/// a frame per message; both get the same messages in the same order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_commit_reaches_a_1_1_editor_as_one_frame_and_a_1_0_editor_as_many() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 4).await;
    let url = hub.url();
    let (mut ann, _) = Client::join(&url, "ann", "c-ann", "default", 1).await;
    let (mut old, _) = Client::join_speaking("1.0", &url, "old", "c-old", "default", 1).await;
    let (mut new, _) = Client::join_speaking("1.1", &url, "new", "c-new", "default", 1).await;
    // Ann sends rounds of edits without waiting; the writer commits what is
    // queued as one group, so some group soon holds several of them.
    let mut acked = Vec::new();
    let mut op_id = 0u64;
    for _round in 0..20 {
        for _ in 0..32 {
            op_id += 1;
            let day = format!("2026-12-{:02}", op_id % 28 + 1);
            let staff = format!("s{}", op_id / 28 % 4 + 1);
            let code = ["D", "N", "OFF"][(op_id / 112 % 3) as usize];
            ann.send(&ClientMsg::Edit {
                op_id,
                ops: vec![set(&staff, &day, Some(code), 0)],
                note: None,
                force: true,
                more: false,
                part: None,
            })
            .await;
        }
        for _ in 0..32 {
            acked.push(ack_seq(&ann.answer().await));
        }
        if ann.batch_frames > 0 {
            break;
        }
    }
    assert!(
        ann.batch_frames > 0,
        "no group of several edits in 20 rounds"
    );
    let expected: Vec<u64> = (2..2 + op_id).collect();
    assert_eq!(acked, expected, "one ack per edit, in seq order");
    for watcher in [&mut old, &mut new] {
        let mut seen = Vec::new();
        while seen.len() < expected.len() {
            if let ServerMsg::Change(cs) = watcher.recv().await {
                assert_eq!(cs.client, "c-ann");
                seen.push(cs.seq);
            }
        }
        assert_eq!(
            seen, expected,
            "{}: every change once, in order",
            watcher.user
        );
    }
    assert_eq!(old.batch_frames, 0, "a 1.0 editor never gets a batch frame");
    assert!(
        new.batch_frames > 0,
        "the group ann saw as one frame, new did too"
    );
    hub.stop().await.unwrap();
}

/// The writer skips looking up answers for op ids above a client's highest
/// answered one. Edits that come out of order, and op ids too large for the
/// store's signed integers, must still be applied once and answered the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn op_ids_out_of_order_or_huge_are_applied_once_and_answered_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 2).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 1).await;
    let mut answers = Vec::new();
    let days = [
        (10, "2026-12-01"),
        (3, "2026-12-02"),
        (u64::MAX, "2026-12-03"),
    ];
    for (op_id, day) in days {
        let seq = ack_seq(&ann.edit(op_id, vec![set("s1", day, Some("D"), 0)]).await);
        answers.push((op_id, seq));
    }
    assert_eq!(
        answers.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
        [2, 3, 4],
        "each edit applied, in turn"
    );
    for ((op_id, seq), (_, day)) in answers.iter().zip(days) {
        // Sent again as it was: the first answer, nothing applied.
        let again = ann.edit(*op_id, vec![set("s1", day, Some("D"), 0)]).await;
        assert_eq!(
            ack_seq(&again),
            *seq,
            "op {op_id} answered as the first time"
        );
    }
    let (seq, cells) = hub_cells(&hub.url()).await;
    assert_eq!(seq, 4, "nothing applied twice");
    assert_eq!(cells.len(), 3, "{cells:?}");
    hub.stop().await.unwrap();
}

/// The error an op id reused for another edit gets.
fn expect_reused(m: ServerMsg, want_op: u64) {
    match m {
        ServerMsg::Error {
            code,
            op_id,
            message,
            ..
        } => {
            assert_eq!(code, "op_id_reused", "{message}");
            assert_eq!(op_id, Some(want_op));
            assert!(message.contains(&want_op.to_string()), "{message}");
        }
        other => panic!("expected op_id_reused, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_op_id_reused_for_another_edit_is_refused_by_name_and_a_resend_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 2).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 1).await;
    let first = ann
        .edit(5, vec![set("s1", "2026-12-01", Some("D"), 0)])
        .await;
    let seq = ack_seq(&first);
    let rejected = ann
        .edit(6, vec![set("s1", "2026-12-02", Some("ZZ"), 0)])
        .await;
    assert!(matches!(rejected, ServerMsg::Rejected { op_id: 6, .. }));
    // Another edit under a used op id: refused by name, nothing applied,
    // whether the first was acked or rejected.
    let other = vec![set("s2", "2026-12-09", Some("N"), 0)];
    expect_reused(ann.edit(5, other.clone()).await, 5);
    expect_reused(ann.edit(6, other.clone()).await, 6);
    // A forced write of the same cells is another edit too.
    ann.send(&ClientMsg::Edit {
        op_id: 5,
        ops: vec![set("s1", "2026-12-01", Some("D"), 0)],
        note: None,
        force: true,
        more: false,
        part: None,
    })
    .await;
    expect_reused(ann.answer().await, 5);
    // The same edit again, even with another note or cut into parts, is a
    // resend: the first answer word for word.
    ann.send(&ClientMsg::Edit {
        op_id: 5,
        ops: vec![set("s1", "2026-12-01", Some("D"), 0)],
        note: Some("another note".into()),
        force: false,
        more: false,
        part: None,
    })
    .await;
    assert_eq!(ann.answer().await, first);
    assert_eq!(
        ann.edit(6, vec![set("s1", "2026-12-02", Some("ZZ"), 0)])
            .await,
        rejected
    );
    let (now, cells) = hub_cells(&hub.url()).await;
    assert_eq!((now, cells.len()), (seq, 1), "{cells:?}");
    // And so after a restart, from the store.
    hub.stop().await.unwrap();
    let hub = Hub::start(dir.path()).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", seq).await;
    expect_reused(ann.edit(5, other).await, 5);
    assert_eq!(
        ann.edit(5, vec![set("s1", "2026-12-01", Some("D"), 0)])
            .await,
        first
    );
    hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_client_and_op_id_on_two_rosters_are_two_edits() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path()).await;
    // One client id, one op counter per roster: op 1 on each roster.
    let (mut a, _) = Client::join(&hub.url(), "ann", "c-ann", "ward-a", 0).await;
    let seq_a = ack_seq(&a.edit(1, setup_ops(2)).await);
    let (mut b, _) = Client::join(&hub.url(), "ann", "c-ann", "ward-b", 0).await;
    let mut more = setup_ops(3);
    more.push(set("s3", "2026-12-01", Some("N"), 0));
    let ack_b = b.edit(1, more.clone()).await;
    assert_eq!(ack_seq(&ack_b), 1, "applied on ward-b under its own seq");
    let (_, seq_b, snap_b) = join_snapshot_of(&hub.url(), "x", "c-x", "ward-b").await;
    assert_eq!((seq_b, snap_b.staff.len(), snap_b.cells.len()), (1, 3, 1));
    // Each roster answers a resend with its own answer.
    assert_eq!(ack_seq(&a.edit(1, setup_ops(2)).await), seq_a);
    assert_eq!(b.edit(1, more).await, ack_b);
    hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tail_of_a_refused_edit_is_never_applied_alone() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 1).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 1).await;
    let parts = [
        day_cells(0, 3, "D"),
        day_cells(3, 3, "N"),
        day_cells(6, 3, "OFF"),
    ];
    // Part 0 of edit 20, then another edit: both refused.
    ann.send(&part(20, 0, parts[0].clone(), false, true)).await;
    ann.send(&part(21, 0, day_cells(20, 1, "D"), false, false))
        .await;
    let mut refused: Vec<u64> = Vec::new();
    for _ in 0..2 {
        match ann.answer().await {
            ServerMsg::Error {
                op_id: Some(id), ..
            } => refused.push(id),
            other => panic!("expected an error, got {other:?}"),
        }
    }
    refused.sort();
    assert_eq!(refused, [20, 21]);
    // Edit 20 sent again from part 1: dropped, nothing answered or applied.
    ann.send(&part(20, 1, parts[1].clone(), false, true)).await;
    ann.send(&part(20, 2, parts[2].clone(), false, false)).await;
    let probe = ann.edit(30, day_cells(30, 1, "D")).await;
    assert_eq!(
        ack_seq(&probe),
        2,
        "the probe is the next answer: {probe:?}"
    );
    // Sent again whole from part 0: applied whole, under one seq.
    for (n, ops) in parts.iter().enumerate() {
        ann.send(&part(20, n as u32, ops.clone(), false, n < 2))
            .await;
    }
    assert_eq!(ack_seq(&ann.answer().await), 3);
    let (_, cells) = hub_cells(&hub.url()).await;
    assert_eq!(
        cells.len(),
        10,
        "9 cells of edit 20 and the probe: {cells:?}"
    );

    // On a new connection, a part that is not part 0 starts nothing.
    let (mut again, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 3).await;
    again
        .send(&part(40, 1, day_cells(40, 2, "D"), false, false))
        .await;
    match again.answer().await {
        ServerMsg::Error {
            op_id: Some(40),
            code,
            message,
            ..
        } => assert!(
            code == "bad_message" && message.contains("part 0"),
            "{message}"
        ),
        other => panic!("expected an error, got {other:?}"),
    }
    // A part in parts without a number is refused, naming the edit.
    again
        .send(&part(41, 0, day_cells(42, 2, "D"), false, false))
        .await;
    let unnumbered = ClientMsg::Edit {
        op_id: 42,
        ops: day_cells(44, 2, "D"),
        note: None,
        force: false,
        more: true,
        part: None,
    };
    assert_eq!(ack_seq(&again.answer().await), 4);
    again.send(&unnumbered).await;
    match again.answer().await {
        ServerMsg::Error {
            op_id: Some(42),
            message,
            ..
        } => assert!(message.starts_with("part:"), "{message}"),
        other => panic!("expected an error, got {other:?}"),
    }
    let (seq, cells) = hub_cells(&hub.url()).await;
    assert_eq!((seq, cells.len()), (4, 12), "{cells:?}");
    hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_past_the_limit_wait_their_turn_and_each_is_answered_once() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 2).await;
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 1).await;
    ack_seq(
        &ann.edit(2, vec![set("s1", "2026-12-01", Some("D"), 0)])
            .await,
    );
    // Three times the reads a connection may have waiting, all at once,
    // with an edit among them: the hub reads on as answers go out.
    for req in 1..=12u64 {
        ann.send(&ClientMsg::History {
            req: Some(req),
            query: HistoryQuery {
                staff: Some("s1".into()),
                ..Default::default()
            },
        })
        .await;
        if req == 6 {
            ann.send(&ClientMsg::Edit {
                op_id: 3,
                ops: vec![set("s1", "2026-12-02", Some("N"), 0)],
                note: None,
                force: false,
                more: false,
                part: None,
            })
            .await;
        }
    }
    let mut reqs = Vec::new();
    let mut acked = None;
    for _ in 0..13 {
        match ann.answer().await {
            ServerMsg::History {
                req: Some(r),
                entries,
                ..
            } => {
                assert!(!entries.is_empty());
                reqs.push(r);
            }
            ServerMsg::Ack { op_id: 3, seq, .. } => acked = Some(seq),
            other => panic!("unexpected {other:?}"),
        }
    }
    reqs.sort();
    assert_eq!(
        reqs,
        (1..=12).collect::<Vec<_>>(),
        "each read answered once"
    );
    assert_eq!(acked, Some(3), "the edit among them applied");
    hub.stop().await.unwrap();
}

/// Binds a hub on `dir` and returns why it refused (it must).
async fn refused(dir: &std::path::Path) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    match rota::server::Hub::bind(listener, rota::server::Config::new(dir.to_path_buf())) {
        Ok(_) => panic!("the hub started on a damaged store"),
        Err(e) => e.to_string(),
    }
}

/// A hub's store as a test leaves it: staff s1..s3 and three batches of
/// cells on `default`; its path.
async fn stored_hub(dir: &std::path::Path) -> std::path::PathBuf {
    let hub = Hub::start(dir).await;
    seed(&hub.url(), 3).await;
    let (mut c, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    for (i, code) in ["D", "N", "OFF"].iter().enumerate() {
        let ack = c
            .edit(
                10 + i as u64,
                vec![set("s1", &format!("2026-12-0{}", i + 1), Some(code), 0)],
            )
            .await;
        assert!(ack_seq(&ack) > 0, "{ack:?}");
    }
    hub.stop().await.unwrap();
    dir.join(rota::server::STORE_FILE)
}

/// An emptied store, or a file that is no database, is refused at start
/// with the file's name and what is wrong: never served as a new hub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emptied_or_foreign_store_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = stored_hub(dir.path()).await;
    std::fs::write(&path, b"").unwrap();
    let why = refused(dir.path()).await;
    assert!(why.contains(&path.display().to_string()), "{why}");
    assert!(why.contains("the file is empty (0 bytes)"), "{why}");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0, "left as it was");
    std::fs::write(
        &path,
        b"minutes of the ward meeting, not a database at all....",
    )
    .unwrap();
    let why = refused(dir.path()).await;
    assert!(why.contains(&path.display().to_string()), "{why}");
    assert!(why.contains("not a database"), "{why}");
}

/// A store with a damaged page is refused at start (SQLite's quick_check),
/// naming the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_with_a_damaged_page_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = stored_hub(dir.path()).await;
    damage_first_page_of(&path, "cells", 0x5A);
    let why = refused(dir.path()).await;
    assert!(why.contains(&path.display().to_string()), "{why}");
    assert!(why.contains("quick_check"), "{why}");
}

/// What a roster loads is checked: a cell holding a code the roster does
/// not have is not served; the join is refused with the file and the cell
/// named, and other rosters are served as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cell_holding_an_unknown_code_is_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let path = stored_hub(dir.path()).await;
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        let n = c
            .execute(
                "UPDATE cells SET code = 'ZZ' WHERE staff = 's1' AND date = '2026-12-02'",
                [],
            )
            .unwrap();
        assert_eq!(n, 1);
    }
    let hub = Hub::start(dir.path()).await;
    let mut c = Client::raw(&hub.url()).await;
    c.send(&ClientMsg::Hello {
        protocol: rota::protocol::PROTOCOL_VERSION.into(),
        user: "bob".into(),
        client_id: "c-bob".into(),
        token: None,
        roster: "default".into(),
        last_seq: 0,
    })
    .await;
    let answer = c.recv().await;
    assert!(matches!(answer, ServerMsg::Error { .. }), "{answer:?}");
    let text = format!("{answer:?}");
    assert!(
        text.contains("holds code `ZZ`, which the roster does not have"),
        "{text}"
    );
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("s1 on 2026-12-02"), "{text}");
    seed_roster(&hub.url(), "other").await;
    let (_c, welcome) = Client::join(&hub.url(), "bob", "c-bob2", "other", 0).await;
    assert!(matches!(welcome, ServerMsg::Welcome { .. }), "{welcome:?}");
}

async fn seed_roster(url: &str, roster: &str) {
    let (mut c, _) = Client::join(url, "admin", "c-admin-2", roster, 0).await;
    assert!(ack_seq(&c.edit(1, setup_ops(1)).await) > 0);
}

/// A change-log row that cannot be read no longer stops editors behind it
/// from joining: they get a snapshot of the current roster instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_change_log_row_is_answered_with_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let path = stored_hub(dir.path()).await;
    let last: i64 = {
        let c = rusqlite::Connection::open(&path).unwrap();
        let last: i64 = c
            .query_row(
                "SELECT max(seq) FROM batches WHERE roster = 'default'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        c.execute(
            "UPDATE batches SET changes = '{not json' WHERE roster = 'default' AND seq = ?1",
            [last - 1],
        )
        .unwrap();
        last
    };
    let hub = Hub::start(dir.path()).await;
    // An editor two batches behind: its catch-up crosses the damaged row.
    let (_c, welcome) =
        Client::join(&hub.url(), "bob", "c-bob", "default", (last - 2) as u64).await;
    match welcome {
        ServerMsg::Welcome {
            seq,
            snapshot: Some(snap),
            ..
        } => {
            assert_eq!(seq, last as u64);
            let codes: Vec<Option<&str>> = snap.cells.iter().map(|c| c.2.as_deref()).collect();
            assert_eq!(codes, [Some("D"), Some("N"), Some("OFF")]);
        }
        other => panic!("expected a snapshot, got {other:?}"),
    }
}

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
async fn until_metric(addr: std::net::SocketAddr, name: &str, pred: impl Fn(f64) -> bool) -> f64 {
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
fn heavy_cells(n: usize, chars: usize) -> Vec<Op> {
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

fn cursor_on(day: u32) -> ClientMsg {
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
async fn raw_upgrade(addr: std::net::SocketAddr, http: &str) -> (tokio::net::TcpStream, String) {
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
async fn honest_round(honest: &mut [Client], day: u32, op: &mut u64) -> Vec<Duration> {
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
