//! The CSV that `--apply` reads and `--export csv` writes. The header says
//! what the rows are:
//!
//! - `staff,date,code`: cells. A row sets one cell, or a date range
//!   `FROM..TO` to one code or to a repeating pattern (`"D,D,N,N,OFF,OFF"`,
//!   quoted because of its commas). An empty code clears.
//! - `staff,date,request` with optional `weight` and `note` columns:
//!   requests. A row puts a request (`on N`, `off N`, `off`; weight 1 when
//!   left empty) on one date or on each date of a range. An empty request
//!   withdraws the person's request on those dates.
//!
//! Lines starting with `#` are comments.

use super::{LineError, Lines, MAX_RANGE_DAYS, Plan, Selection, StaffNames};
use rota_core::domain::{Date, MAX_NOTE_CHARS, MAX_WEIGHT, Op, Request, Roster, Wish, check_code};
use std::collections::HashMap;

/// One data row, checked for shape but not yet against a roster.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub line: usize,
    pub staff: String,
    pub from: Date,
    /// Equal to `from` for a single date.
    pub to: Date,
    pub sets: Sets,
}

/// What a row sets on each of its dates.
#[derive(Clone, Debug, PartialEq)]
pub enum Sets {
    /// The cells (a `staff,date,code` file).
    Codes(Codes),
    /// The person's request, or (None) its withdrawal (a
    /// `staff,date,request` file).
    Request(Option<Wanted>),
}

/// A request as a row gives it.
#[derive(Clone, Debug, PartialEq)]
pub struct Wanted {
    pub wish: Wish,
    pub weight: u32,
    pub note: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Codes {
    Clear,
    One(String),
    /// Laid over the range from its first date, repeating.
    /// An empty entry (None) leaves its day as it is.
    Pattern(Vec<Option<String>>),
}

const HEADER: [&str; 3] = ["staff", "date", "code"];
/// The columns a requests file has, as `--export csv --requests` writes
/// them; `weight` and `note` may be left out.
const REQUEST_HEADER: [&str; 5] = ["staff", "date", "request", "weight", "note"];

/// Where each field is, by the header.
#[derive(Clone, Copy)]
enum Columns {
    /// staff, date, code.
    Cells([usize; 3]),
    /// staff, date, request, weight, note; and how many columns.
    Requests([Option<usize>; 5], usize),
}

impl Columns {
    fn len(&self) -> usize {
        match self {
            Columns::Cells(_) => 3,
            Columns::Requests(_, n) => *n,
        }
    }
}

/// Reads rows and checks each one's shape (dates, ranges, codes, patterns).
/// Returns the good rows and every bad line (so that the good ones can
/// still be checked against the roster); Err only when no row can be read
/// at all (no header).
pub fn parse(text: &str) -> Result<(Vec<Row>, Vec<LineError>), Vec<LineError>> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut columns: Option<Columns> = None;
    let mut lines = Lines::new(text);
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| line_of(&mut lines, text, p));
                errors.push(LineError::new(line, format!("unreadable CSV: {e}")));
                continue;
            }
        };
        let line = record
            .position()
            .map_or(0, |p| line_of(&mut lines, text, p));
        if record.get(0).is_some_and(|f| f.starts_with('#')) {
            continue; // a comment line
        }
        let Some(cols) = columns else {
            match header_columns(&record) {
                Ok(c) => columns = Some(c),
                Err(m) => return Err(vec![LineError::new(line, m)]),
            }
            continue;
        };
        if record.len() != cols.len() {
            let (names, hint) = match cols {
                Columns::Cells(_) if record.len() > 3 => (
                    "staff,date,code".to_string(),
                    "; quote a pattern, e.g. \"D,D,N,N,OFF,OFF\"",
                ),
                Columns::Cells(_) => ("staff,date,code".to_string(), ""),
                Columns::Requests(at, _) => {
                    let mut named: Vec<(usize, &str)> = at
                        .iter()
                        .zip(REQUEST_HEADER)
                        .filter_map(|(i, n)| i.map(|i| (i, n)))
                        .collect();
                    named.sort();
                    let names: Vec<&str> = named.into_iter().map(|(_, n)| n).collect();
                    (names.join(","), "; quote a note that holds a comma")
                }
            };
            errors.push(LineError::new(
                line,
                format!(
                    "expected {} fields ({names}), found {}{hint}",
                    cols.len(),
                    record.len()
                ),
            ));
            continue;
        }
        let row = match cols {
            Columns::Cells(at) => {
                let field = |i: usize| record.get(at[i]).unwrap_or("");
                parse_row(line, field(0), field(1), field(2))
            }
            Columns::Requests(at, _) => {
                let field = |i: usize| at[i].and_then(|i| record.get(i));
                parse_request_row(line, &field)
            }
        };
        match row {
            Ok(row) => rows.push(row),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if columns.is_none() {
        errors.push(LineError::new(
            0,
            "empty: expected the header `staff,date,code` and rows",
        ));
        return Err(errors);
    }
    Ok((rows, errors))
}

/// The line a record starts on. The reader's own count, and its offset,
/// include the blank lines it skipped before the record.
fn line_of(lines: &mut Lines, text: &str, pos: &::csv::Position) -> usize {
    let start = pos.byte() as usize;
    let skipped = text.as_bytes().get(start..).map_or(0, |rest| {
        rest.iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count()
    });
    lines.at(start + skipped)
}

fn header_columns(record: &::csv::StringRecord) -> Result<Columns, String> {
    let names: Vec<String> = record
        .iter()
        .map(|f| f.trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    if names.iter().any(|n| n == "request") {
        return request_columns(record, &names);
    }
    let mut cols = [0; 3];
    for (i, want) in HEADER.iter().enumerate() {
        match names.iter().position(|n| n == want) {
            Some(p) => cols[i] = p,
            None => {
                return Err(format!(
                    "expected the header `staff,date,code`, found `{}`",
                    record.iter().collect::<Vec<_>>().join(",")
                ));
            }
        }
    }
    if names.len() != 3 {
        return Err(format!(
            "the header must be exactly `staff,date,code`, found `{}`",
            record.iter().collect::<Vec<_>>().join(",")
        ));
    }
    Ok(Columns::Cells(cols))
}

/// A requests file's header: `staff`, `date`, `request`, and optionally
/// `weight` and `note`, in any order, each once.
fn request_columns(record: &::csv::StringRecord, names: &[String]) -> Result<Columns, String> {
    let found = || record.iter().collect::<Vec<_>>().join(",");
    let mut at = [None; 5];
    for (i, name) in names.iter().enumerate() {
        let Some(k) = REQUEST_HEADER.iter().position(|h| h == name) else {
            return Err(format!(
                "unknown column `{name}` in a requests header (expected staff,date,request and optionally weight,note), found `{}`",
                found()
            ));
        };
        if at[k].replace(i).is_some() {
            return Err(format!("column `{name}` twice in the header `{}`", found()));
        }
    }
    if let Some(k) = (0..3).find(|&k| at[k].is_none()) {
        return Err(format!(
            "a requests header needs `{}` (staff,date,request and optionally weight,note), found `{}`",
            REQUEST_HEADER[k],
            found()
        ));
    }
    Ok(Columns::Requests(at, names.len()))
}

fn parse_row(line: usize, staff: &str, date: &str, code: &str) -> Result<Row, Vec<LineError>> {
    let mut errors = Vec::new();
    let mut bad = |m: String| errors.push(LineError::new(line, m));
    if staff.is_empty() {
        bad("staff is empty".into());
    }
    let dates = parse_dates(date);
    if let Err(m) = &dates {
        bad(m.clone());
    }
    let codes = parse_codes(code);
    if let Err(m) = &codes {
        bad(m.clone());
    }
    if let (Ok((from, to)), Ok(codes)) = (&dates, &codes)
        && let Codes::Pattern(p) = codes
    {
        let days = (to.0 - from.0).num_days() + 1;
        if from == to {
            bad(format!(
                "pattern `{code}` on a single date: give a range, e.g. {from}..{}",
                (*from).add_days(p.len() as i64 - 1)
            ));
        } else if p.len() as i64 > days {
            bad(format!(
                "pattern of {} codes is longer than the {days}-day range {date}",
                p.len()
            ));
        }
    }
    match (dates, codes) {
        (Ok((from, to)), Ok(codes)) if errors.is_empty() => Ok(Row {
            line,
            staff: staff.to_string(),
            from,
            to,
            sets: Sets::Codes(codes),
        }),
        _ => Err(errors),
    }
}

/// A row of a requests file; `field(i)`: the field of `REQUEST_HEADER[i]`
/// (None: no such column).
fn parse_request_row<'a>(
    line: usize,
    field: &dyn Fn(usize) -> Option<&'a str>,
) -> Result<Row, Vec<LineError>> {
    let (staff, date, request) = (
        field(0).unwrap_or(""),
        field(1).unwrap_or(""),
        field(2).unwrap_or(""),
    );
    let (weight, note) = (field(3).unwrap_or(""), field(4).unwrap_or(""));
    let mut errors = Vec::new();
    let mut bad = |m: String| errors.push(LineError::new(line, m));
    if staff.is_empty() {
        bad("staff is empty".into());
    }
    let dates = parse_dates(date);
    if let Err(m) = &dates {
        bad(m.clone());
    }
    let wanted = if request.is_empty() {
        // A withdrawal says nothing more.
        if !weight.is_empty() || !note.is_empty() {
            bad(format!(
                "an empty request withdraws the request, so it takes no weight or note (weight `{weight}`, note `{note}`)"
            ));
        }
        None
    } else {
        let wish = Wish::parse(request).and_then(|w| match w.code() {
            Some(c) => check_code(c)
                .map(|()| w.clone())
                .map_err(|m| format!("request `{request}`: {m}")),
            None => Ok(w),
        });
        if let Err(m) = &wish {
            bad(m.clone());
        }
        let weight = if weight.is_empty() {
            Ok(1)
        } else {
            weight
                .parse::<u32>()
                .ok()
                .filter(|w| (1..=MAX_WEIGHT).contains(w))
                .ok_or_else(|| {
                    format!("weight `{weight}` must be a whole number from 1 to {MAX_WEIGHT}")
                })
        };
        if let Err(m) = &weight {
            bad(m.clone());
        }
        let chars = note.chars().count();
        if chars > MAX_NOTE_CHARS {
            bad(format!(
                "note `{}…` is {chars} characters; at most {MAX_NOTE_CHARS}",
                note.chars().take(20).collect::<String>()
            ));
        } else if let Some(c) = note.chars().find(|c| c.is_control()) {
            bad(format!(
                "note `{}` holds a control character (U+{:04X})",
                note.escape_debug(),
                c as u32
            ));
        }
        match (wish, weight) {
            (Ok(wish), Ok(weight)) => Some(Wanted {
                wish,
                weight,
                note: note.to_string(),
            }),
            _ => None,
        }
    };
    match dates {
        Ok((from, to)) if errors.is_empty() => Ok(Row {
            line,
            staff: staff.to_string(),
            from,
            to,
            sets: Sets::Request(wanted),
        }),
        _ => Err(errors),
    }
}

fn parse_dates(s: &str) -> Result<(Date, Date), String> {
    let Some((a, b)) = s.split_once("..") else {
        let d: Date = s.parse()?;
        return Ok((d, d));
    };
    let from: Date = a.trim().parse()?;
    let to: Date = b.trim().parse()?;
    if to < from {
        return Err(format!(
            "range `{s}` is in the wrong order (ends before it starts)"
        ));
    }
    let days = (to.0 - from.0).num_days() + 1;
    if days > MAX_RANGE_DAYS {
        return Err(format!(
            "range `{s}` covers {days} days; at most {MAX_RANGE_DAYS} per line"
        ));
    }
    Ok((from, to))
}

fn parse_codes(s: &str) -> Result<Codes, String> {
    if s.is_empty() {
        return Ok(Codes::Clear);
    }
    if !s.contains(',') {
        check_code(s)?;
        return Ok(Codes::One(s.to_string()));
    }
    let codes = rota_core::domain::parse_pattern(s)?;
    Ok(Codes::Pattern(codes))
}

/// Turns rows into writes against `roster`: staff by id or unique name,
/// codes that exist, and no cell (or request) given two different values.
pub fn plan(rows: &[Row], roster: &Roster) -> Result<Plan, Vec<LineError>> {
    let staff = roster.staff();
    let names = StaffNames::new(&staff);
    let mut errors = Vec::new();
    let mut plan = Plan::default();
    // (staff, date) -> (line, code), to catch a cell given two codes.
    let mut seen: HashMap<(String, Date), (usize, Option<String>)> = HashMap::new();
    // The same for requests.
    let mut asked: HashMap<(String, Date), (usize, Option<Wanted>)> = HashMap::new();
    for row in rows {
        let id = match names.resolve(&row.staff) {
            Ok(id) => Some(id),
            Err(m) => {
                errors.push(LineError::new(row.line, m));
                None
            }
        };
        // Each code as the roster writes it (`off` is OFF when only one
        // code is written so).
        let mut codes_ok = true;
        let mut named = |c: &String| match roster.code_named(c) {
            Ok(n) => n.to_string(),
            Err(m) => {
                if codes_ok {
                    errors.push(LineError::new(row.line, m));
                }
                codes_ok = false;
                c.clone()
            }
        };
        let sets = match &row.sets {
            Sets::Codes(Codes::Clear) => Sets::Codes(Codes::Clear),
            Sets::Codes(Codes::One(c)) => Sets::Codes(Codes::One(named(c))),
            Sets::Codes(Codes::Pattern(p)) => Sets::Codes(Codes::Pattern(
                p.iter().map(|c| c.as_ref().map(&mut named)).collect(),
            )),
            Sets::Request(w) => Sets::Request(w.as_ref().map(|w| Wanted {
                wish: match &w.wish {
                    Wish::On { code } => Wish::On { code: named(code) },
                    Wish::Off { code } => Wish::Off {
                        code: code.as_ref().map(&mut named),
                    },
                },
                ..w.clone()
            })),
        };
        let (Some(id), true) = (id, codes_ok) else {
            continue;
        };
        let days = (row.to.0 - row.from.0).num_days() + 1;
        let codes = match sets {
            Sets::Codes(codes) => codes,
            Sets::Request(wanted) => {
                for k in 0..days {
                    let date = row.from.add_days(k);
                    match asked.get(&(id.to_string(), date)) {
                        Some((_, prev)) if *prev == wanted => continue,
                        Some((line, prev)) => {
                            errors.push(LineError::new(
                                row.line,
                                format!(
                                    "{}'s request on {date} is {} here but {} at line {line}",
                                    row.staff,
                                    asked_as(&wanted),
                                    asked_as(prev)
                                ),
                            ));
                            continue;
                        }
                        None => {}
                    }
                    asked.insert((id.to_string(), date), (row.line, wanted.clone()));
                    match &wanted {
                        Some(w) => plan.push(
                            row.line,
                            Op::PutRequest {
                                request: Request {
                                    weight: w.weight,
                                    note: w.note.clone(),
                                    ..Request::new(id, date, w.wish.clone())
                                },
                                base: None,
                            },
                        ),
                        // Withdrawing what is not there changes nothing,
                        // as clearing an empty cell does.
                        None if roster.request(id, date).is_some() => plan.push(
                            row.line,
                            Op::RemoveRequest {
                                staff: id.to_string(),
                                date,
                                base: None,
                            },
                        ),
                        None => {}
                    }
                }
                continue;
            }
        };
        for k in 0..days {
            let date = row.from.add_days(k);
            let code = match &codes {
                Codes::Clear => None,
                Codes::One(c) => Some(c.clone()),
                // An empty entry leaves its day as it is.
                Codes::Pattern(p) => match &p[k as usize % p.len()] {
                    Some(c) => Some(c.clone()),
                    None => continue,
                },
            };
            match seen.get(&(id.to_string(), date)) {
                Some((_, prev)) if *prev == code => continue,
                Some((line, prev)) => {
                    errors.push(LineError::new(
                        row.line,
                        format!(
                            "{} on {date} is set to {} here but to {} at line {line}",
                            row.staff,
                            shown(&code),
                            shown(prev)
                        ),
                    ));
                    continue;
                }
                None => {}
            }
            seen.insert((id.to_string(), date), (row.line, code.clone()));
            plan.push(
                row.line,
                Op::SetCell {
                    staff: id.to_string(),
                    date,
                    code,
                    base: 0,
                },
            );
        }
    }
    if errors.is_empty() {
        Ok(plan)
    } else {
        Err(errors)
    }
}

fn asked_as(w: &Option<Wanted>) -> String {
    match w {
        Some(w) => format!("`{}` (weight {})", w.wish, w.weight),
        None => "withdrawn".into(),
    }
}

fn shown(code: &Option<String>) -> String {
    match code {
        Some(c) => format!("`{c}`"),
        None => "empty".into(),
    }
}

/// The selection's non-empty cells as `staff,date,code` rows (staff by
/// id, which `--apply` always resolves), in roster order then by date: the
/// same roster always gives the same bytes.
pub fn export(roster: &Roster, sel: &Selection) -> String {
    let mut out = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let _ = out.write_record(HEADER);
    for (staff, date, code) in sel.cells(roster) {
        let date = date.to_string();
        let _ = out.write_record([staff.id.as_str(), date.as_str(), code.as_str()]);
    }
    let bytes = out.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// The selection's requests as `staff,date,request,weight,note` rows (staff
/// by id), in roster order then by date: what `--apply` reads back.
pub fn export_requests(roster: &Roster, sel: &Selection) -> String {
    let mut out = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let _ = out.write_record(REQUEST_HEADER);
    for r in sel.requests(roster) {
        let (date, wish, weight) = (r.date.to_string(), r.wish.to_string(), r.weight.to_string());
        let _ = out.write_record([
            r.staff.as_str(),
            date.as_str(),
            wish.as_str(),
            weight.as_str(),
            r.note.as_str(),
        ]);
    }
    let bytes = out.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(errors: &[LineError]) -> Vec<usize> {
        errors.iter().map(|e| e.line).collect()
    }

    #[test]
    fn rows_with_ranges_and_patterns_parse() {
        let text = "staff,date,code\n# a comment, with a comma\n\nann,2026-12-01,D\n\
                    bob,2026-12-01..2026-12-07,\"D, D,N\"\ncat , 2026-12-02 ,\n";
        let (rows, errors) = parse(text).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].line, 4);
        assert_eq!(
            rows[1].sets,
            Sets::Codes(Codes::Pattern(vec![
                Some("D".into()),
                Some("D".into()),
                Some("N".into())
            ]))
        );
        assert_eq!(rows[1].to.to_string(), "2026-12-07");
        // An empty entry is a day without a code; a pattern of none is bad.
        let (gaps, errs) = parse("staff,date,code\nann,2026-12-01..2026-12-04,\"D,,N\"\n").unwrap();
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(
            gaps[0].sets,
            Sets::Codes(Codes::Pattern(vec![
                Some("D".into()),
                None,
                Some("N".into())
            ]))
        );
        let (_, errs) = parse("staff,date,code\nann,2026-12-01..2026-12-04,\",\"\n").unwrap();
        assert!(
            errs.iter().any(|e| e.message.contains("has no code")),
            "{errs:?}"
        );
        assert_eq!(
            (rows[2].staff.as_str(), &rows[2].sets),
            ("cat", &Sets::Codes(Codes::Clear))
        );
    }

    #[test]
    fn every_bad_line_is_reported() {
        let text = "staff,date,code\n\
                    ann,2026-13-01,D\n\
                    ann,2026-12-07..2026-12-01,D\n\
                    ann,2026-12-01,\"D,N\"\n\
                    ann,2026-12-01,NIGHT\n\
                    ann,2026-12-01,D,N\n\
                    ,2026-12-01,D\n\
                    ann,2026-12-01..2026-12-02,\"D,N,OFF\"\n\
                    ann,2026-12-01,D\n";
        let (rows, errors) = parse(text).unwrap();
        assert_eq!(lines(&errors), vec![2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(rows.len(), 1, "the good line is kept");
        assert!(errors[0].message.contains("no such day"));
        assert!(errors[1].message.contains("wrong order"));
        assert!(errors[2].message.contains("single date"));
        assert!(errors[4].message.contains("quote a pattern"));
        assert!(errors[6].message.contains("longer than"));
    }

    #[test]
    fn a_requests_file_reads_wishes_weights_notes_and_withdrawals() {
        // Columns in any order.
        let text = "staff,date,request,note,weight\n\
                    ann,2027-03-02,off N,\"school run, Tuesdays\",2\n\
                    ann,2027-03-03..2027-03-05,on e,,\n\
                    bob,2027-03-02,,,\n";
        let (rows, errors) = parse(text).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            rows[0].sets,
            Sets::Request(Some(Wanted {
                wish: Wish::Off {
                    code: Some("N".into())
                },
                weight: 2,
                note: "school run, Tuesdays".into()
            }))
        );
        assert_eq!(
            (rows[1].from.to_string(), rows[1].to.to_string()),
            ("2027-03-03".into(), "2027-03-05".into())
        );
        assert!(
            matches!(&rows[1].sets, Sets::Request(Some(w)) if w.weight == 1 && w.note.is_empty())
        );
        assert_eq!(rows[2].sets, Sets::Request(None));
        // Weight and note may be left out of the header.
        let (rows, errors) = parse("staff,date,request\nann,2027-03-02,off\n").unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert!(
            matches!(&rows[0].sets, Sets::Request(Some(w)) if w.wish == Wish::Off { code: None })
        );
    }

    #[test]
    fn every_bad_request_line_is_reported_with_its_value() {
        let text = "staff,date,request,weight,note\n\
                    ann,2027-03-02,maybe N,1,\n\
                    ann,2027-03-02,on,1,\n\
                    ann,2027-03-02,on N,0,\n\
                    ann,2027-03-02,on N,1001,\n\
                    ann,2027-03-02,on N,two,\n\
                    ann,2027-03-02,,2,\n\
                    ann,2027-02-30,off,1,\n\
                    ann,2027-03-02,off,1\n\
                    ann,2027-03-02,on NIGHT,1,\n\
                    ann,2027-03-02,off,1,ok\n";
        let (rows, errors) = parse(text).unwrap();
        assert_eq!(rows.len(), 1, "the good line is kept");
        let got: Vec<(usize, &str)> = errors
            .iter()
            .map(|e| (e.line, e.message.as_str()))
            .collect();
        assert_eq!(lines(&errors), vec![2, 3, 4, 5, 6, 7, 8, 9, 10], "{got:?}");
        for (i, words) in [
            &["`maybe N`"][..],
            &["`on`", "needs a code"],
            &["weight `0`", "1 to 1000"],
            &["weight `1001`"],
            &["weight `two`"],
            &["withdraws", "weight `2`"],
            &["no such day"],
            &["expected 5 fields", "found 4"],
            &["`NIGHT`"],
        ]
        .iter()
        .enumerate()
        {
            assert!(words.iter().all(|w| got[i].1.contains(w)), "{:?}", got[i]);
        }
        let e = parse("staff,date,request,wieght\n").unwrap_err();
        assert!(e[0].message.contains("unknown column `wieght`"), "{e:?}");
        let e = parse("staff,request\n").unwrap_err();
        assert!(e[0].message.contains("needs `date`"), "{e:?}");
    }

    #[test]
    fn a_missing_header_is_named() {
        let e = parse("ann,2026-12-01,D\n").unwrap_err();
        assert_eq!(lines(&e), vec![1]);
        assert!(e[0].message.contains("header"));
        assert!(parse("").unwrap_err()[0].message.contains("empty"));
        // Columns may come in any order.
        let (rows, _) = parse("code,staff,date\nD,ann,2026-12-01\n").unwrap();
        assert_eq!(rows[0].staff, "ann");
    }
}
