//! The attacks' connections at work: edits sent back to back or at a rate,
//! cursor moves as fast as they go out, edits in parts held open, history
//! reads always waiting. Each starts at `go`, stops at `stop` and counts
//! what it got done in the attack's `Tally` (attack.rs opens them).

use crate::attack::{Tally, Target, grid_ops};
use crate::delivery::Acks;
use crate::editor::{self, CODES, Ws};
use crate::wire::{self, Encoded, GRID_DAYS, PART_BYTES, Style};
use futures_util::{SinkExt, StreamExt};
use rota::protocol::{ClientMsg, Cursor, HistoryQuery};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

/// Reads (and drops) what comes until `go`; false when the run ended first.
async fn wait_go(ws: &mut Ws, go: &mut watch::Receiver<bool>, tally: &Tally) -> bool {
    while !*go.borrow() {
        tokio::select! {
            r = go.changed() => if r.is_err() { return false },
            t = editor::next_text(ws, Duration::from_secs(3600)) => if let Err(e) = t {
                tally.error(format!("before the start: {e}"));
                return false;
            },
        }
    }
    true
}

/// Books an edit's answer.
fn booked(tally: &Tally, answer: Option<(String, String)>, ops: usize) {
    match answer {
        None => {
            tally.acked.fetch_add(1, Relaxed);
            tally.ops_acked.fetch_add(ops as u64, Relaxed);
        }
        Some((code, _)) if code == rota::protocol::codes::BUSY => {
            tally.busy.fetch_add(1, Relaxed);
        }
        Some((code, message)) => {
            if tally.refused.fetch_add(1, Relaxed) == 0 {
                tally.error(format!("first refusal: {code}: {}", cut(&message)));
            }
        }
    }
}

fn cut(s: &str) -> &str {
    s.char_indices().nth(160).map_or(s, |(i, _)| &s[..i])
}

/// Sends the edits in turn, each once the last is answered, until `stop`.
/// With `acks`, notes there when each ack was read and its seq: of edits
/// known to change every cell they name (edits alternating between two
/// codes, the one before acked too), so that a `change` under that seq is
/// this edit's.
pub async fn edit_loop(
    mut ws: Ws,
    edits: Arc<Vec<Encoded>>,
    (tally, acks): (Arc<Tally>, Option<Arc<Acks>>),
    mut go: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    if !wait_go(&mut ws, &mut go, &tally).await {
        return;
    }
    // The first edit changes every cell: they are empty.
    let mut last_acked = true;
    for op_id in 1u64.. {
        let edit = &edits[op_id as usize % edits.len()];
        let sent = async {
            let bytes = wire::send_frames(&mut ws, edit.frames(op_id, false)).await?;
            tally.bytes_sent.fetch_add(bytes, Relaxed);
            let answer = wire::answer_of(&mut ws, op_id, Duration::from_secs(300)).await?;
            Ok::<_, String>((answer, Instant::now()))
        };
        tokio::select! {
            r = sent => match r {
                Ok((wire::Answer::Acked(seq), at)) => {
                    if let (Some(acks), Some(seq), true) = (&acks, seq, last_acked) {
                        acks.record(seq, at);
                    }
                    last_acked = true;
                    booked(&tally, None, edit.ops);
                }
                Ok((wire::Answer::Refused(code, message), _)) => {
                    last_acked = false;
                    booked(&tally, Some((code, message)), edit.ops);
                }
                Err(e) => {
                    tally.error(format!("edit {op_id}: {e}"));
                    return;
                }
            },
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    let _ = ws.close(None).await;
}

/// One edit every 100 ms, answers read as they come, until `stop`.
pub async fn rated(
    mut ws: Ws,
    edits: Arc<Vec<Encoded>>,
    tally: Arc<Tally>,
    mut go: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    if !wait_go(&mut ws, &mut go, &tally).await {
        return;
    }
    let ops = edits[0].ops;
    let (mut sink, mut stream) = ws.split();
    let reading = {
        let (tally, mut stop) = (tally.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let text = tokio::select! {
                    m = stream.next() => match m {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(_)) => continue,
                        _ => return,
                    },
                    _ = stop.wait_for(|s| *s) => return,
                };
                for h in wire::heads(&text).unwrap_or_default() {
                    if h.kind == "ack" {
                        booked(&tally, None, ops);
                    } else if h.op_id.is_some() {
                        booked(&tally, h.refusal(), ops);
                    }
                }
            }
        })
    };
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    for op_id in 1u64.. {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        for f in edits[op_id as usize % edits.len()].frames(op_id, false) {
            tally.bytes_sent.fetch_add(f.len() as u64, Relaxed);
            if let Err(e) = sink.send(Message::Text(f.into())).await {
                tally.error(format!("writer: {e}"));
                return;
            }
        }
    }
    let _ = reading.await;
}

/// Cursor moves as fast as they go out, what comes back read and dropped.
pub async fn cursors(
    mut ws: Ws,
    k: usize,
    tally: Arc<Tally>,
    mut go: watch::Receiver<bool>,
    stop: watch::Receiver<bool>,
) {
    if !wait_go(&mut ws, &mut go, &tally).await {
        return;
    }
    let (mut sink, mut stream) = ws.split();
    let mut until = stop.clone();
    let draining = tokio::spawn(async move {
        loop {
            tokio::select! {
                m = stream.next() => if !matches!(m, Some(Ok(_))) { return },
                _ = until.wait_for(|s| *s) => return,
            }
        }
    });
    let staff = format!("a{}", k % wire::GRID_STAFF + 1);
    let mut moved = 0u64;
    for i in 0usize.. {
        if *stop.borrow() {
            break;
        }
        let msg = ClientMsg::Presence {
            cursor: Some(Cursor {
                staff: staff.clone(),
                date: wire::day(i % GRID_DAYS),
            }),
        };
        let frame = rota::protocol::encode_client(&msg);
        // A send waits while the hub does not read (its socket's buffers
        // full): the end of the run must not wait for it.
        let mut ending = stop.clone();
        tokio::select! {
            sent = sink.send(Message::Text(frame.into())) => if let Err(e) = sent {
                tally.error(format!("cursor: {e}"));
                break;
            },
            _ = ending.wait_for(|s| *s) => break,
        }
        moved += 1;
        if moved.is_multiple_of(64) {
            tally.cursor_moves.fetch_add(64, Relaxed);
        }
    }
    tally.cursor_moves.fetch_add(moved % 64, Relaxed);
    let _ = draining.await;
}

/// parts-budget's edits: about 1 MiB in parts of half that, then single
/// parts ever smaller to fill what is left of the budget.
pub fn budget_shapes() -> Vec<Encoded> {
    let mut shapes = vec![Encoded::new(&grid_ops(0..14_000, "D", false), 540_000)];
    for bytes in [262_144, 65_536, 16_384, 4_096, 1_024, 0] {
        let n = (bytes / 75).max(1);
        shapes.push(Encoded::new(&grid_ops(0..n, "D", false), PART_BYTES));
    }
    shapes
}

/// Holds an edit in parts open: its parts all say `more`, the last never
/// comes. Refused `busy`, it tries the next, smaller, shape. A `list_rosters`
/// after the parts says when the hub has taken (or refused) them.
pub async fn hold_parts(
    mut ws: Ws,
    shapes: Arc<Vec<Encoded>>,
    placed: mpsc::UnboundedSender<()>,
    (tally, mut go, mut stop): (Arc<Tally>, watch::Receiver<bool>, watch::Receiver<bool>),
) {
    if !wait_go(&mut ws, &mut go, &tally).await {
        return;
    }
    let mut held = None;
    for (op_id, shape) in (1u64..).zip(shapes.iter()) {
        let placing = async {
            let bytes = wire::send_frames(&mut ws, shape.frames(op_id, true)).await?;
            tally.bytes_sent.fetch_add(bytes, Relaxed);
            editor::send(&mut ws, &ClientMsg::ListRosters { req: Some(op_id) }).await?;
            let mut refused = None;
            loop {
                for h in wire::next_heads(&mut ws, Duration::from_secs(120)).await? {
                    if h.op_id == Some(op_id) && h.refusal().is_some() {
                        refused = h.refusal();
                    }
                    if h.req == Some(op_id) {
                        return Ok::<_, String>((bytes, refused));
                    }
                }
            }
        };
        match placing.await {
            Ok((bytes, None)) => {
                tally.held_open.fetch_add(1, Relaxed);
                tally.held_bytes.fetch_add(bytes, Relaxed);
                held = Some((op_id, bytes));
                break;
            }
            Ok((_, Some(answer))) => booked(&tally, Some(answer), 0),
            Err(e) => {
                tally.error(format!("holding parts: {e}"));
                break;
            }
        }
    }
    let _ = placed.send(());
    // Held until the end, the socket read (pings answered).
    loop {
        let heads = tokio::select! {
            h = wire::next_heads(&mut ws, Duration::from_secs(3600)) => h,
            _ = stop.wait_for(|s| *s) => break,
        };
        match heads {
            Ok(heads) => {
                if let Some((op_id, bytes)) = held
                    && heads.iter().any(|h| h.op_id == Some(op_id))
                {
                    tally.held_open.fetch_sub(1, Relaxed);
                    tally.held_bytes.fetch_sub(bytes, Relaxed);
                    tally.error(format!("an edit held open was answered: {:?}", heads));
                    held = None;
                }
            }
            Err(e) => {
                tally.error(format!("holding parts: {e}"));
                break;
            }
        }
    }
    let _ = ws.close(None).await;
}

/// history-flood's history: 200 edits of the same 100 cells.
pub async fn import_history(t: &Target) -> Result<(), String> {
    let client = format!("{}-import", t.tag);
    let (mut ws, _) = wire::join(&t.url, &t.addr, &client, &t.attack, Style::Client).await?;
    for op_id in 1..=200u64 {
        let code = CODES[op_id as usize % CODES.len()];
        let edit = Encoded::new(&grid_ops(0..100, code, false), PART_BYTES);
        wire::send_frames(&mut ws, edit.frames(op_id, false)).await?;
        if let Some((code, message)) = wire::answer(&mut ws, op_id, Duration::from_secs(60)).await?
        {
            return Err(format!("importing history: {code}: {message}"));
        }
    }
    let _ = ws.close(None).await;
    Ok(())
}

/// Four history reads always waiting, a new one as each is answered.
pub async fn flood_history(
    mut ws: Ws,
    k: usize,
    tally: Arc<Tally>,
    mut go: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    if !wait_go(&mut ws, &mut go, &tally).await {
        return;
    }
    tokio::select! {
        r = flood_reads(&mut ws, k, &tally) => if let Err(e) = r {
            tally.error(format!("history flood: {e}"));
        },
        _ = stop.wait_for(|s| *s) => {}
    }
    let _ = ws.close(None).await;
}

/// The reads of `flood_history`, until the connection fails.
async fn flood_reads(ws: &mut Ws, k: usize, tally: &Tally) -> Result<(), String> {
    // Heavy pages in turn: the whole log, one person's, a date range's.
    let ask = |req: u64| ClientMsg::History {
        req: Some(req),
        query: HistoryQuery {
            staff: (req % 3 == 1).then(|| "a1".to_string()),
            from: (req % 3 == 2).then(|| wire::day(0)),
            to: (req % 3 == 2).then(|| wire::day(GRID_DAYS - 1)),
            limit: Some(500),
            ..HistoryQuery::default()
        },
    };
    let mut req = (k as u64) << 32;
    for _ in 0..4 {
        req += 1;
        editor::send(ws, &ask(req)).await?;
    }
    loop {
        for h in wire::next_heads(ws, Duration::from_secs(300)).await? {
            if h.req.is_none() {
                continue;
            }
            match h.refusal() {
                None => {
                    tally.reads.fetch_add(1, Relaxed);
                }
                Some((code, message)) => {
                    if tally.refused.fetch_add(1, Relaxed) == 0 {
                        tally.error(format!("history refused: {code}: {}", cut(&message)));
                    }
                }
            }
            req += 1;
            editor::send(ws, &ask(req)).await?;
        }
    }
}
