//! The rule evaluator (`domain::rules`): each kind of rule on a small
//! roster, and a property test: over random rosters, rules and edit
//! sequences, the incremental findings always equal a full evaluation, and
//! both equal a plain checker written here without the evaluator's code.

use crate::common;

use common::rule;

use proptest::prelude::*;
use rota::domain::rules::{Finding, Findings};
use rota::domain::{Author, Date, LimitMeasure, Op, Roster, RuleKind, ShiftCode, Target};
use std::collections::BTreeSet;
use std::sync::Arc;

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

fn day(i: i64) -> Date {
    Date(d("2026-12-01").0 + chrono::Duration::days(i))
}

fn author() -> Author {
    Author {
        user: Arc::from("t"),
        client: Arc::from("t-c"),
    }
}

/// Applies ops and returns what they changed.
fn apply(r: &mut Roster, ops: &[Op]) -> Vec<Target> {
    match r.apply_batch_with(ops, &author(), 0, true) {
        Ok(a) => a.changes.iter().map(|c| c.target()).collect(),
        Err(e) => panic!("applies: {e:?}"),
    }
}

fn period(from: Date, to: Date) -> Op {
    Op::SetPeriod { from, to }
}

fn set(staff: &str, date: Date, code: Option<&str>) -> Op {
    Op::SetCell {
        staff: staff.into(),
        date,
        code: code.map(str::to_string),
        base: 0,
    }
}

fn limit(
    measure: LimitMeasure,
    min: Option<f64>,
    max: Option<f64>,
    period: Option<u32>,
) -> RuleKind {
    RuleKind::Limit {
        measure,
        min,
        max,
        period_days: period,
        code: None,
        staff: None,
        group: None,
    }
}

/// Codes D (worked, 8 h), N (worked, 12 h), OFF and AL (off; AL 7.5 h),
/// and three people: Ann Lee and Bo Chen (Nurses), Cy Diaz (Porters).
fn base() -> Roster {
    let mut r = Roster::default();
    let mut ops: Vec<Op> = [
        ("D", 8.0, true),
        ("N", 12.0, true),
        ("OFF", 0.0, false),
        ("AL", 7.5, false),
    ]
    .iter()
    .map(|(c, h, w)| Op::PutCode {
        code: ShiftCode::new(c, *h, *w),
        base: None,
    })
    .collect();
    for (id, name, group) in [
        ("s0", "Ann Lee", "Nurses"),
        ("s1", "Bo Chen", "Nurses"),
        ("s2", "Cy Diaz", "Porters"),
    ] {
        ops.push(Op::AddStaff {
            id: id.into(),
            name: name.into(),
            group: group.into(),
            order: None,
        });
    }
    apply(&mut r, &ops);
    r
}

fn messages(r: &Roster) -> Vec<String> {
    Findings::new(r).all().iter().map(|f| f.message()).collect()
}

#[test]
fn staffing_under_and_over_by_date_weekday_and_group() {
    let mut r = base();
    apply(
        &mut r,
        &[
            rule(
                "cover-d",
                RuleKind::Staffing {
                    code: "D".into(),
                    min: 2,
                    max: Some(2),
                    weekdays: vec![chrono::Weekday::Tue, chrono::Weekday::Wed],
                    group: Some("Nurses".into()),
                    from: None,
                    to: None,
                    weights: None,
                },
            ),
            period(day(0), day(2)),
            set("s0", day(0), Some("D")), // Tue 1 Dec: 1 nurse on D
            set("s2", day(0), Some("D")), // a porter: not counted
            set("s0", day(1), Some("D")), // Wed 2 Dec: 2, fine
            set("s1", day(1), Some("D")),
            set("s0", day(2), Some("N")), // Thu: not a day the rule covers
        ],
    );
    assert_eq!(messages(&r), ["D on Tue 1 Dec: 1 of at least 2 in Nurses"]);
    apply(
        &mut r,
        &[rule(
            "cover-d",
            RuleKind::Staffing {
                code: "D".into(),
                min: 0,
                max: Some(1),
                weekdays: Vec::new(),
                group: None,
                from: Some(day(1)),
                to: Some(day(1)),
                weights: None,
            },
        )],
    );
    let f = Findings::new(&r);
    let all = f.all();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].message(), "D on Wed 2 Dec: 2, at most 1");
    assert_eq!(all[0].staff, ["s0", "s1"], "who is over");
}

#[test]
fn a_forbidden_sequence_names_the_person_and_both_days() {
    let mut r = base();
    apply(
        &mut r,
        &[
            rule(
                "no-d-after-n",
                RuleKind::ForbiddenSequence {
                    first: "N".into(),
                    then: "D".into(),
                },
            ),
            set("s1", day(2), Some("N")),
            set("s1", day(3), Some("D")),
            set("s1", day(5), Some("N")),
            set("s1", day(7), Some("D")), // not the next day
        ],
    );
    assert_eq!(
        messages(&r),
        ["Bo Chen: N on Thu 3 Dec then D on Fri 4 Dec (D may not follow N)"]
    );
}

#[test]
fn runs_of_worked_days_and_days_off_over_the_limit() {
    let mut r = base();
    let mut ops = vec![
        rule(
            "max-6",
            limit(LimitMeasure::ConsecutiveWorked, None, Some(6.0), None),
        ),
        rule(
            "max-3-off",
            limit(LimitMeasure::ConsecutiveOff, None, Some(3.0), None),
        ),
    ];
    for i in 2..9 {
        ops.push(set("s0", day(i), Some(if i % 2 == 0 { "D" } else { "N" })));
    }
    // An empty cell ends a run: 6 + 1 is not 7 in a row.
    for i in [0, 1, 2, 3, 4, 5, 7] {
        ops.push(set("s1", day(i), Some("D")));
    }
    for i in 10..14 {
        ops.push(set("s2", day(i), Some(if i == 12 { "AL" } else { "OFF" })));
    }
    apply(&mut r, &ops);
    assert_eq!(
        messages(&r),
        [
            "Ann Lee: 7 worked days in a row, Thu 3 Dec to Wed 9 Dec, limit 6",
            "Cy Diaz: 4 days off in a row, Fri 11 Dec to Mon 14 Dec, limit 3",
        ]
    );
}

/// At least: a run of worked days shorter than the minimum, and days off
/// (empty or written off) between two worked days; runs at the period's
/// edges go on beyond it and are not held to it.
#[test]
fn runs_shorter_than_the_minimum_between_the_periods_edges() {
    let mut r = base();
    let mut ops = vec![
        rule(
            "min-2",
            limit(LimitMeasure::ConsecutiveWorked, Some(2.0), None, None),
        ),
        rule(
            "min-2-off",
            limit(LimitMeasure::ConsecutiveOff, Some(2.0), None, None),
        ),
    ];
    // Ann: a single D at the period's first day (an edge: not held), D D,
    // one empty day, D D: one day off between two worked runs.
    for i in [0, 3, 4, 6, 7] {
        ops.push(set("s0", day(i), Some("D")));
    }
    // Bo: a lone N mid-period between days off.
    ops.push(set("s1", day(5), Some("N")));
    apply(&mut r, &ops);
    assert_eq!(
        messages(&r),
        [
            "Bo Chen: 1 worked day in a row, Sun 6 Dec to Sun 6 Dec, at least 2",
            "Ann Lee: 1 day off in a row, Sun 6 Dec to Sun 6 Dec, at least 2",
        ]
    );
}

#[test]
fn shifts_hours_and_weekends_per_period() {
    let mut r = base();
    let mut ops = vec![
        rule(
            "shifts",
            limit(LimitMeasure::Shifts, Some(1.0), Some(4.0), Some(7)),
        ),
        rule("hours", limit(LimitMeasure::Hours, None, Some(40.0), None)),
        rule(
            "weekends",
            limit(LimitMeasure::WeekendsWorked, None, Some(1.0), None),
        ),
    ];
    // Two weeks planned. Ann: 5 shifts in the first (Tue 1 to Mon 7 Dec),
    // none in the second; 5 x 8 h + AL 7.5 h = 47.5 h. Cy works both
    // weekends.
    ops.push(period(day(0), day(13)));
    for i in [0, 1, 2, 3, 4] {
        ops.push(set("s0", day(i), Some("D")));
    }
    ops.push(set("s0", day(8), Some("AL")));
    ops.push(set("s0", day(12), Some("OFF")));
    ops.push(set("s1", day(12), Some("OFF")));
    ops.push(set("s1", day(3), Some("D")));
    for (i, c) in [(0, "D"), (5, "N"), (7, "D"), (12, "N"), (13, "N")] {
        ops.push(set("s2", day(i), Some(c)));
    }
    apply(&mut r, &ops);
    assert_eq!(
        messages(&r),
        [
            "Ann Lee: 5 shifts from Tue 1 Dec to Mon 7 Dec, at most 4",
            "Ann Lee: 47.5 hours from Tue 1 Dec to Mon 14 Dec, at most 40",
            "Cy Diaz: 52 hours from Tue 1 Dec to Mon 14 Dec, at most 40",
            "Cy Diaz: 2 weekends worked from Tue 1 Dec to Mon 14 Dec, at most 1",
            "Ann Lee: 0 shifts from Tue 8 Dec to Mon 14 Dec, at least 1",
            "Bo Chen: 0 shifts from Tue 8 Dec to Mon 14 Dec, at least 1",
        ]
    );
}

// ----- the property test -----

/// What a finding is about, as the plain checker below says it.
type Key = (String, Date, Date, Vec<String>);

fn key(f: &Finding) -> Key {
    (f.rule.clone(), f.first, f.last, f.staff.clone())
}

/// Every date of the planning period: as set, else from the first date
/// holding a code to the last.
fn span_dates(r: &Roster) -> Vec<Date> {
    let cells = r.cells();
    let coded = || cells.iter().filter(|c| c.2.is_some()).map(|c| c.1);
    let (Some(first), Some(last)) = (match r.settings().period {
        Some(p) => (Some(p.from), Some(p.to)),
        None => (coded().min(), coded().max()),
    }) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut x = first;
    while x <= last {
        out.push(x);
        x = Date(x.0 + chrono::Duration::days(1));
    }
    out
}

/// The roster's findings, worked out date by date and person by person
/// with nothing of the evaluator's.
fn plain_check(r: &Roster) -> BTreeSet<Key> {
    let dates = span_dates(r);
    let staff: Vec<_> = r.staff().into_iter().filter(|s| s.active).collect();
    let code_at = |id: &str, x: Date| r.cell(id, x).and_then(|(c, _)| c.map(str::to_string));
    let is_worked = |c: &Option<String>| {
        c.as_ref()
            .map(|c| r.code(c).map(|k| k.worked).unwrap_or(false))
    };
    let mut out = BTreeSet::new();
    for rule in r.rules() {
        match &rule.kind {
            RuleKind::Staffing {
                code,
                min,
                max,
                weekdays,
                group,
                from,
                to,
                ..
            } => {
                for &x in &dates {
                    use chrono::Datelike;
                    if from.is_some_and(|f| x < f) || to.is_some_and(|t| x > t) {
                        continue;
                    }
                    if !weekdays.is_empty() && !weekdays.contains(&x.0.weekday()) {
                        continue;
                    }
                    let on: Vec<String> = staff
                        .iter()
                        .filter(|s| group.as_ref().is_none_or(|g| *g == s.group))
                        .filter(|s| code_at(&s.id, x).as_deref() == Some(code.as_str()))
                        .map(|s| s.id.clone())
                        .collect();
                    let n = on.len() as u32;
                    if n < *min {
                        out.insert((rule.id.clone(), x, x, Vec::new()));
                    } else if max.is_some_and(|m| n > m) {
                        out.insert((rule.id.clone(), x, x, on));
                    }
                }
            }
            RuleKind::ForbiddenSequence { first, then } => {
                for s in &staff {
                    for w in dates.windows(2) {
                        if code_at(&s.id, w[0]).as_deref() == Some(first.as_str())
                            && code_at(&s.id, w[1]).as_deref() == Some(then.as_str())
                        {
                            out.insert((rule.id.clone(), w[0], w[1], vec![s.id.clone()]));
                        }
                    }
                }
            }
            RuleKind::Limit {
                measure,
                min,
                max,
                period_days,
                code,
                staff: only,
                group,
            } => {
                for s in &staff {
                    if only.as_ref().is_some_and(|o| *o != s.id)
                        || group.as_ref().is_some_and(|g| *g != s.group)
                    {
                        continue;
                    }
                    match measure {
                        LimitMeasure::ConsecutiveWorked | LimitMeasure::ConsecutiveOff => {
                            let want = *measure == LimitMeasure::ConsecutiveWorked;
                            // At least: maximal runs of worked days (or of
                            // days not worked, written or empty), not at the
                            // period's edges.
                            if let Some(min) = min.filter(|m| *m > 1.0) {
                                let worked =
                                    |i: usize| is_worked(&code_at(&s.id, dates[i])) == Some(true);
                                let mut i = 0;
                                while i < dates.len() {
                                    let w = worked(i);
                                    let mut j = i;
                                    while j + 1 < dates.len() && worked(j + 1) == w {
                                        j += 1;
                                    }
                                    if w == want
                                        && i > 0
                                        && j + 1 < dates.len()
                                        && ((j - i + 1) as f64) < min
                                    {
                                        out.insert((
                                            rule.id.clone(),
                                            dates[i],
                                            dates[j],
                                            vec![s.id.clone()],
                                        ));
                                    }
                                    i = j + 1;
                                }
                            }
                            let Some(max) = max else { continue };
                            let mut i = 0;
                            while i < dates.len() {
                                if is_worked(&code_at(&s.id, dates[i])) != Some(want) {
                                    i += 1;
                                    continue;
                                }
                                let mut j = i;
                                while j + 1 < dates.len()
                                    && is_worked(&code_at(&s.id, dates[j + 1])) == Some(want)
                                {
                                    j += 1;
                                }
                                if (j - i + 1) as f64 > *max {
                                    out.insert((
                                        rule.id.clone(),
                                        dates[i],
                                        dates[j],
                                        vec![s.id.clone()],
                                    ));
                                }
                                i = j + 1;
                            }
                        }
                        _ => {
                            let n = period_days
                                .filter(|n| *n > 0)
                                .map_or(dates.len(), |n| n as usize);
                            for chunk in dates.chunks(n.max(1)) {
                                let v: f64 = match measure {
                                    LimitMeasure::Shifts => chunk
                                        .iter()
                                        .filter(|x| match code {
                                            Some(c) => {
                                                code_at(&s.id, **x).as_deref() == Some(c.as_str())
                                            }
                                            None => is_worked(&code_at(&s.id, **x)) == Some(true),
                                        })
                                        .count()
                                        as f64,
                                    LimitMeasure::Hours => chunk
                                        .iter()
                                        .filter_map(|x| code_at(&s.id, *x))
                                        .filter_map(|c| r.code(&c).map(|k| k.hours))
                                        .sum(),
                                    _ => {
                                        use chrono::Datelike;
                                        let mut weekends = BTreeSet::new();
                                        for x in chunk {
                                            if is_worked(&code_at(&s.id, *x)) == Some(true) {
                                                match x.0.weekday() {
                                                    chrono::Weekday::Sat => {
                                                        weekends.insert(*x);
                                                    }
                                                    chrono::Weekday::Sun => {
                                                        weekends.insert(Date(
                                                            x.0 - chrono::Duration::days(1),
                                                        ));
                                                    }
                                                    _ => {}
                                                }
                                            }
                                        }
                                        weekends.len() as f64
                                    }
                                };
                                if max.is_some_and(|m| v > m) || min.is_some_and(|m| v < m) {
                                    let last = chunk[chunk.len() - 1];
                                    out.insert((
                                        rule.id.clone(),
                                        chunk[0],
                                        last,
                                        vec![s.id.clone()],
                                    ));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

fn any_rule() -> impl Strategy<Value = Op> {
    let code = prop_oneof![Just("D"), Just("N"), Just("OFF"), Just("AL")];
    prop_oneof![
        (
            code.clone(),
            0u32..3,
            proptest::option::of(0u32..3),
            any::<bool>()
        )
            .prop_map(|(c, min, max, nurses)| rule(
                "staffing",
                RuleKind::Staffing {
                    code: c.into(),
                    min,
                    max,
                    weekdays: Vec::new(),
                    group: nurses.then(|| "Nurses".to_string()),
                    from: None,
                    to: None,
                    weights: None,
                }
            )),
        (code.clone(), code).prop_map(|(a, b)| rule(
            "sequence",
            RuleKind::ForbiddenSequence {
                first: a.into(),
                then: b.into()
            }
        )),
        (
            0usize..5,
            proptest::option::of(1u32..4),
            proptest::option::of(0u32..10),
            proptest::option::of(1u32..6)
        )
            .prop_map(|(m, min, max, period)| {
                let measure = [
                    LimitMeasure::ConsecutiveWorked,
                    LimitMeasure::ConsecutiveOff,
                    LimitMeasure::Shifts,
                    LimitMeasure::Hours,
                    LimitMeasure::WeekendsWorked,
                ][m];
                rule(
                    &format!("limit-{m}"),
                    limit(measure, min.map(f64::from), max.map(f64::from), period),
                )
            }),
    ]
}

fn any_edit() -> impl Strategy<Value = Vec<Op>> {
    let cell = (
        0usize..3,
        0i64..16,
        prop_oneof![
            Just(None),
            Just(Some("D")),
            Just(Some("N")),
            Just(Some("OFF")),
            Just(Some("AL"))
        ],
    )
        .prop_map(|(s, i, c)| set(&format!("s{s}"), day(i), c));
    prop_oneof![
        8 => proptest::collection::vec(cell, 1..4),
        1 => any_rule().prop_map(|r| vec![r]),
        1 => (0i64..10, 0i64..10).prop_map(|(a, n)| vec![period(day(a), day(a + n))]),
        1 => (0usize..3).prop_map(|s| vec![Op::UpdateStaff {
            id: format!("s{s}"),
            name: None,
            group: Some("Porters".into()),
            order: None,
            base: None,
        }]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("ROTA_RULES_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
    ))]

    /// After every edit, the findings kept up to date edit by edit equal a
    /// full evaluation, and both equal the plain checker's.
    #[test]
    fn incremental_full_and_plain_findings_agree(
        rules in proptest::collection::vec(any_rule(), 1..4),
        edits in proptest::collection::vec(any_edit(), 1..40),
    ) {
        let mut r = base();
        for rule in rules {
            // Rules the domain refuses (a limit with neither bound...) are
            // left out.
            let _ = r.apply_batch_with(&[rule], &author(), 0, true);
        }
        let mut kept = Findings::new(&r);
        for ops in edits {
            let changed = match r.apply_batch_with(&ops, &author(), 0, true) {
                Ok(a) => a.changes.iter().map(|c| c.target()).collect::<Vec<_>>(),
                Err(_) => continue,
            };
            kept.update(&r, &changed);
            let full = Findings::new(&r);
            prop_assert_eq!(&kept, &full, "after {:?}", ops);
            let got: BTreeSet<Key> = full.all().into_iter().map(key).collect();
            prop_assert_eq!(got, plain_check(&r), "after {:?}", ops);
            prop_assert!(full.all().iter().all(|f| !f.message().is_empty()));
        }
    }
}

/// `rota --check` with the real binary against a hub: the findings as text
/// (exit 1), as JSON, and exit 0 when there are none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rota_check_prints_the_findings_and_exits_by_them() {
    let dir = tempfile::tempdir().unwrap();
    let hub = common::Hub::start(&dir.path().join("hub")).await;
    let (mut c, _) = common::Client::join(&hub.url(), "admin", "admin-c", "default", 0).await;
    let mut ops = vec![
        Op::PutCode {
            code: ShiftCode::new("D", 8.0, true),
            base: None,
        },
        Op::AddStaff {
            id: "s0".into(),
            name: "Ann Lee".into(),
            group: String::new(),
            order: None,
        },
    ];
    for i in 0..7 {
        ops.push(set("s0", day(i), Some("D")));
    }
    common::ack_seq(&c.edit(1, ops).await);
    let check = |json: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rota"));
        cmd.args([
            "--check",
            "--server",
            &hub.url(),
            "--user",
            "checker",
            "--data",
        ])
        .arg(dir.path().join("checker"));
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, text) = check(false);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("No findings in roster default."), "{text}");
    common::ack_seq(
        &c.edit(
            2,
            vec![rule(
                "max-6",
                limit(LimitMeasure::ConsecutiveWorked, None, Some(6.0), None),
            )],
        )
        .await,
    );
    let (code, text) = check(false);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("Ann Lee: 7 worked days in a row, Tue 1 Dec to Mon 7 Dec, limit 6  [max-6]"),
        "{text}"
    );
    assert!(text.contains("1 finding in roster default."), "{text}");
    let (code, json) = check(true);
    assert_eq!(code, Some(1));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["findings"][0]["rule"], "max-6");
    assert_eq!(v["findings"][0]["staff"][0], "s0");
    assert_eq!(v["findings"][0]["first"], "2026-12-01");
}

/// What a finding is about, for comparing with the instance reading:
/// (rule id, person, first day, last day, the number it found).
type NrpKey = (String, String, i64, i64, String);

/// The findings of an imported instance whose cells are all filled, as
/// read from the instance's text here, independently of `script::nrp` and
/// of the evaluator. `cells[p][day]`: the shift (or "" for a day off).
fn nrp_expected(text: &str, staff: &[String], cells: &[Vec<String>]) -> BTreeSet<NrpKey> {
    let mut section = "";
    let mut days = 0i64;
    let mut minutes: std::collections::HashMap<String, i64> = Default::default();
    let mut follows: Vec<(String, String)> = Vec::new();
    let mut people: Vec<Vec<String>> = Vec::new();
    // (shift, day) -> (requirement, under weight, over weight).
    let mut cover: std::collections::BTreeMap<(String, i64), (i64, i64, i64)> = Default::default();
    for l in text.lines().map(str::trim) {
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if l.starts_with("SECTION_") {
            section = l;
            continue;
        }
        let f: Vec<String> = l.split(',').map(str::to_string).collect();
        match section {
            "SECTION_HORIZON" => days = l.parse().unwrap(),
            "SECTION_SHIFTS" => {
                minutes.insert(f[0].clone(), f[1].parse().unwrap());
                for then in f.get(2).map(|s| s.split('|')).into_iter().flatten() {
                    if !then.is_empty() {
                        follows.push((f[0].clone(), then.to_string()));
                    }
                }
            }
            "SECTION_STAFF" => people.push(f),
            "SECTION_COVER" => {
                // A later line for the same shift and day wins.
                let n = |i: usize| f[i].parse::<i64>().unwrap();
                cover.insert((f[1].clone(), f[0].parse().unwrap()), (n(2), n(3), n(4)));
            }
            _ => {}
        }
    }
    let start = d("2026-01-05");
    let date = |i: i64| Date(start.0 + chrono::Duration::days(i));
    let mut out = BTreeSet::new();
    for ((shift, day), (need, under, over)) in &cover {
        let on: Vec<usize> = (0..cells.len())
            .filter(|p| cells[*p][*day as usize] == *shift)
            .collect();
        let n = on.len() as i64;
        // Under the requirement is a finding when it costs something, and
        // so is over it (a requirement of 0 included); the people over it
        // are named, the first of them in the key.
        if *under > 0 && n < *need {
            out.insert((
                format!("cover:{shift}:{}", date(*day)),
                String::new(),
                *day,
                *day,
                n.to_string(),
            ));
        } else if *over > 0 && n > *need {
            out.insert((
                format!("cover:{shift}:{}", date(*day)),
                staff[on[0]].clone(),
                *day,
                *day,
                n.to_string(),
            ));
        }
    }
    for (p, f) in people.iter().enumerate() {
        let id = &f[0];
        assert_eq!(staff[p], *id, "the same people in the same order");
        let row = &cells[p];
        let worked = |i: i64| !row[i as usize].is_empty();
        for (a, b) in &follows {
            for i in 0..days - 1 {
                if row[i as usize] == *a && row[i as usize + 1] == *b {
                    out.insert((
                        format!("follow:{a}:{b}"),
                        id.clone(),
                        i,
                        i + 1,
                        String::new(),
                    ));
                }
            }
        }
        // MaxShifts: "D=14|N=3".
        for part in f[1].split('|') {
            let (code, max) = part.split_once('=').unwrap();
            let max: i64 = max.parse().unwrap();
            let n = row.iter().filter(|c| *c == code).count() as i64;
            if max < days && n > max {
                out.insert((
                    format!("limit:{id}:shifts:{code}"),
                    id.clone(),
                    0,
                    days - 1,
                    n.to_string(),
                ));
            }
        }
        let total: i64 = row
            .iter()
            .filter(|c| !c.is_empty())
            .map(|c| minutes[c])
            .sum();
        let (max_min, min_min): (i64, i64) = (f[2].parse().unwrap(), f[3].parse().unwrap());
        if total > max_min || (min_min > 0 && total < min_min) {
            out.insert((
                format!("limit:{id}:hours"),
                id.clone(),
                0,
                days - 1,
                format!("{:.3}", total as f64 / 60.0),
            ));
        }
        let max_run: i64 = f[4].parse().unwrap();
        let mut i = 0;
        while i < days {
            if worked(i) {
                let a = i;
                while i + 1 < days && worked(i + 1) {
                    i += 1;
                }
                if i - a + 1 > max_run {
                    out.insert((
                        format!("limit:{id}:consecutive_worked"),
                        id.clone(),
                        a,
                        i,
                        (i - a + 1).to_string(),
                    ));
                }
            }
            i += 1;
        }
        // Minimum runs (the benchmark's MinConsecutiveShifts and
        // MinConsecutiveDaysOff), except runs at the horizon's edges: a run
        // of worked days, or of days not worked between two worked days.
        let (min_run, min_off): (i64, i64) = (f[5].parse().unwrap(), f[6].parse().unwrap());
        let mut i = 0;
        while i < days {
            let w = worked(i);
            let a = i;
            while i + 1 < days && worked(i + 1) == w {
                i += 1;
            }
            let (len, inner) = (i - a + 1, a > 0 && i < days - 1);
            let (rule, min) = if w {
                ("consecutive_worked", min_run)
            } else {
                ("consecutive_off", min_off)
            };
            if inner && len < min {
                out.insert((
                    format!("limit:{id}:{rule}"),
                    id.clone(),
                    a,
                    i,
                    len.to_string(),
                ));
            }
            i += 1;
        }
        // Weekends: day 0 is a Monday; a weekend is worked when its
        // Saturday or Sunday is.
        let weekends = (0..days / 7)
            .filter(|w| worked(w * 7 + 5) || worked(w * 7 + 6))
            .count() as i64;
        let max_weekends: i64 = f[7].parse().unwrap();
        if weekends > max_weekends {
            out.insert((
                format!("limit:{id}:weekends"),
                id.clone(),
                0,
                days - 1,
                weekends.to_string(),
            ));
        }
    }
    out
}

/// Every benchmark instance, imported and filled (days off as the file
/// says, every other day a shift or a day off chosen by a fixed
/// generator): the evaluator's findings are exactly those read from the
/// instance file by `nrp_expected`. In four tests, so they run side by side.
#[test]
fn benchmark_instances_1_to_6_find_what_their_files_say() {
    check_instances(1..=6);
}

#[test]
fn benchmark_instances_7_to_12_find_what_their_files_say() {
    check_instances(7..=12);
}

#[test]
fn benchmark_instances_13_to_18_find_what_their_files_say() {
    check_instances(13..=18);
}

#[test]
fn benchmark_instances_19_to_24_find_what_their_files_say() {
    check_instances(19..=24);
}

fn check_instances(which: std::ops::RangeInclusive<u64>) {
    use rota::domain::rules::What;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nrp");
    let mut checked = 0;
    let mut total = 0;
    let expect = which.clone().count();
    for i in which {
        let text = std::fs::read_to_string(dir.join(format!("Instance{i}.txt"))).unwrap();
        let inst = rota::script::nrp::parse(&text).unwrap_or_else(|e| panic!("{i}: {e:?}"));
        let start = d("2026-01-05");
        let mut r = Roster::default();
        let plan = rota::script::nrp::plan(&inst, start, &r);
        apply(&mut r, &plan.ops);
        let staff: Vec<String> = inst.staff.iter().map(|p| p.id.clone()).collect();
        let shifts: Vec<String> = inst.shifts.iter().map(|s| s.id.clone()).collect();
        // A fixed generator: the same roster every run.
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15 ^ i;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut cells = Vec::new();
        let mut ops = Vec::new();
        for id in &staff {
            let mut row = Vec::new();
            for day in 0..i64::from(inst.days) {
                let date = Date(start.0 + chrono::Duration::days(day));
                let leave = r.cell(id, date).is_some_and(|(c, _)| c == Some("AL"));
                // About one day in four off.
                let pick = next() as usize % (shifts.len() * 3 + 1);
                let code = if leave || pick == 0 {
                    None
                } else {
                    Some(shifts[pick % shifts.len()].clone())
                };
                if !leave {
                    ops.push(set(id, date, Some(code.as_deref().unwrap_or("AL"))));
                }
                row.push(code.unwrap_or_default());
            }
            cells.push(row);
        }
        apply(&mut r, &ops);
        let found = Findings::new(&r);
        let day_of = |x: Date| (x.0 - start.0).num_days();
        let got: BTreeSet<NrpKey> = found
            .all()
            .into_iter()
            .map(|f| {
                let n = match &f.what {
                    What::Under { n, .. } | What::Over { n, .. } => n.to_string(),
                    What::Run { days, .. } => days.to_string(),
                    What::Amount { value, unit, .. } if *unit == "hours" => format!("{value:.3}"),
                    What::Amount { value, .. } => format!("{value:.0}"),
                    What::Sequence { .. } | What::Request { .. } => String::new(),
                };
                (
                    f.rule.clone(),
                    f.staff.first().cloned().unwrap_or_default(),
                    day_of(f.first),
                    day_of(f.last),
                    n,
                )
            })
            .collect();
        let want = nrp_expected(&text, &staff, &cells);
        assert_eq!(got.len(), found.len(), "Instance{i}: no two findings alike");
        if got != want {
            let extra: Vec<_> = got.difference(&want).take(5).collect();
            let missing: Vec<_> = want.difference(&got).take(5).collect();
            panic!(
                "Instance{i}: found but not in the file's reading {extra:?}; in the reading but not found {missing:?}"
            );
        }
        checked += 1;
        total += want.len();
    }
    assert_eq!(checked, expect);
    assert!(total > 100, "the fills break many rules: {total}");
}

/// The first code written gives a roster its period (the whole months of
/// its codes); a code written, then cleared, far outside the period (a
/// stray jump) changes no finding, and neither does the period.
#[test]
fn the_period_is_set_by_the_first_code_and_a_far_cell_changes_no_finding() {
    let mut r = base();
    assert_eq!(r.set_period(), None, "no code yet, no period");
    apply(
        &mut r,
        &[rule(
            "max-run",
            limit(LimitMeasure::ConsecutiveWorked, None, Some(2.0), None),
        )],
    );
    assert_eq!(r.set_period(), None, "rules do not set it");
    let changed = apply(
        &mut r,
        &[set("s0", day(0), Some("D")), set("s0", day(1), Some("D"))],
    );
    assert!(changed.contains(&Target::Settings), "{changed:?}");
    let p = r.set_period().expect("set by the first codes");
    assert_eq!((p.from, p.to), (d("2026-12-01"), d("2026-12-31")));
    apply(&mut r, &[set("s0", day(2), Some("D"))]);
    let before = messages(&r);
    assert_eq!(
        before,
        ["Ann Lee: 3 worked days in a row, Tue 1 Dec to Thu 3 Dec, limit 2"]
    );
    // A stray code a year away, then cleared.
    let far = d("2027-12-14");
    let changed = apply(&mut r, &[set("s1", far, Some("N"))]);
    assert_eq!(
        changed,
        vec![Target::Cell {
            staff: "s1".into(),
            date: far
        }]
    );
    assert_eq!(r.set_period(), Some(p), "the period stays");
    assert_eq!(
        messages(&r),
        before,
        "a code outside the period is not checked"
    );
    apply(&mut r, &[set("s1", far, None)]);
    assert_eq!(messages(&r), before);
    // An admin's period spanning two years: dates name their year.
    apply(&mut r, &[period(d("2026-11-30"), d("2027-01-31"))]);
    assert_eq!(
        messages(&r),
        ["Ann Lee: 3 worked days in a row, Tue 1 Dec 2026 to Thu 3 Dec 2026, limit 2"]
    );
    // A period is checked: in order, at most five years.
    let author = author();
    let bad = r.apply_batch_with(&[period(day(5), day(1))], &author, 0, true);
    assert!(format!("{bad:?}").contains("is after"), "{bad:?}");
    let bad = r.apply_batch_with(&[period(day(0), d("2040-01-01"))], &author, 0, true);
    assert!(format!("{bad:?}").contains("at most 1827"), "{bad:?}");
}
