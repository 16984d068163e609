//! Staff requests on a real hub: versioned records broadcast to every
//! editor, in the person's history, in catch-up and snapshots, idempotent
//! by (client, op id), surviving a restart.

use super::*;
use rota::domain::{Change, Request, Target, Wish};

fn ask(staff: &str, date: &str, wish: &str, weight: u32, note: &str) -> Op {
    Op::PutRequest {
        request: Request {
            weight,
            note: note.into(),
            ..Request::new(staff, d(date), Wish::parse(wish).unwrap())
        },
        base: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_broadcast_logged_caught_up_and_kept_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 2).await;
    let (mut ward, _) = Client::join(&hub.url(), "sam", "c-sam", "default", 0).await;
    let (mut bob, w) = Client::join(&hub.url(), "bob", "c-bob", "default", 0).await;
    let ServerMsg::Welcome { seq: bob_seq, .. } = w else {
        panic!("{w:?}")
    };

    // Sam takes a phone call: Ann (s1) asks not to work nights on the 2nd.
    let put = ask("s1", "2027-03-02", "off N", 2, "school run");
    let first = ward.edit(1, vec![put.clone()]).await;
    let seq = ack_seq(&first);
    let ServerMsg::Change(cs) = bob
        .recv_until(|m| matches!(m, ServerMsg::Change(c) if c.seq == seq))
        .await
    else {
        unreachable!()
    };
    let Change::Request {
        staff,
        date,
        request: Some(r),
    } = &cs.changes[0]
    else {
        panic!("{cs:?}")
    };
    assert_eq!((staff.as_str(), *date), ("s1", d("2027-03-02")));
    assert_eq!(
        (
            r.wish.to_string(),
            r.weight,
            r.note.as_str(),
            r.by.as_str(),
            r.seq
        ),
        ("off N".to_string(), 2, "school run", "sam", seq)
    );

    // The same edit again (a resend) gets the same answer, nothing twice.
    assert_eq!(ward.edit(1, vec![put]).await, first);

    // Changed, then withdrawn based on a stale version: a conflict.
    let change = ask("s1", "2027-03-02", "off", 3, "");
    let seq2 = ack_seq(&ward.edit(2, vec![change]).await);
    let stale = Op::RemoveRequest {
        staff: "s1".into(),
        date: d("2027-03-02"),
        base: Some(seq),
    };
    match bob.edit(1, vec![stale]).await {
        ServerMsg::Rejected {
            code, conflicts, ..
        } => {
            assert_eq!(code, "conflict");
            assert!(matches!(conflicts[0].target, Target::Request { .. }));
        }
        other => panic!("{other:?}"),
    }
    // A request for someone who is not on the roster: refused, by op.
    match ward
        .edit(
            3,
            vec![
                ask("s1", "2027-03-04", "on D", 1, ""),
                ask("zed", "2027-03-04", "off", 1, ""),
            ],
        )
        .await
    {
        ServerMsg::Rejected { code, problems, .. } => {
            assert_eq!(code, "invalid");
            assert_eq!(
                (problems[0].op, problems[0].code.as_str()),
                (1, "unknown_staff")
            );
        }
        other => panic!("{other:?}"),
    }

    // The person's history holds the request's versions.
    ward.send(&ClientMsg::History {
        req: None,
        query: HistoryQuery {
            staff: Some("s1".into()),
            ..Default::default()
        },
    })
    .await;
    let ServerMsg::History { entries, .. } = ward.answer().await else {
        panic!()
    };
    let requests: Vec<u64> = entries
        .iter()
        .filter(|e| e.entity == "request")
        .map(|e| e.seq)
        .collect();
    assert_eq!(requests.len(), 2, "{entries:?}");
    assert!(requests.contains(&seq) && requests.contains(&seq2));

    // Catch-up from before the first request brings both changes; a
    // snapshot has the request as it is now.
    let (_, w) = Client::join(&hub.url(), "bob", "c-bob2", "default", bob_seq).await;
    let ServerMsg::Welcome {
        changes: Some(sets),
        ..
    } = w
    else {
        panic!("{w:?}")
    };
    let caught: Vec<&Change> = sets
        .iter()
        .flat_map(|s| &s.changes)
        .filter(|c| matches!(c, Change::Request { .. }))
        .collect();
    assert_eq!(caught.len(), 2);
    let (_, _, snap) = join_snapshot(&hub.url(), "eve", "c-eve").await;
    assert_eq!(snap.requests.len(), 1);
    assert_eq!(snap.requests[0].wish, Wish::Off { code: None });
    assert_eq!((snap.requests[0].weight, snap.requests[0].seq), (3, seq2));

    // Withdrawn; after a restart the roster still has no request, and
    // the log still has all three versions.
    let seq3 = ack_seq(
        &ward
            .edit(
                4,
                vec![Op::RemoveRequest {
                    staff: "s1".into(),
                    date: d("2027-03-02"),
                    base: Some(seq2),
                }],
            )
            .await,
    );
    ward.send(&ClientMsg::History {
        req: None,
        query: HistoryQuery {
            staff: Some("s1".into()),
            date: Some(d("2027-03-02")),
            ..Default::default()
        },
    })
    .await;
    let ServerMsg::History { entries, .. } = ward.answer().await else {
        panic!()
    };
    assert!(
        entries
            .iter()
            .any(|e| e.seq == seq3 && e.entity == "request")
    );
    hub.stop().await.unwrap();
    let hub = Hub::start(dir.path()).await;
    let (_, _, snap) = join_snapshot(&hub.url(), "eve", "c-eve").await;
    assert!(snap.requests.is_empty(), "{:?}", snap.requests);
    let (mut again, _) = Client::join(&hub.url(), "sam", "c-sam", "default", 0).await;
    let put = ask("s2", "2027-03-05", "on D", 1, "");
    ack_seq(&again.edit(5, vec![put]).await);
    hub.stop().await.unwrap();
    let hub = Hub::start(dir.path()).await;
    let (_, _, snap) = join_snapshot(&hub.url(), "eve", "c-eve").await;
    assert_eq!(
        snap.requests.len(),
        1,
        "a request is loaded back from the store"
    );
    hub.stop().await.unwrap();
}

/// A publication: numbered, who and when and the note in its record, in
/// the history, in snapshots and catch-up, kept across a restart; the
/// draft goes on changing under it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publication_is_numbered_logged_and_kept_while_the_draft_moves_on() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 2).await;
    let (mut ada, _) = Client::join(&hub.url(), "ada", "c-ada", "default", 0).await;
    ack_seq(
        &ada.edit(
            1,
            vec![
                set("s1", "2027-03-01", Some("D"), 0),
                set("s2", "2027-03-02", Some("N"), 0),
            ],
        )
        .await,
    );
    let publish = |from: &str, to: &str, note: &str| Op::Publish {
        from: d(from),
        to: d(to),
        note: note.into(),
    };
    let first = ack_seq(
        &ada.edit(2, vec![publish("2027-03-01", "2027-03-31", "March")])
            .await,
    );
    ack_seq(
        &ada.edit(3, vec![set("s1", "2027-03-01", Some("N"), 0)])
            .await,
    );
    let (_, _, snap) = join_snapshot(&hub.url(), "eve", "c-eve").await;
    let view = snap.to_roster(0);
    assert_eq!(view.published_cell("s1", d("2027-03-01")), Some("D"));
    assert_eq!(
        view.cell("s1", d("2027-03-01")).and_then(|(c, _)| c),
        Some("N")
    );
    let p = view.last_publication().unwrap();
    assert_eq!(
        (p.number, p.by.as_str(), p.note.as_str(), p.seq),
        (1, "ada", "March", first)
    );
    assert_eq!(view.unpublished().len(), 1);

    // A second publication of part of the range: number 2.
    let second = ack_seq(
        &ada.edit(4, vec![publish("2027-03-01", "2027-03-01", "")])
            .await,
    );
    ada.send(&ClientMsg::History {
        req: None,
        query: HistoryQuery::default(),
    })
    .await;
    let ServerMsg::History { entries, .. } = ada.answer().await else {
        panic!()
    };
    let published: Vec<(u64, &str)> = entries
        .iter()
        .filter(|e| e.entity == "publication")
        .map(|e| (e.seq, e.key.as_str()))
        .collect();
    assert_eq!(published, [(second, "0000000002"), (first, "0000000001")]);

    // A refused batch publishes nothing.
    let refused = ada
        .edit(
            5,
            vec![
                publish("2027-04-01", "2027-04-30", ""),
                set("zed", "2027-04-01", None, 0),
            ],
        )
        .await;
    assert!(matches!(refused, ServerMsg::Rejected { .. }), "{refused:?}");

    hub.stop().await.unwrap();
    let hub = Hub::start(dir.path()).await;
    let (_, _, snap) = join_snapshot(&hub.url(), "eve", "c-eve").await;
    let view = snap.to_roster(0);
    assert_eq!(view.last_publication().map(|p| p.number), Some(2));
    assert_eq!(view.published_cell("s1", d("2027-03-01")), Some("N"));
    assert_eq!(view.published_cell("s2", d("2027-03-02")), Some("N"));
    assert!(view.published_by(d("2027-04-01")).is_none());
    assert!(view.unpublished().is_empty());
    hub.stop().await.unwrap();
}
