//! Why a client frame could not be read, in words that name the field and
//! the value at fault (`ops[3].date: bad date \`2026-02-30\``), and what
//! the frame was about when that much could be read (an edit's op id, a
//! request's id), so the client can tell which of its requests failed.
//! Only frames that fail come here: the fast paths never do.

use super::{ClientMsg, codes};
use crate::domain::{Op, Rule, ShiftCode};
use serde::Deserialize;

/// A frame that could not be turned into a message: a code, a sentence
/// naming the field and value at fault, and what the frame was about when
/// that much could be read (an edit's `op_id`, a request's `req`), so the
/// client can tell which of its requests failed.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodeError {
    pub code: &'static str,
    pub message: String,
    pub op_id: Option<u64>,
    pub req: Option<u64>,
}

impl DecodeError {
    pub(super) fn new(code: &'static str, message: String) -> DecodeError {
        DecodeError {
            code,
            message,
            op_id: None,
            req: None,
        }
    }
}

/// What a frame is about, read without reading the rest of it: its type, an
/// edit's op id, a request's `req`. Used for frames that cannot
/// be taken whole (too large, or with a bad field), so that the error names
/// the edit or request it answers.
#[derive(Default, Deserialize)]
pub struct FrameHeader {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    op_id: Option<serde_json::Value>,
    #[serde(default)]
    req: Option<serde_json::Value>,
}

impl FrameHeader {
    /// The header of `text`, or an empty one when it is not a JSON object.
    pub fn read(text: &str) -> FrameHeader {
        serde_json::from_str(text).unwrap_or_default()
    }

    /// Puts the edit's op id (or the request's id) on an error about it.
    fn mark(&self, mut e: DecodeError) -> DecodeError {
        match self.kind.as_deref() {
            Some("edit") => {
                e.op_id = self.op_id.as_ref().and_then(serde_json::Value::as_u64);
            }
            Some("history" | "list_rosters") => {
                e.req = self.req.as_ref().and_then(serde_json::Value::as_u64);
            }
            _ => {}
        }
        e
    }

    /// An error about this frame, naming what it was about.
    pub fn error(&self, code: &'static str, message: String) -> DecodeError {
        self.mark(DecodeError::new(code, message))
    }
}

const CLIENT_TYPES: [&str; 7] = [
    "hello",
    "edit",
    "presence",
    "history",
    "list_rosters",
    "users",
    "set_role",
];

pub(super) fn explain_decode_error(
    text: &str,
    err: serde_path_to_error::Error<serde_json::Error>,
) -> DecodeError {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return DecodeError::new(codes::BAD_JSON, format!("not JSON: {e}")),
    };
    if !value.is_object() {
        return DecodeError::new(
            codes::BAD_JSON,
            format!("not a JSON object but {}", json_kind(&value)),
        );
    }
    let header = FrameHeader::read(text);
    let ty = match value.get("type") {
        None => {
            return header.error(codes::BAD_MESSAGE, "type: missing field".into());
        }
        Some(serde_json::Value::String(t)) => t.as_str(),
        Some(other) => {
            return header.error(
                codes::BAD_MESSAGE,
                format!("type: expected a string, found {}", json_kind(other)),
            );
        }
    };
    if !CLIENT_TYPES.contains(&ty) {
        return header.error(
            codes::UNKNOWN_TYPE,
            format!(
                "unknown message type `{ty}`; expected one of {}",
                CLIENT_TYPES.join(", ")
            ),
        );
    }
    let found = locate_in_ops(&value, ty).unwrap_or_else(|| {
        let path = err.path().to_string();
        let inner = serde_message(err.into_inner());
        place(&value, "", &path, inner, &error_as::<ClientMsg>)
    });
    let (path, inner) = found;
    let code = if inner.starts_with("bad date") {
        codes::BAD_DATE
    } else {
        codes::BAD_MESSAGE
    };
    let message = if path.is_empty() {
        inner
    } else {
        format!("{path}: {inner}")
    };
    header.error(code, message)
}

/// serde_json's message without the " at line L column C" it appends (the
/// field path says more).
fn serde_message(e: serde_json::Error) -> String {
    let inner = e.to_string();
    inner
        .split(" at line ")
        .next()
        .unwrap_or(&inner)
        .to_string()
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The path and message of an error serde reported at `path` (relative to
/// `value`, itself at `base`). Inside tagged enums serde loses the path, so
/// a missing field is named from the message, and another culprit is found
/// by its quoted value in the tree.
fn place(
    value: &serde_json::Value,
    base: &str,
    path: &str,
    inner: String,
    decode: &dyn Fn(&serde_json::Value) -> Option<String>,
) -> (String, String) {
    let join = |p: &str| match (base.is_empty(), p.is_empty()) {
        (_, true) => base.to_string(),
        (true, false) => p.to_string(),
        (false, false) if p.starts_with('[') => format!("{base}{p}"),
        (false, false) => format!("{base}.{p}"),
    };
    let here = if path == "." { "" } else { path };
    if let Some(field) = inner
        .strip_prefix("missing field `")
        .and_then(|r| r.strip_suffix('`'))
    {
        let at = if here.is_empty() {
            field.to_string()
        } else {
            format!("{here}.{field}")
        };
        return (join(&at), "missing field".into());
    }
    if !here.is_empty() {
        return (join(here), inner);
    }
    let found = culprit(value, &inner, decode).or_else(|| {
        quoted_value(&inner).and_then(|needle| find_path(value, needle, String::new()))
    });
    (join(found.as_deref().unwrap_or("")), inner)
}

/// The field of an object that the error `inner` is about, found by taking
/// each field out in turn: the culprit is one whose absence makes the error
/// go away (an optional field), else the one whose absence turns it into
/// "missing field" for that field (a required one). Serde loses the path
/// inside tagged and flattened types; this finds it again.
fn culprit(
    value: &serde_json::Value,
    inner: &str,
    decode: &dyn Fn(&serde_json::Value) -> Option<String>,
) -> Option<String> {
    // Real operations have a handful of fields; a hostile one with
    // thousands is not worth a search that grows with its square.
    let map = value.as_object().filter(|m| m.len() <= 32)?;
    let mut missing = None;
    for k in map.keys() {
        if ["type", "op", "kind"].contains(&k.as_str()) {
            continue;
        }
        let mut without = map.clone();
        without.remove(k);
        match decode(&serde_json::Value::Object(without)) {
            None => return Some(k.clone()),
            Some(e) if e != inner && e == format!("missing field `{k}`") => {
                missing.get_or_insert_with(|| k.clone());
            }
            Some(_) => {}
        }
    }
    missing
}

/// The error decoding `value` as a `T`, if any.
fn error_as<T: serde::de::DeserializeOwned>(value: &serde_json::Value) -> Option<String> {
    serde_json::from_value::<T>(value.clone())
        .err()
        .map(serde_message)
}

/// For an `edit`, the first operation that does not decode, with the path
/// inside it (`ops[2].staff`), looking into a `put_code`'s code and a
/// `put_rule`'s rule on their own so that their fields are named too.
fn locate_in_ops(value: &serde_json::Value, ty: &str) -> Option<(String, String)> {
    if ty != "edit" {
        return None;
    }
    let ops = value.get("ops")?.as_array()?;
    ops.iter().enumerate().find_map(|(i, op)| {
        let base = format!("ops[{i}]");
        let (path, inner) = first_error::<Op>(op)?;
        let nested = match op.get("op").and_then(serde_json::Value::as_str) {
            Some("put_code") => op
                .get("code")
                .filter(|c| c.is_object())
                .and_then(|c| first_error::<ShiftCode>(c).map(|e| (c, "code", e))),
            Some("put_rule") => op
                .get("rule")
                .filter(|r| r.is_object())
                .and_then(|r| first_error::<Rule>(r).map(|e| (r, "rule", e))),
            _ => None,
        };
        Some(match nested {
            Some((inner_value, field, (p, m))) => {
                let decode: &dyn Fn(&serde_json::Value) -> Option<String> = if field == "code" {
                    &error_as::<ShiftCode>
                } else {
                    &error_as::<Rule>
                };
                place(inner_value, &format!("{base}.{field}"), &p, m, decode)
            }
            None => place(op, &base, &path, inner, &error_as::<Op>),
        })
    })
}

/// The path and message of the first error decoding `value` as a `T`.
fn first_error<T: serde::de::DeserializeOwned>(
    value: &serde_json::Value,
) -> Option<(String, String)> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(_) => None,
        Err(e) => {
            let path = e.path().to_string();
            Some((path, serde_message(e.into_inner())))
        }
    }
}

/// The first value quoted in a serde message (`x` or "x").
fn quoted_value(msg: &str) -> Option<&str> {
    for q in ['`', '"'] {
        if let Some(start) = msg.find(q) {
            let rest = &msg[start + 1..];
            if let Some(end) = rest.find(q) {
                return Some(&rest[..end]);
            }
        }
    }
    None
}

/// The path (`ops[2].date`) of the first leaf whose text is `needle`.
fn find_path(v: &serde_json::Value, needle: &str, here: String) -> Option<String> {
    match v {
        serde_json::Value::String(s) if s == needle => Some(here),
        serde_json::Value::Number(n) if n.to_string() == needle => Some(here),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| find_path(item, needle, format!("{here}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, item)| {
            let p = if here.is_empty() {
                k.clone()
            } else {
                format!("{here}.{k}")
            };
            find_path(item, needle, p)
        }),
        _ => None,
    }
}
