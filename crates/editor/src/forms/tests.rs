use super::*;

fn roster() -> Roster {
    let mut r = Roster::default();
    let author = rota_core::domain::Author {
        user: "t".into(),
        client: "c".into(),
    };
    let ops = vec![
        Op::PutCode {
            code: ShiftCode::new("D", 8.0, true),
            base: None,
        },
        Op::AddStaff {
            id: "s1".into(),
            name: "Ann".into(),
            group: "Nurses".into(),
            order: None,
        },
    ];
    r.apply_batch_with(&ops, &author, 0, false)
        .expect("the roster takes its set-up");
    r
}

fn set(form: &mut Form, name: &str, v: &str) {
    let i = form.index(name);
    form.fields[i].value = v.into();
}

fn names(f: &Form, errs: &[(usize, String)]) -> Vec<&'static str> {
    errs.iter().map(|(i, _)| f.fields[*i].name).collect()
}

#[test]
fn each_form_names_every_field_that_is_wrong_and_builds_its_edit_when_right() {
    let r = roster();
    let mut f = Form::code(None);
    set(&mut f, "code", "E");
    set(&mut f, "hours", "eight");
    set(&mut f, "start", "7.00");
    set(&mut f, "end", "15:00");
    set(&mut f, "colour", "blurple");
    let errs = f.check(&r).expect_err("three fields are wrong");
    assert_eq!(names(&f, &errs), vec!["colour", "hours", "start"]);
    set(&mut f, "hours", "99");
    let errs = f.check(&r).expect_err("99 hours");
    let hours = errs.iter().find(|(i, _)| f.fields[*i].name == "hours");
    assert!(
        hours.is_some_and(|(_, m)| m.contains("0 to 48")),
        "{errs:?}"
    );
    set(&mut f, "hours", "7.5");
    set(&mut f, "start", "07:00");
    set(&mut f, "colour", "purple");
    let ops = f.check(&r).expect("right now");
    assert!(matches!(&ops[..], [Op::PutCode { code, .. }] if code.hours == 7.5));

    // Adding a code that exists, or one typed the same, is refused.
    let mut f = Form::code(None);
    set(&mut f, "code", "D");
    let errs = f.check(&r).expect_err("D exists");
    assert!(errs[0].1.contains("code D exists"), "{errs:?}");
    set(&mut f, "code", "d");
    let errs = f.check(&r).expect_err("d is typed like D");
    assert!(errs[0].1.contains("typed like the code D"), "{errs:?}");
    // What a new code does to typing is said before it is saved.
    set(&mut f, "code", "DX");
    let notes = f.notes(&r, &[('H', "history", Some("F2".into()))]);
    assert!(
        notes
            .iter()
            .any(|(_, n)| n.contains("typing D will then wait for Enter")),
        "{notes:?}"
    );
    set(&mut f, "code", "HOL");
    let notes = f.notes(&r, &[('H', "history", Some("F2".into()))]);
    assert!(
        notes
            .iter()
            .any(|(_, n)| n.contains("no longer does `history`: history is then F2")),
        "{notes:?}"
    );
    set(&mut f, "code", "n1");
    let notes = f.notes(&r, &[]);
    assert!(
        notes
            .iter()
            .any(|(_, n)| n.contains("typed as N1 (or i n1)")),
        "{notes:?}"
    );

    // Every error at once, each beside its own field.
    let mut f = Form::rule(FormKind::Staffing, None);
    set(&mut f, "id", "min-x");
    set(&mut f, "code", "X");
    set(&mut f, "min", "3");
    set(&mut f, "max", "1");
    set(&mut f, "from", "2026-12-09");
    set(&mut f, "to", "2026-12-01");
    let errs = f.check(&r).expect_err("wrong");
    assert_eq!(names(&f, &errs), vec!["code", "max", "to"], "{errs:?}");
    set(&mut f, "code", "D");
    set(&mut f, "weekdays", "sat,sun");
    set(&mut f, "max", "3");
    set(&mut f, "to", "");
    set(&mut f, "group", "Doctorz");
    assert!(f.check(&r).is_ok());
    let notes = f.notes(&r, &[]);
    assert!(
        notes
            .iter()
            .any(|(_, n)| n.contains("counts nobody") && n.contains("Nurses")),
        "{notes:?}"
    );

    let mut f = Form::rule(FormKind::Limit, None);
    set(&mut f, "id", "run");
    set(&mut f, "measure", "runs");
    assert_eq!(names(&f, &f.check(&r).expect_err("bad"))[0], "measure");
    set(&mut f, "measure", "worked-run");
    assert!(f.check(&r).is_err(), "a limit needs a min or a max");
    set(&mut f, "max", "6");
    assert!(f.check(&r).is_ok());

    let mut f = Form::add_staff();
    set(&mut f, "id", "s1");
    set(&mut f, "name", "Bea");
    let errs = f.check(&r).expect_err("s1 exists");
    assert_eq!(names(&f, &errs), vec!["id"]);
    // A second person of the same name is allowed, and said.
    set(&mut f, "id", "s9");
    set(&mut f, "name", "ann");
    assert!(f.check(&r).is_ok());
    let notes = f.notes(&r, &[]);
    assert!(
        notes
            .iter()
            .any(|(_, n)| n.contains("Ann (s1) has this name too")),
        "{notes:?}"
    );
    // A rule names a code in any case, and keeps it as written.
    let mut f = Form::rule(FormKind::Sequence, None);
    set(&mut f, "id", "no-d-d");
    set(&mut f, "first", "d");
    set(&mut f, "then", "D");
    let ops = f.check(&r).expect("d names D");
    assert!(
        matches!(&ops[..], [Op::PutRule { rule, .. }]
                if rule.kind == RuleKind::ForbiddenSequence { first: "D".into(), then: "D".into() }),
        "{ops:?}"
    );

    let mut f = Form::settings(&r);
    set(&mut f, "period from", "2026-12-01");
    set(&mut f, "period to", "2026-11-01");
    set(&mut f, "time zone", "Europe/Londn");
    let errs = f.check(&r).expect_err("wrong");
    assert_eq!(names(&f, &errs), vec!["period to", "time zone"], "{errs:?}");
    set(&mut f, "period to", "2027-01-31");
    set(&mut f, "time zone", "Europe/London");
    assert_eq!(f.check(&r).map(|o| o.len()), Ok(2));
}
