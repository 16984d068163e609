//! Keeps docs/protocol.md and assets/ true: every example decodes, and the
//! example edit applies to a real hub.

mod common;

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
