//! Issue 22: staff and viewers are sent the published view over the
//! protocol, never the draft: live, in catch-up, in snapshots, in history,
//! after a change of role, and in the copy a sync engine keeps on disk.

use crate::common;

use common::*;
use rota::accounts::{AccountsFile, Grant, Role};
use rota::domain::{Change, Op, Request, View, Wish};
use rota::protocol::{ClientMsg, HistoryQuery, PROTOCOL_VERSION, ServerMsg, close, codes};

struct Ward {
    hub: Hub,
    file: AccountsFile,
    admin: String,
    staff: String,
    viewer: String,
    editor: String,
}

/// A hub with roster `ward` (s1..s3, one draft cell, never published) and
/// an admin, a staff member bound to s1, a viewer and an editor.
async fn ward(dir: &std::path::Path) -> Ward {
    let mut file = AccountsFile::open_in(dir).unwrap();
    let role = |role| Grant::Role {
        roster: "ward".into(),
        role,
    };
    let owner = file.add_user("olga", Grant::Owner).unwrap();
    let admin = file.add_user("ada", role(Role::Admin)).unwrap();
    let viewer = file.add_user("vi", role(Role::Viewer)).unwrap();
    let editor = file.add_user("ed", role(Role::Editor)).unwrap();
    let staff = file
        .add_user(
            "sue",
            Grant::Staff {
                roster: "ward".into(),
                staff: "s1".into(),
            },
        )
        .unwrap();
    let hub = Hub::start(dir).await;
    let (mut c, first) = Client::hello_as(&hub.url(), &owner, "olga", "c-olga", "ward").await;
    assert!(matches!(first, ServerMsg::Welcome { .. }), "{first:?}");
    ack_seq(&c.edit(1, setup_ops(3)).await);
    ack_seq(&c.edit(2, vec![set("s1", "2026-12-01", Some("D"), 0)]).await);
    Ward {
        hub,
        file,
        admin,
        staff,
        viewer,
        editor,
    }
}

/// A sync engine on roster `ward` as `user` with `token`, its file in
/// `data`.
fn ward_engine(
    url: &str,
    user: &str,
    data: &std::path::Path,
    token: &str,
) -> rota::sync::SyncEngine {
    let mut c = engine_config(url, user, data);
    c.roster = "ward".into();
    c.token = Some(token.to_string());
    rota::sync::SyncEngine::start(c).unwrap()
}

/// Connects with `token` and says hello at `last_seq` holding `held`.
async fn hello_at(
    url: &str,
    token: &str,
    user: &str,
    last_seq: u64,
    held: View,
    version: &str,
) -> (Client, ServerMsg) {
    let mut c = Client::raw_as(url, Some(token)).await.expect("upgraded");
    c.client_id = format!("c-{user}");
    c.user = user.into();
    c.send(&ClientMsg::Hello {
        protocol: version.into(),
        user: user.into(),
        client_id: c.client_id.clone(),
        token: None,
        roster: "ward".into(),
        last_seq,
        view: held,
    })
    .await;
    let first = c.answer().await;
    (c, first)
}

fn publish(from: &str, to: &str) -> Op {
    Op::Publish {
        from: d(from),
        to: d(to),
        note: String::new(),
    }
}

fn ask(staff: &str, date: &str) -> Op {
    Op::PutRequest {
        request: Request::new(staff, d(date), Wish::parse("off").unwrap()),
        base: None,
    }
}

fn cells_in(changes: &[Change]) -> Vec<&Change> {
    changes
        .iter()
        .filter(|c| matches!(c, Change::Cell { .. }))
        .collect()
}

/// A snapshot's cells holding a code, sorted.
fn codes_of(snap: &rota::protocol::Snapshot) -> Vec<CellRow> {
    let mut out: Vec<CellRow> = snap
        .cells
        .iter()
        .filter(|(_, _, c, _)| c.is_some())
        .map(|(s, d, c, _)| (s.to_string(), *d, c.as_deref().map(str::to_string)))
        .collect();
    out.sort();
    out
}

fn published_cells() -> Vec<CellRow> {
    vec![
        ("s1".into(), d("2026-12-01"), Some("D".into())),
        ("s1".into(), d("2026-12-02"), Some("N".into())),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_and_viewers_are_sent_what_was_published_and_never_the_draft() {
    let dir = tempfile::tempdir().unwrap();
    let w = ward(dir.path()).await;
    let url = w.hub.url();
    let (mut ada, _) = Client::hello_as(&url, &w.admin, "ada", "c-ada", "ward").await;
    let (mut sue, welcome) = Client::hello_as(&url, &w.staff, "sue", "c-sue", "ward").await;
    let ServerMsg::Welcome { view, .. } = &welcome else {
        panic!("{welcome:?}")
    };
    assert_eq!(*view, View::Published);
    let (mut vi, _) = Client::hello_as(&url, &w.viewer, "vi", "c-vi", "ward").await;

    // Never published: staff see the roster as it is (as before publishing).
    let seq = ack_seq(
        &ada.edit(1, vec![set("s1", "2026-12-02", Some("N"), 0)])
            .await,
    );
    let ServerMsg::Change(cs) = sue.recv_until(|m| matches!(m, ServerMsg::Change(_))).await else {
        unreachable!()
    };
    assert_eq!((cs.seq, cells_in(&cs.changes).len()), (seq, 1));

    // A publication reaches them as one change, with the cells it fixed.
    let published = ack_seq(&ada.edit(2, vec![publish("2026-12-01", "2026-12-07")]).await);
    for c in [&mut sue, &mut vi] {
        let ServerMsg::Change(cs) = c
            .recv_until(|m| matches!(m, ServerMsg::Change(cs) if cs.seq == published))
            .await
        else {
            unreachable!()
        };
        let [Change::Publication { publication }] = &cs.changes[..] else {
            panic!("{cs:?}")
        };
        let mut fixed: Vec<CellRow> = publication
            .cells
            .iter()
            .map(|(s, d, c)| (s.clone(), *d, Some(c.clone())))
            .collect();
        fixed.sort();
        assert_eq!(fixed, published_cells());
    }

    // Draft edits after it are not sent to them at all: the next thing they
    // hear is the request that came after the draft edits.
    let draft = ack_seq(
        &ada.edit(
            3,
            vec![
                set("s1", "2026-12-02", Some("D"), 0),
                set("s2", "2026-12-03", Some("N"), 0),
            ],
        )
        .await,
    );
    let mixed = ack_seq(
        &ada.edit(
            4,
            vec![
                set("s3", "2026-12-04", Some("D"), 0),
                ask("s2", "2026-12-20"),
            ],
        )
        .await,
    );
    assert!(mixed > draft && draft > published);
    for c in [&mut sue, &mut vi] {
        let next = c.recv_until(|m| matches!(m, ServerMsg::Change(_))).await;
        let ServerMsg::Change(cs) = next else {
            unreachable!()
        };
        assert_eq!(
            cs.seq, mixed,
            "the draft-only batch {draft} was sent: {cs:?}"
        );
        assert!(cells_in(&cs.changes).is_empty(), "{cs:?}");
        assert_eq!(cs.changes.len(), 1, "{cs:?}");
    }
    // Editors and admins are sent the draft as before.
    let (_, admin_welcome) = hello_at(
        &url,
        &w.admin,
        "ada2",
        published,
        View::Draft,
        PROTOCOL_VERSION,
    )
    .await;
    let ServerMsg::Welcome {
        changes: Some(sets),
        view: View::Draft,
        ..
    } = admin_welcome
    else {
        panic!("{admin_welcome:?}")
    };
    assert_eq!(
        sets.iter()
            .map(|s| cells_in(&s.changes).len())
            .sum::<usize>(),
        3
    );

    // Catch-up (from memory, then with the memory gone, from the log):
    // the batches after the publication, without a cell.
    for from in [published, 1] {
        let (_, welcome) = hello_at(
            &url,
            &w.staff,
            "sue",
            from,
            View::Published,
            PROTOCOL_VERSION,
        )
        .await;
        let ServerMsg::Welcome {
            changes: Some(sets),
            seq,
            ..
        } = welcome
        else {
            panic!("{welcome:?}")
        };
        assert_eq!(seq, mixed);
        let after: Vec<_> = sets.iter().filter(|s| s.seq > published).collect();
        assert_eq!(after.len(), 1, "{sets:?}");
        assert!(cells_in(&after[0].changes).is_empty(), "{sets:?}");
    }

    // A copy of the draft (an editor's file, now staff's) gets a snapshot
    // of the published view: the published cells and nothing else.
    let (_, welcome) = hello_at(&url, &w.staff, "sue", mixed, View::Draft, PROTOCOL_VERSION).await;
    let ServerMsg::Welcome {
        snapshot: Some(snap),
        view: View::Published,
        ..
    } = welcome
    else {
        panic!("{welcome:?}")
    };
    assert_eq!(codes_of(&snap), published_cells());
    assert_eq!(snap.publications.len(), 1);

    // History: no cell of the draft, for staff (their own row) or viewers.
    for (c, staff) in [(&mut sue, Some("s1")), (&mut vi, None)] {
        c.send(&ClientMsg::History {
            req: Some(9),
            query: HistoryQuery {
                staff: staff.map(str::to_string),
                ..Default::default()
            },
        })
        .await;
        let ServerMsg::History { entries, .. } = c
            .recv_until(|m| matches!(m, ServerMsg::History { .. }))
            .await
        else {
            unreachable!()
        };
        assert!(entries.iter().all(|e| e.entity != "cell"), "{entries:?}");
        assert!(!entries.is_empty());
    }
    ada.send(&ClientMsg::History {
        req: Some(9),
        query: HistoryQuery::default(),
    })
    .await;
    let ServerMsg::History { entries, .. } = ada
        .recv_until(|m| matches!(m, ServerMsg::History { .. }))
        .await
    else {
        unreachable!()
    };
    assert!(entries.iter().any(|e| e.entity == "cell"));

    // An older client cannot show the published view: refused, not sent
    // the draft.
    let (_, old) = hello_at(&url, &w.staff, "sue", 0, View::Draft, "1.3").await;
    let ServerMsg::Error { code, message, .. } = &old else {
        panic!("{old:?}")
    };
    assert_eq!(code, codes::FORBIDDEN);
    assert!(message.contains("upgrade rota"), "{message}");
    w.hub.stop().await.unwrap();
}

/// A change of role that changes what a connection is sent ends it; the
/// copy it holds is replaced by a snapshot of the other view when it
/// comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_changes_the_view_starts_the_connection_over() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = ward(dir.path()).await;
    let url = w.hub.url();
    let (mut ada, _) = Client::hello_as(&url, &w.admin, "ada", "c-ada", "ward").await;
    ack_seq(
        &ada.edit(1, vec![set("s1", "2026-12-02", Some("N"), 0)])
            .await,
    );
    let seq = ack_seq(&ada.edit(2, vec![publish("2026-12-01", "2026-12-07")]).await);
    let seq = seq.max(ack_seq(
        &ada.edit(3, vec![set("s2", "2026-12-02", Some("D"), 0)])
            .await,
    ));
    let (mut ed, welcome) = hello_at(&url, &w.editor, "ed", 0, View::Draft, PROTOCOL_VERSION).await;
    assert!(
        matches!(
            welcome,
            ServerMsg::Welcome {
                view: View::Draft,
                ..
            }
        ),
        "{welcome:?}"
    );
    w.file.set_role("ed", "ward", Some(Role::Viewer)).unwrap();
    let told = ed.recv_until(|m| matches!(m, ServerMsg::Role { .. })).await;
    assert!(matches!(told, ServerMsg::Role { ref role, .. } if role == "viewer"));
    let (code, reason) = ed.closed().await;
    assert_eq!(code, close::VIEW_CHANGED, "{reason}");
    let (_, welcome) = hello_at(&url, &w.editor, "ed", seq, View::Draft, PROTOCOL_VERSION).await;
    let ServerMsg::Welcome {
        snapshot: Some(snap),
        view: View::Published,
        ..
    } = welcome
    else {
        panic!("{welcome:?}")
    };
    assert_eq!(codes_of(&snap), published_cells());
    w.hub.stop().await.unwrap();
}

/// A staff member's sync engine keeps the published view: it follows
/// publications and skips what it is not sent without asking for the whole
/// roster again, its own requests are acknowledged, and the copy it keeps
/// on disk is the published view too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_engine_keeps_the_published_view_live_and_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let w = ward(dir.path()).await;
    let url = w.hub.url();
    let data = tempfile::tempdir().unwrap();
    let start = || ward_engine(&url, "sue", data.path(), &w.staff);
    let engine = start();
    let mut events = engine.subscribe();
    let (mut ada, _) = Client::hello_as(&url, &w.admin, "ada", "c-ada", "ward").await;
    let seq = ack_seq(
        &ada.edit(1, vec![set("s1", "2026-12-02", Some("N"), 0)])
            .await,
    );
    wait_synced(&engine, seq).await;
    let published = ack_seq(&ada.edit(2, vec![publish("2026-12-01", "2026-12-07")]).await);
    // Draft edits, some inside the published dates, some outside; then a
    // request of the staff member's own, and another publication of part.
    let mut last = published;
    for (i, (staff, date, code)) in [
        ("s1", "2026-12-01", "N"),
        ("s2", "2026-12-05", "D"),
        ("s3", "2026-12-20", "N"),
    ]
    .into_iter()
    .enumerate()
    {
        let op = set(staff, date, Some(code), published);
        last = ack_seq(&ada.edit(3 + i as u64, vec![op]).await);
    }
    engine.edit(vec![ask("s1", "2026-12-24")]).unwrap();
    let st = wait_status(&engine, "its request acknowledged", |s| {
        s.pending == 0 && s.seq > last
    })
    .await;
    let again = ack_seq(&ada.edit(9, vec![publish("2026-12-05", "2026-12-05")]).await);
    wait_synced(&engine, again).await;
    let mut want = published_cells();
    want.push(("s2".into(), d("2026-12-05"), Some("D".into())));
    want.sort();
    let shown: Vec<CellRow> = view_cells(&engine)
        .into_iter()
        .filter(|(_, _, c)| c.is_some())
        .collect();
    assert_eq!(shown, want);
    assert!(engine.with_view(|r| r.request("s1", d("2026-12-24")).is_some()));
    assert!(st.seq > last);
    // No snapshot was asked for after the first: the gaps were expected.
    let mut resyncs = 0;
    while let Ok(e) = events.try_recv() {
        if matches!(e, rota::sync::SyncEvent::Resynced { .. }) {
            resyncs += 1;
        }
    }
    assert!(resyncs <= 1, "{resyncs} snapshots");
    drop(engine);

    // Opened again with the hub gone: the copy on disk is what staff see.
    w.hub.stop().await.unwrap();
    let engine = start();
    let shown: Vec<CellRow> = view_cells(&engine)
        .into_iter()
        .filter(|(_, _, c)| c.is_some())
        .collect();
    assert_eq!(shown, want);
}

/// Found by a new-user trial: an editor made a viewer kept the draft on
/// screen until the hub sent the published view, and in its file: opened
/// offline, it showed the draft and took edits. The copy becomes the
/// published view as soon as the new role is heard, and the file keeps
/// the role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_made_a_viewer_keeps_no_draft_on_screen_or_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = ward(dir.path()).await;
    let url = w.hub.url();
    let (mut ada, _) = Client::hello_as(&url, &w.admin, "ada", "c-ada", "ward").await;
    ack_seq(
        &ada.edit(1, vec![set("s1", "2026-12-02", Some("N"), 0)])
            .await,
    );
    ack_seq(&ada.edit(2, vec![publish("2026-12-01", "2026-12-07")]).await);
    let last = ack_seq(
        &ada.edit(3, vec![set("s2", "2026-12-02", Some("D"), 0)])
            .await,
    );
    let data = tempfile::tempdir().unwrap();
    let start = || ward_engine(&url, "ed", data.path(), &w.editor);
    let shown = |e: &rota::sync::SyncEngine| -> Vec<CellRow> {
        view_cells(e)
            .into_iter()
            .filter(|(_, _, c)| c.is_some())
            .collect()
    };
    let engine = start();
    wait_synced(&engine, last).await;
    assert_eq!(shown(&engine).len(), 3, "the editor sees the draft");
    let mut events = engine.subscribe();
    w.file.set_role("ed", "ward", Some(Role::Viewer)).unwrap();
    let (_, told) = engine
        .wait_until(WAIT, |_| engine.access().role.as_deref() == Some("viewer"))
        .await;
    assert!(told, "the new role is heard");
    assert_eq!(shown(&engine), published_cells(), "no draft once a viewer");
    // Connected again at once, never said to be offline for it.
    let connected = async {
        loop {
            match events.recv().await {
                Ok(rota::sync::SyncEvent::Connection(rota::sync::ConnState::Retrying {
                    reason,
                    ..
                })) => panic!("said to be offline: {reason}"),
                Ok(rota::sync::SyncEvent::Connection(rota::sync::ConnState::Connected {
                    ..
                })) => break,
                Ok(_) => {}
                Err(e) => panic!("{e}"),
            }
        }
    };
    tokio::time::timeout(WAIT, connected)
        .await
        .expect("connected again");
    assert_eq!(shown(&engine), published_cells());
    drop(engine);
    w.hub.stop().await.unwrap();
    let engine = start();
    assert_eq!(shown(&engine), published_cells(), "nor in the file");
    assert_eq!(engine.access().role.as_deref(), Some("viewer"));
}
