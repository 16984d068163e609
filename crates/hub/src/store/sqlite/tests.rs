use super::*;
use crate::store::suite::{author, large_batch, set, setup_ops};
use rota_core::domain::Op;

/// A large batch is kept in parts of a few dozen changes (the suite checks
/// that it reads back whole, in both stores); by person, most parts are
/// one person's.
#[test]
fn a_large_batch_is_kept_in_parts_of_tight_ranges() {
    for order in [0, 1] {
        let (setup, big) = large_batch(order);
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("hub.sqlite3")).unwrap();
        let mut roster = Roster::default();
        for (i, ops) in [setup, big].iter().enumerate() {
            let a = author("ann");
            let applied = roster.apply_batch_with(ops, &a, 1000, true).unwrap();
            let group = store.group().unwrap();
            group
                .put_applied("r", &applied, &a, i as u64 + 1, None, 1000)
                .unwrap();
            group.commit().unwrap();
        }
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
    }
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
