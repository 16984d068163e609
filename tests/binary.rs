//! The real `rota` binary: durability across kill -9, and one hub per dir.

mod common;

use common::*;
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_edit_survives_kill_9_and_the_restart_needs_no_manual_step() {
    let dir = tempfile::tempdir().unwrap();
    let (child, addr) = spawn_hub_binary(dir.path());
    let url = format!("ws://{addr}/ws");
    let (mut ann, _) = Client::join(&url, "ann", "c-ann", "default", 0).await;
    ack_seq(&ann.edit(1, setup_ops(10)).await);
    let mut acked = Vec::new();
    for i in 0..200u64 {
        let staff = format!("s{}", 1 + i % 10);
        let date = format!("2026-12-{:02}", 1 + i / 10);
        let code = if i % 3 == 0 { "N" } else { "D" };
        ann.send(&rota::protocol::ClientMsg::Edit {
            op_id: i + 2,
            ops: vec![set(&staff, &date, Some(code), 0)],
            note: None,
            force: false,
            more: false,
            part: None,
        })
        .await;
        acked.push((staff, date, code));
        // Keep 16 in flight, then take their acks: every one must be an ack.
        if i % 16 == 15 || i == 199 {
            let pending = if i == 199 { 200 % 16 } else { 16 };
            for _ in 0..pending {
                ack_seq(&ann.answer().await);
            }
        }
    }
    drop(child); // SIGKILL: no shutdown, no flush

    let (child, addr) = spawn_hub_binary(dir.path());
    let url = format!("ws://{addr}/ws");
    let (_, seq, snap) = join_snapshot(&url, "bob", "c-bob").await;
    assert_eq!(seq, 201);
    for (staff, date, code) in &acked {
        let cell = snap
            .cells
            .iter()
            .find(|c| *c.0 == **staff && c.1 == d(date));
        assert_eq!(
            cell.and_then(|c| c.2.as_deref()),
            Some(*code),
            "{staff} {date}"
        );
    }
    assert_eq!(snap.cells.len(), 200);
    drop(child);
}

#[test]
fn a_second_live_hub_on_the_same_dir_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let (first, addr) = spawn_hub_binary(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_rota"))
        .args(["--serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("in use by another rota hub"), "{stderr}");
    assert!(stderr.contains(&addr.to_string()), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "the refused hub must not claim to listen"
    );
    drop(first);
}

#[test]
fn sigterm_stops_the_hub_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, _) = spawn_hub_binary(dir.path());
    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.0.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}

/// The editor with no hub to reach and no copy of the roster says what to
/// do and exits 4, before touching the terminal.
#[test]
fn the_editor_without_a_hub_or_a_copy_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rota"))
        .args(["--server", "ws://127.0.0.1:1", "--user", "ann", "--data"])
        .arg(dir.path())
        .arg("--config")
        .arg(dir.path().join("none.toml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("ws://127.0.0.1:1"), "{err}");
    assert!(err.contains("no copy of roster `default`"), "{err}");
    assert!(err.contains("rota --serve"), "{err}");
    assert!(out.stdout.is_empty(), "the terminal was not touched");
}

/// A bad config file stops the editor before the terminal is touched,
/// naming the file, the line and the key.
#[test]
fn a_bad_config_file_is_named_with_its_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "user = \"ann\"\n\n[keys]\nundo = \"ctrl-\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rota"))
        .arg("--data")
        .arg(dir.path())
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{}:4: `keys.undo`", config.display())),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    assert!(
        !dir.path().join("rota-editor.log").exists(),
        "stopped before anything"
    );
}

/// Without accounts or TLS, the hub will not listen beyond loopback unless
/// told `--insecure`, and says why in one line, before touching the dir.
#[test]
fn a_hub_refuses_to_listen_beyond_loopback_without_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rota"))
        .args(["--serve", "--listen", "0.0.0.0:0", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("refusing to listen on 0.0.0.0:0"), "{err}");
    assert!(err.contains("--insecure"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing touched"
    );
}
