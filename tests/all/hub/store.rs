//! Stores that cannot be trusted: emptied, foreign, damaged.

use super::*;

/// Binds a hub on `dir` and returns why it refused (it must).
pub(super) async fn refused(dir: &std::path::Path) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    match rota::server::Hub::bind(listener, rota::server::Config::new(dir.to_path_buf())) {
        Ok(_) => panic!("the hub started on a damaged store"),
        Err(e) => e.to_string(),
    }
}

/// A hub's store as a test leaves it: staff s1..s3 and three batches of
/// cells on `default`; its path.
pub(super) async fn stored_hub(dir: &std::path::Path) -> std::path::PathBuf {
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
    store_of(dir, "default")
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
    let (_c, answer) = Client::hello(&hub.url(), "bob", "c-bob", "default").await;
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

pub(super) async fn seed_roster(url: &str, roster: &str) {
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

/// A roster found in two store files (a file copied or restored over
/// another's place) is refused at start, naming both: never served from
/// one while the other's history is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roster_in_two_store_files_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let path = stored_hub(dir.path()).await;
    let files = rota::server::writers::store_files(dir.path());
    let other = files.iter().find(|f| **f != path).unwrap().clone();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", other.display()));
    }
    std::fs::copy(&path, &other).unwrap();
    let why = refused(dir.path()).await;
    assert!(
        why.contains("roster `default` is in two store files"),
        "{why}"
    );
    assert!(why.contains(&path.display().to_string()), "{why}");
    assert!(why.contains(&other.display().to_string()), "{why}");
}
