//! JSON in and out. `--apply` reads a list of protocol operations (the `op`
//! objects of docs/protocol.md: cells, staff, codes, rules, requests,
//! conflict mode), or a whole roster as `--export json` writes it (with its
//! `requests`). Every operation, and every element of a roster's lists, is
//! read on its own, so that one run reports each bad one: at the line of
//! the field that is wrong, by its path (`operation 4: field
//! `request.weight``, `requests[3].want`) and with its value.

use super::{LineError, Lines, Plan, Selection};
use rota_core::domain::{
    Date, MAX_NOTE_CHARS, MAX_WEIGHT, Op, Request, Roster, Rule, Seq, Settings, ShiftCode, Staff,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

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
    /// Where each request was read (when read from a file): its input line
    /// and its index in the file's `requests` (a bad one is left out, so
    /// the two may differ).
    #[serde(skip)]
    pub request_at: Vec<(usize, usize)>,
    /// The rule findings of what was exported (read back, they are
    /// ignored: they follow from the roster).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<ExportedWarning>,
}

/// The fields of an [`Exported`] roster, as written.
const ROSTER_FIELDS: [&str; 9] = [
    "roster", "seq", "settings", "staff", "codes", "rules", "cells", "requests", "warnings",
];

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

/// Reads the input: what could be read, and a problem for each field that
/// could not (all of them: operations, and the elements of a roster's
/// lists, are read one by one). Err when the text is not JSON of either
/// shape (broken JSON is reported at its line, and stops the reading).
pub fn parse(text: &str) -> Result<(Input, Vec<LineError>), Vec<LineError>> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        vec![LineError::new(
            e.line(),
            format!("not valid JSON (column {}): {e}", e.column()),
        )]
    })?;
    let root = text.len() - text.trim_start_matches([' ', '\t', '\n', '\r']).len();
    match &value {
        Value::Array(items) => Ok(parse_ops(text, root, items)),
        Value::Object(map) if map.contains_key("op") => Err(vec![LineError::new(
            Lines::new(text).at(root),
            "one operation, not in a list: write a list of operations, `[{\"op\": ...}, ...]`, \
             even of one (or a whole roster as `--export json` writes it)",
        )]),
        Value::Object(map) => Ok(parse_roster(text, root, map)),
        _ => Err(vec![LineError::new(
            1,
            "expected a list of operations `[{\"op\": \"set_cell\", ...}]` or an exported roster",
        )]),
    }
}

fn parse_ops(text: &str, root: usize, items: &[Value]) -> (Input, Vec<LineError>) {
    let starts = children(text, root);
    let mut lines = Lines::new(text);
    let mut ops = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = starts.get(i).map_or(root, |&(_, o)| o);
        let line = lines.at(at);
        match read_op(item) {
            Ok(op) => ops.push((line, op)),
            Err(bad) => errors.extend(bad.into_iter().map(|b| {
                LineError::new(
                    line_in(text, at, line, &b.at),
                    format!("operation {}: {}", i + 1, b.message(&[])),
                )
            })),
        }
    }
    (Input::Ops(ops), errors)
}

/// One operation, or everything wrong with it: a request is checked field
/// by field (see [`check_request`]); anything else as its types say.
fn read_op(v: &Value) -> Result<Op, Vec<Bad>> {
    let Some(obj) = v.as_object() else {
        return Err(vec![Bad::at(
            Vec::new(),
            format!(
                "{} is not an operation: write an object such as {{\"op\": \"set_cell\", ...}}",
                shown(v)
            ),
        )]);
    };
    if let (Some("put_request"), Some(request)) =
        (obj.get("op").and_then(Value::as_str), obj.get("request"))
    {
        let mut bad: Vec<Bad> = check_request(request)
            .into_iter()
            .map(|b| b.under(Step::key("request")))
            .collect();
        if !bad.is_empty() {
            // And what else is wrong: the operation with a request that reads.
            let mut rest = v.clone();
            rest["request"] =
                serde_json::json!({"staff": "-", "date": "2000-01-01", "want": "off"});
            if let Err(b) = typed::<Op>(&rest) {
                bad.push(b);
            }
            return Err(bad);
        }
    }
    typed::<Op>(v).map_err(|b| vec![b])
}

/// A roster as exported, each part and each element of its lists read on
/// its own: what reads is kept (and checked against the roster later), and
/// every problem is returned.
fn parse_roster(
    text: &str,
    root: usize,
    map: &serde_json::Map<String, Value>,
) -> (Input, Vec<LineError>) {
    let mut file = Exported {
        roster: String::new(),
        seq: 0,
        settings: Settings::default(),
        staff: Vec::new(),
        codes: Vec::new(),
        rules: Vec::new(),
        cells: Vec::new(),
        requests: Vec::new(),
        request_at: Vec::new(),
        warnings: Vec::new(),
    };
    let mut lines = Lines::new(text);
    let root_line = lines.at(root);
    let mut errors = Vec::new();
    let keys = children(text, root);
    // JSON keeps the last of a field given twice: that one is read.
    let last: HashMap<&str, usize> = keys
        .iter()
        .enumerate()
        .filter_map(|(n, (k, _))| Some((k.as_deref()?, n)))
        .collect();
    let mut first_line: HashMap<&str, usize> = HashMap::new();
    for (n, (name, at)) in keys.iter().enumerate() {
        let Some(name) = name.as_deref() else {
            continue;
        };
        let line = lines.at(*at);
        if let Some(first) = first_line.get(name) {
            errors.push(LineError::new(
                line,
                format!("field `{name}` is given again (first at line {first}): give it once"),
            ));
        } else {
            first_line.insert(name, line);
        }
        let (Some(v), true) = (map.get(name), last.get(name) == Some(&n)) else {
            continue;
        };
        let part = Part {
            text,
            name,
            at: *at,
            line,
        };
        let errs = &mut errors;
        match name {
            "roster" => file.roster = part.one(v, errs).unwrap_or_default(),
            "seq" => file.seq = part.one(v, errs).unwrap_or_default(),
            "settings" => file.settings = part.one(v, errs).unwrap_or_default(),
            "staff" => file.staff = part.each(v, &mut lines, errs, one_typed).2,
            "codes" => file.codes = part.each(v, &mut lines, errs, one_typed).2,
            "rules" => file.rules = part.each(v, &mut lines, errs, one_typed).2,
            "cells" => file.cells = part.each(v, &mut lines, errs, one_typed).2,
            "warnings" => file.warnings = part.each(v, &mut lines, errs, one_typed).2,
            "requests" => {
                let (at, indices, requests) = part.each(v, &mut lines, errs, read_request);
                file.request_at = at.into_iter().zip(indices).collect();
                file.requests = requests;
            }
            _ => errors.push(LineError::new(
                line,
                format!(
                    "field `{name}`: unknown field; a roster as `--export json` writes it has {}",
                    ROSTER_FIELDS.join(", ")
                ),
            )),
        }
    }
    if !map.contains_key("roster") {
        errors.push(LineError::new(
            root_line,
            "field `roster` is missing: a roster as `--export json` writes it is an object \
             with its name, `{\"roster\": \"default\", ...}`; operations are a list, `[...]`",
        ));
    }
    (Input::Roster(Box::new(file)), errors)
}

/// A top-level field of an exported roster, and where it is.
struct Part<'t> {
    text: &'t str,
    name: &'t str,
    /// Byte offset and line of its value.
    at: usize,
    line: usize,
}

impl Part<'_> {
    /// Its value as a `T`, or its problem.
    fn one<T: DeserializeOwned>(&self, v: &Value, errors: &mut Vec<LineError>) -> Option<T> {
        typed(v)
            .map_err(|b| {
                errors.push(LineError::new(
                    line_in(self.text, self.at, self.line, &b.at),
                    b.message(&[Step::key(self.name)]),
                ))
            })
            .ok()
    }

    /// Each element of its list that `read` reads, with its line and
    /// index; a problem for each field of the others.
    fn each<T>(
        &self,
        v: &Value,
        lines: &mut Lines,
        errors: &mut Vec<LineError>,
        read: impl Fn(&Value) -> Result<T, Vec<Bad>>,
    ) -> (Vec<usize>, Vec<usize>, Vec<T>) {
        let Value::Array(items) = v else {
            errors.push(LineError::new(
                self.line,
                format!(
                    "field `{}`: {} is not a list: write `[...]`",
                    self.name,
                    shown(v)
                ),
            ));
            return Default::default();
        };
        let starts = children(self.text, self.at);
        let (mut at, mut indices, mut out) = (Vec::new(), Vec::new(), Vec::new());
        for (i, item) in items.iter().enumerate() {
            let offset = starts.get(i).map_or(self.at, |&(_, o)| o);
            let line = lines.at(offset);
            match read(item) {
                Ok(t) => {
                    at.push(line);
                    indices.push(i);
                    out.push(t);
                }
                Err(bad) => errors.extend(bad.into_iter().map(|b| {
                    LineError::new(
                        line_in(self.text, offset, line, &b.at),
                        b.message(&[Step::key(self.name), Step::Index(i)]),
                    )
                })),
            }
        }
        (at, indices, out)
    }
}

fn one_typed<T: DeserializeOwned>(v: &Value) -> Result<T, Vec<Bad>> {
    typed(v).map_err(|b| vec![b])
}

/// A request of a roster's list: checked field by field, then read.
fn read_request(v: &Value) -> Result<Request, Vec<Bad>> {
    let bad = check_request(v);
    if bad.is_empty() {
        one_typed(v)
    } else {
        Err(bad)
    }
}

/// What a request object may hold (`by` and `seq` as exported).
const REQUEST_FIELDS: [&str; 8] = [
    "staff", "date", "want", "code", "weight", "note", "by", "seq",
];

/// What `want` may be.
const WANTS: &str = "a request wants `on` with a code (to work that shift), or `off` with an \
                     optional code (not to work it, or not to work at all)";

/// Everything wrong with a request object, each field on its own, with
/// its path (from the object) and its value; also what the types let
/// through and the roster would not take, or would drop unsaid: an unknown
/// field (a typo such as `wieght` would leave the weight at 1), a weight
/// out of 1 to [`MAX_WEIGHT`], a note too long.
fn check_request(v: &Value) -> Vec<Bad> {
    let Some(obj) = v.as_object() else {
        return vec![Bad::at(
            Vec::new(),
            format!(
                "{} is not a request: write an object such as \
                 {{\"staff\": \"s1\", \"date\": \"2026-12-02\", \"want\": \"off\"}}",
                shown(v)
            ),
        )];
    };
    let at = |field: &str| vec![Step::key(field)];
    let mut out = Vec::new();
    match obj.get("staff") {
        None => out.push(Bad::missing(
            at("staff"),
            "a request names its person by staff id",
        )),
        Some(Value::String(_)) => {}
        Some(v) => out.push(Bad::at(
            at("staff"),
            format!("{} is not a staff id (a string, such as \"s1\")", shown(v)),
        )),
    }
    match obj.get("date") {
        None => out.push(Bad::missing(
            at("date"),
            "a request is for a date, \"YYYY-MM-DD\"",
        )),
        Some(Value::String(s)) => {
            if let Err(m) = s.parse::<Date>() {
                out.push(Bad::at(at("date"), m));
            }
        }
        Some(v) => out.push(Bad::at(
            at("date"),
            format!("{} is not a date: write \"YYYY-MM-DD\"", shown(v)),
        )),
    }
    let code = obj.get("code");
    match (obj.get("want"), code) {
        (None, _) => out.push(Bad::missing(at("want"), WANTS)),
        (Some(Value::String(w)), None) if w == "on" => out.push(Bad::missing(
            at("code"),
            "`on` needs a code, the shift to work (\"want\": \"on\", \"code\": \"N\")",
        )),
        (Some(Value::String(w)), Some(Value::Null)) if w == "on" => out.push(Bad::at(
            at("code"),
            "null: `on` needs a code, the shift to work (\"want\": \"on\", \"code\": \"N\")",
        )),
        (Some(Value::String(w)), _) if w == "on" || w == "off" => {}
        (Some(w), _) => {
            let case = match w.as_str().map(str::to_ascii_lowercase).as_deref() {
                Some("on" | "off") => " (it is written in lower case)",
                _ => "",
            };
            out.push(Bad::at(
                at("want"),
                format!("{} is not `on` or `off`{case}: {WANTS}", shown(w)),
            ))
        }
    }
    match code {
        None | Some(Value::Null | Value::String(_)) => {}
        Some(v) => out.push(Bad::at(
            at("code"),
            format!("{} is not a shift code (a string, such as \"N\")", shown(v)),
        )),
    }
    if let Some(w) = obj.get("weight") {
        let whole = w.as_i64().map(i128::from).or(w.as_u64().map(i128::from));
        match whole {
            Some(n) if (1..=i128::from(MAX_WEIGHT)).contains(&n) => {}
            Some(n) => out.push(Bad::at(
                at("weight"),
                format!("{n} is not a weight from 1 to {MAX_WEIGHT}"),
            )),
            None => {
                let hint = match w {
                    Value::String(s) if s.trim().parse::<u64>().is_ok() => {
                        format!(", written without quotes ({})", s.trim())
                    }
                    Value::Null => ", or no `weight` for 1".to_string(),
                    _ => String::new(),
                };
                out.push(Bad::at(
                    at("weight"),
                    format!(
                        "{} is not a weight: a whole number from 1 to {MAX_WEIGHT}{hint}",
                        shown(w)
                    ),
                ));
            }
        }
    }
    match obj.get("note") {
        None => {}
        Some(Value::String(note)) => {
            let n = note.trim().chars().count();
            if n > MAX_NOTE_CHARS {
                out.push(Bad::at(
                    at("note"),
                    format!(
                        "{n} characters, at most {MAX_NOTE_CHARS}: \"{} ...\"",
                        opening(note.trim(), 40)
                    ),
                ));
            }
        }
        Some(v) => out.push(Bad::at(
            at("note"),
            format!("{} is not a note (text), or leave `note` out", shown(v)),
        )),
    }
    match obj.get("by") {
        None | Some(Value::String(_)) => {}
        Some(v) => out.push(Bad::at(
            at("by"),
            format!("{} is not a user name (`--apply` ignores it)", shown(v)),
        )),
    }
    match obj.get("seq") {
        None => {}
        Some(v) if v.as_u64().is_some() => {}
        Some(v) => out.push(Bad::at(
            at("seq"),
            format!(
                "{} is not a seq, a whole number (`--apply` ignores it)",
                shown(v)
            ),
        )),
    }
    for (k, value) in obj {
        if !REQUEST_FIELDS.contains(&k.as_str()) {
            out.push(Bad::at(
                at(k),
                format!(
                    "unknown field (value {value}); a request has staff, date, want, code, weight and note"
                ),
            ));
        }
    }
    out
}

/// The words `s` starts with, whole, up to about `chars` characters (at
/// least one word).
fn opening(s: &str, chars: usize) -> String {
    let mut out = String::new();
    for word in s.split_whitespace() {
        if !out.is_empty() && out.chars().count() + 1 + word.chars().count() > chars {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// A value as it is written in JSON, to show in a message (a list or an
/// object by its kind).
fn shown(v: &Value) -> String {
    match v {
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
        v => v.to_string(),
    }
}

/// One step of a field path: a key of an object, or an index in a list.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

impl Step {
    fn key(k: &str) -> Step {
        Step::Key(k.to_string())
    }
}

/// `requests[3].weight`
fn path_text(steps: &[Step]) -> String {
    let mut s = String::new();
    for step in steps {
        match step {
            Step::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Step::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// What is wrong with one field of a value (or with the whole value).
#[derive(Debug)]
struct Bad {
    /// The field's path from the value checked.
    at: Vec<Step>,
    /// The field is not there.
    missing: bool,
    /// What is wrong, with the field's value.
    what: String,
}

impl Bad {
    fn at(at: Vec<Step>, what: impl Into<String>) -> Bad {
        Bad {
            at,
            missing: false,
            what: what.into(),
        }
    }

    fn missing(at: Vec<Step>, what: impl Into<String>) -> Bad {
        Bad {
            at,
            missing: true,
            what: what.into(),
        }
    }

    /// The same, of the value under `step`.
    fn under(mut self, step: Step) -> Bad {
        self.at.insert(0, step);
        self
    }

    /// `field `requests[3].want`: ...`, the path starting with `outer`,
    /// the path of the value checked.
    fn message(&self, outer: &[Step]) -> String {
        let path = path_text(&[outer, &self.at].concat());
        match (self.missing, self.what.is_empty(), path.is_empty()) {
            (true, true, _) => format!("field `{path}` is missing"),
            (true, false, _) => format!("field `{path}` is missing: {}", self.what),
            (false, _, true) => self.what.clone(),
            (false, _, false) => format!("field `{path}`: {}", self.what),
        }
    }
}

/// `v` read as a `T`, or what is wrong with it, at the field the error
/// comes from and with its value. The types lose the path inside an
/// internally tagged or flattened part (every operation, a rule's kind, a
/// request's `want`): it is then found by trying (see [`explain`]).
fn typed<T: DeserializeOwned>(v: &Value) -> Result<T, Bad> {
    // Most values read: the path is tracked only for those that do not.
    if let Ok(t) = T::deserialize(v) {
        return Ok(t);
    }
    serde_path_to_error::deserialize::<_, T>(v).map_err(|e| {
        let start = steps_of(e.path());
        let error = e.into_inner().to_string();
        explain(v, start, error, &|v: &Value| {
            T::deserialize(v).map(drop).map_err(|e| e.to_string())
        })
    })
}

fn steps_of(path: &serde_path_to_error::Path) -> Vec<Step> {
    use serde_path_to_error::Segment;
    let mut out = Vec::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push(Step::Index(*index)),
            Segment::Map { key } => out.push(Step::key(key)),
            Segment::Enum { variant } => out.push(Step::key(variant)),
            Segment::Unknown => break,
        }
    }
    out
}

fn missing_field(error: &str) -> Option<&str> {
    error.strip_prefix("missing field `")?.strip_suffix('`')
}

/// Fields that are the tags of the protocol's internally tagged types:
/// taking one away always changes the error, so a tag is blamed last.
const TAGS: [&str; 3] = ["op", "kind", "want"];

/// Where in `root` the error `error` (what `read` says of it, the path
/// known so far `start`) comes from, as a [`Bad`] with the field's value.
///
/// A missing field: the deepest object under `start` that lacks it, where
/// giving it (as null) changes the error. Anything else: going down from
/// `start`, the one field whose removal changes the error (the others are
/// read past while reading the bad one), until none or several do.
fn explain(
    root: &Value,
    start: Vec<Step>,
    error: String,
    read: &dyn Fn(&Value) -> Result<(), String>,
) -> Bad {
    if let Some(field) = missing_field(&error) {
        let mut lacking = Vec::new();
        if let Some(node) = get(root, &start) {
            objects_lacking(node, start.clone(), field, &mut lacking);
        }
        lacking.sort_by_key(|p| std::cmp::Reverse(p.len()));
        let place = lacking
            .into_iter()
            .find(|p| {
                let mut v = root.clone();
                if let Some(Value::Object(m)) = get_mut(&mut v, p) {
                    m.insert(field.to_string(), Value::Null);
                }
                read(&v).err().as_deref() != Some(error.as_str())
            })
            .unwrap_or(start);
        let mut at = place;
        at.push(Step::key(field));
        return Bad::missing(at, "");
    }
    let mut at = start;
    while let Some(node) = get(root, &at) {
        let kids: Vec<Step> = match node {
            Value::Object(m) => m.keys().map(|k| Step::key(k)).collect(),
            Value::Array(a) => (0..a.len()).map(Step::Index).collect(),
            _ => break,
        };
        let mut changed = Vec::new();
        for kid in kids {
            let mut v = root.clone();
            if let Some(node) = get_mut(&mut v, &at) {
                match (node, &kid) {
                    (Value::Object(m), Step::Key(k)) => drop(m.remove(k)),
                    (Value::Array(a), Step::Index(i)) => drop(a.remove(*i)),
                    _ => {}
                }
            }
            let now = read(&v).err();
            if now.as_deref() != Some(error.as_str()) {
                changed.push((kid, now));
            }
        }
        match culprit(node, changed, &error) {
            Some(kid) => at.push(kid),
            None => break,
        }
    }
    let what = match get(root, &at) {
        Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => {
            let raw = match v {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            if !mentions(&error, &raw) {
                format!("{error} (value {v})")
            } else {
                error
            }
        }
        _ => error,
    };
    Bad::at(at, what)
}

/// A field whose removal changed the error, and the error then (None: it
/// read).
type Changed = (Step, Option<String>);

/// Of the fields of `node` whose removal changed the error, the one to
/// blame, if one stands out: one whose removal does more than make it
/// missing (it has a default), else one whose value the error shows, else
/// one that is not a tag.
fn culprit(node: &Value, changed: Vec<Changed>, error: &str) -> Option<Step> {
    let mut left = changed;
    let filters: [&dyn Fn(&Changed) -> bool; 3] = [
        &|(kid, now)| match (kid, now.as_deref().and_then(missing_field)) {
            (Step::Key(k), Some(m)) => k != m,
            _ => true,
        },
        &|(kid, _)| match child(node, kid) {
            Some(Value::String(s)) => mentions(error, s),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => mentions(error, &v.to_string()),
            _ => false,
        },
        &|(kid, _)| !matches!(kid, Step::Key(k) if TAGS.contains(&k.as_str())),
    ];
    for keep in filters {
        if left.len() <= 1 {
            break;
        }
        let kept: Vec<_> = left.iter().filter(|c| keep(c)).cloned().collect();
        if !kept.is_empty() {
            left = kept;
        }
    }
    match <[_; 1]>::try_from(left) {
        Ok([(kid, _)]) => Some(kid),
        Err(_) => None,
    }
}

/// Whether `error` shows `raw` whole (not inside a word: an id `r` is not
/// in "integer").
fn mentions(error: &str, raw: &str) -> bool {
    if raw.is_empty() {
        return false;
    }
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    error.match_indices(raw).any(|(i, _)| {
        !word(error[..i].chars().next_back()) && !word(error[i + raw.len()..].chars().next())
    })
}

fn objects_lacking(v: &Value, at: Vec<Step>, field: &str, out: &mut Vec<Vec<Step>>) {
    match v {
        Value::Object(m) => {
            if !m.contains_key(field) {
                out.push(at.clone());
            }
            for (k, v) in m {
                let mut next = at.clone();
                next.push(Step::key(k));
                objects_lacking(v, next, field, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                let mut next = at.clone();
                next.push(Step::Index(i));
                objects_lacking(v, next, field, out);
            }
        }
        _ => {}
    }
}

fn child<'v>(v: &'v Value, step: &Step) -> Option<&'v Value> {
    match (v, step) {
        (Value::Object(m), Step::Key(k)) => m.get(k),
        (Value::Array(a), Step::Index(i)) => a.get(*i),
        _ => None,
    }
}

fn get<'v>(v: &'v Value, at: &[Step]) -> Option<&'v Value> {
    at.iter().try_fold(v, child)
}

fn get_mut<'v>(v: &'v mut Value, at: &[Step]) -> Option<&'v mut Value> {
    at.iter().try_fold(v, |v, step| match (v, step) {
        (Value::Object(m), Step::Key(k)) => m.get_mut(k),
        (Value::Array(a), Step::Index(i)) => a.get_mut(*i),
        _ => None,
    })
}

/// The line of the field at `at` in the value that starts at byte
/// `offset` on line `line` (of a missing field: of the deepest part of
/// the path that is there).
fn line_in(text: &str, offset: usize, line: usize, at: &[Step]) -> usize {
    let mut here = offset;
    for step in at {
        let found = children(text, here)
            .into_iter()
            .enumerate()
            .rfind(|(i, (k, _))| match step {
                Step::Key(want) => k.as_deref() == Some(want.as_str()),
                Step::Index(want) => i == want,
            });
        match found {
            Some((_, (_, o))) => here = o,
            None => break,
        }
    }
    line + text[offset..here].bytes().filter(|&b| b == b'\n').count()
}

/// The members of the object or list whose value starts at byte `at` of
/// the text (valid JSON): for each, its key (None in a list) and the byte
/// offset of its value. Empty when no object or list starts there.
fn children(text: &str, at: usize) -> Vec<(Option<String>, usize)> {
    let bytes = text.as_bytes();
    let object = match bytes.get(at) {
        Some(b'{') => true,
        Some(b'[') => false,
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    let (mut depth, mut i) = (0usize, at);
    // Inside the container: a key comes next (objects), or a value.
    let (mut want_key, mut want_value) = (false, false);
    let mut key = None;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'"' {
            let mut end = i + 1;
            while end < bytes.len() && bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            if depth == 1 && want_key {
                key = serde_json::from_str::<String>(&text[i..=end.min(bytes.len() - 1)]).ok();
                want_key = false;
            } else if depth == 1 && want_value {
                out.push((key.take(), i));
                want_value = false;
            }
            i = end + 1;
            continue;
        }
        match b {
            b'{' | b'[' => {
                if depth == 1 && want_value {
                    out.push((key.take(), i));
                    want_value = false;
                }
                depth += 1;
                if depth == 1 {
                    (want_key, want_value) = (object, !object);
                }
            }
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            b':' if depth == 1 => want_value = true,
            b',' if depth == 1 => (want_key, want_value) = (object, !object),
            b' ' | b'\t' | b'\n' | b'\r' => {}
            _ if depth == 1 && want_value => {
                out.push((key.take(), i));
                want_value = false;
            }
            _ => {}
        }
        i += 1;
    }
    out
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
    for (j, r) in file.requests.iter().enumerate() {
        // Its line and index in the file (bad ones were left out).
        let (line, i) = file.request_at.get(j).copied().unwrap_or((0, j));
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
        request_at: Vec::new(),
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

    /// The problems of a list of operations, as `LINE: message`.
    fn problems(text: &str) -> Vec<String> {
        let (_, errors) = parse(text).unwrap();
        errors
            .iter()
            .map(|e| format!("{}: {}", e.line, e.message))
            .collect()
    }

    #[test]
    fn every_bad_field_of_an_operation_is_named_with_its_path_and_value() {
        let wants = "a request wants `on` with a code (to work that shift), or `off` with an \
                     optional code (not to work it, or not to work at all)";
        let request = |fields: &str| {
            format!(
                "[{{\"op\": \"put_request\", \"request\": {{\"staff\": \"s1\", \"date\": \"2026-12-02\", {fields}}}}}]"
            )
        };
        for (text, said) in [
            (
                request("\"want\": \"maybe\""),
                vec![format!(
                    "1: operation 1: field `request.want`: \"maybe\" is not `on` or `off`: {wants}"
                )],
            ),
            (
                request("\"want\": \"OFF\""),
                vec![format!(
                    "1: operation 1: field `request.want`: \"OFF\" is not `on` or `off` (it is written in lower case): {wants}"
                )],
            ),
            (
                request("\"weight\": 2"),
                vec![format!(
                    "1: operation 1: field `request.want` is missing: {wants}"
                )],
            ),
            (
                request("\"want\": \"on\""),
                vec![
                    "1: operation 1: field `request.code` is missing: `on` needs a code, the shift to work (\"want\": \"on\", \"code\": \"N\")".into(),
                ],
            ),
            (
                request("\"want\": \"off\", \"weight\": \"2\""),
                vec![
                    "1: operation 1: field `request.weight`: \"2\" is not a weight: a whole number from 1 to 1000, written without quotes (2)".into(),
                ],
            ),
            (
                // Every problem of one request, and of the operation around it.
                "[{\"op\": \"put_request\", \"base\": \"x\", \"request\": {\"staff\": 7, \"date\": \"2026-12-32\", \"want\": \"off\", \"code\": 3, \"weight\": 2.5, \"note\": null, \"wieght\": 2}}]".into(),
                vec![
                    "1: operation 1: field `request.staff`: 7 is not a staff id (a string, such as \"s1\")".into(),
                    "1: operation 1: field `request.date`: bad date `2026-12-32`: no such day".into(),
                    "1: operation 1: field `request.code`: 3 is not a shift code (a string, such as \"N\")".into(),
                    "1: operation 1: field `request.weight`: 2.5 is not a weight: a whole number from 1 to 1000".into(),
                    "1: operation 1: field `request.note`: null is not a note (text), or leave `note` out".into(),
                    "1: operation 1: field `request.wieght`: unknown field (value 2); a request has staff, date, want, code, weight and note".into(),
                    "1: operation 1: field `base`: invalid type: string \"x\", expected u64".into(),
                ],
            ),
            (
                // The types lose the path inside a tagged operation: found.
                "[{\"op\": \"set_cell\", \"staff\": \"s1\", \"date\": \"2026-12-32\", \"code\": \"D\"}]".into(),
                vec!["1: operation 1: field `date`: bad date `2026-12-32`: no such day".into()],
            ),
            (
                "[{\"op\": \"set_cell\", \"staff\": \"s1\", \"code\": \"D\"}]".into(),
                vec!["1: operation 1: field `date` is missing".into()],
            ),
            (
                "[{\"op\": \"put_code\", \"code\": {\"code\": \"X\", \"hours\": \"7\"}}]".into(),
                vec!["1: operation 1: field `code.hours`: invalid type: string \"7\", expected f64".into()],
            ),
            (
                "[{\"op\": \"put_rule\", \"rule\": {\"id\": \"r\", \"kind\": \"staffing\", \"code\": 5}}]".into(),
                vec!["1: operation 1: field `rule.code`: invalid type: integer `5`, expected a string".into()],
            ),
            (
                "[{\"op\": \"put_rule\", \"rule\": {\"kind\": \"forbidden_sequence\", \"first\": \"N\", \"then\": \"D\"}}]".into(),
                vec!["1: operation 1: field `rule.id` is missing".into()],
            ),
            (
                "[{\"op\": \"set_conflict_mode\", \"mode\": \"lww\"}]".into(),
                vec!["1: operation 1: field `mode`: unknown variant `lww`, expected `strict` or `last-writer-wins`".into()],
            ),
            (
                "[{\"staff\": \"s1\"}, 42]".into(),
                vec![
                    "1: operation 1: field `op` is missing".into(),
                    "1: operation 2: 42 is not an operation: write an object such as {\"op\": \"set_cell\", ...}".into(),
                ],
            ),
        ] {
            assert_eq!(problems(&text), said, "{text}");
        }
    }

    #[test]
    fn a_problem_is_at_the_line_of_its_field() {
        let text = "[\n {\"op\": \"put_request\",\n  \"request\": {\"staff\": \"s1\",\n    \"date\": \"2026-12-02\", \"want\": \"on\",\n    \"weight\": 0}},\n {\"op\": \"put_code\",\n  \"code\": {\n    \"code\": \"X\",\n    \"hours\": true}}\n]";
        assert_eq!(
            problems(text),
            [
                // Missing: the line of the object that lacks it.
                "3: operation 1: field `request.code` is missing: `on` needs a code, the shift to work (\"want\": \"on\", \"code\": \"N\")",
                "5: operation 1: field `request.weight`: 0 is not a weight from 1 to 1000",
                "9: operation 2: field `code.hours`: invalid type: boolean `true`, expected f64",
            ]
        );
    }

    #[test]
    fn every_bad_element_of_a_roster_is_reported_and_the_rest_kept() {
        let text = r#"{"roster": "default",
 "staff": [{"id": "a", "name": "Ann"}, {"id": "b", "name": 5}],
 "cells": [{"staff": "a", "date": "2026-12-1", "code": "D"}],
 "requests": [
  {"staff": "a", "date": "2026-12-02", "want": "maybe"},
  {"staff": "a", "date": "2026-12-03", "want": "off", "weight": 2},
  {"staff": "a", "date": "2026-12-04", "want": "on"},
  {"staff": "a", "date": "2026-12-05", "want": "on", "code": "D"},
  {"staff": "a", "date": "2026-12-06", "want": "off", "weight": "3"}
 ],
 "colour": "red"
}"#;
        let (Input::Roster(file), errors) = parse(text).unwrap() else {
            panic!("expected a roster")
        };
        let said: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.line, e.message))
            .collect();
        assert_eq!(
            said,
            [
                "2: field `staff[1].name`: invalid type: integer `5`, expected a string",
                "3: field `cells[0].date`: bad date `2026-12-1`: expected YYYY-MM-DD",
                "5: field `requests[0].want`: \"maybe\" is not `on` or `off`: a request wants `on` with a code (to work that shift), or `off` with an optional code (not to work it, or not to work at all)",
                "7: field `requests[2].code` is missing: `on` needs a code, the shift to work (\"want\": \"on\", \"code\": \"N\")",
                "9: field `requests[4].weight`: \"3\" is not a weight: a whole number from 1 to 1000, written without quotes (3)",
                "11: field `colour`: unknown field; a roster as `--export json` writes it has roster, seq, settings, staff, codes, rules, cells, requests, warnings",
            ]
        );
        // What reads is kept, each request with its line and index.
        assert_eq!(file.staff.len(), 1);
        assert!(file.cells.is_empty());
        assert_eq!(file.request_at, [(6, 1), (8, 3)]);
        assert_eq!(
            file.requests.iter().map(|r| r.weight).collect::<Vec<_>>(),
            [2, 1]
        );
        // So the roster's own problems name the request's index in the file.
        let roster = Roster::default();
        let plan = plan_roster(&file, &roster);
        // (op 0 adds the staff.)
        assert_eq!(plan.lines, [0, 6, 8]);
        assert_eq!(plan.places.get(&2).map(String::as_str), Some("requests[3]"));
    }

    #[test]
    fn a_roster_file_is_told_from_one_operation_and_its_parts_checked() {
        let one = parse("\n{\"op\": \"set_cell\", \"staff\": \"a\", \"date\": \"2026-12-01\"}")
            .unwrap_err();
        assert_eq!(one[0].line, 2);
        assert!(
            one[0].message.contains("not in a list"),
            "{}",
            one[0].message
        );
        let said = |text: &str| -> Vec<String> {
            let (_, errors) = parse(text).unwrap();
            errors
                .iter()
                .map(|e| format!("{}: {}", e.line, e.message))
                .collect()
        };
        assert_eq!(
            said("{\"cells\": {},\n \"seq\": \"x\",\n \"requests\": [],\n \"requests\": []}"),
            [
                "1: field `cells`: an object is not a list: write `[...]`",
                "2: field `seq`: invalid type: string \"x\", expected u64",
                "4: field `requests` is given again (first at line 3): give it once",
                "1: field `roster` is missing: a roster as `--export json` writes it is an object with its name, `{\"roster\": \"default\", ...}`; operations are a list, `[...]`",
            ]
        );
    }

    #[test]
    fn the_fields_of_a_roster_are_those_export_writes() {
        let roster = Roster::default();
        let text = export(&roster, "r", &Selection::default());
        let (Input::Roster(_), errors) = parse(&text).unwrap() else {
            panic!("expected a roster")
        };
        assert!(errors.is_empty(), "{errors:?}");
        // With every list written: requests and warnings too.
        let mut file: Exported = serde_json::from_str(&text).unwrap();
        file.requests = vec![Request::new(
            "a",
            "2026-12-01".parse().unwrap(),
            rota_core::domain::Wish::Off { code: None },
        )];
        file.warnings = vec![ExportedWarning {
            rule: "r".into(),
            first: "2026-12-01".parse().unwrap(),
            last: "2026-12-01".parse().unwrap(),
            staff: Vec::new(),
            message: "m".into(),
        }];
        let written = serde_json::to_value(&file).unwrap();
        let keys: Vec<&str> = written
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = ROSTER_FIELDS.to_vec();
        let mut keys = keys;
        keys.sort_unstable();
        want.sort_unstable();
        assert_eq!(keys, want);
    }

    #[test]
    fn a_long_note_is_shown_by_its_first_whole_words() {
        let note = format!("school run every Tuesday {}", "and Thursday ".repeat(20));
        let text = format!(
            "[{{\"op\": \"put_request\", \"request\": {{\"staff\": \"s1\", \"date\": \"2026-12-02\", \"want\": \"off\", \"note\": \"{note}\"}}}}]"
        );
        assert_eq!(
            problems(&text),
            [format!(
                "1: operation 1: field `request.note`: {} characters, at most 200: \"school run every Tuesday and Thursday ...\"",
                note.trim().chars().count()
            )]
        );
        assert_eq!(
            opening("supercalifragilistic word", 5),
            "supercalifragilistic"
        );
    }

    #[test]
    fn members_are_found_past_strings_and_nesting() {
        let text = r#"{"a\"]": [1, {"x": "},{"}, []], "b" : "c,d" ,"e":null, "f":{}}"#;
        let kids = children(text, 0);
        let keys: Vec<Option<&str>> = kids.iter().map(|(k, _)| k.as_deref()).collect();
        assert_eq!(keys, [Some("a\"]"), Some("b"), Some("e"), Some("f")]);
        let starts: Vec<&str> = kids.iter().map(|&(_, o)| &text[o..o + 1]).collect();
        assert_eq!(starts, ["[", "\"", "n", "{"]);
        let list = children(text, kids[0].1);
        assert_eq!(
            list.iter()
                .map(|&(_, o)| &text[o..o + 1])
                .collect::<Vec<_>>(),
            ["1", "{", "["]
        );
        assert!(children(text, kids[3].1).is_empty());
        assert!(children("[]", 0).is_empty());
        assert!(children("\"x\"", 0).is_empty());
    }

    #[test]
    fn the_assets_read_without_a_problem() {
        for text in [
            include_str!("../../../assets/demo.json"),
            include_str!("../../../assets/example-setup.json"),
        ] {
            let (_, errors) = parse(text).unwrap();
            assert!(errors.is_empty(), "{errors:?}");
        }
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
