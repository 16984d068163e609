use super::*;
use rota_core::domain::{Op, ShiftCode};

fn author(user: &str) -> Author {
    Author {
        user: user.into(),
        client: format!("c-{user}").into(),
    }
}

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

fn set(staff: &str, date: &str, code: &str) -> Op {
    Op::SetCell {
        staff: staff.into(),
        date: d(date),
        code: Some(code.into()),
        base: 0,
    }
}

/// A new store with these batches applied to roster `r` and committed
/// one by one, as the writer does.
fn store_with(batches: Vec<(Vec<Op>, &str, Option<&str>)>) -> (tempfile::TempDir, Store) {
    store_in_groups(batches, 1)
}

/// The same, `per_group` batches to a group commit.
fn store_in_groups(
    batches: Vec<(Vec<Op>, &str, Option<&str>)>,
    per_group: usize,
) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("hub.sqlite3")).unwrap();
    let mut roster = Roster::default();
    let mut batches = batches.into_iter().enumerate().peekable();
    while batches.peek().is_some() {
        let group = store.group().unwrap();
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
    (dir, store)
}

/// The WAL counts toward `--max-db-mb`: with a reader keeping the WAL
/// from being reset, writes stop at the cap (file and WAL together),
/// refused whole, and go on once the reader is gone.
#[test]
fn the_wal_counts_toward_the_size_cap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.sqlite3");
    let mut store = Store::open(&path).unwrap();
    let mut roster = Roster::default();
    let a = author("ann");
    let write = |store: &mut Store, roster: &mut Roster, i: usize| -> Result<()> {
        let ops: Vec<Op> = if i == 0 {
            setup_ops()
        } else {
            (0..200)
                .map(|k| {
                    set(
                        "s1",
                        &format!("20{:02}-01-{:02}", k % 90 + 10, i % 28 + 1),
                        ["D", "N"][k % 2],
                    )
                })
                .collect()
        };
        let mut r = roster.clone();
        let applied = r.apply_batch_with(&ops, &a, 1000, true).unwrap();
        let group = store.group()?;
        group.put_applied("r", &applied, &a, i as u64 + 1, None, 1000)?;
        group.commit()?;
        *roster = r;
        Ok(())
    };
    write(&mut store, &mut roster, 0).unwrap();
    let cap = store.size_on_disk() + 256 * 1024;
    store.set_max_bytes(cap).unwrap();
    // A reader holding a snapshot: checkpoints cannot reset the WAL.
    let reader = Connection::open(&path).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let _: i64 = reader
        .query_row("SELECT count(*) FROM rosters", [], |r| r.get(0))
        .unwrap();
    let mut refused = None;
    for i in 1..2000 {
        if let Err(e) = write(&mut store, &mut roster, i) {
            refused = Some(e);
            break;
        }
    }
    let e = refused.expect("writes stop at the cap");
    assert!(matches!(e, StoreError::Full(_)), "{e}");
    assert!(e.to_string().contains("and its WAL"), "{e}");
    // One group past the check at most.
    assert!(
        store.size_on_disk() < cap + 256 * 1024,
        "{}",
        store.size_on_disk()
    );
    // The reader goes: the WAL is folded back in, and writes go on.
    reader.execute_batch("COMMIT").unwrap();
    drop(reader);
    write(&mut store, &mut roster, 5000).unwrap();
}

/// History's index names the span of each group commit: whatever the
/// grouping, every query and page gives the same entries.
#[test]
fn history_is_the_same_however_the_batches_were_grouped() {
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
    let (_one, one_by_one) = store_with(batches());
    for per_group in [2, 5, 14] {
        let (_dir, grouped) = store_in_groups(batches(), per_group);
        for q in &queries {
            for limit in [1, 2, 100] {
                let q = HistoryQuery {
                    limit: Some(limit),
                    ..q.clone()
                };
                let want = history(&one_by_one, q.clone());
                assert!(!want.is_empty(), "{q:?}");
                assert_eq!(
                    history(&grouped, q.clone()),
                    want,
                    "{per_group} per group, {q:?}"
                );
            }
        }
    }
}

fn setup_ops() -> Vec<Op> {
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

fn history(store: &Store, q: HistoryQuery) -> Vec<(Seq, String, serde_json::Value)> {
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

/// A large batch is kept in parts; every query and page of its history,
/// and the change sets a catch-up reads, are what the batch holds, as a
/// plain filter over its changes in order finds them.
#[test]
fn a_large_batch_kept_in_parts_reads_back_as_a_plain_filter_of_it() {
    // Date-major (no part is one person's), person-major (each part is),
    // and interleaved every other way (parts of mixed ranges).
    for order in 0..3 {
        large_batch_reads_back(order);
    }
}

fn large_batch_reads_back(order: usize) {
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
    let (_dir, store) = store_with(vec![
        (setup.clone(), "admin", None),
        (big.clone(), "ann", Some("import")),
        (vec![set("p03", "2026-12-05", "N")], "bob", None),
    ]);
    let parts: i64 = store
        .conn
        .query_row("SELECT parts FROM batches WHERE seq = 2", [], |r| r.get(0))
        .unwrap();
    assert!(parts > 3, "kept in {parts} parts");
    if order == 1 {
        // By person: the parts are one person's each, but those the
        // records put in the middle of a run mix.
        let (one, all): (i64, i64) = store
            .conn
            .query_row(
                "SELECT sum(staff_lo = staff_hi), count(*) FROM part_ranges WHERE seq = 2",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert!(one * 10 >= all * 8, "{one} of {all} parts are one person's");
    }
    let sets = store.changes_since("r", 1, 10_000).unwrap().unwrap();
    // What the batch changed, in order, as the roster in memory says.
    let mut roster = Roster::default();
    roster
        .apply_batch_with(&setup, &author("x"), 0, true)
        .unwrap();
    let applied = roster
        .apply_batch_with(&big, &author("ann"), 0, true)
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
                &store,
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

#[test]
fn history_filters_and_pages_within_and_across_batches() {
    let (_dir, store) = store_with(vec![
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
    ]);
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
    let one = |staff: Option<&str>, date: Option<&str>, from: Option<&str>, to: Option<&str>| {
        history(
            &store,
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
    assert_eq!(history(&store, HistoryQuery::default()).len(), 10);
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

#[test]
fn changes_since_gives_whole_batches_or_none_past_the_limit() {
    let (_dir, store) = store_with(vec![
        (setup_ops(), "admin", None),
        (
            vec![set("s1", "2026-12-01", "D"), set("s2", "2026-12-01", "N")],
            "ann",
            Some("x"),
        ),
        (vec![set("s1", "2026-12-01", "N")], "bob", None),
    ]);
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

#[test]
fn answers_of_schema_5_are_keyed_by_roster_on_open_without_a_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.sqlite3");
    {
        let mut conn = Connection::open(&path).unwrap();
        let tx = conn.transaction().unwrap();
        for step in &MIGRATIONS[..5] {
            match step {
                Migration::Sql(sql) => tx.execute_batch(sql).unwrap(),
                Migration::Code(run) => run(&tx).unwrap(),
            }
        }
        tx.pragma_update(None, "user_version", 5).unwrap();
        tx.execute_batch(
            r#"INSERT INTO answers (client, op_id, roster, answer, at)
                   VALUES ('c-ann', 7, 'ward-a', '{"type":"ack","op_id":7,"seq":3,"at":5}', 5);"#,
        )
        .unwrap();
        tx.commit().unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    let group = store.group().unwrap();
    let found = group
        .find_answer(&AnswerKey {
            roster: "ward-a",
            client: "c-ann",
            op_id: 7,
        })
        .unwrap()
        .unwrap();
    assert_eq!(found.answer, r#"{"type":"ack","op_id":7,"seq":3,"at":5}"#);
    assert_eq!(found.fingerprint, None, "nothing to tell a resend by");
    assert!(
        group
            .find_answer(&AnswerKey {
                roster: "ward-b",
                client: "c-ann",
                op_id: 7
            })
            .unwrap()
            .is_none()
    );
    assert_eq!(group.highest_answered("ward-a", "c-ann").unwrap(), 7);
    assert_eq!(group.highest_answered("ward-b", "c-ann").unwrap(), 0);
    // The same client and op id on another roster is another batch.
    let key = AnswerKey {
        roster: "ward-b",
        client: "c-ann",
        op_id: 7,
    };
    group.put_answer(&key, &[1; 16], "{}", 6).unwrap();
    let found = group
        .find_answer(&AnswerKey {
            roster: "ward-b",
            client: "c-ann",
            op_id: 7,
        })
        .unwrap()
        .unwrap();
    assert_eq!(found.fingerprint.as_deref(), Some(&[1u8; 16][..]));
    group.commit().unwrap();
}

#[test]
fn a_schema_1_change_log_is_moved_to_batches_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.sqlite3");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(rota_db::roster_db::TABLES).unwrap();
        conn.execute_batch(SCHEMA_1_REST).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
                r#"
INSERT INTO rosters VALUES ('r', 2, 1);
INSERT INTO entities VALUES ('r', 'staff', 's1', '{"id":"s1","name":"Ann","group":"","order":0}', 1, 'admin', 'c-a', 10);
INSERT INTO entities VALUES ('r', 'code', 'D', '{"code":"D","hours":8.0}', 1, 'admin', 'c-a', 10);
INSERT INTO cells VALUES ('r', 's1', '2026-12-01', 'D', 2, 'ann', 'c-ann', 20);
INSERT INTO changes VALUES ('r', 1, 0, 'code', 'D', NULL, NULL, 'null', '{"code":"D","hours":8.0}', 'admin', 'c-a', 1, 10, NULL);
INSERT INTO changes VALUES ('r', 1, 1, 'staff', 's1', 's1', NULL, 'null', '{"id":"s1","name":"Ann","group":"","order":0}', 'admin', 'c-a', 1, 10, NULL);
INSERT INTO changes VALUES ('r', 2, 0, 'cell', 's1/2026-12-01', 's1', '2026-12-01', 'null', '"D"', 'ann', 'c-ann', 7, 20, 'hi');
"#,
            )
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let version: i64 = store
        .conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, MIGRATIONS.len() as i64);
    let old: i64 = store
        .conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'changes'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(old, 0, "the old change log is dropped");
    let sets = store.changes_since("r", 0, 100).unwrap().unwrap();
    assert_eq!(
        sets.iter()
            .map(|s| (s.seq, s.changes.len(), s.op_id))
            .collect::<Vec<_>>(),
        vec![(1, 2, 1), (2, 1, 7)]
    );
    let (entries, _) = store
        .history(
            "r",
            &HistoryQuery {
                staff: Some("s1".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let got: Vec<_> = entries
        .iter()
        .map(|e| (e.seq, e.entity.as_str(), e.note.as_deref()))
        .collect();
    assert_eq!(got, vec![(2, "cell", Some("hi")), (1, "staff", None)]);
    let roster = store.load_roster("r").unwrap();
    assert_eq!(roster.seq(), 2);
}
