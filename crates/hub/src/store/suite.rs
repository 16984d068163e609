//! One suite of tests for both stores, written once: each test is a
//! function of the kind of store, and [`both!`] runs it on a SQLite file
//! and on a fresh database of a real PostgreSQL server (rota-testpg).

use super::batch::staff_and_date;
use super::*;
use rota_core::domain::{Change, Date, Op, ShiftCode};

/// Which store a test runs on.
#[derive(Clone, Copy, Debug)]
pub(super) enum Kind {
    Sqlite,
    Postgres,
}

/// What keeps a test's store alive: its directory, or its database's URL.
pub(super) enum Held {
    Dir(tempfile::TempDir),
    Database(String),
}

impl Kind {
    /// A new, empty store of this kind.
    pub(super) fn open(self) -> (Held, Store) {
        match self {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let store = Store::open(&Place::File(dir.path().join("hub.sqlite3"))).unwrap();
                (Held::Dir(dir), store)
            }
            Kind::Postgres => {
                let url = rota_testpg::fresh_database("store");
                let store = Store::open(&Place::Database(url.clone())).unwrap();
                (Held::Database(url), store)
            }
        }
    }
}

impl Held {
    /// Another store on the same place (a second hub's writer, a restart).
    pub(super) fn reopen(&self) -> Store {
        match self {
            Held::Dir(dir) => Store::open(&Place::File(dir.path().join("hub.sqlite3"))).unwrap(),
            Held::Database(url) => Store::open(&Place::Database(url.clone())).unwrap(),
        }
    }
}

/// Runs each named test on both stores, as `sqlite::NAME` and `postgres::NAME`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[test] fn $name() { super::$name(super::Kind::Sqlite) })*
        }
        mod on_postgres {
            $(#[test] fn $name() { super::$name(super::Kind::Postgres) })*
        }
    };
}

both!(
    a_roster_of_every_kind_of_record_loads_back_as_written,
    answers_are_kept_by_roster_client_and_op_id,
    a_group_never_committed_leaves_nothing,
    a_second_writer_claims_a_roster_at_the_seq_the_first_left,
    history_is_the_same_however_the_batches_were_grouped,
    a_large_batch_reads_back_as_a_plain_filter_of_it,
    history_filters_and_pages_within_and_across_batches,
    changes_since_gives_whole_batches_or_none_past_the_limit,
);

pub(super) fn author(user: &str) -> Author {
    Author {
        user: user.into(),
        client: format!("c-{user}").into(),
    }
}

pub(super) fn d(s: &str) -> Date {
    s.parse().unwrap()
}

pub(super) fn set(staff: &str, date: &str, code: &str) -> Op {
    Op::SetCell {
        staff: staff.into(),
        date: d(date),
        code: Some(code.into()),
        base: 0,
    }
}

/// A new store with these batches applied to roster `r` and committed
/// one by one, as the writer does.
pub(super) fn store_with(kind: Kind, batches: Vec<(Vec<Op>, &str, Option<&str>)>) -> (Held, Store) {
    store_in_groups(kind, batches, 1)
}

/// The same, `per_group` batches to a group commit.
fn store_in_groups(
    kind: Kind,
    batches: Vec<(Vec<Op>, &str, Option<&str>)>,
    per_group: usize,
) -> (Held, Store) {
    let (held, mut store) = kind.open();
    let mut roster = Roster::default();
    let mut batches = batches.into_iter().enumerate().peekable();
    while batches.peek().is_some() {
        let mut group = store.group().unwrap();
        for (i, (ops, user, note)) in batches.by_ref().take(per_group) {
            let a = author(user);
            let at = 1000 + i as i64;
            let applied = roster.apply_batch_with(&ops, &a, at, true).unwrap();
            group
                .put_applied("r", &applied, &a, i as u64 + 1, note, at)
                .unwrap();
        }
        group.commit().unwrap();
    }
    (held, store)
}

fn history_is_the_same_however_the_batches_were_grouped(kind: Kind) {
    let batches = || {
        let mut b = vec![(setup_ops(), "admin", None)];
        for i in 0..12 {
            let staff = ["s1", "s2"][i % 2];
            let day = format!("2026-12-{:02}", 1 + i % 5);
            let code = ["D", "N"][i / 5 % 2];
            b.push((vec![set(staff, &day, code)], "ann", None));
        }
        b.push((
            vec![set("s1", "2026-12-09", "D"), set("s2", "2026-12-01", "D")],
            "bob",
            None,
        ));
        b
    };
    let queries = [
        HistoryQuery::default(),
        HistoryQuery {
            staff: Some("s1".into()),
            ..Default::default()
        },
        HistoryQuery {
            staff: Some("s2".into()),
            date: Some(d("2026-12-01")),
            ..Default::default()
        },
        HistoryQuery {
            date: Some(d("2026-12-03")),
            ..Default::default()
        },
        HistoryQuery {
            from: Some(d("2026-12-02")),
            to: Some(d("2026-12-04")),
            ..Default::default()
        },
        HistoryQuery {
            from: Some(d("2026-12-04")),
            ..Default::default()
        },
    ];
    let (_one, mut one_by_one) = store_with(kind, batches());
    for per_group in [2, 5, 14] {
        let (_held, mut grouped) = store_in_groups(kind, batches(), per_group);
        for q in &queries {
            for limit in [1, 2, 100] {
                let q = HistoryQuery {
                    limit: Some(limit),
                    ..q.clone()
                };
                let want = history(&mut one_by_one, q.clone());
                assert!(!want.is_empty(), "{q:?}");
                assert_eq!(
                    history(&mut grouped, q.clone()),
                    want,
                    "{per_group} per group, {q:?}"
                );
            }
        }
    }
}

pub(super) fn setup_ops() -> Vec<Op> {
    vec![
        Op::SetPeriod {
            from: "2026-12-01".parse().unwrap(),
            to: "2026-12-31".parse().unwrap(),
        },
        Op::PutCode {
            code: ShiftCode::new("D", 8.0, true),
            base: None,
        },
        Op::PutCode {
            code: ShiftCode::new("N", 8.0, true),
            base: None,
        },
        Op::AddStaff {
            id: "s1".into(),
            name: "Ann".into(),
            group: String::new(),
            order: None,
        },
        Op::AddStaff {
            id: "s2".into(),
            name: "Bob".into(),
            group: String::new(),
            order: None,
        },
    ]
}

pub(super) fn history(store: &mut Store, q: HistoryQuery) -> Vec<(Seq, String, serde_json::Value)> {
    let mut all = Vec::new();
    let mut q = q;
    for _ in 0..5_000 {
        let (entries, next) = store.history("r", &q).unwrap();
        all.extend(entries.into_iter().map(|e| (e.seq, e.key, e.after)));
        match next {
            Some(n) => q.before = Some(n),
            None => return all,
        }
    }
    panic!("history did not end");
}

/// A large batch (in SQLite, kept in parts): every query and page of its history,
/// and the change sets a catch-up reads, are what the batch holds, as a
/// plain filter over its changes in order finds them.
fn a_large_batch_reads_back_as_a_plain_filter_of_it(kind: Kind) {
    // Date-major (no part is one person's), person-major (each part is),
    // and interleaved every other way (parts of mixed ranges).
    for order in 0..3 {
        let (setup, big) = large_batch(order);
        let (_held, mut store) = store_with(
            kind,
            vec![
                (setup.clone(), "admin", None),
                (big.clone(), "ann", Some("import")),
                (vec![set("p03", "2026-12-05", "N")], "bob", None),
            ],
        );
        large_batch_reads_back(&mut store, &setup, &big);
    }
}

/// The ops of a large batch's roster, and the batch: 12 staff x 80 days,
/// some cells twice, with staff records in the same batch; date-major
/// (`order` 0), person-major (1) or interleaved every other way (2).
pub(super) fn large_batch(order: usize) -> (Vec<Op>, Vec<Op>) {
    let staff: Vec<String> = (0..12).map(|i| format!("p{i:02}")).collect();
    let mut setup = setup_ops();
    setup.extend(staff.iter().map(|id| Op::AddStaff {
        id: id.clone(),
        name: id.clone(),
        group: String::new(),
        order: None,
    }));
    // 12 staff x 80 days, some cells twice, with staff records in the
    // same batch, in the order asked for.
    let mut big: Vec<Op> = Vec::new();
    let mut pairs: Vec<(u64, usize)> = (0..80u64)
        .flat_map(|day| (0..staff.len()).map(move |k| (day, k)))
        .collect();
    match order {
        0 => {}
        1 => pairs.sort_by_key(|&(day, k)| (k, day)),
        _ => pairs.sort_by_key(|&(day, k)| ((day * 7 + k as u64 * 13) % 17, day, k)),
    }
    for (n, &(day, k)) in pairs.iter().enumerate() {
        let id = &staff[k];
        {
            let date = Date(d("2026-12-01").0 + chrono::Days::new(day));
            let code = if (day as usize + k).is_multiple_of(3) {
                "N"
            } else {
                "D"
            };
            big.push(Op::SetCell {
                staff: id.clone(),
                date,
                code: Some(code.into()),
                base: 0,
            });
        }
        if n % 240 == 0 {
            big.push(set("p03", "2026-12-05", ["D", "N"][day as usize % 2]));
            big.push(Op::UpdateStaff {
                id: "p05".into(),
                name: Some(format!("P5 v{day}")),
                group: None,
                order: None,
                base: None,
            });
        }
    }
    (setup, big)
}

fn large_batch_reads_back(store: &mut Store, setup: &[Op], big: &[Op]) {
    let sets = store.changes_since("r", 1, 10_000).unwrap().unwrap();
    // What the batch changed, in order, as the roster in memory says.
    let mut roster = Roster::default();
    roster
        .apply_batch_with(setup, &author("x"), 0, true)
        .unwrap();
    let applied = roster
        .apply_batch_with(big, &author("ann"), 0, true)
        .unwrap();
    let changed: Vec<Change> = applied.changes.into_iter().map(|r| r.change).collect();
    assert!(changed.len() > 900);
    assert_eq!(sets[0].changes, changed, "every change, in order");
    // The plain reading: every change of every batch, newest first.
    let all: Vec<(Seq, usize, Change)> = sets
        .iter()
        .flat_map(|cs| {
            cs.changes
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, c)| (cs.seq, i, c))
        })
        .rev()
        .collect();
    let queries = [
        HistoryQuery::default(),
        HistoryQuery {
            staff: Some("p03".into()),
            ..Default::default()
        },
        HistoryQuery {
            staff: Some("p03".into()),
            date: Some(d("2026-12-05")),
            ..Default::default()
        },
        HistoryQuery {
            staff: Some("p05".into()),
            ..Default::default()
        },
        HistoryQuery {
            date: Some(d("2027-01-10")),
            ..Default::default()
        },
        HistoryQuery {
            from: Some(d("2027-02-10")),
            ..Default::default()
        },
        HistoryQuery {
            staff: Some("p11".into()),
            to: Some(d("2026-12-03")),
            ..Default::default()
        },
    ];
    for q in queries {
        let want: Vec<(Seq, String)> = all
            .iter()
            .filter(|(seq, _, c)| {
                let (s, date) = staff_and_date(c);
                *seq > 1
                    && q.staff.as_deref().is_none_or(|x| s == Some(x))
                    && q.date.is_none_or(|x| date == Some(x))
                    && q.from.is_none_or(|x| date.is_some_and(|y| y >= x))
                    && q.to.is_none_or(|x| date.is_some_and(|y| y <= x))
            })
            .map(|(seq, _, c)| (*seq, c.target().key()))
            .collect();
        let pages: &[u32] = if q.date.is_some() {
            &[1, 500]
        } else {
            &[97, 500]
        };
        for &limit in pages {
            let got: Vec<(Seq, String)> = history(
                store,
                HistoryQuery {
                    limit: Some(limit),
                    ..q.clone()
                },
            )
            .into_iter()
            .filter(|(seq, _, _)| *seq > 1)
            .map(|(seq, key, _)| (seq, key))
            .collect();
            assert_eq!(got, want, "{q:?} by {limit}");
        }
    }
}

fn history_filters_and_pages_within_and_across_batches(kind: Kind) {
    let (_held, mut store) = store_with(
        kind,
        vec![
            (setup_ops(), "admin", None),
            (
                vec![
                    set("s1", "2026-12-01", "D"),
                    set("s1", "2026-12-02", "D"),
                    set("s2", "2026-12-01", "N"),
                    set("s1", "2026-12-03", "D"),
                ],
                "ann",
                Some("week"),
            ),
            (vec![set("s1", "2026-12-02", "N")], "bob", None),
        ],
    );
    let key = |s: &str, dt: &str| format!("{s}/{dt}");
    // One cell: newest first, with the value each replaced.
    let (cell, _) = store
        .history(
            "r",
            &HistoryQuery {
                staff: Some("s1".into()),
                date: Some(d("2026-12-02")),
                ..Default::default()
            },
        )
        .unwrap();
    let got: Vec<_> = cell
        .iter()
        .map(|e| (e.seq, e.before.clone(), e.after.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (3, serde_json::json!("D"), serde_json::json!("N")),
            (2, serde_json::Value::Null, serde_json::json!("D")),
        ]
    );
    assert_eq!(cell[1].note.as_deref(), Some("week"));
    assert_eq!(cell[1].user, "ann");
    // A staff member: their record and their cells, paged one at a time
    // (the cursor falls inside batch 2).
    let mut one =
        |staff: Option<&str>, date: Option<&str>, from: Option<&str>, to: Option<&str>| {
            history(
                &mut store,
                HistoryQuery {
                    staff: staff.map(str::to_string),
                    date: date.map(d),
                    from: from.map(d),
                    to: to.map(d),
                    limit: Some(1),
                    ..Default::default()
                },
            )
            .into_iter()
            .map(|(seq, k, _)| (seq, k))
            .collect::<Vec<_>>()
        };
    assert_eq!(
        one(Some("s1"), None, None, None),
        vec![
            (3, key("s1", "2026-12-02")),
            (2, key("s1", "2026-12-03")),
            (2, key("s1", "2026-12-02")),
            (2, key("s1", "2026-12-01")),
            (1, "s1".to_string()),
        ]
    );
    // A date: every staff member's cell on it.
    assert_eq!(
        one(None, Some("2026-12-01"), None, None),
        vec![(2, key("s2", "2026-12-01")), (2, key("s1", "2026-12-01"))]
    );
    // A range, with and without staff.
    assert_eq!(
        one(None, None, Some("2026-12-02"), Some("2026-12-03")),
        vec![
            (3, key("s1", "2026-12-02")),
            (2, key("s1", "2026-12-03")),
            (2, key("s1", "2026-12-02")),
        ]
    );
    assert_eq!(
        one(Some("s2"), None, Some("2026-12-02"), None),
        Vec::<(Seq, String)>::new()
    );
    // Everything: 5 setup changes, 4 cells, 1 cell.
    assert_eq!(history(&mut store, HistoryQuery::default()).len(), 10);
    // A page of exactly what is left has no next.
    let (all, next) = store
        .history(
            "r",
            &HistoryQuery {
                limit: Some(10),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!((all.len(), next), (10, None));
}

fn changes_since_gives_whole_batches_or_none_past_the_limit(kind: Kind) {
    let (_held, mut store) = store_with(
        kind,
        vec![
            (setup_ops(), "admin", None),
            (
                vec![set("s1", "2026-12-01", "D"), set("s2", "2026-12-01", "N")],
                "ann",
                Some("x"),
            ),
            (vec![set("s1", "2026-12-01", "N")], "bob", None),
        ],
    );
    let sets = store.changes_since("r", 1, 100).unwrap().unwrap();
    assert_eq!(sets.iter().map(|s| s.seq).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(sets[0].changes.len(), 2);
    assert_eq!(
        (
            sets[0].user.as_str(),
            sets[0].op_id,
            sets[0].note.as_deref()
        ),
        ("ann", 2, Some("x"))
    );
    assert_eq!(
        sets[1].changes,
        vec![Change::Cell {
            staff: "s1".into(),
            date: d("2026-12-01"),
            code: Some("N".into())
        }]
    );
    assert_eq!(
        store.changes_since("r", 1, 3).unwrap().map(|s| s.len()),
        Some(2)
    );
    assert!(store.changes_since("r", 1, 2).unwrap().is_none());
    assert_eq!(store.changes_since("r", 3, 0).unwrap(), Some(Vec::new()));
}

/// Applies `ops` to `roster` and writes the batch in a group of its own.
fn write(store: &mut Store, roster: &mut Roster, name: &str, op_id: u64, ops: Vec<Op>) {
    let a = author("ann");
    let applied = roster
        .apply_batch_with(&ops, &a, 1000 + op_id as i64, true)
        .unwrap();
    let mut group = store.group().unwrap();
    assert_eq!(
        group.claim(name).unwrap().unwrap_or(roster.seq() - 1),
        roster.seq() - 1
    );
    group
        .put_applied(name, &applied, &a, op_id, None, 1000 + op_id as i64)
        .unwrap();
    group.commit().unwrap();
}

fn ops(v: serde_json::Value) -> Vec<Op> {
    serde_json::from_value(v).unwrap()
}

/// Every kind of record (codes, staff, rules, settings, requests,
/// proposals, publications, cells set and cleared), with some removed or
/// withdrawn again, loads back as the roster in memory holds it, on a new
/// connection too; lists and names count it.
fn a_roster_of_every_kind_of_record_loads_back_as_written(kind: Kind) {
    let (held, mut store) = kind.open();
    let mut r = Roster::default();
    write(&mut store, &mut r, "ward", 1, setup_ops());
    write(
        &mut store,
        &mut r,
        "ward",
        2,
        ops(serde_json::json!([
            {"op": "put_code", "code": {"code": "E", "hours": 7.5, "work": true}},
            {"op": "put_code", "code": {"code": "夜", "hours": 9.0, "work": true}},
            {"op": "set_cell", "staff": "s1", "date": "2026-12-01", "code": "D"},
            {"op": "set_cell", "staff": "s1", "date": "2026-12-02", "code": "夜"},
            {"op": "set_cell", "staff": "s2", "date": "2026-12-01", "code": "E"},
            {"op": "put_request", "request": {"staff": "s2", "date": "2026-12-03", "want": "off", "weight": 2, "note": "school run"}},
            {"op": "put_request", "request": {"staff": "s1", "date": "2026-12-04", "want": "on", "code": "N"}},
            {"op": "propose", "staff": "s2", "date": "2026-12-05", "code": "N"},
            {"op": "propose", "staff": "s2", "date": "2026-12-06", "code": "D"},
            {"op": "set_time_zone", "zone": "Europe/London"},
        ])),
    );
    write(
        &mut store,
        &mut r,
        "ward",
        3,
        ops(serde_json::json!([
            {"op": "set_cell", "staff": "s2", "date": "2026-12-01", "code": null},
            {"op": "remove_request", "staff": "s1", "date": "2026-12-04"},
            {"op": "propose", "staff": "s2", "date": "2026-12-06", "code": null},
            {"op": "publish", "from": "2026-12-01", "to": "2026-12-07", "note": "week 1"},
            {"op": "update_staff", "id": "s2", "name": "Bob B."},
        ])),
    );
    write(
        &mut store,
        &mut r,
        "ward",
        4,
        ops(serde_json::json!([
            {"op": "remove_code", "code": "E"},
        ])),
    );
    let want = rota_core::protocol::Snapshot::of(&r);
    assert_eq!(r.seq(), 4);
    assert_eq!(want.requests.len(), 1);
    assert_eq!(want.proposals.len(), 1);
    assert_eq!(want.publications.len(), 1);
    let loaded = store.load_roster("ward").unwrap();
    assert_eq!(rota_core::protocol::Snapshot::of(&loaded), want);
    let again = held.reopen().load_roster("ward").unwrap();
    assert_eq!(rota_core::protocol::Snapshot::of(&again), want);
    assert!(store.load_roster("nobody").unwrap().staff().is_empty());
    let list = store.list_rosters().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (
            list[0].name.as_str(),
            list[0].seq,
            list[0].staff,
            list[0].cells
        ),
        ("ward", 4, 2, 2)
    );
    // A roster whose only edit was refused has an answer and no state.
    let mut group = store.group().unwrap();
    let key = AnswerKey {
        roster: "refused",
        client: "c-ann",
        op_id: 1,
    };
    group.put_answer(&key, b"f", "{\"no\":1}", 5).unwrap();
    group.commit().unwrap();
    let mut names = store.roster_names().unwrap();
    names.sort();
    assert_eq!(names, vec!["refused", "ward"]);
    assert_eq!(store.list_rosters().unwrap().len(), 1);
}

/// An answer is found by its roster, client and op id, with its
/// fingerprint, within its own group and after; the same client and op
/// id on another roster is another batch; the highest op id answered
/// counts the group's own.
fn answers_are_kept_by_roster_client_and_op_id(kind: Kind) {
    let (held, mut store) = kind.open();
    let key = |roster, op_id| AnswerKey {
        roster,
        client: "c1",
        op_id,
    };
    let mut group = store.group().unwrap();
    assert_eq!(group.highest_answered("a", "c1").unwrap(), 0);
    assert!(group.find_answer(&key("a", 7)).unwrap().is_none());
    group
        .put_answer(&key("a", 7), b"seven", "ack 7", 1)
        .unwrap();
    group
        .put_answer(&key("a", 3), b"three", "ack 3", 1)
        .unwrap();
    let found = group.find_answer(&key("a", 7)).unwrap().unwrap();
    assert_eq!(
        (found.answer.as_str(), found.fingerprint.as_deref()),
        ("ack 7", Some(&b"seven"[..]))
    );
    assert_eq!(group.highest_answered("a", "c1").unwrap(), 7);
    assert!(group.find_answer(&key("b", 7)).unwrap().is_none());
    group.commit().unwrap();
    let mut store = held.reopen();
    let mut group = store.group().unwrap();
    let found = group.find_answer(&key("a", 3)).unwrap().unwrap();
    assert_eq!(
        (found.answer.as_str(), found.fingerprint.as_deref()),
        ("ack 3", Some(&b"three"[..]))
    );
    assert_eq!(group.highest_answered("a", "c1").unwrap(), 7);
    assert_eq!(group.highest_answered("b", "c1").unwrap(), 0);
    assert_eq!(group.highest_answered("a", "c2").unwrap(), 0);
    group.put_answer(&key("a", 9), b"nine", "ack 9", 2).unwrap();
    assert_eq!(group.highest_answered("a", "c1").unwrap(), 9);
    // An op id past i64::MAX is stored (as a negative number) and found,
    // but not counted as the highest.
    group
        .put_answer(&key("a", u64::MAX), b"max", "ack max", 2)
        .unwrap();
    group.commit().unwrap();
    let mut group = store.group().unwrap();
    assert_eq!(
        group
            .find_answer(&key("a", u64::MAX))
            .unwrap()
            .unwrap()
            .answer,
        "ack max"
    );
    assert_eq!(group.highest_answered("a", "c1").unwrap(), 9);
}

/// A group dropped before its commit (the writer failed part-way) leaves
/// nothing of itself: no state, no log, no answer.
fn a_group_never_committed_leaves_nothing(kind: Kind) {
    let (held, mut store) = kind.open();
    let mut r = Roster::default();
    write(&mut store, &mut r, "r", 1, setup_ops());
    {
        let a = author("ann");
        let applied = r
            .clone()
            .apply_batch_with(&[set("s1", "2026-12-01", "D")], &a, 5, true)
            .unwrap();
        let mut group = store.group().unwrap();
        group.claim("r").unwrap();
        group.put_applied("r", &applied, &a, 2, None, 5).unwrap();
        group
            .put_answer(
                &AnswerKey {
                    roster: "r",
                    client: "c-ann",
                    op_id: 2,
                },
                b"x",
                "ack",
                5,
            )
            .unwrap();
        // Written so far reaches the database (a load within the group
        // sends it), then the group is dropped.
        assert_eq!(group.load_roster("r").unwrap().seq(), 2);
    }
    let mut store = held.reopen();
    assert_eq!(store.load_roster("r").unwrap().seq(), 1);
    assert_eq!(store.changes_since("r", 1, 100).unwrap(), Some(Vec::new()));
    let mut group = store.group().unwrap();
    assert!(
        group
            .find_answer(&AnswerKey {
                roster: "r",
                client: "c-ann",
                op_id: 2
            })
            .unwrap()
            .is_none()
    );
}

/// Two writers on one store (two hubs on one database): the second's
/// claim of a roster names the seq the first's commit left, so a writer
/// holding an older copy finds out before it applies anything; and a seq
/// is stored once, however two groups race for it.
fn a_second_writer_claims_a_roster_at_the_seq_the_first_left(kind: Kind) {
    let (held, mut first) = kind.open();
    let mut r = Roster::default();
    write(&mut first, &mut r, "r", 1, setup_ops());
    let mut second = held.reopen();
    let stale = r.clone();
    write(
        &mut first,
        &mut r,
        "r",
        2,
        vec![set("s1", "2026-12-01", "D")],
    );
    let mut group = second.group().unwrap();
    match (kind, group.claim("r").unwrap()) {
        (Kind::Sqlite, None) => return, // one writer per file: nothing to claim
        (Kind::Postgres, Some(seq)) => assert_eq!(seq, 2, "the first writer's commit is seen"),
        other => panic!("{other:?}"),
    }
    // Were the second writer to write its stale copy's next seq anyway,
    // the store refuses it whole.
    let a = author("bob");
    let applied = stale
        .clone()
        .apply_batch_with(&[set("s2", "2026-12-01", "N")], &a, 9, true)
        .unwrap();
    assert_eq!(applied.seq, 2);
    group.put_applied("r", &applied, &a, 1, None, 9).unwrap();
    group
        .put_answer(
            &AnswerKey {
                roster: "r",
                client: "c-bob",
                op_id: 1,
            },
            b"x",
            "ack",
            9,
        )
        .unwrap();
    assert!(group.commit().is_err(), "seq 2 is stored once");
    let sets = held.reopen().changes_since("r", 1, 100).unwrap().unwrap();
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].user, "ann");
}
