//! The real `rota` binary: durability across kill -9, and one hub per dir.

use crate::common;

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

/// The real binary against a hub: `args` with `--server`, its own data
/// dir and no config file.
fn rota_on(url: &str, data: &std::path::Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rota"));
    c.args(args)
        .args(["--server", url, "--user", "script", "--data"])
        .arg(data)
        .arg("--config")
        .arg(data.join("none.toml"))
        .env_remove("ROTA_TOKEN")
        .env_remove("ROTA_SERVER");
    c
}

/// A roster name the hub does not know is an error in every mode but the
/// one that creates rosters (`--apply`), naming the rosters there are: a
/// typo is never taken for an empty roster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roster_the_hub_does_not_have_is_an_error_listing_those_it_has() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    seed(&hub.url(), 2).await;
    let url = hub.url();
    let data = dir.path().join("client");
    for args in [
        vec!["--check", "--roster", "nonexistent"],
        vec!["--export", "txt", "--roster", "nonexistent"],
        vec!["--sync", "--roster", "nonexistent"],
    ] {
        let (url, data, a) = (url.clone(), data.clone(), args.clone());
        let out = tokio::task::spawn_blocking(move || rota_on(&url, &data, &a).output())
            .await
            .unwrap()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("the hub has no roster `nonexistent`. Rosters there: default."),
            "{args:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // The one that exists is found as before.
    let (url2, data2) = (url.clone(), data.clone());
    let out = tokio::task::spawn_blocking(move || rota_on(&url2, &data2, &["--check"]).output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A reader that goes away (`rota --check --json | head`) ends the
/// output quietly: no panic, no "Broken pipe", the status of the check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_standard_output_ends_the_output_quietly() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    // Two years planned and nobody on: a finding a day, far more output
    // than a pipe holds.
    let mut ops = setup_ops(2);
    ops[0] = rota::domain::Op::SetPeriod {
        from: d("2026-01-01"),
        to: d("2027-12-31"),
    };
    ops.push(staffing("cover", "D", 1, None));
    let (mut c, _) = Client::join(&hub.url(), "admin", "c-admin", "default", 0).await;
    assert!(ack_seq(&c.edit(1, ops).await) > 0);
    let data = dir.path().join("client");
    for args in [
        vec!["--check", "--json"],
        vec!["--check"],
        vec!["--export", "json"],
        vec!["--export", "txt", "--warnings"],
    ] {
        let (url, data, a) = (hub.url(), data.clone(), args.clone());
        let out = tokio::task::spawn_blocking(move || {
            let mut child = rota_on(&url, &data, &a)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("rota starts");
            let stdout = child.stdout.take().expect("its output");
            let mut first = String::new();
            std::io::BufReader::new(stdout)
                .read_line(&mut first)
                .expect("a first line");
            // The reader goes away here (`head -1`).
            (first, child.wait_with_output().expect("rota ends"))
        })
        .await
        .unwrap();
        let (first, out) = out;
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!first.is_empty(), "{args:?}");
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
        let want = if args[0] == "--check" { 1 } else { 0 };
        assert_eq!(out.status.code(), Some(want), "{args:?}: {err}");
    }
}

/// The scripts work on the demo with `--demo` (its own data dir and
/// roster, made when it is not there yet), as the editor does: a new user
/// trying `--demo --check` was refused by the flags.
#[test]
fn the_scripts_take_the_demo_as_the_editor_does() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rota"))
            .args(args)
            .args(["--demo", "--user", "ann", "--data"])
            .arg(dir.path())
            .arg("--config")
            .arg(dir.path().join("none.toml"))
            .env_remove("ROTA_SERVER")
            .output()
            .unwrap()
    };
    let out = run(&["--check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    // The demo is made with warnings to find.
    assert_eq!(out.status.code(), Some(1), "{text}{err}");
    assert!(text.contains("findings"), "{text}");
    assert!(dir.path().join("demo").is_dir(), "its own data dir");
    let out = run(&["--export", "csv"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.lines().count() > 100, "{text}");
    // Written by "demo", not by whoever came first.
    let db = rusqlite::Connection::open(store_of(&dir.path().join("demo"), "demo")).unwrap();
    let users: Vec<String> = db
        .prepare("SELECT DISTINCT user FROM batches")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(users, ["demo"]);
}
