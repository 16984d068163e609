//! wss:// with a certificate made in the test: the hub serves TLS, engines
//! and scripts check its certificate against `--ca`, and a client that does
//! not trust it (or speaks plain ws://) gets nowhere. With accounts and TLS
//! the hub listens beyond loopback without `--insecure`.

use crate::common;

use common::*;
use rota::accounts::{AccountsFile, Grant};
use rota::server::Config;
use rota::sync::{ConnState, HubAddr, SyncEngine};
use std::path::{Path, PathBuf};

/// A self-signed certificate for localhost and 127.0.0.1: (cert, key) files.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = dir.join("hub.crt");
    let key = dir.join("hub.key");
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

async fn tls_hub(dir: &Path) -> (Hub, PathBuf) {
    let (cert, key) = certificate(dir);
    let mut config = Config::new(dir.join("hub"));
    config.tls = Some(rota::tls::server_config(&cert, &key).unwrap());
    (Hub::start_with(config).await, cert)
}

fn wss(hub: &Hub) -> String {
    format!("wss://localhost:{}/ws", hub.addr.port())
}

fn engine(url: &str, data: &Path, ca: Option<&Path>) -> SyncEngine {
    let mut c = engine_config(url, "ann", data);
    c.hub = HubAddr::parse_server(url).unwrap();
    c.ca = ca.map(Path::to_path_buf);
    SyncEngine::start(c).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engines_sync_over_wss_and_an_untrusted_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, cert) = tls_hub(dir.path()).await;
    let ann = engine(&wss(&hub), &dir.path().join("ann"), Some(&cert));
    let bob = engine(&wss(&hub), &dir.path().join("bob"), Some(&cert));
    wait_connected(&ann).await;
    wait_connected(&bob).await;
    ann.edit(setup_ops(2)).unwrap();
    let st = wait_status(&ann, "saved", |s| s.pending == 0).await;
    ann.edit(vec![set("s1", "2026-12-01", Some("N"), st.seq)])
        .unwrap();
    let st = wait_status(&ann, "saved", |s| s.pending == 0).await;
    wait_synced(&bob, st.seq).await;
    assert_eq!(view_cells(&bob), view_cells(&ann));
    assert_eq!(view_cells(&bob).len(), 1);

    // Not trusting the hub's certificate (system roots only): refused,
    // with the reason, and not tried again and again.
    let eve = engine(&wss(&hub), &dir.path().join("eve"), None);
    let st = wait_status(&eve, "refused", |s| {
        matches!(s.conn, ConnState::Refused { .. })
    })
    .await;
    let ConnState::Refused { reason } = st.conn else {
        unreachable!()
    };
    assert!(
        reason.contains("TLS") || reason.contains("--ca"),
        "{reason}"
    );

    // Plain ws:// to the TLS port: no upgrade.
    let plain = format!("ws://127.0.0.1:{}/ws", hub.addr.port());
    assert!(Client::raw_as(&plain, None).await.is_err());
    for e in [ann, bob, eve] {
        e.shutdown();
    }
}

/// The real binary: `--tls-cert`/`--tls-key` serve wss://, and with a user
/// too it listens beyond loopback without `--insecure`; `--apply` reaches
/// it with `--ca` and a token. Without either, it says which is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_wss_and_needs_accounts_and_tls_beyond_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let data = dir.path().join("hub");
    let run = |args: Vec<String>| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rota"))
            .args(&args)
            .env_remove("ROTA_TOKEN")
            .env("ROTA_CONFIG", "/nonexistent/rota-test-config.toml")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let serve = |extra: &[&str]| {
        let mut a: Vec<String> = ["--serve", "--data"].map(String::from).to_vec();
        a.push(s(&data));
        a.extend(extra.iter().map(|x| x.to_string()));
        a
    };
    let tls_flags = [
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];

    // Beyond loopback: TLS without accounts, then accounts without TLS.
    let mut args = serve(&["--listen", "0.0.0.0:0"]);
    args.extend(tls_flags.iter().map(|x| x.to_string()));
    let (status, _, err) = run(args.clone());
    assert_eq!(status, 2, "{err}");
    assert!(err.contains("it has no accounts"), "{err}");
    let mut file = AccountsFile::open_in(&data).unwrap();
    let token = file.add_user("olga", Grant::Owner).unwrap();
    let (status, _, err) = run(serve(&["--listen", "0.0.0.0:0"]));
    assert_eq!(status, 2, "{err}");
    assert!(err.contains("it has no TLS"), "{err}");
    // A key that is not a key.
    let (status, _, err) = run(serve(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        cert.to_str().unwrap(),
    ]));
    assert_eq!(status, 2, "{err}");
    assert!(
        err.contains("hub.crt") && err.contains("no private key"),
        "{err}"
    );

    // Both: it listens on every address; we talk to it on 127.0.0.1.
    let (_guard, line) = spawn_rota_line(args.iter().map(Into::into));
    assert!(line.contains("wss://0.0.0.0:"), "{line}");
    let port = line
        .split("0.0.0.0:")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_string();
    let url = format!("wss://localhost:{port}");
    let csv = dir.path().join("setup.json");
    std::fs::write(
        &csv,
        r#"[
  {"op": "put_code", "code": {"code": "D", "hours": 8}},
  {"op": "add_staff", "id": "s1", "name": "Ann"},
  {"op": "set_cell", "staff": "s1", "date": "2026-12-01", "code": "D"}
]"#,
    )
    .unwrap();
    let apply = |ca: Option<&Path>| {
        let mut a = vec![
            "--apply".to_string(),
            s(&csv),
            "--server".into(),
            url.clone(),
            "--token".into(),
            token.clone(),
            "--data".into(),
            s(&dir.path().join("client")),
            "--timeout".into(),
            "10".into(),
        ];
        if let Some(ca) = ca {
            a.extend(["--ca".to_string(), s(ca)]);
        }
        a
    };
    let (status, out, err) = tokio::task::spawn_blocking({
        let a = apply(Some(&cert));
        move || run(a)
    })
    .await
    .unwrap();
    assert_eq!(status, 0, "{out}{err}");
    // Without --ca the hub's certificate is not trusted: a clear refusal.
    let (status, out, err) = tokio::task::spawn_blocking({
        let a = apply(None);
        move || run(a)
    })
    .await
    .unwrap();
    assert_eq!(status, 6, "{out}{err}");
    assert!(err.contains("TLS") && err.contains("--ca"), "{err}");
}
