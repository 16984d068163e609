//! Staff requests in the editor: how one is typed at the request prompt
//! (`off`, `off N 2`, `on E, school run`), whether its cell meets it, and
//! how the status line and the requests panel say it. Pure: the roster
//! and the layout in, text or a request out.

use super::layout::Layout;
use rota_core::domain::{Date, MAX_NOTE_CHARS, Request, Roster, Wish};

/// The heaviest weight typed at the prompt (people give 1 to 3; an
/// imported request's own weight, up to
/// [`rota_core::domain::MAX_WEIGHT`], is kept as it is).
pub const MAX_TYPED_WEIGHT: u32 = 3;

/// What the prompt's text asks for: a wish, its weight and its note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Typed {
    pub wish: Wish,
    pub weight: u32,
    pub note: String,
}

impl Typed {
    /// "off N, weight 2, school run": what saving it will ask.
    pub fn describe(&self) -> String {
        let mut s = format!("{}, weight {}", self.wish, self.weight);
        if !self.note.is_empty() {
            s.push_str(", ");
            s.push_str(&self.note);
        }
        s
    }

    /// Whether `r` already asks this.
    pub fn same_as(&self, r: &Request) -> bool {
        self.wish == r.wish && self.weight == r.weight && self.note == r.note
    }
}

/// The most columns of what was typed an error says again.
const ECHO_COLS: usize = 30;

/// What was typed, as an error says it again: whole and quoted when
/// short; else its first words and "…"; a word longer than that, by its
/// length. Never the whole of a long text.
fn echo(text: &str) -> String {
    let cols = |t: &str| rota_core::text::text_cols(t, false);
    if cols(text) <= ECHO_COLS {
        return format!("`{text}`");
    }
    let first = text.split(' ').next().unwrap_or_default();
    if cols(first) < ECHO_COLS {
        format!("`{}`", rota_core::text::fit_words(text, ECHO_COLS))
    } else {
        format!("a word of {} characters", text.chars().count())
    }
}

/// The first word of a text and "…" (as an example of where it goes).
fn echo_start(text: &str) -> String {
    let first = text.split(' ').next().unwrap_or_default();
    if rota_core::text::text_cols(first, false) <= ECHO_COLS {
        format!("{first}…")
    } else {
        "…".into()
    }
}

/// How the prompt is filled in for a request there is: `off N 2, school
/// run` (the weight when not 1, the note after a comma).
pub fn prompt_text(r: &Request) -> String {
    let mut s = r.wish.to_string();
    if r.weight != 1 {
        s.push_str(&format!(" {}", r.weight));
    }
    if !r.note.is_empty() {
        s.push_str(&format!(", {}", r.note));
    }
    s
}

/// The syntax, as the prompt's errors say it.
pub const SYNTAX: &str = "off · off N · on N, then a weight 1-3, then a note (after a comma)";
/// The syntax in few words, as the prompt's hint says it.
pub const SYNTAX_SHORT: &str = "off · off N 2 · on E, a note";

/// Reads what was typed at the request prompt: `on CODE` or `off [CODE]`,
/// then a weight, then a note (after a comma, or after the weight):
/// `off`, `off N 2`, `on E, school run`, `off 3 wedding`. The code is the
/// roster's (`n` is N when only N differs from it in case). `current`:
/// the request there is, whose weight is kept even past 3. Empty text is
/// not read here (it withdraws).
pub fn parse(text: &str, roster: &Roster, current: Option<&Request>) -> Result<Typed, String> {
    let (head, note) = match text.split_once(',') {
        Some((h, n)) => (h, Some(n.trim())),
        None => (text, None),
    };
    let mut words = head.split_whitespace().peekable();
    let first = words.next().unwrap_or_default();
    let on = match first.to_lowercase().as_str() {
        "on" => true,
        "off" => false,
        _ => {
            return Err(format!(
                "{}: a request starts with on or off ({SYNTAX})",
                echo(first)
            ));
        }
    };
    let number = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit());
    let mut code = None;
    match words.peek().copied() {
        // (A word too long to be said again is no code either.)
        Some(w) if rota_core::text::text_cols(w, false) > ECHO_COLS => {
            let how = if on {
                "on needs a code: on E, then a note after a comma"
            } else {
                "a note goes after a comma: off, …"
            };
            return Err(format!("{} is no shift code; {how}", echo(w)));
        }
        Some(w) if on || !number(w) => {
            code = Some(
                roster
                    .code_named(w)
                    .map_err(|e| {
                        if on {
                            e
                        } else {
                            format!("{e}; a note goes after a comma: off, {w}…")
                        }
                    })?
                    .to_string(),
            );
            words.next();
        }
        None if on => {
            return Err("`on` needs the code wished for: on E".into());
        }
        _ => {}
    }
    let mut weight = 1;
    let mut weighed = false;
    if let Some(w) = words.peek().copied().filter(|w| number(w)) {
        words.next();
        weighed = true;
        let kept = current.is_some_and(|r| w.parse() == Ok(r.weight));
        weight = match w.parse::<u32>() {
            Ok(n) if (1..=MAX_TYPED_WEIGHT).contains(&n) || kept => n,
            _ => {
                return Err(format!(
                    "weight {w}: 1 (it would be nice) to {MAX_TYPED_WEIGHT} (it matters most)"
                ));
            }
        };
    }
    // After the weight, the rest is the note; before it, a word that is
    // no code is a mistake, not a note.
    let rest: Vec<&str> = words.collect();
    let note = match (note, rest.is_empty()) {
        (Some(n), true) => n.to_string(),
        (None, true) => String::new(),
        (None, false) if weighed => rest.join(" "),
        (Some(n), false) if weighed => format!("{}, {n}", rest.join(" ")),
        _ => {
            // Words after the code: a note without its comma. What is
            // said is never the whole text again.
            let rest = rest.join(" ");
            let n = rest.chars().count() + note.map_or(0, |n| n.chars().count() + 2);
            let on_off = if on { "on" } else { "off" };
            let lead = match &code {
                Some(c) => format!("{on_off} {c}"),
                None => on_off.to_string(),
            };
            let comma = format!("a note goes after a comma: {lead}, {}", echo_start(&rest));
            return Err(if n > MAX_NOTE_CHARS {
                format!("the note is {n} characters; at most {MAX_NOTE_CHARS}; and {comma}")
            } else {
                format!("{} is not understood here: {comma}", echo(&rest))
            });
        }
    };
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(format!(
            "the note is {} characters; at most {MAX_NOTE_CHARS}",
            note.chars().count()
        ));
    }
    if note.chars().any(char::is_control) {
        return Err("the note holds a control character (a tab?): take it out".into());
    }
    rota_core::domain::check_visible("the note", &note)?;
    Ok(Typed {
        wish: match (on, code) {
            (true, Some(code)) => Wish::On { code },
            (_, code) => Wish::Off { code },
        },
        weight,
        note,
    })
}

/// A request as history and undo say it: "off N (weight 2, school run)"
/// (who entered it is said beside it).
pub fn wish_text(r: &Request) -> String {
    let mut s = format!("{} (weight {}", r.wish, r.weight);
    if !r.note.is_empty() {
        s.push_str(", ");
        s.push_str(&r.note);
    }
    s.push(')');
    s
}

/// A request's change as the history panel says it, from the records
/// before and after (JSON as the hub keeps them; null: none):
/// "request: off N (weight 2) → off (weight 3)", "request: on E (weight
/// 1)", "request withdrawn: off N".
pub fn history_text(before: &serde_json::Value, after: &serde_json::Value) -> String {
    // None: no request; Some(None): one that cannot be read.
    let read = |v: &serde_json::Value| {
        (!v.is_null()).then(|| serde_json::from_value::<Request>(v.clone()).ok())
    };
    let said = |r: &Option<Request>| r.as_ref().map_or_else(|| "a request".into(), wish_text);
    match (read(before), read(after)) {
        (Some(b), Some(a)) => format!("request: {} → {}", said(&b), said(&a)),
        (None, Some(a)) => format!("request: {}", said(&a)),
        (Some(b), None) => format!(
            "request withdrawn: {}",
            b.map_or_else(|| "a request".into(), |r| r.wish.to_string())
        ),
        (None, None) => "request: none".into(),
    }
}

/// Whether a code is a worked one (an unknown code counts as worked, as
/// the rules take it).
fn worked(layout: &Layout) -> impl Fn(&str) -> bool + '_ {
    |c: &str| layout.codes.get(c).is_none_or(|l| l.worked)
}

/// Whether the cell's code (None: empty) meets the request.
pub fn met(r: &Request, code: Option<&str>, layout: &Layout) -> bool {
    r.wish.met_by(code, worked(layout))
}

/// The cell's request as the status line says it: "unmet request off N
/// (weight 2, school run; by sam)".
pub fn status_text(r: &Request, code: Option<&str>, layout: &Layout) -> String {
    let how = if met(r, code, layout) { "met" } else { "unmet" };
    format!("{how} request {}", r.describe())
}

/// The cell's request as the status line says it, then with fewer of its
/// parts, each whole: without who entered it, without its note, without
/// its weight ("unmet request off N"). Never empty.
pub fn status_texts(r: &Request, code: Option<&str>, layout: &Layout) -> Vec<String> {
    let how = if met(r, code, layout) { "met" } else { "unmet" };
    let mut out = vec![status_text(r, code, layout)];
    let mut fewer = |text: String| {
        if !out.contains(&text) {
            out.push(text);
        }
    };
    fewer(format!("{how} request {}", wish_text(r)));
    fewer(format!("{how} request {} (weight {})", r.wish, r.weight));
    fewer(format!("{how} request {}", r.wish));
    out
}

/// How a request stands against its cell, for the panel: "met", "unmet
/// (has N)", "unmet (empty)".
pub fn standing(r: &Request, code: Option<&str>, layout: &Layout) -> String {
    if met(r, code, layout) {
        "met".into()
    } else {
        format!("unmet (has {})", code.unwrap_or("nothing"))
    }
}

/// Which requests the panel lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listing {
    /// One person's, by date.
    Person(String),
    /// One date's, in the grid's order of people.
    Date(Date),
}

/// One line of the requests panel: whose, which date, and what it says.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub staff: String,
    pub date: Date,
    pub text: String,
    pub met: bool,
}

/// The requests the panel lists, each a line: for a person, "Tue 1 Dec
/// 2026 · off N · weight 2 · unmet (has N) · school run · by sam"; for a
/// date, the person's name in place of the date.
pub fn lines(roster: &Roster, layout: &Layout, listing: &Listing) -> Vec<Line> {
    let mut found: Vec<&Request> = match listing {
        Listing::Person(id) => roster
            .requests_of(
                id,
                Date(chrono::NaiveDate::MIN),
                Date(chrono::NaiveDate::MAX),
            )
            .collect(),
        Listing::Date(d) => roster.requests_on(*d).collect(),
    };
    if let Listing::Date(_) = listing {
        // The grid's order; people it does not show (filtered out) after.
        found.sort_by_key(|r| layout.person_index(&r.staff).unwrap_or(usize::MAX));
    }
    found
        .into_iter()
        .map(|r| {
            let code = roster.cell(&r.staff, r.date).and_then(|(c, _)| c);
            let who = match listing {
                Listing::Person(_) => r.date.0.format("%a %-d %b %Y").to_string(),
                Listing::Date(_) => roster
                    .staff_member(&r.staff)
                    .map_or_else(|| r.staff.clone(), |s| s.name.clone()),
            };
            let mut parts = vec![
                who,
                r.wish.to_string(),
                format!("weight {}", r.weight),
                standing(r, code, layout),
            ];
            if !r.note.is_empty() {
                parts.push(r.note.clone());
            }
            if !r.by.is_empty() {
                parts.push(format!("by {}", r.by));
            }
            Line {
                staff: r.staff.clone(),
                date: r.date,
                text: parts.join(" · "),
                met: met(r, code, layout),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rota_core::domain::{Author, Op, ShiftCode};
    use std::sync::Arc;

    fn roster() -> Roster {
        let mut r = Roster::default();
        let mut ops: Vec<Op> = [("D", true), ("N", true), ("OFF", false), ("d1", true)]
            .iter()
            .map(|(c, w)| Op::PutCode {
                code: ShiftCode::new(c, 8.0, *w),
                base: None,
            })
            .collect();
        ops.push(Op::AddStaff {
            id: "s1".into(),
            name: "Ann Lee".into(),
            group: String::new(),
            order: None,
        });
        let author = Author {
            user: Arc::from("sam"),
            client: Arc::from("c"),
        };
        r.apply_batch(&ops, &author, 1).expect("applies");
        r
    }

    fn ok(text: &str) -> Typed {
        parse(text, &roster(), None).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn err(text: &str) -> String {
        parse(text, &roster(), None).expect_err(text)
    }

    #[test]
    fn a_request_is_typed_as_it_is_written() {
        let off = |code: Option<&str>| Wish::Off {
            code: code.map(str::to_string),
        };
        assert_eq!(ok("off").wish, off(None));
        assert_eq!(ok("OFF n").wish, off(Some("N")), "case as the roster's");
        assert_eq!(ok("on d1").wish, Wish::On { code: "d1".into() });
        let t = ok("off N 2, school run");
        assert_eq!((t.weight, t.note.as_str()), (2, "school run"));
        assert_eq!(t.describe(), "off N, weight 2, school run");
        let t = ok("off 3 wedding, mine");
        assert_eq!((t.wish, t.weight), (off(None), 3));
        assert_eq!(t.note, "wedding, mine");
        let t = ok("off, dentist");
        assert_eq!((t.weight, t.note.as_str()), (1, "dentist"));
        assert_eq!(ok("on D 1").weight, 1);
    }

    #[test]
    fn what_cannot_be_read_is_said_and_nothing_is_guessed() {
        assert!(err("maybe").contains("starts with on or off"));
        assert!(err("on").contains("needs the code"));
        assert!(err("on X").contains("no shift code `X`"));
        // A word that is no code is a mistake, not a note.
        let e = err("off school run");
        assert!(e.contains("no shift code `school`") && e.contains("after a comma"));
        assert!(err("off N 4").contains("weight 4: 1"));
        assert!(err("off N 0").contains("weight 0"));
        assert!(err("on N please").contains("`please` is not understood"));
        assert!(err(&format!("off, {}", "x".repeat(201))).contains("at most 200"));
        assert!(err("off, a\tb").contains("control character"));
        // A long text is never said again whole.
        let long = ["school run then the dentist"; 9].join(" and ");
        let e = err(&format!("on D {long}"));
        assert!(e.contains("the note is 283 characters; at most 200"), "{e}");
        assert!(e.contains("after a comma: on D, school…"), "{e}");
        assert!(e.matches("dentist").count() <= 1, "{e}");
        let e = err("on D run then the dentist");
        assert!(
            e.contains("`run then the dentist` is not understood"),
            "{e}"
        );
        let e = err(&format!("{} N", "x".repeat(300)));
        assert!(e.starts_with("a word of 300 characters:"), "{e}");
        // An imported request's weight is kept as it is.
        let mut heavy = Request::new(
            "s1",
            "2026-12-01".parse().unwrap(),
            Wish::Off { code: None },
        );
        heavy.weight = 10;
        let t = parse("off 10, note", &roster(), Some(&heavy)).expect("kept");
        assert_eq!(t.weight, 10);
        assert!(parse("off 11", &roster(), Some(&heavy)).is_err());
    }

    #[test]
    fn the_prompt_is_filled_in_so_that_it_reads_back_the_same() {
        let r = roster();
        let mut req = Request::new(
            "s1",
            "2026-12-01".parse().unwrap(),
            Wish::Off { code: None },
        );
        for (weight, note) in [(1, ""), (2, ""), (1, "school run"), (3, "a, b")] {
            req.weight = weight;
            req.note = note.into();
            let text = prompt_text(&req);
            let back = parse(&text, &r, Some(&req)).expect(&text);
            assert!(back.same_as(&req), "{text}: {back:?}");
        }
    }
}
