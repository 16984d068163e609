use super::*;

fn author(client: &str) -> Author {
    Author {
        user: Arc::from("ann"),
        client: Arc::from(client),
    }
}
fn d(s: &str) -> Date {
    s.parse().unwrap()
}
fn code(c: &str) -> ShiftCode {
    ShiftCode {
        code: c.into(),
        label: String::new(),
        colour: String::new(),
        hours: 8.0,
        worked: true,
        start: None,
        end: None,
        seq: 0,
    }
}
fn setup() -> Roster {
    let mut r = Roster::default();
    let ops = vec![
        Op::PutCode {
            code: code("D"),
            base: None,
        },
        Op::PutCode {
            code: code("N"),
            base: None,
        },
        Op::AddStaff {
            id: "s1".into(),
            name: "Ann".into(),
            group: "Nurses".into(),
            order: None,
        },
    ];
    r.apply_batch(&ops, &author("c0"), 1).unwrap();
    r
}
fn set(staff: &str, date: &str, c: Option<&str>, base: Seq) -> Op {
    Op::SetCell {
        staff: staff.into(),
        date: d(date),
        code: c.map(String::from),
        base,
    }
}

#[test]
fn trying_a_batch_says_what_applying_it_would_do_and_changes_nothing() {
    let mut r = setup();
    r.apply_batch(&[set("s1", "2026-12-01", Some("D"), 0)], &author("c1"), 2)
        .unwrap();
    let before: Vec<_> = r
        .cells()
        .into_iter()
        .map(|(s, d, c, q)| (s.to_string(), d, c.map(str::to_string), q))
        .collect();
    let staff_before = r.staff();
    let batch = [
        set("s1", "2026-12-01", Some("N"), 2),
        set("s1", "2026-12-02", Some("D"), 0),
        Op::UpdateStaff {
            id: "s1".into(),
            name: Some("Annie".into()),
            group: None,
            order: None,
            base: None,
        },
    ];
    let tried = r.try_batch(&batch, &author("c2"), 3, false).unwrap();
    let mut copy = r.clone();
    let applied = copy
        .apply_batch_with(&batch, &author("c2"), 3, false)
        .unwrap();
    assert_eq!(tried, applied);
    assert_eq!(tried.changes.len(), 3);
    let after: Vec<_> = r
        .cells()
        .into_iter()
        .map(|(s, d, c, q)| (s.to_string(), d, c.map(str::to_string), q))
        .collect();
    assert_eq!(after, before);
    assert_eq!(r.staff(), staff_before);
    assert_eq!(r.seq(), 2);
    assert_eq!(r.cell_count(), 1);
    // A refused batch is refused the same way.
    let bad = [set("s1", "2026-12-03", Some("XX"), 0)];
    assert!(matches!(
        r.try_batch(&bad, &author("c2"), 3, false),
        Err(Rejection::Invalid(_))
    ));
    assert_eq!(r.seq(), 2);
}

#[test]
fn refused_batch_leaves_roster_unchanged() {
    let mut r = setup();
    let before = format!("{:?}", r.cells());
    let err = r
        .apply_batch(
            &[
                set("s1", "2026-12-01", Some("D"), 0),
                set("nobody", "2026-12-02", Some("D"), 0),
                set("s1", "2026-12-03", Some("X"), 0),
            ],
            &author("c1"),
            2,
        )
        .unwrap_err();
    let Rejection::Invalid(problems) = err else {
        panic!("expected invalid")
    };
    assert_eq!(
        problems
            .iter()
            .map(|p| (p.op, p.code.as_str()))
            .collect::<Vec<_>>(),
        vec![(1, "unknown_staff"), (2, "unknown_code")]
    );
    assert_eq!(format!("{:?}", r.cells()), before);
    assert_eq!(r.seq(), 1);
    assert_eq!(r.cell_count(), 0);
}

#[test]
fn stale_write_conflicts_unless_own_or_lww() {
    let mut r = setup();
    let a = r
        .apply_batch(&[set("s1", "2026-12-01", Some("D"), 0)], &author("c1"), 2)
        .unwrap();
    assert_eq!(a.seq, 2);
    // c2 never saw seq 2: conflict carrying the current value and writer.
    let err = r
        .apply_batch(&[set("s1", "2026-12-01", Some("N"), 0)], &author("c2"), 3)
        .unwrap_err();
    let Rejection::Conflict(c) = err else {
        panic!("expected conflict")
    };
    assert_eq!(
        (c[0].seq, c[0].value.clone(), c[0].client.as_str()),
        (2, serde_json::json!("D"), "c1")
    );
    // c1's own earlier write does not make its next write stale.
    r.apply_batch(&[set("s1", "2026-12-01", Some("N"), 0)], &author("c1"), 4)
        .unwrap();
    // Under last-writer-wins the stale write is applied and reported.
    r.apply_batch(
        &[Op::SetConflictMode {
            mode: ConflictMode::LastWriterWins,
        }],
        &author("c0"),
        5,
    )
    .unwrap();
    let a = r
        .apply_batch(&[set("s1", "2026-12-01", Some("D"), 0)], &author("c2"), 6)
        .unwrap();
    assert_eq!(a.overwritten.len(), 1);
    assert_eq!(r.cell("s1", d("2026-12-01")).unwrap().0, Some("D"));
}

#[test]
fn removed_staff_keep_history_and_refuse_edits() {
    let mut r = setup();
    r.apply_batch(&[set("s1", "2026-12-01", Some("D"), 0)], &author("c1"), 2)
        .unwrap();
    r.apply_batch(
        &[Op::RemoveStaff {
            id: "s1".into(),
            base: None,
        }],
        &author("c1"),
        3,
    )
    .unwrap();
    assert_eq!(r.cell("s1", d("2026-12-01")).unwrap().0, Some("D"));
    let err = r
        .apply_batch(&[set("s1", "2026-12-02", Some("D"), 0)], &author("c1"), 4)
        .unwrap_err();
    assert!(matches!(err, Rejection::Invalid(ref p) if p[0].code == "staff_removed"));
    let err = r
        .apply_batch(
            &[Op::RemoveCode {
                code: "D".into(),
                base: None,
            }],
            &author("c1"),
            4,
        )
        .unwrap_err();
    assert!(matches!(err, Rejection::Invalid(ref p) if p[0].code == "in_use"));
}

#[test]
fn writing_the_same_value_changes_nothing() {
    let mut r = setup();
    r.apply_batch(&[set("s1", "2026-12-01", Some("D"), 0)], &author("c1"), 2)
        .unwrap();
    let a = r
        .apply_batch(&[set("s1", "2026-12-01", Some("D"), 0)], &author("c2"), 3)
        .unwrap();
    assert!(a.changes.is_empty());
    assert_eq!((a.seq, r.seq()), (2, 2));
}

fn wish_off(c: Option<&str>) -> Wish {
    Wish::Off {
        code: c.map(String::from),
    }
}
fn put_request(staff: &str, date: &str, wish: Wish, weight: u32) -> Op {
    Op::PutRequest {
        request: Request {
            weight,
            ..Request::new(staff, d(date), wish)
        },
        base: None,
    }
}

#[test]
fn a_request_is_added_changed_and_withdrawn_each_as_a_versioned_change() {
    let mut r = setup();
    let a = r
        .apply_batch(
            &[put_request("s1", "2027-03-02", wish_off(Some("N")), 2)],
            &author("c1"),
            2,
        )
        .unwrap();
    assert_eq!(a.changes.len(), 1);
    let got = r.request("s1", d("2027-03-02")).cloned().unwrap();
    assert_eq!((got.weight, got.by.as_str()), (2, "ann"));
    let target = Target::Request {
        staff: "s1".into(),
        date: d("2027-03-02"),
    };
    assert_eq!(r.version(&target), a.seq);
    // The same request again changes nothing.
    let again = r
        .apply_batch(
            &[put_request("s1", "2027-03-02", wish_off(Some("N")), 2)],
            &author("c1"),
            3,
        )
        .unwrap();
    assert!(again.changes.is_empty());
    // A new wish replaces it; withdrawing removes it, with what it was.
    r.apply_batch(
        &[put_request(
            "s1",
            "2027-03-02",
            Wish::On { code: "D".into() },
            1,
        )],
        &author("c1"),
        4,
    )
    .unwrap();
    let gone = r
        .apply_batch(
            &[Op::RemoveRequest {
                staff: "s1".into(),
                date: d("2027-03-02"),
                base: None,
            }],
            &author("c1"),
            5,
        )
        .unwrap();
    assert_eq!(gone.changes[0].before["want"], "on");
    assert!(r.request("s1", d("2027-03-02")).is_none());
    assert_eq!(r.request_count(), 0);
}

#[test]
fn a_bad_request_is_refused_naming_it_and_the_batch_leaves_nothing() {
    let mut r = setup();
    let before = r.requests();
    for (op, code) in [
        (
            put_request("nobody", "2027-03-02", wish_off(None), 1),
            "unknown_staff",
        ),
        (
            put_request("s1", "2027-03-02", Wish::On { code: "X".into() }, 1),
            "unknown_code",
        ),
        (
            put_request("s1", "2027-03-02", wish_off(None), 0),
            "invalid_value",
        ),
        (
            put_request("s1", "2027-03-02", wish_off(None), MAX_WEIGHT + 1),
            "invalid_value",
        ),
        (
            Op::RemoveRequest {
                staff: "s1".into(),
                date: d("2027-03-02"),
                base: None,
            },
            "not_found",
        ),
    ] {
        let ok = put_request("s1", "2027-03-03", wish_off(None), 1);
        match r.apply_batch(&[ok, op], &author("c1"), 2) {
            Err(Rejection::Invalid(p)) => {
                assert_eq!((p[0].op, p[0].code.as_str()), (1, code), "{p:?}")
            }
            other => panic!("expected {code}, got {other:?}"),
        }
        assert_eq!(r.requests(), before, "nothing of the refused batch stays");
    }
}

#[test]
fn a_stale_request_write_is_a_conflict_and_a_code_asked_for_cannot_be_removed() {
    let mut r = setup();
    r.apply_batch(
        &[put_request("s1", "2027-03-02", wish_off(Some("N")), 1)],
        &author("c1"),
        2,
    )
    .unwrap();
    let stale = Op::PutRequest {
        request: Request::new("s1", d("2027-03-02"), wish_off(None)),
        base: Some(0),
    };
    assert!(matches!(
        r.apply_batch(&[stale], &author("c2"), 3),
        Err(Rejection::Conflict(c)) if matches!(c[0].target, Target::Request { .. })
    ));
    let remove = Op::RemoveCode {
        code: "N".into(),
        base: None,
    };
    match r.apply_batch(&[remove], &author("c1"), 4) {
        Err(Rejection::Invalid(p)) => {
            assert_eq!(p[0].code, "in_use");
            assert!(p[0].message.contains("1 request"), "{}", p[0].message);
        }
        other => panic!("expected in_use, got {other:?}"),
    }
}

fn propose(staff: &str, date: &str, c: Option<&str>) -> Op {
    Op::Propose {
        staff: staff.into(),
        date: d(date),
        code: c.map(String::from),
    }
}

/// A proposal lives only while its cell is empty: proposed for an empty
/// cell it is kept; proposed for a written cell it is not; a code written
/// to its cell withdraws it in the same batch (every replica learns it from
/// the changes alone); a proposal names a known person and code.
#[test]
fn a_proposal_lives_only_while_its_cell_is_empty() {
    let mut r = setup();
    r.apply_batch(&[set("s1", "2026-12-02", Some("D"), 0)], &author("c1"), 2)
        .unwrap();
    let applied = r
        .apply_batch(
            &[
                propose("s1", "2026-12-01", Some("N")),
                propose("s1", "2026-12-02", Some("N")),
            ],
            &author("c1"),
            3,
        )
        .unwrap();
    assert_eq!(r.proposal("s1", d("2026-12-01")), Some("N"));
    assert_eq!(r.proposal("s1", d("2026-12-02")), None, "its cell holds D");
    assert_eq!(r.proposal_count(), 1);
    assert_eq!(applied.changes.len(), 1, "{:?}", applied.changes);
    // Writing the cell (accepting it, or anyone else) withdraws it.
    let applied = r
        .apply_batch(&[set("s1", "2026-12-01", Some("D"), 0)], &author("c2"), 4)
        .unwrap();
    let kinds: Vec<_> = applied.changes.iter().map(|c| c.change.target()).collect();
    assert_eq!(
        kinds,
        vec![
            Target::Cell {
                staff: "s1".into(),
                date: d("2026-12-01")
            },
            Target::Proposal {
                staff: "s1".into(),
                date: d("2026-12-01")
            }
        ]
    );
    assert_eq!(r.proposal_count(), 0);
    // A replica applying the changes agrees.
    let mut copy = setup();
    copy.apply_accepted(
        &Change::Proposal {
            staff: "s1".into(),
            date: d("2026-12-01"),
            code: Some("N".into()),
        },
        Stamp::none(),
    );
    for c in &applied.changes {
        copy.apply_accepted(&c.change, Stamp::none());
    }
    assert_eq!(copy.proposal_count(), 0);
    // Unknown people and codes are refused, the batch whole.
    for bad in [
        propose("nobody", "2026-12-03", Some("D")),
        propose("s1", "2026-12-03", Some("Q")),
    ] {
        let before = r.proposal_count();
        assert!(
            r.apply_batch(
                &[propose("s1", "2026-12-04", Some("D")), bad],
                &author("c1"),
                5
            )
            .is_err()
        );
        assert_eq!(r.proposal_count(), before, "nothing half applied");
    }
}

/// Staff and viewers never see a proposal: not in the changes they are
/// sent (before the roster publishes too), nor in their view.
#[test]
fn proposals_are_never_in_the_published_view() {
    let mut r = setup();
    let applied = r
        .apply_batch(
            &[
                set("s1", "2026-12-02", Some("D"), 0),
                propose("s1", "2026-12-01", Some("N")),
            ],
            &author("c1"),
            2,
        )
        .unwrap();
    let changes: Vec<Change> = applied.changes.into_iter().map(|c| c.change).collect();
    for publishes in [false, true] {
        let shown = view_changes(&changes, publishes);
        assert!(
            !shown.iter().any(|c| matches!(c, Change::Proposal { .. })),
            "{shown:?}"
        );
    }
    let cells = |cs: &[Change]| {
        cs.iter()
            .filter(|c| matches!(c, Change::Cell { .. }))
            .count()
    };
    assert_eq!(
        cells(&view_changes(&changes, false)),
        1,
        "the cell, before publishing"
    );
    assert_eq!(r.published_view().proposal_count(), 0);
    assert_eq!(r.proposal_count(), 1);
}

/// A snapshot carries the proposals and gives them back.
#[test]
fn a_snapshot_keeps_the_proposals() {
    let mut r = setup();
    r.apply_batch(&[propose("s1", "2026-12-01", Some("N"))], &author("c1"), 2)
        .unwrap();
    let back = crate::protocol::Snapshot::of(&r).to_roster(r.seq());
    assert_eq!(back.proposals(), r.proposals());
    assert_eq!(back.proposal("s1", d("2026-12-01")), Some("N"));
}
