//! Bad input: each gets an error naming the edit or request and the field, and the hub goes on.

use super::*;

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
pub(super) fn error_of(m: ServerMsg) -> (String, String, Option<u64>, Option<u64>) {
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
