//! Edits in parts, forced edits, acks in order, op ids.

use super::*;

/// Part `n` of edit `op_id` (numbered when the edit is in parts).
pub(super) fn part(op_id: u64, n: u32, ops: Vec<Op>, force: bool, more: bool) -> ClientMsg {
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
pub(super) fn day_cells(from: usize, n: usize, code: &str) -> Vec<Op> {
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
                // Presence comes when it comes (here: the set-up's admin
                // leaving, told at the next presence tick).
                ServerMsg::Left { .. } | ServerMsg::Presence(_) => {}
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
pub(super) fn expect_reused(m: ServerMsg, want_op: u64) {
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

/// Issue 25, hole 1: frames of an edit that say `more` without a part
/// number are refused, and so is the unnumbered frame that ends them: the
/// tail of a refused edit is never applied alone, whatever its client's
/// protocol version. A numbered resend from part 0 is then applied whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unnumbered_tail_of_a_refused_edit_is_never_applied() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 1).await;
    for (client, version) in [("c-11", "1.1"), ("c-12", "1.2")] {
        let (mut ann, _) =
            Client::join_speaking(version, &hub.url(), "ann", client, "default", 0).await;
        let unnumbered = |ops: Vec<Op>, more: bool| ClientMsg::Edit {
            op_id: 50,
            ops,
            note: None,
            force: false,
            more,
            part: None,
        };
        ann.send(&unnumbered(day_cells(0, 2, "D"), true)).await;
        ann.send(&unnumbered(day_cells(2, 1, "N"), true)).await;
        ann.send(&unnumbered(day_cells(3, 1, "OFF"), false)).await;
        for i in 0..3 {
            match ann.answer().await {
                ServerMsg::Error {
                    op_id: Some(50),
                    code,
                    ..
                } => assert_eq!(code, "bad_message", "{version}, frame {i}"),
                other => panic!("{version}, frame {i}: expected an error, got {other:?}"),
            }
        }
        let (_, cells) = hub_cells(&hub.url()).await;
        assert!(cells.is_empty(), "{version}: nothing applied: {cells:?}");
    }
    // A 1.2 client sends it again, numbered from part 0: applied whole.
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-12", "default", 0).await;
    ann.send(&part(50, 0, day_cells(0, 2, "D"), false, true))
        .await;
    ann.send(&part(50, 1, day_cells(2, 2, "N"), false, false))
        .await;
    assert!(ack_seq(&ann.answer().await) > 0);
    let (_, cells) = hub_cells(&hub.url()).await;
    assert_eq!(cells.len(), 4, "{cells:?}");
}
