//! Import of the Shift Scheduling Benchmark instances' text format
//! (schedulingbenchmarks.org): `SECTION_HORIZON`, `SECTION_SHIFTS`,
//! `SECTION_STAFF`, `SECTION_DAYS_OFF`, `SECTION_SHIFT_ON_REQUESTS`,
//! `SECTION_SHIFT_OFF_REQUESTS`, `SECTION_COVER`; `#` starts a comment.
//!
//! What becomes what (day 0 is the `--start` date):
//! - the horizon: the roster's planning period, day 0 to its last day;
//! - each shift: a shift code with its hours; its "cannot follow" list:
//!   forbidden-sequence rules `follow:FIRST:THEN`;
//! - each person: a staff member named by their id, and limit rules
//!   `limit:ID:hours` (min/max total), `limit:ID:consecutive_worked`,
//!   `limit:ID:consecutive_off`, `limit:ID:weekends`, and
//!   `limit:ID:shifts:CODE` for each shift they may work fewer times than
//!   the horizon has days (0: never);
//! - days off: the leave code `AL` on those days;
//! - shift-on and shift-off requests: requests `on CODE` and `off CODE`
//!   with the file's weight (one per person and date; a weight of 0 costs
//!   nothing and is left out, said in a note);
//! - cover: soft staffing rules `cover:CODE:DATE` with the file's weights
//!   (`WeightForUnder`, `WeightForOver`): `min` = the requirement (when
//!   being under costs something) and `max` = the requirement (when being
//!   over does), so a requirement of 0 with an over weight is a rule with
//!   `max` 0. A row that costs nothing either way is no rule.
//!
//! With these, a roster's soft score (`Findings::soft_score`) is the
//! benchmark's objective: unmet requests' weights, plus each person short
//! of a cover times its under weight and each person over times its over
//! weight.

use super::{LineError, Plan};
use rota_core::domain::{
    CoverWeights, Date, LimitMeasure, MAX_WEIGHT, Op, Request, Roster, Rule, RuleKind, ShiftCode,
    Wish, check_code, check_id,
};
use std::collections::{HashMap, HashSet};

/// The code days off are written as.
pub const LEAVE_CODE: &str = "AL";

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Instance {
    pub days: u32,
    pub shifts: Vec<Shift>,
    pub staff: Vec<Person>,
    /// (line, staff id, day index)
    pub days_off: Vec<(usize, String, u32)>,
    pub cover: Vec<Cover>,
    /// Shift-on and shift-off requests, in file order.
    pub requests: Vec<ShiftRequest>,
}

/// A line of `SECTION_SHIFT_ON_REQUESTS` (`on`) or
/// `SECTION_SHIFT_OFF_REQUESTS`: `EmployeeID,Day,ShiftID,Weight`.
#[derive(Clone, Debug, PartialEq)]
pub struct ShiftRequest {
    pub line: usize,
    pub staff: String,
    pub day: u32,
    pub shift: String,
    pub weight: u32,
    /// To work the shift (true), or not to.
    pub on: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Shift {
    pub line: usize,
    pub id: String,
    pub minutes: u32,
    pub cannot_follow: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Person {
    pub line: usize,
    pub id: String,
    /// (shift, most times) as listed.
    pub max_shifts: Vec<(String, u32)>,
    pub max_minutes: u32,
    pub min_minutes: u32,
    pub max_consecutive: u32,
    pub min_consecutive: u32,
    pub min_consecutive_off: u32,
    pub max_weekends: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Cover {
    pub line: usize,
    pub day: u32,
    pub shift: String,
    pub requirement: u32,
    /// What each person short of the requirement costs.
    pub under: u32,
    /// What each person over it costs.
    pub over: u32,
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    None,
    Horizon,
    Shifts,
    Staff,
    DaysOff,
    /// Shift-on (true) or shift-off requests.
    Requests(bool),
    Cover,
}

/// Reads an instance and checks it: numbers, ids, and that every shift,
/// person and day it refers to exists. Every bad line is reported.
pub fn parse(text: &str) -> Result<Instance, Vec<LineError>> {
    let mut inst = Instance::default();
    let mut errors = Vec::new();
    let mut section = Section::None;
    let mut horizon_seen = false;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if l.starts_with("SECTION_") {
            section = match l {
                "SECTION_HORIZON" => Section::Horizon,
                "SECTION_SHIFTS" => Section::Shifts,
                "SECTION_STAFF" => Section::Staff,
                "SECTION_DAYS_OFF" => Section::DaysOff,
                "SECTION_SHIFT_ON_REQUESTS" => Section::Requests(true),
                "SECTION_SHIFT_OFF_REQUESTS" => Section::Requests(false),
                "SECTION_COVER" => Section::Cover,
                other => {
                    errors.push(LineError::new(line, format!("unknown section `{other}`")));
                    Section::None
                }
            };
            continue;
        }
        let fields: Vec<&str> = l.split(',').map(str::trim).collect();
        let r = match section {
            Section::None => Err("data before any SECTION_ line".to_string()),
            Section::Horizon => number("horizon", l).map(|n| {
                inst.days = n;
                horizon_seen = true;
            }),
            Section::Shifts => shift(line, &fields).map(|s| inst.shifts.push(s)),
            Section::Staff => person(line, &fields).map(|p| inst.staff.push(p)),
            Section::DaysOff => days_off(line, &fields).map(|v| inst.days_off.extend(v)),
            Section::Requests(on) => request(line, &fields, on).map(|r| inst.requests.push(r)),
            Section::Cover => cover(line, &fields).map(|c| inst.cover.push(c)),
        };
        if let Err(m) = r {
            errors.push(LineError::new(line, m));
        }
    }
    if !horizon_seen || inst.days == 0 {
        errors.push(LineError::new(
            0,
            "no SECTION_HORIZON with a number of days",
        ));
    } else if i64::from(inst.days) > super::MAX_RANGE_DAYS {
        errors.push(LineError::new(
            0,
            format!(
                "a horizon of {} days is longer than the {} a roster import may cover",
                inst.days,
                super::MAX_RANGE_DAYS
            ),
        ));
    }
    check_references(&inst, &mut errors);
    if errors.is_empty() {
        Ok(inst)
    } else {
        errors.sort_by_key(|e| e.line);
        Err(errors)
    }
}

fn number(what: &str, s: &str) -> Result<u32, String> {
    // The published instances write some zeros as `-0`.
    let n: i64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{what} `{s}` is not a whole number"))?;
    u32::try_from(n).map_err(|_| format!("{what} `{s}` must be from 0 to {}", u32::MAX))
}

fn shift(line: usize, f: &[&str]) -> Result<Shift, String> {
    if f.len() < 2 {
        return Err("expected ShiftID,LengthInMinutes,CannotFollow".into());
    }
    check_code(f[0])?;
    if f[0] == LEAVE_CODE {
        return Err(format!(
            "shift `{LEAVE_CODE}` clashes with the code days off are written as"
        ));
    }
    Ok(Shift {
        line,
        id: f[0].to_string(),
        minutes: number("length in minutes", f[1])?,
        cannot_follow: f
            .get(2)
            .map(|s| {
                s.split('|')
                    .filter(|x| !x.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

fn person(line: usize, f: &[&str]) -> Result<Person, String> {
    if f.len() != 8 {
        return Err(format!(
            "expected 8 fields (ID,MaxShifts,MaxTotalMinutes,MinTotalMinutes,\
             MaxConsecutiveShifts,MinConsecutiveShifts,MinConsecutiveDaysOff,MaxWeekends), found {}",
            f.len()
        ));
    }
    check_id("staff id", f[0])?;
    let mut max_shifts = Vec::new();
    for part in f[1].split('|').filter(|p| !p.is_empty()) {
        let Some((shift, n)) = part.split_once('=') else {
            return Err(format!("MaxShifts entry `{part}` is not SHIFT=NUMBER"));
        };
        max_shifts.push((shift.to_string(), number("MaxShifts", n)?));
    }
    Ok(Person {
        line,
        id: f[0].to_string(),
        max_shifts,
        max_minutes: number("MaxTotalMinutes", f[2])?,
        min_minutes: number("MinTotalMinutes", f[3])?,
        max_consecutive: number("MaxConsecutiveShifts", f[4])?,
        min_consecutive: number("MinConsecutiveShifts", f[5])?,
        min_consecutive_off: number("MinConsecutiveDaysOff", f[6])?,
        max_weekends: number("MaxWeekends", f[7])?,
    })
}

fn days_off(line: usize, f: &[&str]) -> Result<Vec<(usize, String, u32)>, String> {
    let mut out = Vec::new();
    for d in f.iter().skip(1).filter(|d| !d.is_empty()) {
        out.push((line, f[0].to_string(), number("day index", d)?));
    }
    Ok(out)
}

fn request(line: usize, f: &[&str], on: bool) -> Result<ShiftRequest, String> {
    if f.len() != 4 {
        return Err(format!(
            "expected 4 fields (EmployeeID,Day,ShiftID,Weight), found {}",
            f.len()
        ));
    }
    let weight = number("Weight", f[3])?;
    if weight > MAX_WEIGHT {
        return Err(format!(
            "Weight `{}` is more than the {MAX_WEIGHT} a request may weigh",
            f[3]
        ));
    }
    Ok(ShiftRequest {
        line,
        staff: f[0].to_string(),
        day: number("day", f[1])?,
        shift: f[2].to_string(),
        weight,
        on,
    })
}

fn cover(line: usize, f: &[&str]) -> Result<Cover, String> {
    if f.len() != 5 {
        return Err(format!(
            "expected 5 fields (Day,ShiftID,Requirement,WeightForUnder,WeightForOver), found {}",
            f.len()
        ));
    }
    let weight = |what: &str, s: &str| {
        let w = number(what, s)?;
        if w > MAX_WEIGHT {
            return Err(format!(
                "{what} `{s}` is more than the {MAX_WEIGHT} a cover weight may be"
            ));
        }
        Ok(w)
    };
    Ok(Cover {
        line,
        day: number("day", f[0])?,
        shift: f[1].to_string(),
        requirement: number("requirement", f[2])?,
        under: weight("WeightForUnder", f[3])?,
        over: weight("WeightForOver", f[4])?,
    })
}

fn check_references(inst: &Instance, errors: &mut Vec<LineError>) {
    let shifts: HashSet<&str> = inst.shifts.iter().map(|s| s.id.as_str()).collect();
    let staff: HashSet<&str> = inst.staff.iter().map(|p| p.id.as_str()).collect();
    let mut seen = HashSet::new();
    for s in &inst.shifts {
        if !seen.insert(&s.id) {
            errors.push(LineError::new(s.line, format!("shift `{}` twice", s.id)));
        }
        for t in s
            .cannot_follow
            .iter()
            .filter(|t| !shifts.contains(t.as_str()))
        {
            errors.push(LineError::new(
                s.line,
                format!("unknown shift `{t}` in CannotFollow"),
            ));
        }
    }
    let mut seen = HashSet::new();
    for p in &inst.staff {
        if !seen.insert(&p.id) {
            errors.push(LineError::new(p.line, format!("staff `{}` twice", p.id)));
        }
        for (t, _) in p
            .max_shifts
            .iter()
            .filter(|(t, _)| !shifts.contains(t.as_str()))
        {
            errors.push(LineError::new(
                p.line,
                format!("unknown shift `{t}` in MaxShifts"),
            ));
        }
    }
    let in_horizon = |day: u32, line: usize, errors: &mut Vec<LineError>| {
        if inst.days > 0 && day >= inst.days {
            errors.push(LineError::new(
                line,
                format!("day {day} is past the horizon of {} days", inst.days),
            ));
        }
    };
    for (line, id, day) in &inst.days_off {
        if !staff.contains(id.as_str()) {
            errors.push(LineError::new(*line, format!("unknown staff `{id}`")));
        }
        in_horizon(*day, *line, errors);
    }
    for c in &inst.cover {
        if !shifts.contains(c.shift.as_str()) {
            errors.push(LineError::new(
                c.line,
                format!("unknown shift `{}`", c.shift),
            ));
        }
        in_horizon(c.day, c.line, errors);
    }
    // One request per person and date: the roster keeps no more.
    let mut first: HashMap<(&str, u32), usize> = HashMap::new();
    for r in &inst.requests {
        if !staff.contains(r.staff.as_str()) {
            errors.push(LineError::new(
                r.line,
                format!("unknown staff `{}`", r.staff),
            ));
        }
        if !shifts.contains(r.shift.as_str()) {
            errors.push(LineError::new(
                r.line,
                format!("unknown shift `{}`", r.shift),
            ));
        }
        in_horizon(r.day, r.line, errors);
        if let Some(line) = first.insert((r.staff.as_str(), r.day), r.line) {
            errors.push(LineError::new(
                r.line,
                format!(
                    "a second request of `{}` for day {} (the first is at line {line}): a roster keeps one request per person and date",
                    r.staff, r.day
                ),
            ));
            first.insert((r.staff.as_str(), r.day), line);
        }
    }
}

/// The operations that lay the instance onto `roster` from `start`. What
/// the roster already holds the same is left out, so importing twice
/// changes nothing the second time.
pub fn plan(inst: &Instance, start: Date, roster: &Roster) -> Plan {
    let mut plan = Plan::default();
    if start.0.format("%u").to_string() != "1" {
        plan.notes.push(format!(
            "day 0 of these instances is a Monday, and {start} is not: weekend limits count Saturdays and Sundays from it"
        ));
    }
    let free = inst.requests.iter().filter(|r| r.weight == 0).count();
    if free > 0 {
        plan.notes.push(format!(
            "left out {free} request{} of weight 0 (an unmet one would cost nothing)",
            if free == 1 { "" } else { "s" }
        ));
    }
    let date = |day: u32| start.add_days(i64::from(day));
    // The planning period is the instance's horizon: its rules (and the
    // benchmark's objective) are counted over exactly those days.
    if inst.days > 0 {
        let (from, to) = (start, date(inst.days - 1));
        if roster.set_period().map(|p| (p.from, p.to)) != Some((from, to)) {
            plan.push(0, Op::SetPeriod { from, to });
        }
    }
    for s in &inst.shifts {
        put_code(&mut plan, roster, s.line, shift_code(s));
    }
    let leave = ShiftCode {
        label: "Leave (day off)".into(),
        ..ShiftCode::new(LEAVE_CODE, 0.0, false)
    };
    put_code(&mut plan, roster, 0, leave);
    for (order, p) in inst.staff.iter().enumerate() {
        if roster.staff_member(&p.id).is_none() {
            plan.push(
                p.line,
                Op::AddStaff {
                    id: p.id.clone(),
                    name: p.id.clone(),
                    group: String::new(),
                    order: Some(order as i64),
                },
            );
        }
    }
    for s in &inst.shifts {
        for then in &s.cannot_follow {
            let kind = RuleKind::ForbiddenSequence {
                first: s.id.clone(),
                then: then.clone(),
            };
            put_rule(
                &mut plan,
                roster,
                s.line,
                format!("follow:{}:{then}", s.id),
                kind,
            );
        }
    }
    for p in &inst.staff {
        for (id, kind) in person_limits(p, inst.days) {
            put_rule(&mut plan, roster, p.line, id, kind);
        }
    }
    let mut off = HashSet::new();
    for (line, id, day) in &inst.days_off {
        if !off.insert((id, *day)) {
            continue;
        }
        let d = date(*day);
        let has = roster
            .cell(id, d)
            .is_some_and(|(c, _)| c == Some(LEAVE_CODE));
        if !has {
            plan.push(
                *line,
                Op::SetCell {
                    staff: id.clone(),
                    date: d,
                    code: Some(LEAVE_CODE.into()),
                    base: 0,
                },
            );
        }
    }
    // A later row for the same shift and day wins.
    let mut cover: HashMap<(String, u32), &Cover> = HashMap::new();
    for c in &inst.cover {
        cover.insert((c.shift.clone(), c.day), c);
    }
    let mut cover: Vec<&Cover> = cover.into_values().collect();
    cover.sort_by_key(|c| c.line);
    for c in cover {
        // Under the requirement costs `under` a person, over it `over`: a
        // bound that costs nothing is left off, and a row that costs
        // nothing either way is no rule.
        let min = if c.under > 0 { c.requirement } else { 0 };
        let max = (c.over > 0).then_some(c.requirement);
        if min == 0 && max.is_none() {
            continue;
        }
        let d = date(c.day);
        let kind = RuleKind::Staffing {
            code: c.shift.clone(),
            min,
            max,
            weekdays: Vec::new(),
            group: None,
            from: Some(d),
            to: Some(d),
            weights: Some(CoverWeights {
                under: c.under,
                over: c.over,
            }),
        };
        put_rule(
            &mut plan,
            roster,
            c.line,
            format!("cover:{}:{d}", c.shift),
            kind,
        );
    }
    for r in inst.requests.iter().filter(|r| r.weight > 0) {
        let wish = if r.on {
            Wish::On {
                code: r.shift.clone(),
            }
        } else {
            Wish::Off {
                code: Some(r.shift.clone()),
            }
        };
        let request = Request {
            weight: r.weight,
            ..Request::new(&r.staff, date(r.day), wish)
        };
        let same = roster.request(&r.staff, request.date).is_some_and(|cur| {
            (&cur.wish, cur.weight, cur.note.as_str())
                == (&request.wish, request.weight, request.note.as_str())
        });
        if !same {
            plan.push(
                r.line,
                Op::PutRequest {
                    request,
                    base: None,
                },
            );
        }
    }
    plan
}

fn shift_code(s: &Shift) -> ShiftCode {
    ShiftCode {
        label: format!("Shift {} ({} min)", s.id, s.minutes),
        ..ShiftCode::new(&s.id, f64::from(s.minutes) / 60.0, true)
    }
}

fn person_limits(p: &Person, days: u32) -> Vec<(String, RuleKind)> {
    let limit = |measure, min: u32, max: Option<u32>, code: Option<&str>| RuleKind::Limit {
        measure,
        min: (min > 0).then_some(f64::from(min)),
        max: max.map(f64::from),
        period_days: None,
        code: code.map(str::to_string),
        staff: Some(p.id.clone()),
        group: None,
    };
    let id = |what: &str| format!("limit:{}:{what}", p.id);
    let mut out = vec![
        (
            id("hours"),
            RuleKind::Limit {
                measure: LimitMeasure::Hours,
                min: (p.min_minutes > 0).then_some(f64::from(p.min_minutes) / 60.0),
                max: Some(f64::from(p.max_minutes) / 60.0),
                period_days: None,
                code: None,
                staff: Some(p.id.clone()),
                group: None,
            },
        ),
        (
            id("consecutive_worked"),
            limit(
                LimitMeasure::ConsecutiveWorked,
                p.min_consecutive,
                Some(p.max_consecutive),
                None,
            ),
        ),
        (
            id("consecutive_off"),
            limit(
                LimitMeasure::ConsecutiveOff,
                p.min_consecutive_off,
                None,
                None,
            ),
        ),
        (
            id("weekends"),
            limit(LimitMeasure::WeekendsWorked, 0, Some(p.max_weekends), None),
        ),
    ];
    for (code, max) in p.max_shifts.iter().filter(|(_, max)| *max < days) {
        out.push((
            id(&format!("shifts:{code}")),
            limit(LimitMeasure::Shifts, 0, Some(*max), Some(code)),
        ));
    }
    out
}

fn put_code(plan: &mut Plan, roster: &Roster, line: usize, code: ShiftCode) {
    let same = roster.code(&code.code).is_some_and(|cur| {
        let mut cur = cur.clone();
        cur.seq = 0;
        cur == code
    });
    if !same {
        plan.push(line, Op::PutCode { code, base: None });
    }
}

fn put_rule(plan: &mut Plan, roster: &Roster, line: usize, id: String, kind: RuleKind) {
    if roster.rule(&id).is_some_and(|r| r.kind == kind) {
        return;
    }
    plan.push(
        line,
        Op::PutRule {
            rule: Rule { id, kind, seq: 0 },
            base: None,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = "SECTION_HORIZON\n# days\n7\n\nSECTION_SHIFTS\nD,480,\nN,600,D\n\n\
        SECTION_STAFF\nA,D=7|N=0,2400,1200,5,2,2,1\nB,D=7|N=3,2400,1200,5,2,2,1\n\n\
        SECTION_DAYS_OFF\nA,0,3\n\nSECTION_SHIFT_ON_REQUESTS\nA,2,D,2\n\n\
        SECTION_COVER\n0,D,2,100,1\n0,N,0,100,1\n1,N,1,100,1\n";

    #[test]
    fn a_small_instance_becomes_codes_staff_rules_and_leave() {
        let inst = parse(SMALL).unwrap();
        let start: Date = "2026-11-30".parse().unwrap();
        let plan = plan(&inst, start, &Roster::default());
        let count = |f: &dyn Fn(&Op) -> bool| plan.ops.iter().filter(|o| f(o)).count();
        assert_eq!(count(&|o| matches!(o, Op::PutCode { .. })), 3);
        assert_eq!(count(&|o| matches!(o, Op::AddStaff { .. })), 2);
        // follow N->D, 4 limits each plus N=0 and N=3 restricted, 3 covers
        // (N on day 0 wants nobody, and each person there costs 1).
        assert_eq!(
            count(&|o| matches!(o, Op::PutRule { .. })),
            1 + 4 + 1 + 4 + 1 + 3
        );
        assert_eq!(count(&|o| matches!(o, Op::PutRequest { .. })), 1);
        assert_eq!(count(&|o| matches!(o, Op::SetCell { .. })), 2);
        assert!(plan.ops.contains(&Op::SetCell {
            staff: "A".into(),
            date: "2026-12-03".parse().unwrap(),
            code: Some("AL".into()),
            base: 0
        }));
        assert!(!plan.notes.iter().any(|n| n.contains("Monday")));
    }

    #[test]
    fn requests_are_kept_with_their_weights_and_cover_weights_go_into_the_rules() {
        let text = format!("{SMALL}SECTION_SHIFT_OFF_REQUESTS\nB,1,N,3\nB,2,D,1\n");
        let inst = parse(&text).unwrap();
        let start: Date = "2026-11-30".parse().unwrap();
        let plan = plan(&inst, start, &Roster::default());
        let requests: Vec<(&Request, usize)> = plan
            .ops
            .iter()
            .zip(&plan.lines)
            .filter_map(|(o, l)| match o {
                Op::PutRequest { request, base } => {
                    assert_eq!(*base, None);
                    Some((request, *l))
                }
                _ => None,
            })
            .collect();
        let want = [
            ("A", "2026-12-02", "on D", 2, 17),
            ("B", "2026-12-01", "off N", 3, 24),
            ("B", "2026-12-02", "off D", 1, 25),
        ];
        assert_eq!(requests.len(), want.len(), "{requests:?}");
        for ((r, line), (staff, date, wish, weight, l)) in requests.iter().zip(want) {
            assert_eq!(r.staff, staff);
            assert_eq!(r.date.to_string(), date);
            assert_eq!(r.wish.to_string(), wish);
            assert_eq!((r.weight, r.note.as_str(), *line), (weight, "", l));
        }
        // Cover: min = max = requirement with the file's weights; a
        // requirement of 0 with an over weight is a rule too (max 0).
        let rules: Vec<&Rule> = plan
            .ops
            .iter()
            .filter_map(|o| match o {
                Op::PutRule { rule, .. } if rule.id.starts_with("cover:") => Some(rule),
                _ => None,
            })
            .collect();
        let cover = |code: &str, min: u32, max: u32, date: &str| Rule {
            id: format!("cover:{code}:{date}"),
            kind: RuleKind::Staffing {
                code: code.into(),
                min,
                max: Some(max),
                weekdays: Vec::new(),
                group: None,
                from: Some(date.parse().unwrap()),
                to: Some(date.parse().unwrap()),
                weights: Some(CoverWeights {
                    under: 100,
                    over: 1,
                }),
            },
            seq: 0,
        };
        assert_eq!(
            rules,
            [
                &cover("D", 2, 2, "2026-11-30"),
                &cover("N", 0, 0, "2026-11-30"),
                &cover("N", 1, 1, "2026-12-01"),
            ]
        );
        assert!(
            !plan.notes.iter().any(|n| n.contains("request")),
            "{:?}",
            plan.notes
        );
        // Laid onto a roster, the plan is all valid, and a second import
        // changes nothing.
        let mut roster = Roster::default();
        let author = rota_core::domain::Author {
            user: "importer".into(),
            client: "c".into(),
        };
        roster.apply_batch(&plan.ops, &author, 1).unwrap();
        assert_eq!(roster.request_count(), 3);
        assert_eq!(
            roster
                .request("B", "2026-12-01".parse().unwrap())
                .map(|r| r.weight),
            Some(3)
        );
        assert_eq!(super::plan(&inst, start, &roster).ops, Vec::new());
    }

    #[test]
    fn bad_requests_and_cover_rows_are_reported_at_their_lines() {
        let text = "SECTION_HORIZON\n7\nSECTION_SHIFTS\nD,480,\n\
                    SECTION_STAFF\nA,D=7,2400,0,5,1,1,1\n\
                    SECTION_SHIFT_ON_REQUESTS\nA,1,D,2\nZ,1,D,1\nA,9,D,1\nA,2,Q,1\nA,3,D\n\
                    A,4,D,x\nA,5,D,5000\n\
                    SECTION_SHIFT_OFF_REQUESTS\nA,1,D,1\n\
                    SECTION_COVER\n0,D,1\n1,D,1,100,-3\n";
        let errors = parse(text).unwrap_err();
        let got: Vec<(usize, &str)> = errors
            .iter()
            .map(|e| (e.line, e.message.as_str()))
            .collect();
        let lines: Vec<usize> = got.iter().map(|g| g.0).collect();
        assert_eq!(lines, [9, 10, 11, 12, 13, 14, 16, 18, 19], "{got:?}");
        let has = |line: usize, words: &[&str]| {
            let m = got.iter().find(|g| g.0 == line).unwrap().1;
            assert!(words.iter().all(|w| m.contains(w)), "line {line}: {m}");
        };
        has(9, &["unknown staff `Z`"]);
        has(10, &["day 9", "past the horizon"]);
        has(11, &["unknown shift `Q`"]);
        has(12, &["expected 4 fields", "found 3"]);
        has(13, &["Weight `x`"]);
        has(14, &["5000", "1000"]);
        has(16, &["`A`", "day 1", "line 8"]);
        has(18, &["expected 5 fields", "found 3"]);
        has(19, &["WeightForOver `-3`"]);
        // A request of weight 0 costs nothing: left out, and said.
        let zero = "SECTION_HORIZON\n7\nSECTION_SHIFTS\nD,480,\n\
                    SECTION_STAFF\nA,D=7,2400,0,5,1,1,1\n\
                    SECTION_SHIFT_ON_REQUESTS\nA,1,D,0\n";
        let inst = parse(zero).unwrap();
        let plan = plan(&inst, "2026-11-30".parse().unwrap(), &Roster::default());
        assert!(!plan.ops.iter().any(|o| matches!(o, Op::PutRequest { .. })));
        assert!(
            plan.notes
                .iter()
                .any(|n| n.contains("1 request of weight 0")),
            "{:?}",
            plan.notes
        );
    }

    #[test]
    fn bad_instances_are_reported_line_by_line() {
        let text = "SECTION_HORIZON\n7\nSECTION_SHIFTS\nD,480,X\nNIGHT,600,\n\
                    SECTION_STAFF\nA,D=7,2400,1200,5,2,2\nSECTION_DAYS_OFF\nZ,9\n\
                    SECTION_COVER\n0,Q,1,1,1\n";
        let errors = parse(text).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![4, 5, 7, 9, 9, 11]);
        assert!(errors[0].message.contains("`X`"));
        assert!(errors[4].message.contains("past the horizon"));
        let huge = "SECTION_HORIZON\n4000000000\nSECTION_SHIFTS\nD,480,\n\
                    SECTION_STAFF\nA,D=7,2400,0,5,1,1,1\nSECTION_DAYS_OFF\nA,3999999999\n";
        let errors = parse(huge).unwrap_err();
        assert!(errors[0].message.contains("longer than"), "{errors:?}");
        // Far dates are held at the calendar's end, never a panic.
        let start: Date = "2026-01-05".parse().unwrap();
        assert_eq!(start.add_days(i64::MAX).0, chrono::NaiveDate::MAX);
    }
}
