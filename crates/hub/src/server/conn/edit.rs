//! `edit`: an edit, whole or in numbered parts. Parts are held here (never
//! in the writer) within explicit bounds, and only an edit begun at part 0
//! and continued in order is ever submitted; anything else refuses it
//! whole, with an error that carries its op id.

use super::*;
use crate::server::budget::Frames;

/// An edit arriving in parts (`more: true`, numbered by `part`): held here,
/// never in the writer, until its last part comes. At most one per
/// connection, and at most [`MAX_OPS_PER_CHANGE_SET`] operations, so one
/// connection's memory stays bounded. It is only ever submitted whole: it
/// opens only at part 0 and takes only the next part in order.
///
/// Its parts are held as the frames that brought them (each checked as it
/// came, then read again when the last comes): a frame's bytes are what it
/// costs in memory, so the budget counts what is held, where the operations
/// read from it took three to four times as much, in many small
/// allocations the allocator kept after they were freed.
pub(super) struct Assembly {
    op_id: u64,
    /// The number the next part must carry.
    next_part: u32,
    /// Shared with the budget, which may drop them to make room.
    frames: Frames,
    /// Operations in `frames`.
    ops: usize,
    /// Bytes of `frames`.
    bytes: usize,
    note: Option<String>,
    force: bool,
    /// Its parts' bytes, counted in the hub-wide budget while held.
    held: Held,
}

/// What a connection holds in the hub-wide parts budget
/// ([`super::super::budget`]), given back when dropped: when the edit is
/// submitted or refused, or its connection goes.
struct Held {
    shared: Arc<Shared>,
    session: u64,
    addr: std::net::IpAddr,
}

impl Held {
    fn new(shared: &Arc<Shared>, session: u64, addr: std::net::IpAddr) -> Held {
        Held {
            shared: shared.clone(),
            session,
            addr,
        }
    }

    /// Counts `n` more bytes of `frames` unless no fair room is left under
    /// `limit`.
    fn take(&self, frames: &Frames, n: usize, limit: usize) -> bool {
        let metric = &self.shared.metrics.assembling_bytes;
        self.shared
            .parts
            .take(metric, self.session, self.addr, frames, n, limit)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let metric = &self.shared.metrics.assembling_bytes;
        self.shared.parts.release(metric, self.session);
    }
}

/// Frames shorter than this are copied before they are held.
const COPY_BELOW: usize = 64 * 1024;

/// Adds `frame` to an edit's held frames; false when the budget dropped
/// them meanwhile to make room for another's. A frame as received is a
/// slice of the connection's read buffer and keeps that buffer alive: a
/// large frame is most of the buffer grown to hold it, and is held as it
/// is (a copy would double it while the buffer stays), but a small one is
/// copied, or a part of 100 bytes would pin a buffer of 64 KiB the budget
/// never counted.
fn hold(frames: &Frames, frame: &Utf8Bytes) -> bool {
    let mut held = frames.lock().unwrap_or_else(|p| p.into_inner());
    if held.dropped {
        return false;
    }
    held.frames.push(if frame.len() < COPY_BELOW {
        Utf8Bytes::from(frame.as_str().to_owned())
    } else {
        frame.clone()
    });
    true
}

/// An edit's held frames, taken for its submission; None when the budget
/// dropped them.
fn take_held(frames: &Frames) -> Option<Vec<Utf8Bytes>> {
    let mut held = frames.lock().unwrap_or_else(|p| p.into_inner());
    if held.dropped {
        return None;
    }
    held.taken = true;
    Some(std::mem::take(&mut held.frames))
}

/// Whether the budget dropped an edit's held frames.
fn was_dropped(frames: &Frames) -> bool {
    frames.lock().map_or(true, |h| h.dropped)
}

/// One `edit` frame as received.
pub(super) struct Part {
    /// The frame itself (its bytes as received, shared, not copied), kept
    /// while the edit's later parts come.
    pub(super) frame: Utf8Bytes,
    pub(super) op_id: u64,
    pub(super) ops: Vec<Op>,
    pub(super) note: Option<String>,
    pub(super) force: bool,
    pub(super) more: bool,
    /// Its number among the parts of its edit (None: a whole edit, part 0).
    pub(super) part: Option<u32>,
    /// The frame's length as received.
    pub(super) bytes: usize,
}

/// Edits refused part-way whose later parts are dropped without a word
/// (their author was told once). Bounded: a part of an edit forgotten here
/// is still never applied (it has no part 0 before it), it only earns an
/// error of its own.
const REFUSED_REMEMBERED: usize = 64;

impl Conn {
    /// Takes one frame of an edit. A whole edit (one frame, nothing held)
    /// goes straight to the writer; parts are held until the last. Only an
    /// edit begun at part 0 and continued part by part in order is ever
    /// submitted: anything else refuses it whole.
    pub(super) async fn edit_part(&mut self, part: Part) -> Result<(), Option<Ending>> {
        let op_id = part.op_id;
        if self.member.is_none() {
            self.assembly = None;
            return self
                .error(
                    codes::NOT_JOINED,
                    "send hello before editing".into(),
                    Some(op_id),
                )
                .await;
        }
        if let Some((code, msg)) = frame_problem(&part) {
            if part.more && part.part.is_none() && !self.unnumbered.contains(&op_id) {
                if self.unnumbered.len() >= REFUSED_REMEMBERED {
                    self.unnumbered.pop_front();
                }
                self.unnumbered.push_back(op_id);
            }
            return self.refuse_frame(op_id, code, msg).await;
        }
        if let Some(why) = self.edit_refusal(&part.ops) {
            Metrics::inc(&self.shared.metrics.forbidden);
            let msg = format!("edit {op_id}: {why}; nothing of it is applied");
            return self.refuse_frame(op_id, codes::FORBIDDEN, msg).await;
        }
        match self.assembly.take() {
            Some(mut open) if open.op_id == op_id && part.part == Some(open.next_part) => {
                if open.ops + part.ops.len() > MAX_OPS_PER_CHANGE_SET {
                    let msg = format!(
                        "ops: more than {MAX_OPS_PER_CHANGE_SET} operations in one edit \
                         (its parts together); split it into several edits"
                    );
                    // What it held is given back before the refusal is
                    // said (a client may count on it at once).
                    drop(open);
                    return self.refuse_frame(op_id, codes::TOO_MANY_OPS, msg).await;
                }
                let max = self.config.max_edit_bytes;
                if open.bytes + part.bytes > max {
                    let msg = format!(
                        "edit {op_id}: its parts together pass {max} bytes; split it into several edits"
                    );
                    drop(open);
                    return self.refuse_frame(op_id, codes::TOO_LARGE, msg).await;
                }
                if was_dropped(&open.frames) {
                    drop(open);
                    return self.refuse_frame(op_id, codes::BUSY, dropped(op_id)).await;
                }
                if !open
                    .held
                    .take(&open.frames, part.bytes, self.config.max_assembly_bytes)
                {
                    drop(open);
                    return self.refuse_frame(op_id, codes::BUSY, busy(op_id)).await;
                }
                open.next_part += 1;
                open.bytes += part.bytes;
                if part.more {
                    open.ops += part.ops.len();
                    if !hold(&open.frames, &part.frame) {
                        drop(open);
                        return self.refuse_frame(op_id, codes::BUSY, dropped(op_id)).await;
                    }
                    self.assembly = Some(open);
                    return Ok(());
                }
                // The turn to parse first, then the frames: while it waits
                // its frames stay held (and counted), so if the budget drops
                // them meanwhile it frees what it counts, and the edit is
                // refused, never applied.
                let shared = self.shared.clone();
                let turn = shared.parsing.acquire().await;
                let Some(frames) = take_held(&open.frames) else {
                    drop(turn);
                    drop(open);
                    return self.refuse_frame(op_id, codes::BUSY, dropped(op_id)).await;
                };
                // Up to 250,000 operations: read on the blocking pool, not
                // on a runtime thread other connections share.
                let count = open.ops;
                let again =
                    tokio::task::spawn_blocking(move || read_again(&frames, count, part.ops)).await;
                drop(turn);
                let Ok(Some(ops)) = again else {
                    drop(open);
                    let msg = format!(
                        "edit {op_id}: a part held by the hub could not be read again; \
                         nothing of it is applied"
                    );
                    return self.refuse_frame(op_id, codes::BAD_MESSAGE, msg).await;
                };
                self.submit_edit(open.op_id, ops, open.note, open.force)
                    .await
            }
            Some(open) if open.op_id != op_id => {
                let msg = format!(
                    "edit {} was still arriving in parts when edit {op_id} began; \
                     neither is applied: send every part of one edit before the next",
                    open.op_id
                );
                // Put back, for refuse_frame to refuse it too.
                self.assembly = Some(open);
                self.refuse_frame(op_id, codes::BAD_MESSAGE, msg).await
            }
            Some(open) => {
                let msg = format!(
                    "edit {op_id}: part {} came where part {} was due; the edit is not \
                     applied: send it again from part 0",
                    part.part
                        .map_or("without a number".into(), |n| n.to_string()),
                    open.next_part
                );
                drop(open);
                self.refuse_frame(op_id, codes::BAD_MESSAGE, msg).await
            }
            // An unnumbered frame under the op id of an edit whose earlier
            // frames said `more` unnumbered is that edit's tail, not an edit
            // of its own: refused, never applied alone. The frame without
            // `more` ends it; an explicit part 0 starts the edit anew.
            None if part.part.is_none() && self.unnumbered.contains(&op_id) => {
                if !part.more {
                    self.unnumbered.retain(|id| *id != op_id);
                }
                let msg = format!(
                    "edit {op_id}: an earlier part of this edit was refused, so this one is \
                     not applied either; nothing of it is applied: send the edit again \
                     from part 0"
                );
                self.refuse_frame(op_id, codes::BAD_MESSAGE, msg).await
            }
            None => match part.part.unwrap_or(0) {
                0 => {
                    if !self.edit_rate.allow(self.config.max_edits_per_sec) {
                        let max = self.config.max_edits_per_sec;
                        let msg = format!(
                            "edit {op_id}: more than {max} edits a second from this connection; \
                             nothing applied: send it again in a moment"
                        );
                        return self.refuse_frame(op_id, codes::RATE_LIMITED, msg).await;
                    }
                    self.refused.retain(|id| *id != op_id);
                    if part.part.is_some() {
                        self.unnumbered.retain(|id| *id != op_id);
                    }
                    if part.more {
                        let held = Held::new(&self.shared, self.session, self.peer);
                        let frames = Frames::default();
                        if !held.take(&frames, part.bytes, self.config.max_assembly_bytes)
                            || !hold(&frames, &part.frame)
                        {
                            return self.refuse_frame(op_id, codes::BUSY, busy(op_id)).await;
                        }
                        self.assembly = Some(Assembly {
                            op_id,
                            next_part: 1,
                            ops: part.ops.len(),
                            bytes: part.bytes,
                            frames,
                            note: part.note,
                            force: part.force,
                            held,
                        });
                        return Ok(());
                    }
                    self.submit_edit(op_id, part.ops, part.note, part.force)
                        .await
                }
                // The rest of an edit already refused: dropped quietly.
                _ if self.refused.contains(&op_id) => Ok(()),
                n => {
                    let msg = format!(
                        "edit {op_id}: part {n} came without the parts before it; nothing of \
                         it is applied: send the edit again from part 0"
                    );
                    self.refuse_frame(op_id, codes::BAD_MESSAGE, msg).await
                }
            },
        }
    }

    /// A frame that could not be read. When it names an edit, that edit is
    /// refused (with the error, which carries its op id) and the rest of it
    /// dropped; an edit still arriving in parts is refused too, since the
    /// frame may have been one of its parts.
    pub(super) async fn unreadable(&mut self, e: DecodeError) -> Result<(), Option<Ending>> {
        if let Some(op_id) = e.op_id {
            self.remember_refused(op_id);
        }
        self.refuse_open_other_than(e.op_id, |open| {
            format!(
                "edit {open}: a frame that arrived while its parts were coming in \
                 could not be read; the edit is not applied"
            )
        })
        .await?;
        self.error_about(e.code, e.message, e.op_id, e.req).await
    }

    /// Refuses the edit `op_id` with an error: whatever of it is held is
    /// dropped, and so are its later parts. An edit of another op id still
    /// arriving is refused too, since this frame came between its parts.
    pub(super) async fn refuse_frame(
        &mut self,
        op_id: u64,
        code: &str,
        message: String,
    ) -> Result<(), Option<Ending>> {
        self.refuse_open_other_than(Some(op_id), |open| {
            format!(
                "edit {open} was still arriving in parts when edit {op_id} came; \
                 neither is applied: send every part of one edit before the next"
            )
        })
        .await?;
        self.remember_refused(op_id);
        self.error(code, message, Some(op_id)).await
    }

    /// Drops the edit being assembled, if any; unless it is `op_id`, its
    /// author is told why (`why` of its op id) and its later parts dropped.
    pub(super) async fn refuse_open_other_than(
        &mut self,
        op_id: Option<u64>,
        why: impl FnOnce(u64) -> String,
    ) -> Result<(), Option<Ending>> {
        let Some(open) = self.assembly.take() else {
            return Ok(());
        };
        if Some(open.op_id) == op_id {
            return Ok(());
        }
        self.remember_refused(open.op_id);
        self.error(codes::BAD_MESSAGE, why(open.op_id), Some(open.op_id))
            .await
    }

    pub(super) fn remember_refused(&mut self, op_id: u64) {
        if !self.refused.contains(&op_id) {
            if self.refused.len() >= REFUSED_REMEMBERED {
                self.refused.pop_front();
            }
            self.refused.push_back(op_id);
        }
    }

    pub(super) async fn submit_edit(
        &mut self,
        op_id: u64,
        ops: Vec<Op>,
        note: Option<String>,
        force: bool,
    ) -> Result<(), Option<Ending>> {
        let Some(m) = &self.member else {
            return Ok(());
        };
        let cmd = Cmd::Edit(Edit {
            roster: m.roster.clone(),
            who: self.who.clone(),
            author: m.author.clone(),
            session: self.session,
            op_id,
            fingerprint: protocol::edit_fingerprint(&ops, force),
            ops,
            note,
            force,
            reply: self.direct_tx.clone(),
        });
        self.send_to_writer(cmd).await
    }
}

/// The operations of an edit's held frames, in order, then `last`'s; None
/// when a frame no longer reads as an edit (it did when it came).
fn read_again(frames: &[Utf8Bytes], count: usize, last: Vec<Op>) -> Option<Vec<Op>> {
    let mut ops = Vec::with_capacity(count + last.len());
    for frame in frames {
        match protocol::decode_client(frame) {
            Ok(ClientMsg::Edit { ops: part, .. }) => ops.extend(part),
            _ => return None,
        }
    }
    ops.extend(last);
    Some(ops)
}

/// Why a part was refused when the hub dropped the edit's earlier parts to
/// make room for another connection's.
fn dropped(op_id: u64) -> String {
    format!(
        "edit {op_id}: the hub needed room for others' edits arriving in parts and let go of \
         the parts of this one it held; nothing of it is applied: send it again from part 0 \
         in a moment"
    )
}

/// Why a part was refused when the hub holds all it will of edits in parts.
fn busy(op_id: u64) -> String {
    format!(
        "edit {op_id}: the hub is holding as many edits arriving in parts as it will; \
         nothing of this one is kept: send it again in a moment"
    )
}

/// The first operation carrying a string longer than the limit: (its
/// index, the string's length in characters).
fn long_string(ops: &[Op]) -> Option<(usize, usize)> {
    ops.iter().enumerate().find_map(|(i, op)| {
        let mut longest = 0;
        op.each_string(&mut |s| {
            // Bytes bound characters from above: count only when it matters.
            if s.len() > MAX_OP_STRING_CHARS {
                longest = longest.max(s.chars().count());
            }
        });
        (longest > MAX_OP_STRING_CHARS).then_some((i, longest))
    })
}

fn frame_problem(part: &Part) -> Option<(&'static str, String)> {
    if part.ops.is_empty() {
        return Some((
            codes::BAD_MESSAGE,
            "ops: an edit needs at least one operation".into(),
        ));
    }
    if part.ops.len() > MAX_OPS_PER_BATCH {
        return Some((
            codes::TOO_MANY_OPS,
            format!(
                "ops: {} operations is over the limit of {MAX_OPS_PER_BATCH} per frame \
                 (send a larger edit in parts with `more` and `part`)",
                part.ops.len()
            ),
        ));
    }
    if part.more && part.part.is_none() {
        return Some((
            codes::BAD_MESSAGE,
            "part: a part of an edit sent in parts must carry its number \
             (0 for the first; protocol 1.2)"
                .into(),
        ));
    }
    // Held whole until the last part: no string in it may be larger than
    // any the roster would take.
    if (part.more || part.part.is_some())
        && let Some((i, n)) = long_string(&part.ops)
    {
        return Some((
            codes::TOO_LARGE,
            format!(
                "ops[{i}]: a string of {n} characters is over the limit of {MAX_OP_STRING_CHARS}"
            ),
        ));
    }
    let note_chars = part.note.as_deref().map_or(0, |n| n.chars().count());
    if note_chars > MAX_NOTE_CHARS {
        return Some((
            codes::BAD_MESSAGE,
            format!("note: {note_chars} characters is over the limit of {MAX_NOTE_CHARS}"),
        ));
    }
    None
}
