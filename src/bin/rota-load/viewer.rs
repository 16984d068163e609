//! The published scenario's connections: one account's WebSocket (its
//! token on the upgrade, as the real client sends it), its hello and
//! welcome, and a reader that notes, for each `change` it is sent, when
//! its frame was read and what it held: draft cells, or a publication and
//! its cells. Staff must never be sent a draft cell once the roster has
//! published; every frame they get is looked into, not only the one timed.

use crate::editor::{self, Ws};
use rota::domain::{Seq, View};
use rota::protocol::{self, ClientMsg, ServerMsg};
use serde::de::IgnoredAny;
use std::borrow::Cow;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// A wait for the next frame that is never the one that ends it.
const LONG: Duration = Duration::from_secs(3600);

/// Which side of the comparison a connection is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Staff on the roster that publishes: sent the published view.
    Staff,
    /// Editors on the roster that never publishes: sent the draft.
    Editor,
}

/// Connects with `token` (`Authorization: Bearer`), says hello on `roster`
/// as `client` and waits for the welcome; returns the socket and the view
/// the hub says it sends.
pub async fn join(
    url: &str,
    token: &str,
    client: &str,
    roster: &str,
) -> Result<(Ws, View), String> {
    let mut req = url
        .into_client_request()
        .map_err(|e| format!("{client}: {url}: {e}"))?;
    let bearer = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|e| format!("{client}: token: {e}"))?;
    req.headers_mut().insert("authorization", bearer);
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(30),
        tokio_tungstenite::connect_async_with_config(req, Some(editor::ws_config()), true),
    )
    .await
    .map_err(|_| format!("{client}: connect timed out"))?
    .map_err(|e| format!("{client}: connect: {e}"))?;
    let hello = ClientMsg::Hello {
        protocol: protocol::PROTOCOL_VERSION.into(),
        user: client.into(),
        client_id: client.into(),
        token: None,
        roster: roster.into(),
        last_seq: 0,
        view: View::default(),
    };
    editor::send(&mut ws, &hello).await?;
    loop {
        match editor::next_msg(&mut ws, Duration::from_secs(60)).await? {
            ServerMsg::Welcome { view, .. } => return Ok((ws, view)),
            ServerMsg::Error { code, message, .. } => {
                return Err(format!("{client}: hub error {code}: {message}"));
            }
            _ => {}
        }
    }
}

/// What a reader tells the driver as it reads.
pub enum Note {
    /// A `change` was read.
    Arrival(Arrival),
    /// The reader stopped on an error: the driver stops waiting for it.
    Failed(String),
}

/// One `change` read by one connection.
#[derive(Clone, Debug)]
pub struct Arrival {
    pub side: Side,
    pub who: usize,
    pub seq: Seq,
    /// When its frame had been read whole (before it was looked into).
    pub at: Instant,
    /// Its changes of cells (of the draft).
    pub cells: usize,
    /// The cells of the publication it carries, if it carries one.
    pub published: Option<usize>,
}

/// What one connection was sent after its welcome.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    pub frames: usize,
    pub bytes: usize,
    /// Frames holding at least one change of a cell, their bytes, and
    /// those changes.
    pub cell_frames: usize,
    pub cell_bytes: usize,
    pub cells: usize,
    pub failures: Vec<String>,
}

/// A `change` read for what it holds, not for its contents: the kind of
/// each change and a publication's cells counted, nothing copied.
#[derive(serde::Deserialize)]
struct Peek<'a> {
    seq: Seq,
    #[serde(borrow)]
    changes: Vec<PeekChange<'a>>,
}

#[derive(serde::Deserialize)]
struct PeekChange<'a> {
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    publication: Option<PeekPublication>,
}

#[derive(serde::Deserialize)]
struct PeekPublication {
    #[serde(default)]
    cells: Vec<IgnoredAny>,
}

/// Any other message: its type, and an error's words.
#[derive(serde::Deserialize)]
struct Other {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// The `change` messages of a frame (a `batch` taken apart): each one's
/// seq, cells and publication; Err for an error from the hub or a frame
/// that is not JSON.
pub fn changes_in(text: &str) -> Result<Vec<(Seq, usize, Option<usize>)>, String> {
    let mut items = Vec::new();
    if protocol::is_batch_frame(text) {
        let ranges = protocol::split_batch(text).ok_or("a batch frame that could not be split")?;
        for r in ranges {
            items.push(text.get(r).ok_or("batch split inside a character")?);
        }
    } else {
        items.push(text);
    }
    let mut out = Vec::new();
    for item in items {
        // A change as the hub lays it out is read once; anything else is
        // read for its type first (a change laid out otherwise included).
        if !protocol::is_change_frame(item) {
            let other: Other =
                serde_json::from_str(item).map_err(|e| format!("bad message from the hub: {e}"))?;
            match other.kind.as_str() {
                "change" => {}
                "error" => {
                    return Err(format!(
                        "hub error {}: {}",
                        other.code.unwrap_or_default(),
                        other.message.unwrap_or_default()
                    ));
                }
                _ => continue,
            }
        }
        let p: Peek = serde_json::from_str(item).map_err(|e| format!("bad change: {e}"))?;
        let cells = p.changes.iter().filter(|c| c.kind == "cell").count();
        let published = p
            .changes
            .iter()
            .find_map(|c| c.publication.as_ref().map(|p| p.cells.len()));
        out.push((p.seq, cells, published));
    }
    Ok(out)
}

/// Reads everything the hub sends until `stop`, noting each `change` to
/// the driver as it is read.
pub async fn read(
    side: Side,
    who: usize,
    mut ws: Ws,
    notes: mpsc::UnboundedSender<Note>,
    mut stop: watch::Receiver<bool>,
) -> Seen {
    let mut seen = Seen::default();
    loop {
        let text = tokio::select! {
            t = editor::next_text(&mut ws, LONG) => t,
            r = stop.changed() => if r.is_err() || *stop.borrow() { break } else { continue },
        };
        let at = Instant::now();
        let noted = text.and_then(|t| {
            seen.frames += 1;
            seen.bytes += t.len();
            let changes = changes_in(&t)?;
            let cells: usize = changes.iter().map(|c| c.1).sum();
            if cells > 0 {
                seen.cell_frames += 1;
                seen.cell_bytes += t.len();
                seen.cells += cells;
            }
            for (seq, cells, published) in changes {
                let a = Arrival {
                    side,
                    who,
                    seq,
                    at,
                    cells,
                    published,
                };
                let _ = notes.send(Note::Arrival(a));
            }
            Ok(())
        });
        if let Err(e) = noted {
            let e = format!("{side:?} {who}: {e}");
            seen.failures.push(e.clone());
            let _ = notes.send(Note::Failed(e));
            return seen;
        }
    }
    let _ = futures_util::SinkExt::close(&mut ws).await;
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use rota::domain::{Change, Date, Publication};
    use rota::protocol::ChangeSet;

    fn frame(seq: Seq, changes: Vec<Change>) -> String {
        protocol::encode(&ServerMsg::Change(ChangeSet {
            seq,
            user: "u".into(),
            client: "c".into(),
            op_id: 1,
            at: 0,
            note: None,
            changes,
        }))
    }

    #[test]
    fn cells_and_publications_are_told_apart_in_frames_and_batches() {
        let date = Date(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        let cell = |s: &str| Change::Cell {
            staff: s.into(),
            date,
            code: Some("D".into()),
        };
        let publication = Change::Publication {
            publication: Publication {
                number: 2,
                from: date,
                to: date,
                note: String::new(),
                by: "admin".into(),
                at: 0,
                cells: vec![
                    ("s1".into(), date, "D".into()),
                    ("s2".into(), date, "N".into()),
                ],
                seq: 5,
            },
        };
        let draft = frame(4, vec![cell("s1"), cell("s2"), cell("s3")]);
        let published = frame(5, vec![publication]);
        assert_eq!(changes_in(&draft).unwrap(), vec![(4, 3, None)]);
        assert_eq!(changes_in(&published).unwrap(), vec![(5, 0, Some(2))]);
        let both = protocol::join_frames([draft, published].iter()).unwrap();
        assert_eq!(
            changes_in(&both).unwrap(),
            vec![(4, 3, None), (5, 0, Some(2))]
        );
        let ack = r#"{"type":"ack","op_id":3,"seq":5,"at":0}"#;
        assert!(changes_in(ack).unwrap().is_empty());
        let err = r#"{"type":"error","code":"busy","message":"m"}"#;
        assert!(changes_in(err).unwrap_err().contains("busy"));
    }
}
