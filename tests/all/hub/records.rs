//! Records beside cells (staff, codes, rules, settings), group commits, failed commits, large snapshots.

use super::*;

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
pub(super) fn fill_batch(b: u64) -> Vec<Op> {
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
                    weights: None,
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
