//! Keeps docs/protocol.md and assets/ true: every example decodes, and the
//! example edit applies to a real hub.

use crate::common;

use common::*;
use rota::protocol::{ServerMsg, decode_client};

fn blocks(doc: &str, tag: &str) -> Vec<String> {
    let fence = format!("```json {tag}");
    let mut out = Vec::new();
    let mut rest = doc;
    while let Some(start) = rest.find(&fence) {
        let after = &rest[start + fence.len()..];
        let end = after.find("```").expect("closed block");
        out.push(after[..end].trim().to_string());
        rest = &after[end + 3..];
    }
    out
}

#[test]
fn every_protocol_example_decodes() {
    let doc = std::fs::read_to_string("docs/protocol.md").unwrap();
    let client = blocks(&doc, "client");
    let server = blocks(&doc, "server");
    assert!(
        client.len() >= 6 && server.len() >= 10,
        "{} / {}",
        client.len(),
        server.len()
    );
    for b in client {
        decode_client(&b).unwrap_or_else(|e| panic!("{}: {b}", e.message));
    }
    for b in server {
        serde_json::from_str::<ServerMsg>(&b).unwrap_or_else(|e| panic!("{e}: {b}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_edit_applies_to_a_real_hub() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path()).await;
    let (mut c, _) = Client::join(&hub.url(), "ann", "c-ann", "default", 0).await;
    let text = std::fs::read_to_string("assets/example-edit.json").unwrap();
    c.send_text(&text).await;
    assert_eq!(ack_seq(&c.answer().await), 1);
    hub.stop().await.unwrap();
}

/// The README's example files, applied with the real binary as the README
/// shows, give the roster the README describes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_example_files_apply_with_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path()).await;
    let data = tempfile::tempdir().unwrap();
    let url = hub.url();
    let run = |file: &'static str| {
        let url = url.clone();
        let data = data.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_rota"))
                .args([
                    "--server",
                    &url,
                    "--user",
                    "ann",
                    "--timeout",
                    "10",
                    "--apply",
                    file,
                ])
                .arg("--data")
                .arg(data)
                .output()
                .unwrap()
        })
    };
    for file in ["assets/example-setup.json", "assets/example-rota.csv"] {
        let out = run(file).await.unwrap();
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (_c, _, snap) = join_snapshot(&url, "checker", "c-checker").await;
    let cell = |s: &str, d: &str| {
        snap.cells
            .iter()
            .find(|c| &*c.0 == s && c.1.to_string() == d)
            .and_then(|c| c.2.clone())
    };
    assert_eq!(snap.staff.len(), 3);
    assert!(snap.staff.iter().all(|s| s.group == "Nurses"));
    assert_eq!((snap.codes.len(), snap.rules.len()), (4, 3));
    assert_eq!(cell("ann", "2026-12-03").as_deref(), Some("N"));
    assert_eq!(cell("ann", "2026-12-08").as_deref(), Some("D"));
    assert_eq!(cell("cy", "2026-12-25").as_deref(), Some("AL"));
    assert_eq!(cell("cy", "2026-12-27"), None);
    assert_eq!(
        snap.cells.iter().filter(|c| c.2.is_some()).count(),
        14 + 3 + 3
    );
    hub.stop().await.unwrap();
}

/// Every long flag `rota --help` lists is in the README's flag table.
#[test]
fn every_flag_is_documented_in_the_readme() {
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_rota"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let readme = std::fs::read_to_string("README.md").unwrap();
    let flags: Vec<&str> = help
        .split_whitespace()
        .filter(|w| w.starts_with("--"))
        .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()))
        .collect();
    assert!(flags.len() > 20, "{help}");
    for flag in flags {
        assert!(
            readme.contains(&format!("`{flag}`")) || readme.contains(&format!("`{flag} ")),
            "{flag} is not in README.md's flag table"
        );
    }
}

/// The README's key table and config section name every command of the
/// editor's key map, and each of its default keys.
#[test]
fn every_editor_key_and_command_is_in_the_readme() {
    use rota::tui::action::Command;
    use rota::tui::keymap::Keymap;
    let readme = std::fs::read_to_string("README.md").unwrap();
    let keymap = Keymap::new(&Default::default());
    let config = readme
        .lines()
        .find(|l| l.starts_with("| `[keys]`"))
        .expect("the config table's [keys] row");
    for name in Command::names() {
        assert!(
            config
                .split(|c: char| c.is_whitespace() || c == '`')
                .any(|w| w == name),
            "command {name} is not in the README's [keys] row"
        );
        let cmd = Command::from_name(name).unwrap();
        for key in keymap.keys_of(cmd) {
            let shown = key.to_string();
            assert!(
                readme.contains(&format!("`{shown}`")),
                "{name}: key `{shown}` is not in the README"
            );
        }
    }
}

/// Every test the docs name as a promise's proof (`*hub/editing.rs:
/// an_edit_reaches_the_other_editor*`) is in the file named: a test
/// renamed or moved makes the doc untrue, and this fails.
#[test]
fn every_test_the_docs_name_exists_where_they_say() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut named = 0;
    for doc in [
        "docs/reliability.md",
        "docs/sync.md",
        "docs/performance.md",
        "README.md",
    ] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        for (i, _) in text.match_indices('*') {
            let rest = &text[i + 1..];
            let Some((file, after)) = rest.split_once(".rs: ") else {
                continue;
            };
            if file.is_empty()
                || !file
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '/')
            {
                continue;
            }
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let file = format!("{file}.rs");
            let mut candidates = vec![root.join("tests/all").join(&file)];
            for krate in [
                "core", "db", "tls", "script", "hub", "client", "editor", "testpg",
            ] {
                candidates.push(root.join("crates").join(krate).join("src").join(&file));
            }
            let found = candidates.iter().any(|p| {
                std::fs::read_to_string(p).is_ok_and(|src| src.contains(&format!("fn {name}")))
            });
            assert!(found, "{doc} names {file}: {name}, which is not there");
            named += 1;
        }
    }
    assert!(named > 30, "the docs' references were read: {named}");
}

/// docs/protocol.md names every metric the hub's `/metrics` serves.
#[test]
fn every_metric_is_in_the_protocol_doc() {
    let served = rota::server::Metrics::default().render(Some(1));
    let doc = std::fs::read_to_string("docs/protocol.md").unwrap();
    let names: Vec<&str> = served
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.len() > 15, "{served}");
    for name in names {
        assert!(
            doc.contains(&format!("`{name}`")),
            "{name} is served at /metrics but not named in docs/protocol.md"
        );
    }
}
