//! The `staff,date,code` CSV that `--apply` reads and `--export csv` writes.
//! A row sets one cell, or a date range `FROM..TO` to one code or to a
//! repeating pattern (`"D,D,N,N,OFF,OFF"`, quoted because of its commas).
//! An empty code clears. Lines starting with `#` are comments.

use super::{LineError, Lines, MAX_RANGE_DAYS, Plan, Selection, StaffNames};
use rota_core::domain::{Date, Op, Roster, check_code};
use std::collections::HashMap;

/// One data row, checked for shape but not yet against a roster.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub line: usize,
    pub staff: String,
    pub from: Date,
    /// Equal to `from` for a single date.
    pub to: Date,
    pub codes: Codes,
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
    let mut columns: Option<[usize; 3]> = None;
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
        if record.len() != 3 {
            let hint = if record.len() > 3 {
                "; quote a pattern, e.g. \"D,D,N,N,OFF,OFF\""
            } else {
                ""
            };
            errors.push(LineError::new(
                line,
                format!(
                    "expected 3 fields (staff,date,code), found {}{hint}",
                    record.len()
                ),
            ));
            continue;
        }
        let field = |i: usize| record.get(cols[i]).unwrap_or("");
        match parse_row(line, field(0), field(1), field(2)) {
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

fn header_columns(record: &::csv::StringRecord) -> Result<[usize; 3], String> {
    let names: Vec<String> = record
        .iter()
        .map(|f| f.trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
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
    Ok(cols)
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
            codes,
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

/// Turns rows into cell writes against `roster`: staff by id or unique
/// name, codes that exist, and no cell given two different codes.
pub fn plan(rows: &[Row], roster: &Roster) -> Result<Plan, Vec<LineError>> {
    let staff = roster.staff();
    let names = StaffNames::new(&staff);
    let mut errors = Vec::new();
    let mut plan = Plan::default();
    // (staff, date) -> (line, code), to catch a cell given two codes.
    let mut seen: HashMap<(String, Date), (usize, Option<String>)> = HashMap::new();
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
        let codes = match &row.codes {
            Codes::Clear => Codes::Clear,
            Codes::One(c) => Codes::One(named(c)),
            Codes::Pattern(p) => {
                Codes::Pattern(p.iter().map(|c| c.as_ref().map(&mut named)).collect())
            }
        };
        let (Some(id), true) = (id, codes_ok) else {
            continue;
        };
        let days = (row.to.0 - row.from.0).num_days() + 1;
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
            rows[1].codes,
            Codes::Pattern(vec![Some("D".into()), Some("D".into()), Some("N".into())])
        );
        assert_eq!(rows[1].to.to_string(), "2026-12-07");
        // An empty entry is a day without a code; a pattern of none is bad.
        let (gaps, errs) = parse("staff,date,code\nann,2026-12-01..2026-12-04,\"D,,N\"\n").unwrap();
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(
            gaps[0].codes,
            Codes::Pattern(vec![Some("D".into()), None, Some("N".into())])
        );
        let (_, errs) = parse("staff,date,code\nann,2026-12-01..2026-12-04,\",\"\n").unwrap();
        assert!(
            errs.iter().any(|e| e.message.contains("has no code")),
            "{errs:?}"
        );
        assert_eq!(
            (rows[2].staff.as_str(), &rows[2].codes),
            ("cat", &Codes::Clear)
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
