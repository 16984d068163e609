//! Issue 24, backups of the embedded store: taken while 20 editors write
//! to a real hub, restored into a new data dir that a hub then serves,
//! with every edit acknowledged before the backup began; a damaged backup
//! and a running hub are refused, naming why, with nothing replaced.

use crate::common::*;
use rota::protocol::ServerMsg;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Mutex;

/// Every (staff, date, code) a writer had acknowledged, in order.
type Acked = Arc<Mutex<Vec<CellRow>>>;

/// One editor writing its own row, a new date each edit, until `stop`.
async fn writer(url: String, i: usize, acked: Acked, stop: Arc<AtomicBool>) {
    let staff = format!("s{i}");
    let (mut c, _) = Client::join(&url, &format!("w{i}"), &format!("c-w{i}"), "default", 0).await;
    for k in 0u64.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let day = d("2026-01-01").add_days(k as i64);
        let code = if k % 2 == 0 { "D" } else { "N" };
        let answer = c
            .edit(k + 1, vec![set(&staff, &day.to_string(), Some(code), 0)])
            .await;
        assert!(matches!(answer, ServerMsg::Ack { .. }), "{answer:?}");
        acked
            .lock()
            .await
            .push((staff.clone(), day, Some(code.into())));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_every_edit_acknowledged_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let hub = Hub::start(&data).await;
    let (mut admin, _) = Client::join(&hub.url(), "admin", "c-admin", "default", 0).await;
    ack_seq(&admin.edit(1, setup_ops(20)).await);
    let acked: Acked = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (1..=20)
        .map(|i| tokio::spawn(writer(hub.url(), i, acked.clone(), stop.clone())))
        .collect();
    // Under way: a few hundred edits acknowledged.
    let deadline = tokio::time::Instant::now() + WAIT;
    while acked.lock().await.len() < 400 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the writers stalled"
        );
        tokio::task::yield_now().await;
    }
    let before: Vec<CellRow> = acked.lock().await.clone();
    let to = dir.path().join("backup");
    let (from, into) = (data.clone(), to.clone());
    let manifest = tokio::task::spawn_blocking(move || rota::backup::backup(&from, &into))
        .await
        .unwrap()
        .expect("the backup");
    // The writers went on meanwhile.
    let during = acked.lock().await.len();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    assert!(
        manifest
            .files
            .iter()
            .any(|f| f.rosters.iter().any(|(r, _)| r == "default")),
        "{manifest:?}"
    );
    hub.stop().await.unwrap();

    // Restored into a new dir, served by a new hub.
    let restored = dir.path().join("restored");
    let r = rota::backup::restore(&to, &restored).expect("the restore");
    assert!(r.kept.is_none(), "nothing was there to keep");
    let hub = Hub::start(&restored).await;
    let (seq, cells) = hub_cells(&hub.url()).await;
    let held: std::collections::HashSet<&CellRow> = cells.iter().collect();
    let missing: Vec<&CellRow> = before.iter().filter(|c| !held.contains(c)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} edits acknowledged before the backup are not in it (the first: {:?}); {} acked by its end, seq {seq}",
        missing.len(),
        before.len(),
        missing.first(),
        during
    );
    hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_backup_or_a_running_hub_is_refused_and_nothing_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let hub = Hub::start(&data).await;
    let (mut admin, _) = Client::join(&hub.url(), "admin", "c-admin", "default", 0).await;
    ack_seq(&admin.edit(1, setup_ops(2)).await);
    ack_seq(
        &admin
            .edit(2, vec![set("s1", "2026-01-05", Some("D"), 0)])
            .await,
    );
    let to = dir.path().join("backup");
    rota::backup::backup(&data, &to).expect("a backup while it runs");
    // Into a dir that exists and is not empty: refused.
    let again = rota::backup::backup(&data, &to).unwrap_err();
    assert!(again.contains("not empty"), "{again}");
    // Onto the running hub's dir: refused, naming the hub.
    let busy = rota::backup::restore(&to, &data).unwrap_err();
    assert!(busy.contains("a hub is running"), "{busy}");
    hub.stop().await.unwrap();
    // A backup file changed after it was taken: refused, naming it.
    let store = to.join(rota::server::STORE_FILE);
    let mut bytes = std::fs::read(&store).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x5a;
    std::fs::write(&store, &bytes).unwrap();
    let before = std::fs::read(data.join(rota::server::STORE_FILE)).unwrap();
    let damaged = rota::backup::restore(&to, &data).unwrap_err();
    assert!(
        damaged.contains(rota::server::STORE_FILE) && damaged.contains("SHA-256"),
        "{damaged}"
    );
    assert_eq!(
        std::fs::read(data.join(rota::server::STORE_FILE)).unwrap(),
        before,
        "nothing replaced"
    );
    // Put right, it restores over the old files, keeping them aside.
    bytes[at] ^= 0x5a;
    std::fs::write(&store, &bytes).unwrap();
    let r = rota::backup::restore(&to, &data).expect("restores");
    let kept = r.kept.expect("the old files kept");
    assert!(kept.join(rota::server::STORE_FILE).exists());
    let hub = Hub::start(&data).await;
    let (_, cells) = hub_cells(&hub.url()).await;
    assert!(cells.contains(&("s1".into(), d("2026-01-05"), Some("D".into()))));
    hub.stop().await.unwrap();
}

/// The backups (`rota-backup-*`) in `dir`, oldest first.
fn backups_in(dir: &std::path::Path) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.starts_with("rota-backup-"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The path of the hub's next backup, as its log says it (by `deadline`).
async fn next_backup(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    deadline: tokio::time::Instant,
    backups: &std::path::Path,
) -> String {
    tokio::time::timeout_at(deadline, rx.recv())
        .await
        .unwrap_or_else(|_| panic!("backups seen: {:?}", backups_in(backups)))
        .expect("the hub's log")
}

/// The real binary's hub takes a backup every second into --backup-dir,
/// each with its manifest naming the roster, and keeps the last two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_backs_up_on_its_schedule_and_keeps_the_last_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (data, backups) = (dir.path().join("hub"), dir.path().join("backups"));
    let args: Vec<std::ffi::OsString> = vec![
        "--serve".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--data".into(),
        data.clone().into(),
        "--backup-dir".into(),
        backups.clone().into(),
        "--backup-every".into(),
        "1s".into(),
        "--backup-keep".into(),
        "2".into(),
    ];
    // The hub logs each backup (`backup into PATH (N files)`) on stderr,
    // after pruning: those lines are the events waited for.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rota"))
        .args(&args)
        .args(["--log-level", "info"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let _hub = ChildGuard(child);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    let (tx, mut backed_up) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for l in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            if let Some(rest) = l.split("backup into ").nth(1)
                && let Some((path, _)) = rest.split_once(" (")
                && tx.send(path.to_string()).is_err()
            {
                return;
            }
        }
    });
    let url = format!("ws://{}/ws", listening_at(&line));
    let (mut admin, _) = Client::join(&url, "admin", "c-admin", "default", 0).await;
    ack_seq(&admin.edit(1, setup_ops(2)).await);
    // The first backup that holds the roster, then two more: it is pruned,
    // and the last two are kept.
    let deadline = tokio::time::Instant::now() + WAIT;
    let first = loop {
        let path = std::path::PathBuf::from(next_backup(&mut backed_up, deadline, &backups).await);
        let manifest = std::fs::read_to_string(path.join(rota::backup::MANIFEST)).unwrap();
        if manifest.contains("\"default\"") {
            break path;
        }
    };
    let (second, third) = (
        next_backup(&mut backed_up, deadline, &backups).await,
        next_backup(&mut backed_up, deadline, &backups).await,
    );
    let kept: Vec<std::path::PathBuf> = backups_in(&backups)
        .iter()
        .map(|b| backups.join(b))
        .collect();
    assert!(!kept.contains(&first), "the oldest pruned: {kept:?}");
    assert_eq!(
        kept,
        vec![
            std::path::PathBuf::from(second),
            std::path::PathBuf::from(third)
        ],
        "the last two kept"
    );
}
