//! How encoded frames are laid out in bytes: the one place that splices
//! parts already encoded into a message, or finds where the messages of a
//! frame begin without parsing it. Everything here leans on two facts about
//! how serde writes this crate's messages: an internally tagged enum writes
//! its `type` first, and a key such as `"changes":[]` cannot occur inside a
//! JSON string (the string's quotes would be escaped), so its first
//! occurrence is the field, as long as no field written before it nests an
//! object with that key. The tests below fail if either stops being true for
//! a message spliced here. No other code may cut or splice encoded JSON.

use super::{
    ChangeSet, ClientMsg, Limits, MAX_MESSAGE_BYTES, MAX_OPS_PER_BATCH, PROTOCOL_VERSION,
    PresenceInfo, ServerMsg, encode, encode_client,
};
use crate::domain::{Op, Seq};

/// How every message this crate encodes begins.
const MESSAGE_START: &str = r#"{"type":""#;
/// How an encoded `change` message begins: a [`ChangeSet`]'s fields follow.
const CHANGE_FRAME_TAG: &str = r#"{"type":"change","#;
/// How an encoded `welcome` message begins.
const WELCOME_FRAME_TAG: &str = r#"{"type":"welcome","#;
/// How an encoded `ack` message begins.
const ACK_FRAME_TAG: &str = r#"{"type":"ack","#;
/// How an encoded `edit` message begins.
const EDIT_FRAME_TAG: &str = r#"{"type":"edit","#;
/// How a `batch` frame begins; its encoded messages follow, separated by
/// commas, then [`BATCH_FRAME_TAIL`].
pub const BATCH_FRAME_HEAD: &str = r#"{"type":"batch","msgs":["#;
pub const BATCH_FRAME_TAIL: &str = "]}";

/// Whether `text` is an encoded `change` message as this crate writes them.
pub fn is_change_frame(text: &str) -> bool {
    text.starts_with(CHANGE_FRAME_TAG)
}

/// The seq of an encoded `change` message, read without decoding it (its
/// `seq` is written first after the tag: a [`ChangeSet`]'s first field).
pub fn change_frame_seq(text: &str) -> Option<Seq> {
    let rest = text
        .strip_prefix(CHANGE_FRAME_TAG)?
        .strip_prefix(r#""seq":"#)?;
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    rest[..end].parse().ok()
}

/// The `note` of an encoded `change` message as it is written (None when
/// it has none, or escapes in it), read without decoding the message: a
/// `"note":"` key cannot occur inside a string, and no field before it
/// nests an object with that key.
pub fn change_frame_note(text: &str) -> Option<&str> {
    if !is_change_frame(text) {
        return None;
    }
    let at = text.find(r#""note":""#)? + r#""note":""#.len();
    let body = &text[at..];
    let end = body.find('"')?;
    let note = &body[..end];
    (!note.contains('\\')).then_some(note)
}

/// Whether `text` is an encoded `welcome` message as this crate writes them.
pub fn is_welcome_frame(text: &str) -> bool {
    text.starts_with(WELCOME_FRAME_TAG)
}

/// Whether `text` is an encoded `ack` message as this crate writes them.
pub fn is_ack_frame(text: &str) -> bool {
    text.starts_with(ACK_FRAME_TAG)
}

/// Whether `text` begins as an `edit` encoded with its `type` first.
pub(super) fn is_edit_frame(text: &str) -> bool {
    text.starts_with(EDIT_FRAME_TAG)
}

/// Whether `text` begins as a `batch` frame.
pub fn is_batch_frame(text: &str) -> bool {
    text.starts_with(BATCH_FRAME_HEAD)
}

/// Puts items already encoded into a message encoded with `"FIELD":[]`:
/// `write` appends item `i`, `size` is about their length in all. None when
/// the field is not there.
fn splice_list(
    encoded: &str,
    field: &str,
    len: usize,
    size: usize,
    mut write: impl FnMut(&mut String, usize),
) -> Option<String> {
    let empty = format!(r#""{field}":[]"#);
    let at = encoded.find(&empty)?;
    let mut out = String::with_capacity(encoded.len() + size + len);
    out.push_str(&encoded[..at]);
    out.push_str(&empty[..empty.len() - 1]);
    for i in 0..len {
        if i > 0 {
            out.push(',');
        }
        write(&mut out, i);
    }
    out.push(']');
    out.push_str(&encoded[at + empty.len()..]);
    Some(out)
}

/// Encoded messages as one frame: the message itself when there is one, a
/// `batch` frame when there are more, None when there are none.
pub fn join_frames<'a, T>(frames: impl Iterator<Item = &'a T>) -> Option<T>
where
    T: AsRef<str> + Clone + From<String> + 'a,
{
    let frames: Vec<&T> = frames.collect();
    match frames.as_slice() {
        [] => None,
        [one] => Some((*one).clone()),
        many => {
            let size: usize = many.iter().map(|f| f.as_ref().len() + 1).sum();
            let mut out =
                String::with_capacity(BATCH_FRAME_HEAD.len() + size + BATCH_FRAME_TAIL.len());
            out.push_str(BATCH_FRAME_HEAD);
            for (i, f) in many.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(f.as_ref());
            }
            out.push_str(BATCH_FRAME_TAIL);
            Some(T::from(out))
        }
    }
}

/// Where each message of a `batch` frame lies, found without parsing it:
/// every message the hub puts in one is an object whose first key is `type`,
/// and `{"type":"` cannot occur inside a JSON string nor in any nested object
/// of those messages, so each occurrence starts a message. None when the
/// frame does not look as expected (the caller then parses it).
pub fn split_batch(text: &str) -> Option<Vec<std::ops::Range<usize>>> {
    let body = text
        .strip_prefix(BATCH_FRAME_HEAD)?
        .strip_suffix(BATCH_FRAME_TAIL)?;
    let offset = BATCH_FRAME_HEAD.len();
    let mut starts = Vec::new();
    let mut from = 0;
    while let Some(i) = body[from..].find(MESSAGE_START) {
        starts.push(from + i);
        from += i + MESSAGE_START.len();
    }
    if starts.first() != Some(&0) {
        return None;
    }
    let mut items = Vec::with_capacity(starts.len());
    for (k, &start) in starts.iter().enumerate() {
        let end = match starts.get(k + 1) {
            Some(&next) => next
                .checked_sub(1)
                .filter(|&e| body.as_bytes()[e] == b',')?,
            None => body.len(),
        };
        items.push(offset + start..offset + end);
    }
    Some(items)
}

/// A welcome's fields other than where the client starts from.
pub struct WelcomeHead {
    pub roster: String,
    pub seq: Seq,
    pub session: u64,
    pub presence: Vec<PresenceInfo>,
    /// The connection's account (None on a hub without accounts).
    pub account: Option<String>,
    /// Its role on the roster.
    pub role: Option<String>,
    /// The staff row a staff role is bound to.
    pub staff: Option<String>,
    /// Which roster the connection is sent.
    pub view: crate::domain::View,
}

/// Where a joining client starts from, in whatever form the hub has it.
pub enum WelcomeBody<'a, F: AsRef<str>> {
    /// The change sets missed (none when up to date).
    Changes(Vec<ChangeSet>),
    /// The change sets missed, as the `change` frames broadcast: each is put
    /// in as it is, less its `type`, never decoded or encoded again.
    ChangeFrames(&'a [F]),
    /// The whole roster, a [`super::Snapshot`] already encoded (and shared
    /// by every joiner at this seq).
    Snapshot(&'a str),
}

/// The `welcome` for `head` and `body`, with encoded parts put in as they are.
pub fn encode_welcome<F: AsRef<str>>(head: WelcomeHead, body: WelcomeBody<'_, F>) -> String {
    let welcome = |changes: Option<Vec<ChangeSet>>| {
        encode(&ServerMsg::Welcome {
            protocol: PROTOCOL_VERSION.into(),
            roster: head.roster.clone(),
            seq: head.seq,
            session: head.session,
            changes,
            snapshot: None,
            presence: head.presence.clone(),
            limits: Limits::current(),
            account: head.account.clone(),
            role: head.role.clone(),
            staff: head.staff.clone(),
            view: head.view,
        })
    };
    match body {
        WelcomeBody::Changes(changes) => welcome(Some(changes)),
        WelcomeBody::ChangeFrames(frames) => {
            let encoded = welcome(Some(Vec::new()));
            let size = frames.iter().map(|f| f.as_ref().len()).sum();
            let all_changes = frames.iter().all(|f| is_change_frame(f.as_ref()));
            all_changes
                .then(|| {
                    splice_list(&encoded, "changes", frames.len(), size, |out, i| {
                        out.push('{');
                        out.push_str(&frames[i].as_ref()[CHANGE_FRAME_TAG.len()..]);
                    })
                })
                .flatten()
                .unwrap_or_else(|| welcome(Some(decode_change_frames(frames))))
        }
        WelcomeBody::Snapshot(json) => {
            // The snapshot goes in before `presence`, the first field after
            // where it belongs; nothing before it can hold that key.
            const PRESENCE: &str = r#","presence":"#;
            let encoded = welcome(None);
            let Some(at) = encoded.find(PRESENCE) else {
                return encoded; // unreachable while Welcome has `presence`
            };
            let mut out = String::with_capacity(encoded.len() + json.len() + 16);
            out.push_str(&encoded[..at]);
            out.push_str(r#","snapshot":"#);
            out.push_str(json);
            out.push_str(&encoded[at..]);
            out
        }
    }
}

/// The slow way, for frames that are not what [`encode_welcome`] expects.
fn decode_change_frames<F: AsRef<str>>(frames: &[F]) -> Vec<ChangeSet> {
    frames
        .iter()
        .filter_map(|f| match serde_json::from_str(f.as_ref()) {
            Ok(ServerMsg::Change(cs)) => Some(cs),
            _ => None,
        })
        .collect()
}

/// The frames that carry one edit: one `edit`, or for an edit larger than a
/// frame may be, parts numbered from 0 (`part`, `more: true` on all but the
/// last) that the hub commits as one change set. A part stays within
/// [`MAX_OPS_PER_BATCH`] operations and half of [`MAX_MESSAGE_BYTES`]. Each
/// operation is encoded once and the parts are put together around them.
pub fn encode_edit_parts(op_id: u64, note: Option<&str>, force: bool, ops: &[Op]) -> Vec<String> {
    let budget = MAX_MESSAGE_BYTES / 2;
    let encoded: Vec<String> = ops
        .iter()
        .map(|op| serde_json::to_string(op).unwrap_or_default())
        .collect();
    let mut chunks: Vec<&[String]> = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, op) in encoded.iter().enumerate() {
        let size = op.len() + 1;
        if i > start && (i - start >= MAX_OPS_PER_BATCH || bytes + size > budget) {
            chunks.push(&encoded[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    chunks.push(&encoded[start..]);
    let last = chunks.len() - 1;
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, part_ops)| {
            let envelope = encode_client(&ClientMsg::Edit {
                op_id,
                ops: Vec::new(),
                note: note.map(str::to_string),
                force,
                more: i < last,
                part: (last > 0).then_some(i as u32),
            });
            let size = part_ops.iter().map(String::len).sum();
            splice_list(&envelope, "ops", part_ops.len(), size, |out, k| {
                out.push_str(&part_ops[k])
            })
            .unwrap_or_else(|| {
                encode_client(&ClientMsg::Edit {
                    op_id,
                    ops: ops_of(part_ops),
                    note: note.map(str::to_string),
                    force,
                    more: i < last,
                    part: (last > 0).then_some(i as u32),
                })
            })
        })
        .collect()
}

/// The slow way, should the `ops` field ever not be found.
fn ops_of(encoded: &[String]) -> Vec<Op> {
    encoded
        .iter()
        .filter_map(|o| serde_json::from_str(o).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Change, Date, Settings};
    use crate::protocol::{Cursor, Snapshot, decode_client, decode_server};

    /// Text that would fool a splice that took a string for a field.
    const HOSTILE: &str = r#"x","changes":[],"presence":{"type":"change","ops":[] ]} "#;

    fn date(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn change_set(seq: Seq) -> ChangeSet {
        ChangeSet {
            seq,
            user: HOSTILE.into(),
            client: "c".into(),
            op_id: seq,
            at: 7,
            note: Some(HOSTILE.into()),
            changes: vec![Change::Cell {
                staff: HOSTILE.into(),
                date: date("2026-12-01"),
                code: Some("D".into()),
            }],
        }
    }

    fn head() -> WelcomeHead {
        WelcomeHead {
            roster: "ward-7".into(),
            seq: 9,
            session: 3,
            presence: vec![PresenceInfo {
                session: 1,
                user: HOSTILE.into(),
                cursor: Some(Cursor {
                    staff: HOSTILE.into(),
                    date: date("2026-12-02"),
                }),
            }],
            account: Some(HOSTILE.into()),
            role: Some("staff".into()),
            staff: Some(HOSTILE.into()),
            view: crate::domain::View::Published,
        }
    }

    fn welcome(changes: Option<Vec<ChangeSet>>, snapshot: Option<Snapshot>) -> ServerMsg {
        let snapshot = snapshot.map(Box::new);
        let h = head();
        ServerMsg::Welcome {
            protocol: PROTOCOL_VERSION.into(),
            roster: h.roster,
            seq: h.seq,
            session: h.session,
            changes,
            snapshot,
            presence: h.presence,
            limits: Limits::current(),
            account: h.account,
            role: h.role,
            staff: h.staff,
            view: h.view,
        }
    }

    /// A change frame's seq and note are read where encoding puts them.
    #[test]
    fn a_change_frames_seq_and_note_are_read_without_decoding() {
        let mut cs = change_set(42);
        cs.note = Some("L7 1234".into());
        let text = encode(&ServerMsg::Change(cs.clone()));
        assert_eq!(change_frame_seq(&text), Some(42));
        assert_eq!(change_frame_note(&text), Some("L7 1234"));
        // A note with escapes is not read raw; a frame of another type is not a change.
        let text = encode(&ServerMsg::Change(change_set(43)));
        assert_eq!(change_frame_seq(&text), Some(43));
        assert_eq!(change_frame_note(&text), None, "{text}");
        cs.note = None;
        assert_eq!(change_frame_note(&encode(&ServerMsg::Change(cs))), None);
        assert_eq!(change_frame_seq(r#"{"type":"ack","seq":4}"#), None);
    }

    /// The large frames are read straight into their messages, and what
    /// that gives is exactly what the general (tagged enum) path gives.
    #[test]
    fn large_frames_read_directly_decode_as_the_general_path_does() {
        let snap = Snapshot {
            cells: crate::protocol::SnapshotCells::from_cells([
                (HOSTILE, date("2026-12-01"), Some("N"), 4),
                (HOSTILE, date("2026-12-02"), None, 5),
            ]),
            ..Snapshot::default()
        };
        let msgs = [
            ServerMsg::Change(change_set(3)),
            welcome(Some(vec![change_set(8)]), None),
            welcome(None, Some(snap)),
        ];
        for m in msgs {
            let text = encode(&m);
            assert!(is_change_frame(&text) || is_welcome_frame(&text), "{text}");
            let general: ServerMsg = serde_json::from_str(&text).unwrap();
            assert_eq!(decode_server(&text).unwrap(), general, "{text}");
            assert_eq!(general, m);
        }
        // A snapshot read off the wire shares each name.
        let ServerMsg::Welcome {
            snapshot: Some(s), ..
        } = decode_server(&encode(&welcome(
            None,
            Some(Snapshot {
                cells: crate::protocol::SnapshotCells::from_cells([
                    ("s1", date("2026-12-01"), Some("D"), 1),
                    ("s1", date("2026-12-02"), Some("D"), 2),
                ]),
                ..Snapshot::default()
            }),
        )))
        .unwrap()
        else {
            panic!("a welcome with a snapshot");
        };
        assert!(std::sync::Arc::ptr_eq(&s.cells[0].0, &s.cells[1].0));
    }

    #[test]
    fn a_welcome_with_change_frames_spliced_in_reads_as_one_encoded_whole() {
        let sets = vec![change_set(8), change_set(9)];
        let frames: Vec<String> = sets
            .iter()
            .map(|cs| encode(&ServerMsg::Change(cs.clone())))
            .collect();
        let spliced = encode_welcome(head(), WelcomeBody::ChangeFrames(&frames));
        let want = welcome(Some(sets.clone()), None);
        assert_eq!(decode_server(&spliced).unwrap(), want, "{spliced}");
        // Frames not as expected still give the right welcome, the slow way.
        let odd = vec![serde_json::to_string(&serde_json::json!({
            "seq": 8, "type": "change", "user": HOSTILE, "client": "c", "op_id": 8, "at": 7,
            "note": HOSTILE, "changes": [{"kind": "cell", "staff": HOSTILE, "date": "2026-12-01", "code": "D"}]
        }))
        .unwrap()];
        let slow = encode_welcome(head(), WelcomeBody::ChangeFrames(&odd));
        assert_eq!(
            decode_server(&slow).unwrap(),
            welcome(Some(vec![sets[0].clone()]), None)
        );
    }

    #[test]
    fn a_welcome_with_a_snapshot_spliced_in_reads_as_one_encoded_whole() {
        let snap = Snapshot {
            settings: Settings::default(),
            staff: Vec::new(),
            codes: Vec::new(),
            rules: Vec::new(),
            requests: Vec::new(),
            publications: Vec::new(),
            proposals: Vec::new(),
            cells: crate::protocol::SnapshotCells(vec![(
                HOSTILE.into(),
                date("2026-12-01"),
                Some("N".into()),
                4,
            )]),
        };
        let json = serde_json::to_string(&snap).unwrap();
        let spliced = encode_welcome::<String>(head(), WelcomeBody::Snapshot(&json));
        assert_eq!(
            decode_server(&spliced).unwrap(),
            welcome(None, Some(snap)),
            "{spliced}"
        );
        let plain = encode_welcome::<String>(head(), WelcomeBody::Changes(Vec::new()));
        assert_eq!(
            decode_server(&plain).unwrap(),
            welcome(Some(Vec::new()), None)
        );
    }

    /// The orders the splices rely on: `type` first in every message, and
    /// in a welcome no field before `changes` or `presence` that nests an
    /// object with those keys.
    #[test]
    fn the_field_orders_the_splices_rely_on_hold() {
        let change = encode(&ServerMsg::Change(change_set(1)));
        assert!(is_change_frame(&change), "{change}");
        let ack = encode(&ServerMsg::Ack {
            op_id: 1,
            seq: 2,
            overwritten: Vec::new(),
            at: 0,
        });
        assert!(is_ack_frame(&ack), "{ack}");
        let edit = encode_client(&ClientMsg::Edit {
            op_id: 1,
            ops: Vec::new(),
            note: Some(HOSTILE.into()),
            force: true,
            more: true,
            part: Some(0),
        });
        assert!(is_edit_frame(&edit), "{edit}");
        let w = encode(&welcome(Some(Vec::new()), None));
        assert!(is_welcome_frame(&w), "{w}");
        let keys = top_level_keys(&w);
        let pos = |k: &str| keys.iter().position(|x| x == k).unwrap();
        assert_eq!(keys[0], "type");
        assert!(pos("changes") < pos("presence"), "{keys:?}");
        for k in &keys[..pos("changes")] {
            assert!(
                ["type", "protocol", "roster", "seq", "session"].contains(&k.as_str()),
                "a field `{k}` before `changes` could nest one"
            );
        }
        let msgs = [
            ServerMsg::Ack {
                op_id: 1,
                seq: 2,
                overwritten: Vec::new(),
                at: 0,
            },
            ServerMsg::Left {
                session: 1,
                user: HOSTILE.into(),
            },
            ServerMsg::Error {
                code: "x".into(),
                message: HOSTILE.into(),
                op_id: Some(1),
                req: None,
            },
        ];
        for m in msgs {
            assert!(encode(&m).starts_with(MESSAGE_START), "{m:?}");
        }
    }

    /// The keys of a JSON object's top level, in the order written.
    fn top_level_keys(json: &str) -> Vec<String> {
        struct Keys(Vec<String>);
        impl<'de> serde::Deserialize<'de> for Keys {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = Keys;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("an object")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<Keys, A::Error> {
                        let mut keys = Vec::new();
                        while let Some(k) = map.next_key::<String>()? {
                            map.next_value::<serde::de::IgnoredAny>()?;
                            keys.push(k);
                        }
                        Ok(Keys(keys))
                    }
                }
                d.deserialize_map(V)
            }
        }
        serde_json::from_str::<Keys>(json).unwrap().0
    }

    #[test]
    fn an_edit_is_sent_in_numbered_parts_that_decode_to_its_ops_in_order() {
        let ops: Vec<Op> = (0..MAX_OPS_PER_BATCH * 2 + 5)
            .map(|i| Op::SetCell {
                staff: format!("s{i}"),
                date: date("2026-01-01"),
                code: Some("D".into()),
                base: i as Seq,
            })
            .collect();
        let note = r#"a "ops":[] b"#;
        let frames = encode_edit_parts(9, Some(note), true, &ops);
        assert_eq!(frames.len(), 3);
        let mut got = Vec::new();
        for (i, frame) in frames.iter().enumerate() {
            let Ok(ClientMsg::Edit {
                op_id,
                ops: part_ops,
                note: n,
                force,
                more,
                part,
            }) = decode_client(frame)
            else {
                panic!("frame {i} is not an edit: {frame:.200}");
            };
            assert_eq!((op_id, force, more, part), (9, true, i < 2, Some(i as u32)));
            assert_eq!(n.as_deref(), Some(note));
            assert!(part_ops.len() <= MAX_OPS_PER_BATCH);
            got.extend(part_ops);
        }
        assert_eq!(got, ops);
        let one = encode_edit_parts(3, None, false, &ops[..1]);
        assert_eq!(one.len(), 1);
        assert!(matches!(
            decode_client(&one[0]),
            Ok(ClientMsg::Edit { more: false, part: None, ref ops, .. }) if ops.len() == 1
        ));
    }

    #[test]
    fn a_batch_frame_splits_where_a_parser_finds_its_messages() {
        let msgs = [
            encode(&ServerMsg::Change(change_set(4))),
            encode(&ServerMsg::Ack {
                op_id: 2,
                seq: 5,
                overwritten: Vec::new(),
                at: 1,
            }),
            encode(&ServerMsg::Left {
                session: 2,
                user: r#"{"type":"x"} ]}"#.into(),
            }),
        ];
        let joined = join_frames(msgs.iter()).unwrap();
        let ranges = split_batch(&joined).unwrap();
        let parts: Vec<&str> = ranges.iter().map(|r| &joined[r.clone()]).collect();
        assert_eq!(parts, msgs.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(join_frames([msgs[0].clone()].iter()), Some(msgs[0].clone()));
        assert_eq!(join_frames(Vec::<String>::new().iter()), None);
        assert!(split_batch(&msgs[0]).is_none());
        assert_eq!(split_batch(r#"{"type":"batch","msgs":[1,2]}"#), None);
    }
}
