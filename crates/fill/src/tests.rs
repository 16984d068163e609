//! Tests of the whole fill on a roster laid out like a Shift Scheduling
//! Benchmark instance (its rules, leave, requests and cover), checked by
//! the rule evaluator (`rota_core::domain::rules`), not by the model; and
//! of the search's stopping and its threads.

use crate::model::Model;
use crate::parallel::fill_parallel;
use crate::search::fill;
use crate::testing::{author, compiled};
use rota_core::domain::rules::Findings;
use rota_core::domain::{
    CoverWeights, Date, LimitMeasure, Op, Request, Roster, Rule, RuleKind, ShiftCode, Wish,
};

const DAYS: i64 = 28;
const PEOPLE: usize = 8;

fn day(i: i64) -> Date {
    // A Monday, as day 0 of the benchmark's instances.
    "2027-01-04".parse::<Date>().map(|d| d.add_days(i)).unwrap()
}

fn rule(id: String, kind: RuleKind) -> Op {
    Op::PutRule {
        rule: Rule { id, kind, seq: 0 },
        base: None,
    }
}

fn limit(who: usize, measure: LimitMeasure, min: Option<f64>, max: Option<f64>) -> RuleKind {
    RuleKind::Limit {
        measure,
        min,
        max,
        period_days: None,
        code: None,
        staff: Some(format!("p{who}")),
        group: None,
    }
}

/// Eight people, four weeks, early, day, late and night shifts (no early
/// or day after a late or a night), each person's limits as an instance
/// gives them, leave set, requests, and cover wanted every day.
fn instance() -> Roster {
    let mut ops = vec![Op::SetPeriod {
        from: day(0),
        to: day(DAYS - 1),
    }];
    for (c, h) in [("E", 8.0), ("D", 8.0), ("L", 8.0), ("N", 10.0)] {
        ops.push(Op::PutCode {
            code: ShiftCode::new(c, h, true),
            base: None,
        });
    }
    ops.push(Op::PutCode {
        code: ShiftCode::new("AL", 0.0, false),
        base: None,
    });
    for i in 0..PEOPLE {
        ops.push(Op::AddStaff {
            id: format!("p{i}"),
            name: format!("P{i}"),
            group: String::new(),
            order: Some(i as i64),
        });
    }
    for (a, b) in [("L", "E"), ("N", "E"), ("N", "D"), ("N", "L")] {
        ops.push(rule(
            format!("follow:{a}:{b}"),
            RuleKind::ForbiddenSequence {
                first: a.into(),
                then: b.into(),
            },
        ));
    }
    for i in 0..PEOPLE {
        let rules = [
            (
                "hours",
                limit(i, LimitMeasure::Hours, Some(120.0), Some(152.0)),
            ),
            (
                "run",
                limit(i, LimitMeasure::ConsecutiveWorked, Some(2.0), Some(5.0)),
            ),
            (
                "off",
                limit(i, LimitMeasure::ConsecutiveOff, Some(2.0), None),
            ),
            (
                "weekends",
                limit(i, LimitMeasure::WeekendsWorked, None, Some(2.0)),
            ),
            (
                "nights",
                RuleKind::Limit {
                    measure: LimitMeasure::Shifts,
                    min: None,
                    max: Some(4.0),
                    period_days: None,
                    code: Some("N".into()),
                    staff: Some(format!("p{i}")),
                    group: None,
                },
            ),
        ];
        for (what, kind) in rules {
            ops.push(rule(format!("limit:p{i}:{what}"), kind));
        }
    }
    for d in 0..DAYS {
        for (k, code) in ["E", "D", "L", "N"].into_iter().enumerate() {
            ops.push(rule(
                format!("cover:{code}:{d}"),
                RuleKind::Staffing {
                    code: code.into(),
                    min: 1 + u32::from((d as usize + k).is_multiple_of(3)),
                    max: Some(1 + u32::from((d as usize + k).is_multiple_of(3))),
                    weekdays: Vec::new(),
                    group: None,
                    from: Some(day(d)),
                    to: Some(day(d)),
                    weights: Some(CoverWeights {
                        under: 100,
                        over: 1,
                    }),
                },
            ));
        }
    }
    for (p, d) in [(0, 3), (0, 4), (2, 10), (5, 20), (5, 21), (7, 0)] {
        ops.push(Op::SetCell {
            staff: format!("p{p}"),
            date: day(d),
            code: Some("AL".into()),
            base: 0,
        });
    }
    for (p, d, wish, weight) in [
        (1, 2, "on D", 2),
        (3, 5, "off N", 3),
        (4, 6, "off E", 1),
        (6, 13, "on L", 2),
    ] {
        ops.push(Op::PutRequest {
            request: Request {
                weight,
                ..Request::new(&format!("p{p}"), day(d), Wish::parse(wish).unwrap())
            },
            base: None,
        });
    }
    let mut r = Roster::default();
    let applied = r.apply_batch_with(&ops, &author(), 1, true);
    assert!(applied.is_ok(), "{applied:?}");
    r
}

/// The roster with the filled rows written into it.
fn written(r: &Roster, model: &Model, rows: &[Vec<u16>]) -> Roster {
    let mut ops = Vec::new();
    for (p, row) in rows.iter().enumerate() {
        for (d, e) in row.iter().enumerate() {
            if let Some(code) = (*e as usize).checked_sub(1).map(|i| model.codes[i].clone()) {
                ops.push(Op::SetCell {
                    staff: model.people[p].id.clone(),
                    date: model.first.add_days(d as i64),
                    code: Some(code),
                    base: 0,
                });
            }
        }
    }
    let mut out = r.clone();
    let applied = out.apply_batch_with(&ops, &author(), 2, true);
    assert!(applied.is_ok(), "{applied:?}");
    out
}

/// The rule findings the evaluator lists, but cover (soft here).
fn hard_findings(r: &Roster) -> Vec<String> {
    Findings::new(r)
        .all()
        .iter()
        .filter(|f| !f.rule.starts_with("cover:"))
        .map(|f| format!("{f:?}"))
        .collect()
}

#[test]
fn a_fill_of_an_instance_breaks_no_rule_by_the_evaluator_and_keeps_set_cells() {
    let r = instance();
    let (model, start) = compiled(&r);
    // An empty roster breaks rules: nobody works their hours.
    assert!(start.score.hard >= PEOPLE as u64, "{:?}", start.score);
    let filled = fill(&model, start.clone(), 5, |p| p.moves < 3_000);
    let got = written(&r, &model, &filled.grid.rows);
    let hard = hard_findings(&got);
    assert!(hard.is_empty(), "{hard:#?}");
    assert_eq!(filled.grid.score.hard, 0);
    // The soft score is the evaluator's.
    assert_eq!(
        Findings::new(&got).soft_score().total(),
        filled.grid.score.soft()
    );
    for (p, row) in filled.grid.rows.iter().enumerate() {
        for (d, e) in row.iter().enumerate() {
            if !model.free.contains(&(p, d)) {
                assert_eq!(*e, start.rows[p][d], "a set cell moved: {p} {d}");
            }
        }
    }
}

#[test]
fn the_search_stops_when_told() {
    let r = instance();
    let (model, start) = compiled(&r);
    let mut asked = 0;
    let filled = fill(&model, start.clone(), 1, |_| {
        asked += 1;
        asked < 3
    });
    assert_eq!(asked, 3, "asked again after stop");
    // Stopped within a few people's rows: nowhere near a fill's moves.
    assert!(filled.moves < 10, "{} moves", filled.moves);
    // Told to stop at once, it hands back the start.
    let filled = fill(&model, start.clone(), 1, |_| false);
    assert!(filled.grid.score.rank() <= start.score.rank());
    assert!(filled.moves <= 1);
}

#[test]
fn more_threads_rank_no_worse_than_the_first_alone() {
    let r = instance();
    let (model, start) = compiled(&r);
    let budget = 6_000;
    let alone = fill(&model, start.clone(), 9, |p| p.thread_moves < budget);
    let one = fill_parallel(&model, start.clone(), 9, 1, |p| p.thread_moves < budget);
    assert_eq!(one.grid.rows, alone.grid.rows);
    let three = fill_parallel(&model, start, 9, 3, |p| p.thread_moves < budget);
    assert!(
        three.grid.score.rank() <= alone.grid.score.rank(),
        "{:?} {:?}",
        three.grid.score,
        alone.grid.score
    );
    assert!(three.moves > alone.moves);
}
