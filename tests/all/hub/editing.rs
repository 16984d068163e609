//! Edits between editors: delivery, conflicts, idempotent resends, catch-up.

use super::*;

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
