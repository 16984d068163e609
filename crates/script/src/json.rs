//! JSON in and out. `--apply` reads a list of protocol operations (the `op`
//! objects of docs/protocol.md: cells, staff, codes, rules, requests,
//! conflict mode), or a whole roster as `--export json` writes it (with its
//! `requests`). Each operation, and each request of a roster, is reported
//! at the line its object starts on.

use super::{LineError, Lines, Plan, Selection};
use rota_core::domain::{
    Date, MAX_NOTE_CHARS, MAX_WEIGHT, Op, Request, Roster, Rule, Seq, Settings, ShiftCode, Staff,
};
use serde::{Deserialize, Serialize};

/// A roster as `--export json` writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exported {
    pub roster: String,
    #[serde(default)]
    pub seq: Seq,
    #[serde(default)]
    pub settings: Settings,
    #[serde(default)]
    pub staff: Vec<Staff>,
    #[serde(default)]
    pub codes: Vec<ShiftCode>,
    #[serde(default)]
    pub rules: Vec<Rule>,
    #[serde(default)]
    pub cells: Vec<ExportedCell>,
    /// Staff requests (`by` and `seq` are written, and ignored when read:
    /// the hub sets them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<Request>,
    /// The input line of each request (when read from a file).
    #[serde(skip)]
    pub request_lines: Vec<usize>,
    /// The rule findings of what was exported (read back, they are
    /// ignored: they follow from the roster).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<ExportedWarning>,
}

/// One rule finding, as `--export json` writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportedWarning {
    pub rule: String,
    pub first: Date,
    pub last: Date,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub staff: Vec<String>,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportedCell {
    pub staff: String,
    pub date: Date,
    pub code: String,
}

/// What a JSON input holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// Operations with the line each starts on.
    Ops(Vec<(usize, Op)>),
    Roster(Box<Exported>),
}

/// Reads the input: the operations that could be read, and a problem for
/// each that could not. Err when the text is not JSON of either shape.
pub fn parse(text: &str) -> Result<(Input, Vec<LineError>), Vec<LineError>> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        vec![LineError::new(
            e.line(),
            format!("not valid JSON (column {}): {e}", e.column()),
        )]
    })?;
    match value {
        serde_json::Value::Array(items) => Ok(parse_ops(text, items)),
        serde_json::Value::Object(map) => {
            let mut de = serde_json::Deserializer::from_str(text);
            let mut file =
                serde_path_to_error::deserialize::<_, Exported>(&mut de).map_err(|e| {
                    vec![LineError::new(
                        e.inner().line(),
                        format!(
                            "not a roster as `--export json` writes it: field `{}`: {}",
                            e.path(),
                            e.inner()
                        ),
                    )]
                })?;
            // Each request at the line its object starts on.
            let starts: Vec<usize> = top_key_offset(text, "requests")
                .map(|at| {
                    element_starts(&text[at..])
                        .into_iter()
                        .map(|o| o + at)
                        .collect()
                })
                .unwrap_or_default();
            let mut lines = Lines::new(text);
            file.request_lines = (0..file.requests.len())
                .map(|i| starts.get(i).map_or(0, |&o| lines.at(o)))
                .collect();
            let mut errors = Vec::new();
            if let Some(serde_json::Value::Array(requests)) = map.get("requests") {
                for (i, r) in requests.iter().enumerate() {
                    let line = file.request_lines.get(i).copied().unwrap_or(0);
                    for m in check_request(&format!("requests[{i}]"), r) {
                        errors.push(LineError::new(line, m));
                    }
                }
            }
            if errors.is_empty() {
                Ok((Input::Roster(Box::new(file)), Vec::new()))
            } else {
                Err(errors)
            }
        }
        _ => Err(vec![LineError::new(
            1,
            "expected a list of operations `[{\"op\": \"set_cell\", ...}]` or an exported roster",
        )]),
    }
}

fn parse_ops(text: &str, items: Vec<serde_json::Value>) -> (Input, Vec<LineError>) {
    let starts = element_starts(text);
    let mut lines = Lines::new(text);
    let mut ops = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let line = starts.get(i).map_or(0, |&o| lines.at(o));
        let request_errors = match (item.get("op"), item.get("request")) {
            (Some(serde_json::Value::String(op)), Some(r)) if op == "put_request" => {
                check_request("request", r)
            }
            _ => Vec::new(),
        };
        match serde_path_to_error::deserialize::<_, Op>(item) {
            Ok(_) if !request_errors.is_empty() => {
                for m in request_errors {
                    errors.push(LineError::new(line, format!("operation {}: {m}", i + 1)));
                }
            }
            Ok(op) => ops.push((line, op)),
            Err(e) => {
                let path = e.path().to_string();
                let at = if path == "." {
                    String::new()
                } else {
                    format!("field `{path}`: ")
                };
                errors.push(LineError::new(
                    line,
                    format!("operation {}: {at}{}", i + 1, e.inner()),
                ));
            }
        }
    }
    (Input::Ops(ops), errors)
}

/// What a request object may hold (`by` and `seq` as exported).
const REQUEST_FIELDS: [&str; 8] = [
    "staff", "date", "want", "code", "weight", "note", "by", "seq",
];

/// What the types let through in a request object at `path` and the
/// roster would not take, or would drop unsaid: an unknown field (a typo
/// such as `wieght` would leave the weight at 1), a weight out of 1 to
/// [`MAX_WEIGHT`], a note too long. Each names the field and its value.
fn check_request(path: &str, v: &serde_json::Value) -> Vec<String> {
    let Some(obj) = v.as_object() else {
        return Vec::new(); // the types say what is wrong
    };
    let mut out = Vec::new();
    for (k, value) in obj {
        if !REQUEST_FIELDS.contains(&k.as_str()) {
            out.push(format!(
                "field `{path}.{k}`: unknown field (value {value}); a request has staff, date, want, code, weight and note"
            ));
        }
    }
    if let Some(w) = obj.get("weight").and_then(serde_json::Value::as_u64)
        && !(1..=u64::from(MAX_WEIGHT)).contains(&w)
    {
        out.push(format!(
            "field `{path}.weight`: {w} is not a weight from 1 to {MAX_WEIGHT}"
        ));
    }
    if let Some(note) = obj.get("note").and_then(serde_json::Value::as_str) {
        let n = note.trim().chars().count();
        if n > MAX_NOTE_CHARS {
            out.push(format!(
                "field `{path}.note`: `{}…` is {n} characters; at most {MAX_NOTE_CHARS}",
                note.chars().take(20).collect::<String>()
            ));
        }
    }
    out
}

/// The byte offset of the value of `key` in the text's top-level object.
/// The text is known to be valid JSON.
fn top_key_offset(text: &str, key: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let (mut start, mut last) = (0usize, None::<(usize, usize)>);
    let mut after_key = false;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => {
                    in_string = false;
                    if depth == 1 {
                        last = Some((start, i));
                    }
                }
                _ => {}
            }
            continue;
        }
        if after_key && !b.is_ascii_whitespace() {
            return Some(i);
        }
        match b {
            b'"' => {
                in_string = true;
                start = i + 1;
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            b':' if depth == 1 => {
                // The key just read: compare it as JSON reads it.
                let name =
                    last.and_then(|(a, z)| serde_json::from_str::<String>(&text[a - 1..=z]).ok());
                after_key = name.as_deref() == Some(key);
            }
            b',' if depth == 1 => last = None,
            _ => {}
        }
    }
    None
}

/// Byte offsets where each element of the top-level array starts. The text
/// is known to be valid JSON.
fn element_starts(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut expect) = (0usize, false, false, false);
    for (i, b) in text.bytes().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        if expect && !b.is_ascii_whitespace() && b != b']' {
            starts.push(i);
            expect = false;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth == 1 {
                    expect = true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => expect = true,
            _ => {}
        }
    }
    starts
}

/// The operations that make `roster` hold what `file` holds: its settings,
/// staff, codes and rules, and its cells. Cells it does not mention are
/// left alone.
pub fn plan_roster(file: &Exported, roster: &Roster) -> Plan {
    let mut plan = Plan::default();
    if file.settings.conflict_mode != roster.conflict_mode() {
        plan.push(
            0,
            Op::SetConflictMode {
                mode: file.settings.conflict_mode,
            },
        );
    }
    if let Some(p) = file.settings.period
        && roster.set_period() != Some(p)
    {
        plan.push(
            0,
            Op::SetPeriod {
                from: p.from,
                to: p.to,
            },
        );
    }
    if file.settings.time_zone.is_some() && file.settings.time_zone.as_deref() != roster.time_zone()
    {
        plan.push(
            0,
            Op::SetTimeZone {
                zone: file.settings.time_zone.clone(),
            },
        );
    }
    for s in &file.staff {
        match roster.staff_member(&s.id) {
            None if s.active => plan.push(
                0,
                Op::AddStaff {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    group: s.group.clone(),
                    order: Some(s.order),
                },
            ),
            None => {}
            Some(cur) if cur.active && !s.active => plan.push(
                0,
                Op::RemoveStaff {
                    id: s.id.clone(),
                    base: None,
                },
            ),
            Some(cur) if (&cur.name, &cur.group, cur.order) != (&s.name, &s.group, s.order) => plan
                .push(
                    0,
                    Op::UpdateStaff {
                        id: s.id.clone(),
                        name: Some(s.name.clone()),
                        group: Some(s.group.clone()),
                        order: Some(s.order),
                        base: None,
                    },
                ),
            Some(_) => {}
        }
    }
    for c in &file.codes {
        let mut want = c.clone();
        want.seq = 0;
        let same = roster.code(&c.code).is_some_and(|cur| {
            let mut cur = cur.clone();
            cur.seq = 0;
            cur == want
        });
        if !same {
            plan.push(
                0,
                Op::PutCode {
                    code: want,
                    base: None,
                },
            );
        }
    }
    for r in &file.rules {
        let same = roster.rule(&r.id).is_some_and(|cur| cur.kind == r.kind);
        if !same {
            let mut rule = r.clone();
            rule.seq = 0;
            plan.push(0, Op::PutRule { rule, base: None });
        }
    }
    for c in &file.cells {
        plan.push(
            0,
            Op::SetCell {
                staff: c.staff.clone(),
                date: c.date,
                code: Some(c.code.clone()),
                base: 0,
            },
        );
    }
    for (i, r) in file.requests.iter().enumerate() {
        let same = roster.request(&r.staff, r.date).is_some_and(|cur| {
            (&cur.wish, cur.weight, cur.note.trim()) == (&r.wish, r.weight, r.note.trim())
        });
        if !same {
            plan.places.insert(plan.ops.len(), format!("requests[{i}]"));
            let request = Request {
                by: String::new(),
                seq: 0,
                ..r.clone()
            };
            let line = file.request_lines.get(i).copied().unwrap_or(0);
            plan.push(
                line,
                Op::PutRequest {
                    request,
                    base: None,
                },
            );
        }
    }
    plan
}

/// The roster (its selected cells) as pretty JSON, in roster order.
pub fn export(roster: &Roster, name: &str, sel: &Selection) -> String {
    let staff = match &sel.staff {
        Some(id) => roster.staff().into_iter().filter(|s| s.id == *id).collect(),
        None => roster.staff(),
    };
    let file = Exported {
        roster: name.to_string(),
        seq: roster.seq(),
        settings: roster.settings(),
        staff,
        codes: roster.codes(),
        rules: roster.rules(),
        cells: sel
            .cells(roster)
            .into_iter()
            .map(|(s, date, code)| ExportedCell {
                staff: s.id,
                date,
                code,
            })
            .collect(),
        requests: sel.requests(roster),
        request_lines: Vec::new(),
        warnings: sel
            .findings(roster)
            .into_iter()
            .map(|f| ExportedWarning {
                message: f.message(),
                rule: f.rule,
                first: f.first,
                last: f.last,
                staff: f.staff,
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_operation_is_placed_at_its_line() {
        let text = "[\n  {\"op\": \"set_cell\", \"staff\": \"a\", \"date\": \"2026-12-01\", \"code\": \"D\"},\n\n  {\"op\": \"remove_staff\",\n   \"id\": \"b\"},\n  {\"op\": \"set_cell\", \"staff\": \"a\", \"date\": \"2026-12-32\", \"code\": null},\n  {\"op\": \"fly\"}\n]";
        let (Input::Ops(ops), errors) = parse(text).unwrap() else {
            panic!("expected ops")
        };
        assert_eq!(ops.len(), 2, "the good operations are kept");
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].line, 6);
        assert!(
            errors[0].message.contains("operation 3"),
            "{}",
            errors[0].message
        );
        assert!(
            errors[0].message.contains("no such day"),
            "{}",
            errors[0].message
        );
        assert_eq!(errors[1].line, 7);
        let good = "[{\"op\":\"remove_staff\",\"id\":\"a,]\\\"\"},\n {\"op\":\"remove_staff\",\"id\":\"b\"}]";
        let (Input::Ops(ops), _) = parse(good).unwrap() else {
            panic!("expected ops")
        };
        assert_eq!(ops.iter().map(|o| o.0).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn bad_json_is_reported_with_its_line() {
        let e = parse("[\n{\"op\": \"set_cell\",,}\n]").unwrap_err();
        assert_eq!(e[0].line, 2);
        assert!(
            parse("42").unwrap_err()[0]
                .message
                .contains("list of operations")
        );
    }
}
