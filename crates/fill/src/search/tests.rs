//! The search's tests: moves, stopping, and the ranking of grids.

mod unit {
    use super::super::*;
    use crate::testing::{compiled, roster_of};
    use rota_core::domain::{
        CoverWeights, Date, LimitMeasure, Op, Roster, Rule, RuleKind, ShiftCode,
    };

    fn day(i: i64) -> Date {
        "2027-03-01".parse::<Date>().map(|d| d.add_days(i)).unwrap()
    }

    /// Five people, two weeks, days and nights: two on each every day
    /// (soft, 100 a person short), nobody more than 4 days running, no day
    /// after a night (hard), some leave set; and a week asked for by one.
    fn ward() -> Roster {
        let mut ops = vec![Op::SetPeriod {
            from: day(0),
            to: day(13),
        }];
        for (c, w) in [("D", true), ("N", true), ("AL", false)] {
            ops.push(Op::PutCode {
                code: ShiftCode::new(c, 8.0, w),
                base: None,
            });
        }
        for i in 1..=6 {
            ops.push(Op::AddStaff {
                id: format!("s{i}"),
                name: format!("S{i}"),
                group: String::new(),
                order: None,
            });
        }
        let rule = |id: &str, kind| Op::PutRule {
            rule: Rule {
                id: id.into(),
                kind,
                seq: 0,
            },
            base: None,
        };
        for code in ["D", "N"] {
            ops.push(rule(
                &format!("cover-{code}"),
                RuleKind::Staffing {
                    code: code.into(),
                    min: 2,
                    max: Some(2),
                    weekdays: Vec::new(),
                    group: None,
                    from: None,
                    to: None,
                    weights: Some(CoverWeights {
                        under: 100,
                        over: 1,
                    }),
                },
            ));
        }
        ops.push(rule(
            "run",
            RuleKind::Limit {
                measure: LimitMeasure::ConsecutiveWorked,
                min: None,
                max: Some(4.0),
                period_days: None,
                code: None,
                staff: None,
                group: None,
            },
        ));
        ops.push(rule(
            "n-d",
            RuleKind::ForbiddenSequence {
                first: "N".into(),
                then: "D".into(),
            },
        ));
        for (s, d) in [("s1", 2), ("s1", 3), ("s4", 9)] {
            ops.push(Op::SetCell {
                staff: s.into(),
                date: day(d),
                code: Some("AL".into()),
                base: 0,
            });
        }
        roster_of(&ops)
    }

    fn run(seed: u64, budget: u64) -> (Model, Grid, Filled) {
        let r = ward();
        let (model, start) = compiled(&r);
        let filled = fill(&model, start.clone(), seed, |p| p.moves < budget);
        (model, start, filled)
    }

    #[test]
    fn a_fill_breaks_no_rule_keeps_every_set_cell_and_covers_what_it_can() {
        let (model, start, filled) = run(1, 400_000);
        let got = filled.grid.score;
        assert_eq!(got.hard, 0, "{got:?}");
        // 6 people x 14 days less 3 days of leave; 4 a day wanted: all
        // covered is possible (each works at most 4 in 5), and found.
        assert_eq!((got.under, got.over), (0, 0), "{got:?}");
        assert!(start.score.soft() > got.soft());
        for (p, row) in filled.grid.rows.iter().enumerate() {
            for (d, e) in row.iter().enumerate() {
                if !model.free.contains(&(p, d)) {
                    assert_eq!(*e, start.rows[p][d], "a set cell moved: {p} {d}");
                }
            }
        }
        // The score kept move by move is the grid's, scored afresh.
        assert_eq!(model.grid(filled.grid.rows.clone()).score, got);
    }

    #[test]
    fn a_seed_replays_the_same_fill() {
        let (_, _, a) = run(7, 50_000);
        let (_, _, b) = run(7, 50_000);
        assert_eq!(a.grid.rows, b.grid.rows);
        assert_eq!(a.moves, b.moves);
    }
}

mod rank_tests {
    use super::super::*;
    use crate::model::Scope;
    use crate::testing::{compiled, roster_of};
    use rota_core::domain::{Date, LimitMeasure, Op, Rule, RuleKind, ShiftCode};

    /// Found by a new-user trial (Instance24: 150 rule findings became
    /// 438, and were sent): a fill never hands back more rule findings
    /// than it started with, however much nearer the others it gets. Here
    /// nobody can reach their hours (one finding each, far off), and two
    /// days running is a finding of its own: every other day lessens how
    /// far off, two days running would lessen it more.
    #[test]
    fn a_fill_never_hands_back_more_rule_findings_than_it_started_with() {
        let day = |i: i64| "2027-03-01".parse::<Date>().map(|d| d.add_days(i)).unwrap();
        let mut ops = vec![
            Op::SetPeriod {
                from: day(0),
                to: day(13),
            },
            Op::PutCode {
                code: ShiftCode::new("D", 8.0, true),
                base: None,
            },
        ];
        for i in 1..=3 {
            ops.push(Op::AddStaff {
                id: format!("s{i}"),
                name: format!("S{i}"),
                group: String::new(),
                order: None,
            });
        }
        let limit = |id: &str, measure, min, max| Op::PutRule {
            rule: Rule {
                id: id.into(),
                kind: RuleKind::Limit {
                    measure,
                    min,
                    max,
                    period_days: None,
                    code: None,
                    staff: None,
                    group: None,
                },
                seq: 0,
            },
            base: None,
        };
        ops.push(limit("hours", LimitMeasure::Hours, Some(200.0), None));
        ops.push(limit(
            "run",
            LimitMeasure::ConsecutiveWorked,
            None,
            Some(1.0),
        ));
        let r = roster_of(&ops);
        let (model, start) = compiled(&r);
        assert_eq!(start.score.hard, 3);
        let filled = fill(&model, start.clone(), 3, |p| p.moves < 200_000);
        assert_eq!(filled.grid.score.hard, 3, "{:?}", filled.grid.score);
        assert!(filled.grid.score.hard_amount < start.score.hard_amount);
    }

    /// Found by the same trial: `--to` before the planning period filled
    /// all of it. A scope wholly outside the period holds no cell.
    #[test]
    fn a_scope_outside_the_period_holds_no_cell() {
        let ops = vec![
            Op::SetPeriod {
                from: "2027-03-01".parse().unwrap(),
                to: "2027-03-14".parse().unwrap(),
            },
            Op::AddStaff {
                id: "s1".into(),
                name: "S1".into(),
                group: String::new(),
                order: None,
            },
        ];
        let r = roster_of(&ops);
        for (from, to) in [(None, Some("2027-02-01")), (Some("2027-04-01"), None)] {
            let scope = Scope {
                from: from.map(|d: &str| d.parse().unwrap()),
                to: to.map(|d: &str| d.parse().unwrap()),
                staff: None,
            };
            let Some((model, _)) = Model::new(&r, &scope) else {
                panic!("a period");
            };
            assert!(model.free.is_empty(), "{from:?} {to:?}: {:?}", model.free);
        }
    }
}
