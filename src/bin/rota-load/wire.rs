//! The fairness scenario's wire: connections opened the way its attacks and
//! honest editors need (a small receive buffer for sockets never read, the
//! real client's message limits for editors that must take 250,000-cell
//! changes), edits encoded once and sent under any op id (in parts or
//! whole, finished or held open), and the answer to one edit or request
//! picked out of the hub's frames without decoding the changes around it.

use crate::editor::{self, Ws};
use futures_util::SinkExt;
use rota::domain::{Date, Op, Seq, ShiftCode};
use rota::protocol::{self, ClientMsg, MAX_MESSAGE_BYTES, MAX_OPS_PER_BATCH, ServerMsg};
use std::time::Duration;
use tokio::net::TcpSocket;
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Days of the grid the rosters' cells are taken from: staff `a1..aN` by
/// 1,000 days from 2026-01-01 (250 staff hold a 250,000-operation edit).
pub const GRID_DAYS: usize = 1000;
/// Attack staff on both rosters.
pub const GRID_STAFF: usize = 250;
/// A part's most bytes: under the hub's 1 MiB message limit with room to
/// spare.
pub const PART_BYTES: usize = 900_000;

/// The date `day` days after the grid's first.
pub fn day(day: usize) -> Date {
    let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
    Date(start + chrono::Days::new(day as u64))
}

/// Cell `i` of the attack grid, set to `code`.
pub fn grid_op(i: usize, code: &str) -> Op {
    Op::SetCell {
        staff: format!("a{}", i / GRID_DAYS % GRID_STAFF + 1),
        date: day(i % GRID_DAYS),
        code: Some(code.into()),
        base: 0,
    }
}

/// How a connection is opened.
#[derive(Clone, Copy)]
pub enum Style {
    /// As the real client: tungstenite's defaults (64 MiB messages).
    Client,
    /// A socket the attacker never reads: small buffers both sides of
    /// the WebSocket and SO_RCVBUF set before connecting.
    NeverRead,
    /// A socket the attacker floods the hub through: as the real client,
    /// with a small SO_SNDBUF. What a flooder buffers of its own flood is
    /// its own machine's work; on loopback, autotuned, it filled 4 MiB per
    /// socket, and the 2 cores the hub and the honest editors share spent
    /// 1.4 of them writing it.
    Flooder,
}

/// Opens a WebSocket to `url` (the hub at `addr`, `host:port`).
pub async fn open(url: &str, addr: &str, style: Style) -> Result<Ws, String> {
    let to = tokio::net::lookup_host(addr)
        .await
        .map_err(|e| format!("{addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))?;
    let socket = if to.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| format!("socket: {e}"))?;
    let config = match style {
        Style::Client => WebSocketConfig::default(),
        Style::Flooder => {
            socket
                .set_send_buffer_size(16 * 1024)
                .map_err(|e| format!("SO_SNDBUF: {e}"))?;
            WebSocketConfig::default()
        }
        Style::NeverRead => {
            socket
                .set_recv_buffer_size(4096)
                .map_err(|e| format!("SO_RCVBUF: {e}"))?;
            editor::ws_config()
        }
    };
    let stream = tokio::time::timeout(Duration::from_secs(30), socket.connect(to))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(30),
        tokio_tungstenite::client_async_with_config(
            url,
            MaybeTlsStream::Plain(stream),
            Some(config),
        ),
    )
    .await
    .map_err(|_| "WebSocket handshake timed out".to_string())?
    .map_err(|e| format!("WebSocket handshake: {e}"))?;
    Ok(ws)
}

/// Says hello on `roster` as `client`.
pub async fn hello(ws: &mut Ws, client: &str, roster: &str) -> Result<(), String> {
    let msg = ClientMsg::Hello {
        protocol: protocol::PROTOCOL_VERSION.into(),
        user: format!("load-{client}"),
        client_id: client.into(),
        token: None,
        roster: roster.into(),
        last_seq: 0,
        view: Default::default(),
    };
    editor::send(ws, &msg).await
}

/// Opens, says hello and waits for the welcome; returns the roster's seq.
pub async fn join(
    url: &str,
    addr: &str,
    client: &str,
    roster: &str,
    style: Style,
) -> Result<(Ws, Seq), String> {
    let mut ws = open(url, addr, style).await?;
    hello(&mut ws, client, roster).await?;
    loop {
        match editor::next_msg(&mut ws, Duration::from_secs(60)).await? {
            ServerMsg::Welcome { seq, .. } => return Ok((ws, seq)),
            ServerMsg::Error { code, message, .. } => {
                return Err(format!("{client}: hub error {code}: {message}"));
            }
            _ => {}
        }
    }
}

/// An edit's operations encoded once, cut into parts that each stay under
/// the hub's limits: sent again and again under new op ids without
/// encoding them again.
pub struct Encoded {
    /// Each part's operations, comma-separated JSON.
    parts: Vec<String>,
    pub ops: usize,
}

impl Encoded {
    /// `ops` in parts of at most `part_bytes` bytes and 10,000 operations.
    pub fn new(ops: &[Op], part_bytes: usize) -> Encoded {
        let mut parts = Vec::new();
        let (mut part, mut n) = (String::new(), 0);
        for op in ops {
            let json = serde_json::to_string(op).unwrap_or_default();
            if n > 0 && (n >= MAX_OPS_PER_BATCH || part.len() + json.len() + 128 > part_bytes) {
                parts.push(std::mem::take(&mut part));
                n = 0;
            }
            if n > 0 {
                part.push(',');
            }
            part.push_str(&json);
            n += 1;
        }
        parts.push(part);
        Encoded {
            parts,
            ops: ops.len(),
        }
    }

    /// The frames of the edit `op_id`, as the protocol's own encoder lays
    /// them out. `open`: every part says `more` (the edit never ends).
    /// One part and not open: a whole edit, without `part`.
    pub fn frames(&self, op_id: u64, open: bool) -> Vec<String> {
        let last = self.parts.len() - 1;
        let numbered = open || last > 0;
        self.parts
            .iter()
            .enumerate()
            .map(|(i, ops)| {
                let mut f = String::with_capacity(ops.len() + 80);
                f.push_str(&format!(r#"{{"type":"edit","op_id":{op_id},"ops":["#));
                f.push_str(ops);
                f.push(']');
                if open || i < last {
                    f.push_str(r#","more":true"#);
                }
                if numbered {
                    f.push_str(&format!(r#","part":{i}"#));
                }
                f.push('}');
                f
            })
            .collect()
    }
}

/// Sends frames; returns their bytes.
pub async fn send_frames(ws: &mut Ws, frames: Vec<String>) -> Result<u64, String> {
    let mut bytes = 0;
    for f in frames {
        debug_assert!(f.len() < MAX_MESSAGE_BYTES);
        bytes += f.len() as u64;
        ws.send(Message::Text(f.into()))
            .await
            .map_err(|e| format!("send: {e}"))?;
    }
    Ok(bytes)
}

/// A hub message's head: what says which edit or request it answers.
#[derive(serde::Deserialize, Debug, Default)]
pub struct Head {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub op_id: Option<u64>,
    #[serde(default)]
    pub req: Option<u64>,
    /// An ack's seq.
    #[serde(default)]
    pub seq: Option<Seq>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

impl Head {
    /// The hub refused the edit or request it names.
    pub fn refusal(&self) -> Option<(String, String)> {
        matches!(self.kind.as_str(), "rejected" | "error").then(|| {
            (
                self.code.clone().unwrap_or_default(),
                self.message.clone().unwrap_or_default(),
            )
        })
    }
}

/// The heads of a frame's messages (a `batch` taken apart), others'
/// changes left out unread.
pub fn heads(text: &str) -> Result<Vec<Head>, String> {
    let one = |item: &str| -> Result<Option<Head>, String> {
        if protocol::is_change_frame(item) {
            return Ok(None);
        }
        serde_json::from_str(item)
            .map(Some)
            .map_err(|e| format!("bad message from the hub: {e}"))
    };
    if !protocol::is_batch_frame(text) {
        return Ok(one(text)?.into_iter().collect());
    }
    let Some(items) = protocol::split_batch(text) else {
        return Err("a batch frame that could not be split".into());
    };
    let mut out = Vec::new();
    for r in items {
        let item = text.get(r).ok_or("batch split inside a character")?;
        out.extend(one(item)?);
    }
    Ok(out)
}

/// The next frame's heads.
pub async fn next_heads(ws: &mut Ws, within: Duration) -> Result<Vec<Head>, String> {
    heads(&editor::next_text(ws, within).await?)
}

/// The answer to an edit: acked (under its seq), or refused (code and
/// message).
pub enum Answer {
    Acked(Option<Seq>),
    Refused(String, String),
}

/// Waits for the answer to edit `op_id`: Ok(None) for an ack, Ok(Some)
/// with the code and message of a refusal.
pub async fn answer(
    ws: &mut Ws,
    op_id: u64,
    within: Duration,
) -> Result<Option<(String, String)>, String> {
    Ok(match answer_of(ws, op_id, within).await? {
        Answer::Acked(_) => None,
        Answer::Refused(code, message) => Some((code, message)),
    })
}

/// Waits for the answer to edit `op_id`, an ack with its seq.
pub async fn answer_of(ws: &mut Ws, op_id: u64, within: Duration) -> Result<Answer, String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        for h in next_heads(ws, left).await? {
            if h.op_id != Some(op_id) {
                continue;
            }
            if h.kind == "ack" {
                return Ok(Answer::Acked(h.seq));
            }
            if let Some((code, message)) = h.refusal() {
                return Ok(Answer::Refused(code, message));
            }
        }
    }
}

/// The seqs of the `change` messages in a frame (a `batch` taken apart),
/// read without decoding the changes; other messages (small) are parsed,
/// as is a change not laid out as the hub lays it out.
pub fn change_seqs(text: &str) -> Result<Vec<Seq>, String> {
    let items = if protocol::is_batch_frame(text) {
        let Some(ranges) = protocol::split_batch(text) else {
            return parsed_change_seqs(text);
        };
        let mut items = Vec::with_capacity(ranges.len());
        for r in ranges {
            items.push(text.get(r).ok_or("batch split inside a character")?);
        }
        items
    } else {
        vec![text]
    };
    let mut seqs = Vec::new();
    for item in items {
        match protocol::change_frame_seq(item) {
            Some(seq) => seqs.push(seq),
            // Not a change (or not laid out as expected): parsed.
            None => seqs.extend(parsed_change_seqs(item)?),
        }
    }
    Ok(seqs)
}

/// `change_seqs` the slow way: the message parsed (changes skipped).
fn parsed_change_seqs(text: &str) -> Result<Vec<Seq>, String> {
    #[derive(serde::Deserialize)]
    struct Item {
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        seq: Option<Seq>,
        #[serde(default)]
        msgs: Vec<Item>,
    }
    let top: Item =
        serde_json::from_str(text).map_err(|e| format!("bad message from the hub: {e}"))?;
    let change = |i: &Item| (i.kind == "change").then_some(i.seq).flatten();
    let mut seqs: Vec<Seq> = top.msgs.iter().filter_map(change).collect();
    seqs.extend(change(&top));
    Ok(seqs)
}

/// Setting up a roster: the three codes and the staff named.
pub async fn setup_roster(
    url: &str,
    addr: &str,
    client: &str,
    roster: &str,
    staff: &[String],
) -> Result<(), String> {
    let (mut ws, _) = join(url, addr, client, roster, Style::Client).await?;
    let mut ops: Vec<Op> = editor::CODES
        .iter()
        .map(|c| Op::PutCode {
            code: ShiftCode::new(c, 8.0, *c != "OFF"),
            base: None,
        })
        .collect();
    ops.extend(staff.iter().map(|id| Op::AddStaff {
        id: id.clone(),
        name: format!("Person {id}"),
        group: String::new(),
        order: None,
    }));
    let enc = Encoded::new(&ops, PART_BYTES);
    send_frames(&mut ws, enc.frames(1, false)).await?;
    if let Some((code, message)) = answer(&mut ws, 1, Duration::from_secs(120)).await? {
        return Err(format!("setting up `{roster}`: {code}: {message}"));
    }
    let _ = ws.close(None).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_laid_out_as_the_protocols_encoder_lays_them() {
        let ops: Vec<Op> = (0..3).map(|i| grid_op(i, "D")).collect();
        let whole = Encoded::new(&ops, PART_BYTES);
        let want = protocol::encode_client(&ClientMsg::Edit {
            op_id: 7,
            ops: ops.clone(),
            note: None,
            force: false,
            more: false,
            part: None,
        });
        assert_eq!(whole.frames(7, false), vec![want]);
        let parts = Encoded::new(&ops, 200);
        let frames = parts.frames(9, false);
        assert_eq!(frames.len(), 3);
        for (i, f) in frames.iter().enumerate() {
            let want = protocol::encode_client(&ClientMsg::Edit {
                op_id: 9,
                ops: vec![ops[i].clone()],
                note: None,
                force: false,
                more: i < 2,
                part: Some(i as u32),
            });
            assert_eq!(f, &want);
        }
        let open = whole.frames(3, true);
        assert!(open[0].ends_with(r#","more":true,"part":0}"#));
    }

    #[test]
    fn heads_skip_changes_and_find_answers_in_batches() {
        let text = r#"{"type":"batch","msgs":[{"type":"change","seq":4,"changes":[]},{"type":"ack","op_id":3,"seq":5,"at":0}]}"#;
        let hs = heads(text).unwrap();
        assert_eq!(hs.len(), 1);
        assert_eq!((hs[0].kind.as_str(), hs[0].op_id), ("ack", Some(3)));
        let err = r#"{"type":"error","code":"busy","message":"m","op_id":8}"#;
        let h = &heads(err).unwrap()[0];
        assert_eq!(h.refusal(), Some(("busy".into(), "m".into())));
        assert_eq!(heads(text).unwrap()[0].seq, Some(5));
    }

    #[test]
    fn change_seqs_are_found_whole_in_batches_and_the_slow_way() {
        let change = |seq: Seq| {
            protocol::encode(&ServerMsg::Change(protocol::ChangeSet {
                seq,
                user: "u".into(),
                client: "c".into(),
                op_id: 1,
                at: 0,
                note: None,
                changes: Vec::new(),
            }))
        };
        let ack = r#"{"type":"ack","op_id":3,"seq":5,"at":0}"#.to_string();
        assert_eq!(change_seqs(&change(4)).unwrap(), vec![4]);
        assert_eq!(change_seqs(&ack).unwrap(), Vec::<Seq>::new());
        let frames = [change(4), ack.clone(), change(6)];
        let batch = protocol::join_frames(frames.iter()).unwrap();
        assert_eq!(change_seqs(&batch).unwrap(), vec![4, 6]);
        // Laid out otherwise (spaces): parsed.
        let spaced = r#"{"type":"batch", "msgs":[{"type":"change", "seq":7, "changes":[]}, {"type":"ack","seq":8}]}"#;
        assert_eq!(change_seqs(spaced).unwrap(), vec![7]);
        assert!(change_seqs("{").is_err());
    }
}
