//! Issue 22: each person's published shifts as an iCalendar feed, served by
//! the real hub at a secret address made with the binary's
//! `--calendar-url`, fetched over HTTP and HTTPS and parsed by a real
//! iCalendar library (Python's icalendar), before and after a
//! publication; 304 on a repeat request; 404 at once after revocation.

use crate::common::*;
use rota::domain::{Op, ShiftCode};
use std::path::Path;

/// Fetches `url` with Python (trusting `ca` for https), sending
/// `If-None-Match: etag` when given. Returns (status, etag, events as
/// `UID|SUMMARY|start|end`).
fn fetch(url: &str, etag: Option<&str>, ca: Option<&Path>) -> (u16, String, Vec<String>) {
    let script = r#"
import sys, ssl, urllib.request, urllib.error, icalendar
url, etag, ca = sys.argv[1], sys.argv[2], sys.argv[3]
req = urllib.request.Request(url)
if etag:
    req.add_header('If-None-Match', etag)
ctx = ssl.create_default_context(cafile=ca) if ca else None
try:
    r = urllib.request.urlopen(req, context=ctx, timeout=20)
    status, body, tag = r.status, r.read(), r.headers.get('ETag', '')
except urllib.error.HTTPError as e:
    status, body, tag = e.code, b'', e.headers.get('ETag', '')
print(status)
print(tag)
if status == 200:
    cal = icalendar.Calendar.from_ical(body)
    for ev in cal.walk('VEVENT'):
        print('|'.join([str(ev['UID']), str(ev['SUMMARY']),
                        ev['DTSTART'].dt.isoformat(), ev['DTEND'].dt.isoformat()]))
"#;
    let out = crate::apply::python_with_icalendar()
        .arg("-c")
        .arg(script)
        .arg(url)
        .arg(etag.unwrap_or(""))
        .arg(
            ca.map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
        )
        .output()
        .expect("python3 is needed for the calendar test");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let status = lines.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let tag = lines.next().unwrap_or("").to_string();
    (status, tag, lines.map(String::from).collect())
}

/// The binary's account flags on `dir` (a running hub's data dir).
fn rota_serve(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rota"))
        .arg("--serve")
        .arg("--data")
        .arg(dir)
        .args(args)
        .env("ROTA_CONFIG", "/nonexistent/rota-test-config.toml")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn set_up(url: &str) -> Client {
    let (mut c, _) = Client::join(url, "ada", "c-ada", "default", 0).await;
    let mut e = ShiftCode::new("E", 8.0, true);
    e.label = "Early".into();
    e.start = Some("07:00".into());
    e.end = Some("15:00".into());
    let mut al = ShiftCode::new("AL", 0.0, false);
    al.label = "Leave".into();
    let ops = vec![
        Op::SetTimeZone {
            zone: Some("Europe/London".into()),
        },
        Op::PutCode {
            code: e,
            base: None,
        },
        Op::PutCode {
            code: al,
            base: None,
        },
        Op::AddStaff {
            id: "ann".into(),
            name: "Ann Lee".into(),
            group: String::new(),
            order: None,
        },
        set("ann", "2027-01-04", Some("E"), 0),
        set("ann", "2027-01-05", Some("AL"), 0),
        Op::Publish {
            from: d("2027-01-01"),
            to: d("2027-01-31"),
            note: "January".into(),
        },
    ];
    ack_seq(&c.edit(1, ops).await);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persons_calendar_feed_follows_publications_and_closes_when_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path()).await;
    let mut c = set_up(&hub.url()).await;
    let data = dir.path().to_path_buf();
    let (code, url, err) = tokio::task::spawn_blocking(move || {
        rota_serve(&data, &["--calendar-url", "ann", "--roster", "default"])
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    let url = url.trim().to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with(".ics"),
        "{url}"
    );

    let get = |etag: Option<String>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || fetch(&url, etag.as_deref(), None))
    };
    let (status, etag, events) = get(None).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        events,
        [
            // 07:00 in London in January is 07:00 UTC.
            "default-ann-20270104@rota|E Early|2027-01-04T07:00:00+00:00|2027-01-04T15:00:00+00:00",
            "default-ann-20270105@rota|AL Leave|2027-01-05|2027-01-06",
        ]
    );
    assert_eq!(
        get(Some(etag.clone())).await.unwrap().0,
        304,
        "a repeat request"
    );
    // A weak validator matches as well; HEAD has the head alone.
    assert_eq!(get(Some(format!("W/{etag}"))).await.unwrap().0, 304);
    let head_url = url.clone();
    let head = tokio::task::spawn_blocking(move || {
        let script = "import sys, urllib.request as u\n\
            r = u.urlopen(u.Request(sys.argv[1], method='HEAD'), timeout=20)\n\
            print(r.status, r.headers.get('ETag'), len(r.read()))";
        let out = std::process::Command::new("python3")
            .args(["-c", script, &head_url])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    })
    .await
    .unwrap();
    assert_eq!(head, format!("200 {etag} 0"));
    // Published again unchanged: the same feed, 304.
    let again = Op::Publish {
        from: d("2027-01-04"),
        to: d("2027-01-05"),
        note: String::new(),
    };
    ack_seq(&c.edit(9, vec![again]).await);
    assert_eq!(
        get(Some(etag.clone())).await.unwrap().0,
        304,
        "nothing of ann's changed"
    );

    // A draft change is not in the feed until it is published.
    ack_seq(
        &c.edit(2, vec![set("ann", "2027-01-04", Some("AL"), 0)])
            .await,
    );
    assert_eq!(
        get(Some(etag.clone())).await.unwrap().0,
        304,
        "the draft moved, not the feed"
    );
    let publish = Op::Publish {
        from: d("2027-01-04"),
        to: d("2027-01-04"),
        note: String::new(),
    };
    ack_seq(&c.edit(3, vec![publish]).await);
    let (status, etag2, events) = get(Some(etag.clone())).await.unwrap();
    assert_eq!(status, 200);
    assert_ne!(etag2, etag);
    // The same UID: a phone updates the event rather than adding one.
    assert_eq!(
        events[0],
        "default-ann-20270104@rota|AL Leave|2027-01-04|2027-01-05"
    );

    // Revoked: 404 as soon as the flag returns; another address: 404 too.
    let id = url
        .rsplit('/')
        .next()
        .and_then(|k| k.split('_').next())
        .unwrap()
        .to_string();
    let data = dir.path().to_path_buf();
    let (code, _, err) =
        tokio::task::spawn_blocking(move || rota_serve(&data, &["--revoke-token", &id]))
            .await
            .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("revoked the calendar feed of ann"), "{err}");
    assert_eq!(get(None).await.unwrap().0, 404);
    let made_up = format!(
        "{}/calendar/{}_{}.ics",
        hub.url()
            .replace("ws://", "http://")
            .trim_end_matches("/ws"),
        "0".repeat(16),
        "0".repeat(64)
    );
    let (status, _, _) = tokio::task::spawn_blocking(move || fetch(&made_up, None, None))
        .await
        .unwrap();
    assert_eq!(status, 404);
    hub.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calendar_feed_is_served_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    // The roster, set up on the data dir over plain ws://, then served
    // with TLS.
    let plain = Hub::start(&data).await;
    let _ = set_up(&plain.url()).await;
    plain.stop().await.unwrap();
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = dir.path().join("hub.crt");
    let key = dir.path().join("hub.key");
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let mut config = rota::server::Config::new(data.clone());
    config.tls = Some(rota::tls::server_config(&cert, &key).unwrap());
    let hub = Hub::start_with(config).await;
    let (c, k, d) = (cert.clone(), key.clone(), data.clone());
    let (code, url, err) = tokio::task::spawn_blocking(move || {
        let (c, k) = (
            c.to_string_lossy().into_owned(),
            k.to_string_lossy().into_owned(),
        );
        rota_serve(
            &d,
            &[
                "--calendar-url",
                "ann",
                "--roster",
                "default",
                "--tls-cert",
                &c,
                "--tls-key",
                &k,
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    let url = url.trim().replace("127.0.0.1", "localhost");
    assert!(url.starts_with("https://localhost:"), "{url}");
    let (status, _, events) = tokio::task::spawn_blocking(move || fetch(&url, None, Some(&cert)))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events[0].starts_with("default-ann-20270104@rota|E Early"),
        "{events:?}"
    );
    hub.stop().await.unwrap();
}
