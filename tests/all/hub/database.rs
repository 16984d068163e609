//! Hubs on PostgreSQL (`--database`), against a real server (rota-testpg):
//! one hub keeps what it acknowledged across a restart and serves history
//! and lists from the database; two hubs on one database hand each
//! other's edits to their editors, in order, and never give one seq twice.

use super::*;
use rota::sync::SyncEngine;

/// A hub's config on a data dir of its own and the database at `url`.
fn on_database(dir: &std::path::Path, url: &str) -> Config {
    let mut config = Config::new(dir.to_path_buf());
    config.database = Some(url.to_string());
    config
}

fn change_seq(m: &ServerMsg) -> Option<u64> {
    match m {
        ServerMsg::Change(cs) => Some(cs.seq),
        _ => None,
    }
}

/// Edits from two editors, acknowledged and seen by each other; then the
/// hub restarts on a new data dir (nothing of the roster is in it): the
/// roster, its history and the list come from the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_on_postgres_keeps_what_it_acknowledged_across_a_restart() {
    let url = rota_testpg::fresh_database("hub");
    let first_dir = tempfile::tempdir().unwrap();
    let hub = Hub::start_with(on_database(first_dir.path(), &url)).await;
    assert_eq!(seed(&hub.url(), 2).await, 1);
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 1).await;
    let (mut bob, _) = Client::join(&hub.url(), "bob", "c-bob", "default", 1).await;
    let mut acked = Vec::new();
    for day in 1..=5 {
        let date = format!("2026-12-0{day}");
        acked.push(ack_seq(
            &ann.edit(day, vec![set("s1", &date, Some("D"), 0)]).await,
        ));
        let seen = bob.recv_until(|m| change_seq(m).is_some()).await;
        assert_eq!(change_seq(&seen), acked.last().copied());
        acked.push(ack_seq(
            &bob.edit(day, vec![set("s2", &date, Some("N"), 0)]).await,
        ));
    }
    assert_eq!(acked, (2..=11).collect::<Vec<u64>>(), "gap-free seqs");
    // A resend is answered as before, from the database.
    assert_eq!(
        ack_seq(
            &ann.edit(1, vec![set("s1", "2026-12-01", Some("D"), 0)])
                .await
        ),
        2
    );
    hub.stop().await.unwrap();
    assert!(
        !first_dir.path().join("hub.sqlite3").exists(),
        "no SQLite store beside the database"
    );

    let second_dir = tempfile::tempdir().unwrap();
    let hub = Hub::start_with(on_database(second_dir.path(), &url)).await;
    let (mut carl, seq, snapshot) = join_snapshot(&hub.url(), "carl", "c-carl").await;
    assert_eq!(seq, 11);
    let cells: Vec<_> = snapshot.cells.iter().filter(|c| c.2.is_some()).collect();
    assert_eq!(cells.len(), 10);
    carl.send(&ClientMsg::History {
        req: Some(7),
        query: HistoryQuery {
            staff: Some("s2".into()),
            limit: Some(3),
            ..Default::default()
        },
    })
    .await;
    match carl.answer().await {
        ServerMsg::History { req, entries, next } => {
            assert_eq!(req, Some(7));
            let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
            assert_eq!(seqs, vec![11, 9, 7], "newest first");
            assert!(entries.iter().all(|e| e.user == "bob"));
            assert!(next.is_some());
        }
        other => panic!("expected history, got {other:?}"),
    }
    carl.send(&ClientMsg::ListRosters { req: Some(8) }).await;
    match carl.answer().await {
        ServerMsg::Rosters { rosters, .. } => {
            assert_eq!(rosters.len(), 1);
            assert_eq!((rosters[0].name.as_str(), rosters[0].seq), ("default", 11));
        }
        other => panic!("expected rosters, got {other:?}"),
    }
    // And it goes on from where it was.
    assert_eq!(
        ack_seq(
            &carl
                .edit(1, vec![set("s1", "2026-12-09", Some("D"), 0)])
                .await
        ),
        12
    );
    hub.stop().await.unwrap();
}

/// Two hubs on one database: an editor on each. Each sees the other's
/// edits, in order, with no gap, as they are committed; a hub whose copy
/// of the roster is behind catches up before it applies an edit, so no
/// seq is given twice and every acknowledged edit is in the log once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hubs_on_one_database_hand_each_other_their_edits_in_order() {
    let url = rota_testpg::fresh_database("two_hubs");
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Hub::start_with(on_database(dir_a.path(), &url)).await;
    let b = Hub::start_with(on_database(dir_b.path(), &url)).await;
    assert_eq!(seed(&a.url(), 2).await, 1);
    let (mut ann, _) = Client::join(&a.url(), "ann", "c-ann", "default", 1).await;
    let (mut bob, _) = Client::join(&b.url(), "bob", "c-bob", "default", 1).await;
    let mut acked = Vec::new();
    for day in 1..=6u64 {
        let date = format!("2026-12-0{day}");
        // Ann's edit on hub A reaches Bob on hub B...
        let mine = ack_seq(&ann.edit(day, vec![set("s1", &date, Some("D"), 0)]).await);
        let seen = bob.recv_until(|m| change_seq(m).is_some()).await;
        assert_eq!(
            change_seq(&seen),
            Some(mine),
            "bob sees ann's edit, in order"
        );
        // ...and Bob's on hub B reaches Ann on hub A.
        let his = ack_seq(&bob.edit(day, vec![set("s2", &date, Some("N"), 0)]).await);
        let seen = ann.recv_until(|m| change_seq(m).is_some()).await;
        assert_eq!(
            change_seq(&seen),
            Some(his),
            "ann sees bob's edit, in order"
        );
        acked.extend([mine, his]);
    }
    assert_eq!(acked, (2..=13).collect::<Vec<u64>>());
    // Both edit at once, many times over: every ack a new seq, and each
    // editor is told of every seq, its own by ack and the other hub's by
    // change, in seq order with no gap.
    let writes = |mut c: Client, staff: &'static str| async move {
        for i in 0..20u64 {
            let date = format!("2027-01-{:02}", i + 1);
            c.send(&ClientMsg::Edit {
                op_id: 100 + i,
                ops: vec![set(staff, &date, Some("D"), 0)],
                note: None,
                force: true,
                more: false,
                part: None,
            })
            .await;
        }
        let (mut mine, mut seen) = (Vec::new(), Vec::new());
        while seen.len() < 40 {
            match c.recv().await {
                ServerMsg::Ack { seq, .. } => {
                    mine.push(seq);
                    seen.push(seq);
                }
                ServerMsg::Change(cs) => seen.push(cs.seq),
                ServerMsg::Presence(_) | ServerMsg::Left { .. } => {}
                other => panic!("{staff}: {other:?}"),
            }
        }
        (mine, seen)
    };
    let ((a_mine, a_seen), (b_mine, b_seen)) = tokio::join!(writes(ann, "s1"), writes(bob, "s2"));
    let mut all: Vec<u64> = a_mine.iter().chain(&b_mine).copied().collect();
    all.sort();
    assert_eq!(
        all,
        (14..=53).collect::<Vec<u64>>(),
        "each seq once, no gap"
    );
    assert_eq!(
        a_seen,
        (14..=53).collect::<Vec<u64>>(),
        "ann told of all, in order"
    );
    assert_eq!(
        b_seen,
        (14..=53).collect::<Vec<u64>>(),
        "bob told of all, in order"
    );
    let (_, seq_a, snap_a) = join_snapshot(&a.url(), "x", "c-x").await;
    let (_, seq_b, snap_b) = join_snapshot(&b.url(), "y", "c-y").await;
    assert_eq!((seq_a, seq_b), (53, 53));
    assert_eq!(snap_a, snap_b, "both hubs hold the same roster");
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

/// The database goes away under a hub: an edit is refused as not stored
/// (naming its op id) and `/health` says the hub is not ready (503); once
/// the database is back the hub recovers by itself: the same edit sent
/// again is acknowledged, `/health` is ready, and nothing acknowledged
/// before is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_whose_database_goes_away_stops_acknowledging_and_recovers_by_itself() {
    let server = rota_testpg::OwnServer::start("restart").unwrap();
    let url = server.fresh_database("rota").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start_with(on_database(dir.path(), &url)).await;
    assert_eq!(seed(&hub.url(), 2).await, 1);
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 1).await;
    let before = vec![set("s1", "2026-12-01", Some("D"), 0)];
    assert_eq!(ack_seq(&ann.edit(1, before).await), 2);
    let (status, body) = hub.http_get("/health").await;
    assert_eq!(status, 200, "{body}");

    tokio::task::block_in_place(|| server.pause()).unwrap();
    let edit = vec![set("s2", "2026-12-01", Some("N"), 0)];
    match ann.edit(2, edit.clone()).await {
        ServerMsg::Error {
            code,
            op_id,
            message,
            ..
        } => {
            assert_eq!(code, rota::protocol::codes::STORAGE);
            assert_eq!(op_id, Some(2));
            assert!(message.contains("nothing was applied"), "{message}");
            // The database's address is the hub's business.
            assert!(!message.contains("postgres://"), "{message}");
        }
        other => panic!("expected a storage error, got {other:?}"),
    }
    let (status, body) = hub.http_get("/health").await;
    assert_eq!(status, 503, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["ready"], false, "{body}");
    assert!(
        health["why"].as_str().is_some_and(|w| !w.is_empty()),
        "{body}"
    );

    tokio::task::block_in_place(|| server.resume()).unwrap();
    assert_eq!(
        ack_seq(&ann.edit(2, edit).await),
        3,
        "sent again, stored once"
    );
    let (status, body) = hub.http_get("/health").await;
    assert_eq!(status, 200, "{body}");
    let (_, seq, snapshot) = join_snapshot(&hub.url(), "x", "c-x").await;
    assert_eq!(seq, 3);
    assert_eq!(snapshot.cells.iter().filter(|c| c.2.is_some()).count(), 2);
    hub.stop().await.unwrap();
}

/// Runs the real binary with `args`; its exit code, stdout and stderr.
fn rota(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rota"))
        .args(args)
        .output()
        .expect("rota runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `rota --migrate` moves a SQLite hub's rosters into an empty database:
/// a hub on the database then serves the same rosters (state, history,
/// answers to resends) as the hub on the files did. It refuses a database
/// that holds rosters, a data dir a hub runs on, and bad arguments, each
/// saying what and where, writing nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_hub_moves_into_postgres_whole() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let hub = Hub::start(dir.path()).await;
    assert_eq!(seed(&hub.url(), 3).await, 1);
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 1).await;
    // A large edit (kept in parts in SQLite), small ones, another roster,
    // and an edit refused (an answer with no change).
    let big: Vec<Op> = (1..=28)
        .flat_map(|day| {
            ["s1", "s2", "s3"].map(|s| set(s, &format!("2026-02-{day:02}"), Some("D"), 0))
        })
        .collect();
    assert_eq!(ack_seq(&ann.edit(1, big).await), 2);
    let small = vec![set("s2", "2026-02-03", Some("N"), 0)];
    assert_eq!(ack_seq(&ann.edit(2, small.clone()).await), 3);
    let refused = ann
        .edit(3, vec![set("nobody", "2026-02-03", Some("N"), 0)])
        .await;
    assert!(matches!(refused, ServerMsg::Rejected { .. }), "{refused:?}");
    let (mut other, _) = Client::join(&hub.url(), "bob", "c-bob", "ward-2", 0).await;
    assert_eq!(ack_seq(&other.edit(1, setup_ops(2)).await), 1);
    let (_, _, before) = join_snapshot(&hub.url(), "x", "c-x").await;
    let history = ClientMsg::History {
        req: Some(1),
        query: HistoryQuery {
            staff: Some("s2".into()),
            limit: Some(5),
            ..Default::default()
        },
    };
    ann.send(&history).await;
    let history_before = ann.answer().await;

    // Not while the hub runs on it.
    let url = rota_testpg::fresh_database("migrate");
    let (code, _, err) = rota(&["--migrate", "--from", &data, "--to", &url]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("a hub is running on it"), "{err}");
    hub.stop().await.unwrap();
    // Bad arguments.
    let (code, _, err) = rota(&["--migrate", "--from", &data]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--to postgres://"), "{err}");
    let (code, _, err) = rota(&["--migrate", "--from", "/nonexistent/rota", "--to", &url]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("/nonexistent/rota") && err.contains("no hub store"),
        "{err}"
    );

    // Not into a database a hub serves (it would not see what came in).
    let served = rota_testpg::fresh_database("served");
    let serving_dir = tempfile::tempdir().unwrap();
    let serving = Hub::start_with(on_database(serving_dir.path(), &served)).await;
    let (code, _, err) = rota(&["--migrate", "--from", &data, "--to", &served]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("in use by a running hub"), "{err}");
    assert!(!err.contains("damaged"), "{err}");
    serving.stop().await.unwrap();
    // A database URL that is none is bad input, said so.
    for bad in ["mysql://rota@127.0.0.1/rota", "postgres//rota@127.0.0.1"] {
        let (code, _, err) = rota(&[
            "--serve",
            "--listen",
            "127.0.0.1:0",
            "--data",
            &data,
            "--database",
            bad,
        ]);
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(
            err.contains("postgres://") && !err.contains("damaged"),
            "{bad}: {err}"
        );
    }

    let (code, out, err) = rota(&["--migrate", "--from", &data, "--to", &url]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("default: seq 3, 3 staff, 84 cells, 3 batches, 4 answers"),
        "{out}"
    );
    assert!(out.contains("ward-2: seq 1"), "{out}");
    assert!(out.contains("moved 2 roster(s)"), "{out}");
    // Once only: the database holds rosters now.
    let (code, _, err) = rota(&["--migrate", "--from", &data, "--to", &url]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("already holds 2 roster(s)"), "{err}");

    let pg_dir = tempfile::tempdir().unwrap();
    let hub = Hub::start_with(on_database(pg_dir.path(), &url)).await;
    let (_, seq, after) = join_snapshot(&hub.url(), "x", "c-x").await;
    assert_eq!(seq, 3);
    assert_eq!(after, before, "the same roster");
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 3).await;
    ann.send(&history).await;
    assert_eq!(ann.answer().await, history_before, "the same history");
    // A resend is answered as the hub on the files answered it.
    assert_eq!(ack_seq(&ann.edit(2, small).await), 3);
    assert!(matches!(
        ann.edit(3, vec![set("nobody", "2026-02-03", Some("N"), 0)])
            .await,
        ServerMsg::Rejected { .. }
    ));
    assert_eq!(
        ack_seq(
            &ann.edit(4, vec![set("s3", "2026-02-09", Some("N"), 0)])
                .await
        ),
        4
    );
    hub.stop().await.unwrap();
}

/// The real binary as a hub on the database at `url`, data dir `dir`.
fn spawn_hub_on(dir: &std::path::Path, url: &str) -> (ChildGuard, String) {
    let (child, line) = spawn_rota_line(
        [
            "--serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            url,
            "--data",
            dir.to_str().unwrap(),
        ]
        .map(std::ffi::OsString::from),
    );
    (child, format!("ws://{}", listening_at(&line)))
}

/// An editor given two hubs on one database (`--server A,B`) whose hub is
/// killed (-9) moves to the other at once: what it had acknowledged is
/// kept, what it edited meanwhile is applied once, and it carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_whose_hub_is_killed_moves_to_another_and_loses_nothing() {
    let url = rota_testpg::fresh_database("failover");
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut a, at_a) = spawn_hub_on(dir_a.path(), &url);
    let (_b, at_b) = spawn_hub_on(dir_b.path(), &url);
    assert_eq!(seed(&format!("{at_b}/ws"), 2).await, 1);
    let data = tempfile::tempdir().unwrap();
    let mut config = engine_config(&format!("{at_a}/ws"), "ann", data.path());
    config.hub = rota::sync::HubAddr::parse_server(&format!("{at_a},{at_b}")).unwrap();
    assert!(matches!(config.hub, rota::sync::HubAddr::Several(_)));
    // Backing off as a person's editor would: the move must not wait on it.
    config.backoff_min = Duration::from_secs(30);
    config.backoff_max = Duration::from_secs(60);
    let ann = SyncEngine::start(config).unwrap();
    wait_connected(&ann).await;
    let day = |i: u64| format!("2026-12-{:02}", i + 1);
    for i in 0..5 {
        ann.edit(vec![set("s1", &day(i), Some("D"), 0)]).unwrap();
    }
    wait_synced(&ann, 6).await;
    a.0.kill().unwrap(); // SIGKILL
    let _ = a.0.wait();
    for i in 5..10 {
        ann.edit(vec![set("s1", &day(i), Some("N"), 0)]).unwrap();
    }
    wait_synced(&ann, 11).await;
    let (seq, cells) = hub_cells(&format!("{at_b}/ws")).await;
    assert_eq!(seq, 11, "ten edits, ten seqs: none applied twice");
    let set_cells: Vec<_> = cells.iter().filter(|c| c.2.is_some()).collect();
    assert_eq!(set_cells.len(), 10);
    assert!(set_cells.iter().all(|c| c.0 == "s1"));
}

/// Three hubs on one database under six editors (two starting on each
/// hub, each given all three): one hub killed (-9) mid-load, then the
/// database stopped and started mid-load. Every editor ends saved and
/// caught up; the hubs hold every edit, each in the log once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hubs_under_load_lose_nothing_to_a_killed_hub_or_a_database_restart() {
    let server = rota_testpg::OwnServer::start("three").unwrap();
    let url = server.fresh_database("rota").unwrap();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut hubs: Vec<(ChildGuard, String)> =
        dirs.iter().map(|d| spawn_hub_on(d.path(), &url)).collect();
    let at: Vec<String> = hubs.iter().map(|h| h.1.clone()).collect();
    assert_eq!(seed(&format!("{}/ws", at[1]), 6).await, 1);
    let data = tempfile::tempdir().unwrap();
    let editors: Vec<SyncEngine> = (0..6)
        .map(|i| {
            // Each starts on hub i % 3 and knows the others.
            let order: Vec<&str> = (0..3).map(|k| at[(i + k) % 3].as_str()).collect();
            let mut c = engine_config(
                &format!("{}/ws", order[0]),
                &format!("u{i}"),
                &data.path().join(format!("e{i}")),
            );
            c.hub = rota::sync::HubAddr::parse_server(&order.join(",")).unwrap();
            SyncEngine::start(c).unwrap()
        })
        .collect();
    for e in &editors {
        wait_connected(e).await;
    }
    let day = |n: usize| format!("2027-03-{:02}", n + 1);
    let write = |from: usize, to: usize| {
        for (i, e) in editors.iter().enumerate() {
            for n in from..to {
                let code = ["D", "N"][n % 2];
                e.edit(vec![set(&format!("s{}", i + 1), &day(n), Some(code), 0)])
                    .unwrap();
            }
        }
    };
    let all_saved = || async {
        for e in &editors {
            wait_status(e, "saved", |s| {
                s.pending == 0 && matches!(s.conn, rota::sync::ConnState::Connected { .. })
            })
            .await;
        }
    };
    write(0, 10);
    all_saved().await;
    // Hub 0 killed while its editors have edits on the way.
    write(10, 20);
    hubs[0].0.0.kill().unwrap();
    let _ = hubs[0].0.0.wait();
    all_saved().await;
    // The database stopped with edits on the way, then back.
    write(20, 25);
    tokio::task::block_in_place(|| server.pause()).unwrap();
    write(25, 30);
    tokio::task::block_in_place(|| server.resume()).unwrap();
    all_saved().await;
    let last = format!("{}/ws", at[2]);
    // Every editor is told of every edit (a hub that missed notifications
    // while the database was away reads them once it listens again).
    for e in &editors {
        wait_status(e, "told of every edit", |s| s.seq > 6 * 30).await;
    }
    let (seq, cells) = hub_cells(&last).await;
    let set_cells = cells.iter().filter(|c| c.2.is_some()).count();
    assert_eq!(set_cells, 6 * 30, "every edit is held");
    assert_eq!(seq, 1 + 6 * 30, "one seq per edit: none applied twice");
    for e in &editors {
        assert_eq!(view_cells(e), cells, "every editor converged");
    }
    // Each editor's edits are in the log once each.
    let (mut reader, _) = Client::join(&last, "audit", "c-audit", "default", seq).await;
    for i in 0..6 {
        reader
            .send(&ClientMsg::History {
                req: Some(i as u64),
                query: HistoryQuery {
                    staff: Some(format!("s{}", i + 1)),
                    limit: Some(500),
                    ..Default::default()
                },
            })
            .await;
        let entries = match reader.answer().await {
            ServerMsg::History { entries, .. } => entries,
            other => panic!("history: {other:?}"),
        };
        let mut ops: Vec<(String, u64)> = entries
            .iter()
            .filter(|e| e.date.is_some())
            .map(|e| (e.client.clone(), e.op_id))
            .collect();
        let n = ops.len();
        ops.sort();
        ops.dedup();
        assert_eq!((n, ops.len()), (30, 30), "s{}: 30 edits, each once", i + 1);
    }
    drop(hubs);
}

/// A group that failed with the database away is not served afterwards:
/// while the roster cannot be read again, a joining editor is told so
/// rather than given the failed edit as if stored; once the database is
/// back, the joiner gets what is stored, and the failed edit sent again is
/// stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_group_is_never_shown_to_a_joiner_as_stored() {
    let server = rota_testpg::OwnServer::start("phantom").unwrap();
    let url = server.fresh_database("rota").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start_with(on_database(dir.path(), &url)).await;
    assert_eq!(seed(&hub.url(), 2).await, 1);
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 1).await;
    tokio::task::block_in_place(|| server.pause()).unwrap();
    let edit = vec![set("s1", "2026-12-01", Some("D"), 0)];
    assert!(matches!(
        ann.edit(1, edit.clone()).await,
        ServerMsg::Error { .. }
    ));
    // Bob joins while the database is away: never a welcome at seq 2.
    match Client::hello(&hub.url(), "bob", "c-bob", "default").await.1 {
        ServerMsg::Welcome { seq, .. } => assert_eq!(seq, 1, "only what is stored"),
        ServerMsg::Error { code, .. } => assert_eq!(code, rota::protocol::codes::STORAGE),
        other => panic!("{other:?}"),
    }
    tokio::task::block_in_place(|| server.resume()).unwrap();
    let (_, seq, snapshot) = join_snapshot(&hub.url(), "carl", "c-carl").await;
    assert_eq!(seq, 1);
    assert!(snapshot.cells.iter().all(|c| c.2.is_none()));
    assert_eq!(ack_seq(&ann.edit(1, edit).await), 2);
    let (_, seq, _) = join_snapshot(&hub.url(), "dora", "c-dora").await;
    assert_eq!(seq, 2);
    hub.stop().await.unwrap();
}

/// A hub reaches its database over TLS when the URL asks
/// (`sslmode=require`), checking the server's certificate against the CA
/// file `sslrootcert=` names (libpq's words): its connections are
/// encrypted; with a CA that did not sign the server's certificate it
/// refuses to start, naming the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_reaches_its_database_over_tls_and_checks_the_certificate() {
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let server = rota_testpg::OwnServer::start_tls(
        "tls",
        &made.cert.pem(),
        &made.signing_key.serialize_pem(),
    )
    .unwrap();
    let plain = server.fresh_database("rota").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("db-ca.pem");
    std::fs::write(&ca, made.cert.pem()).unwrap();
    let url = format!("{plain}?sslmode=require&sslrootcert={}", ca.display());
    let hub = Hub::start_with(on_database(&dir.path().join("hub"), &url)).await;
    assert_eq!(seed(&hub.url(), 2).await, 1);
    let encrypted: i64 = rota::store::pg::off_runtime(|| {
        let mut admin = postgres::Client::connect(&plain, postgres::NoTls).unwrap();
        admin
            .query_one(
                "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                 WHERE a.datname = 'rota' AND s.ssl AND a.pid <> pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0)
    });
    let unencrypted: i64 = rota::store::pg::off_runtime(|| {
        let mut admin = postgres::Client::connect(&plain, postgres::NoTls).unwrap();
        admin
            .query_one(
                "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                 WHERE a.datname = 'rota' AND NOT s.ssl AND a.pid <> pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0)
    });
    assert!(
        encrypted >= 4,
        "the hub's connections are encrypted: {encrypted}"
    );
    assert_eq!(unencrypted, 0, "none in clear");
    hub.stop().await.unwrap();

    let other = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let wrong = dir.path().join("other-ca.pem");
    std::fs::write(&wrong, other.cert.pem()).unwrap();
    let bad = format!("{plain}?sslmode=require&sslrootcert={}", wrong.display());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused =
        match rota::server::Hub::bind(listener, on_database(&dir.path().join("hub2"), &bad)) {
            Ok(_) => panic!("a hub started on a database whose certificate it cannot check"),
            Err(e) => e.to_string(),
        };
    assert!(refused.contains("postgres://rota@127.0.0.1"), "{refused}");
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");
}

/// After the database restarts while a hub is idle, the hub's first use of
/// each connection finds it dropped: the first join of a roster not in
/// memory, the first edit and the first list are each answered all the
/// same (made again on a new connection), not refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_requests_after_a_database_restart_are_answered() {
    let server = rota_testpg::OwnServer::start("idle").unwrap();
    let url = server.fresh_database("rota").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start_with(on_database(dir.path(), &url)).await;
    assert_eq!(seed(&hub.url(), 2).await, 1);
    let (mut ann, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 1).await;
    let (mut bob, _) = Client::join(&hub.url(), "bob", "c-bob", "other", 0).await;
    assert_eq!(ack_seq(&bob.edit(1, setup_ops(1)).await), 1);
    tokio::task::block_in_place(|| server.pause()).unwrap();
    tokio::task::block_in_place(|| server.resume()).unwrap();
    // A roster the writer does not hold: read from the database.
    let (_, first) = Client::hello(&hub.url(), "carl", "c-carl", "third").await;
    assert!(matches!(first, ServerMsg::Welcome { .. }), "{first:?}");
    let edit = vec![set("s1", "2026-12-01", Some("D"), 0)];
    assert_eq!(ack_seq(&ann.edit(1, edit).await), 2);
    ann.send(&ClientMsg::ListRosters { req: Some(1) }).await;
    assert!(matches!(ann.answer().await, ServerMsg::Rosters { .. }));
    hub.stop().await.unwrap();
}

/// A script whose edit the hub cannot store (its database away) is told
/// so, not that the hub did not answer; the edit stays queued and is
/// applied once the database is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_is_told_the_hub_could_not_store_its_edit() {
    let server = rota_testpg::OwnServer::start("script").unwrap();
    let url = server.fresh_database("rota").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start_with(on_database(&dir.path().join("hub"), &url)).await;
    assert_eq!(seed(&hub.url(), 2).await, 1);
    let file = dir.path().join("week.csv");
    std::fs::write(&file, "staff,date,code\ns1,2026-12-01,D\n").unwrap();
    let data = dir.path().join("ann");
    let apply = |timeout: &str| {
        let (file, data, server) = (file.clone(), data.clone(), hub.url());
        let timeout = timeout.to_string();
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_rota"))
                .arg("--apply")
                .arg(&file)
                .args(["--server", &server, "--roster", "default", "--user", "ann"])
                .args(["--timeout", &timeout])
                .arg("--data")
                .arg(&data)
                .output()
                .unwrap()
        }
    };
    // A first run makes the local copy.
    let out = apply("10")();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&file, "staff,date,code\ns1,2026-12-02,N\n").unwrap();
    tokio::task::block_in_place(|| server.pause()).unwrap();
    // Long enough for the hub's refusal to have come, however busy the
    // machine: the engine then waits out its backoff, saying why.
    let out = tokio::task::spawn_blocking(apply("6")).await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("the hub could not store it within 6 s"),
        "{err}"
    );
    assert!(err.contains("stays in the outbox"), "{err}");
    tokio::task::block_in_place(|| server.resume()).unwrap();
    let sync = std::process::Command::new(env!("CARGO_BIN_EXE_rota"))
        .args([
            "--sync",
            "--server",
            &hub.url(),
            "--roster",
            "default",
            "--user",
            "ann",
        ])
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(
        sync.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&sync.stderr)
    );
    let (seq, cells) = hub_cells(&hub.url()).await;
    assert_eq!(seq, 3);
    assert_eq!(cells.iter().filter(|c| c.2.is_some()).count(), 2);
    hub.stop().await.unwrap();
}
