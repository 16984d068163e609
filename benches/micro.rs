//! Micro-benchmarks of the hub's hot paths: encoding and decoding protocol
//! messages, applying a batch to the roster and committing it to the store,
//! and the snapshot of a large roster. `cargo bench --bench micro [FILTER]`.
//! Each prints the median and p99 of one operation over many runs (same run).

mod common;

use rota::domain::{Author, Date, Op, Roster, ShiftCode, View};
use rota::protocol::{self, ChangeSet, ClientMsg, ServerMsg};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Times `f` `runs` times (after a few warm-up runs) and prints the figures.
/// Only benchmarks whose names contain the first argument, if one is given
/// (`cargo bench --bench micro -- commit`), are run.
fn bench(name: &str, runs: usize, mut f: impl FnMut()) {
    if !common::wanted(name) {
        return;
    }
    for _ in 0..runs.min(10) {
        f();
    }
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{name:<48} median {:>10.2} us   p99 {:>10.2} us   (runs {runs})",
        us(common::quantile(&times, 0.5)),
        us(common::quantile(&times, 0.99))
    );
}

fn date(i: usize) -> Date {
    let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
    Date(start + chrono::Days::new(i as u64))
}

fn setup(staff: usize) -> Vec<Op> {
    let mut ops: Vec<Op> = ["D", "N", "OFF"]
        .iter()
        .map(|c| Op::PutCode {
            code: ShiftCode::new(c, 8.0, true),
            base: None,
        })
        .collect();
    ops.extend((0..staff).map(|i| Op::AddStaff {
        id: format!("s{i}"),
        name: format!("Person {i}"),
        group: String::new(),
        order: None,
    }));
    ops
}

fn cells(staff: usize, days: usize, code: &str) -> Vec<Op> {
    (0..staff * days)
        .map(|i| Op::SetCell {
            staff: format!("s{}", i / days),
            date: date(i % days),
            code: Some(code.into()),
            base: 0,
        })
        .collect()
}

fn author() -> Author {
    Author {
        user: "bench".into(),
        client: "bench-client".into(),
    }
}

fn main() {
    let one_cell = cells(1, 1, "D");
    let edit = protocol::encode_client(&ClientMsg::Edit {
        op_id: 7,
        ops: one_cell.clone(),
        note: None,
        force: false,
        more: false,
        part: None,
    });
    let edit_100 = protocol::encode_client(&ClientMsg::Edit {
        op_id: 7,
        ops: cells(10, 10, "N"),
        note: Some("bench".into()),
        force: false,
        more: false,
        part: None,
    });
    bench("decode edit, 1 cell", 100_000, || {
        black_box(protocol::decode_client(black_box(&edit)).ok());
    });
    bench("decode edit, 100 cells", 10_000, || {
        black_box(protocol::decode_client(black_box(&edit_100)).ok());
    });
    let change = ServerMsg::Change(ChangeSet {
        seq: 12345,
        user: "ann".into(),
        client: "ann-laptop".into(),
        op_id: 7,
        at: 1_790_000_000_000,
        note: None,
        changes: vec![rota::domain::Change::Cell {
            staff: "s1".into(),
            date: date(3),
            code: Some("N".into()),
        }],
    });
    bench("encode change, 1 cell", 100_000, || {
        black_box(protocol::encode(black_box(&change)));
    });

    // The roster in memory: a batch of 1 cell and of 1,000 cells.
    let mut roster = Roster::default();
    let _ = roster.apply_batch(&setup(150), &author(), 0);
    let mut flip = 0usize;
    bench("apply batch to roster, 1 cell", 100_000, || {
        flip += 1;
        let ops = vec![Op::SetCell {
            staff: "s1".into(),
            date: date(flip % 364),
            code: Some(["D", "N"][flip / 364 % 2].into()),
            base: 0,
        }];
        black_box(roster.apply_batch_with(&ops, &author(), 0, true).ok());
    });

    // The store: apply and commit (one fsync) a batch, as the writer does.
    let dir = std::env::temp_dir().join(format!("rota-bench-micro-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    let mut store =
        match rota::store::Store::open(&rota::store::Place::File(dir.join("hub.sqlite3"))) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("cannot open a store in {}: {e}", dir.display());
                return;
            }
        };
    let mut on_disk = Roster::default();
    let commit = |store: &mut rota::store::Store, roster: &mut Roster, ops: &[Op]| {
        let applied = match roster.apply_batch_with(ops, &author(), 0, true) {
            Ok(a) => a,
            Err(_) => return,
        };
        if let Ok(mut group) = store.group() {
            let _ = group.put_applied("bench", &applied, &author(), 1, None, 0);
            let _ = group.commit();
        }
    };
    commit(&mut store, &mut on_disk, &setup(150));
    let mut k = 0usize;
    bench("apply + commit to store, 1 cell (fsync)", 2_000, || {
        k += 1;
        let ops = vec![Op::SetCell {
            staff: format!("s{}", k % 150),
            date: date(k / 150 % 364),
            code: Some(["D", "N"][k / (150 * 364) % 2].into()),
            base: 0,
        }];
        commit(&mut store, &mut on_disk, &ops);
    });
    let mut r = 0usize;
    bench("apply + commit to store, 1,000 cells", 100, || {
        r += 1;
        let code = ["D", "N", "OFF"][r % 3];
        let ops: Vec<Op> = (0..1000)
            .map(|i| Op::SetCell {
                staff: format!("s{}", i % 150),
                date: date((i / 150 + r * 7) % 364),
                code: Some(code.into()),
                base: 0,
            })
            .collect();
        commit(&mut store, &mut on_disk, &ops);
    });

    // A group commit as the throughput scenario makes them: 500 one-cell
    // edits from 50 editors, each answered (the writer's work per edit,
    // without the encoding of frames; the writer knows each client's highest
    // op id answered, so a new edit is not looked up).
    let mut g = 0usize;
    let mut op_id = 0u64;
    bench(
        "group commit of 500 one-cell edits, 50 editors",
        100,
        || {
            g += 1;
            let Ok(mut group) = store.group() else { return };
            for i in 0..500 {
                op_id += 1;
                let client = format!("c{}", i % 50);
                let ops = [Op::SetCell {
                    staff: format!("s{}", i % 50),
                    date: date((i / 50 + g * 10) % 364),
                    code: Some(["D", "N"][g % 2].into()),
                    base: 0,
                }];
                let Ok(applied) = on_disk.apply_batch_with(&ops, &author(), 0, true) else {
                    return;
                };
                let _ = group.put_applied("bench", &applied, &author(), op_id, Some("L1 2"), 0);
                let ack = format!(
                    r#"{{"type":"ack","op_id":{op_id},"seq":{},"at":0}}"#,
                    applied.seq
                );
                let key = rota::store::AnswerKey {
                    roster: "bench",
                    client: &client,
                    op_id,
                };
                let fingerprint = protocol::edit_fingerprint(&ops, false);
                let _ = group.put_answer(&key, &fingerprint, &ack, 0);
            }
            let _ = group.commit();
        },
    );

    // The snapshot of a full 150 x 364 roster (what a new editor gets).
    let mut full = Roster::default();
    let _ = full.apply_batch(&setup(150), &author(), 0);
    let _ = full.apply_batch_with(&cells(150, 364, "D"), &author(), 0, true);
    bench("snapshot of 150x364 roster (54,600 cells)", 50, || {
        black_box(rota::protocol::Snapshot::of(black_box(&full)));
    });
    let snap = rota::protocol::Snapshot::of(&full);
    let welcome = ServerMsg::Welcome {
        protocol: protocol::PROTOCOL_VERSION.into(),
        roster: "bench".into(),
        seq: 2,
        session: 1,
        changes: None,
        snapshot: Some(Box::new(snap)),
        presence: Vec::new(),
        limits: protocol::Limits::current(),
        account: None,
        role: Some("admin".into()),
        staff: None,
        view: View::Draft,
    };
    bench("encode welcome with that snapshot", 50, || {
        black_box(protocol::encode(black_box(&welcome)));
    });
    let text = protocol::encode(&welcome);
    bench("decode welcome with that snapshot (client)", 50, || {
        black_box(serde_json::from_str::<ServerMsg>(black_box(&text)).ok());
    });
    // What a returning editor gets after missing 2,000 single-cell edits.
    let missed: Vec<ChangeSet> = (0..2000u64)
        .map(|i| ChangeSet {
            seq: 100 + i,
            user: "ann".into(),
            client: "ann-laptop".into(),
            op_id: i,
            at: 1_790_000_000_000,
            note: None,
            changes: vec![rota::domain::Change::Cell {
                staff: format!("s{}", i % 150),
                date: date(i as usize % 364),
                code: Some("N".into()),
            }],
        })
        .collect();
    let catchup = ServerMsg::Welcome {
        protocol: protocol::PROTOCOL_VERSION.into(),
        roster: "bench".into(),
        seq: 2099,
        session: 1,
        changes: Some(missed),
        snapshot: None,
        presence: Vec::new(),
        limits: protocol::Limits::current(),
        account: None,
        role: Some("admin".into()),
        staff: None,
        view: View::Draft,
    };
    bench("encode welcome with 2,000 missed changes", 200, || {
        black_box(protocol::encode(black_box(&catchup)));
    });
    let text = protocol::encode(&catchup);
    bench("decode welcome with 2,000 missed changes", 200, || {
        black_box(serde_json::from_str::<ServerMsg>(black_box(&text)).ok());
    });
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    history_of_an_import();
}

/// History read beside the writer from a roster whose log holds one
/// imported batch of 109,800 cells (300 staff x 366 days): what a page
/// costs, by the query an editor's history panel makes and by others.
fn history_of_an_import() {
    let wanted = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if wanted.is_some_and(|w| !"history".contains(&w) && !w.contains("history")) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("rota-bench-history-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("hub.sqlite3");
    let Ok(mut store) = rota::store::Store::open(&rota::store::Place::File(path.clone())) else {
        eprintln!("cannot open a store in {}", dir.display());
        return;
    };
    let mut roster = Roster::default();
    for ops in [setup(300), cells(300, 366, "N")] {
        let Ok(applied) = roster.apply_batch_with(&ops, &author(), 0, true) else {
            return;
        };
        if let Ok(mut group) = store.group() {
            let _ = group.put_applied("bench", &applied, &author(), 1, Some("import"), 0);
            let _ = group.commit();
        }
    }
    let Ok(mut reader) = rota::store::Reader::open(&rota::store::Place::File(path)) else {
        return;
    };
    let mut k = 0usize;
    bench(
        "history page: one cell, in a 109,800-cell batch",
        2_000,
        || {
            k += 7919;
            let q = protocol::HistoryQuery {
                staff: Some(format!("s{}", k % 300)),
                date: Some(date(k % 366)),
                ..Default::default()
            };
            black_box(reader.history("bench", &q, View::Draft).ok());
        },
    );
    bench("history page: one person (100 of 366)", 500, || {
        k += 7919;
        let q = protocol::HistoryQuery {
            staff: Some(format!("s{}", k % 300)),
            ..Default::default()
        };
        black_box(reader.history("bench", &q, View::Draft).ok());
    });
    bench("history page: the roster (100 newest)", 100, || {
        black_box(
            reader
                .history("bench", &protocol::HistoryQuery::default(), View::Draft)
                .ok(),
        );
    });
    bench("history page: one date, all staff (100 of 300)", 50, || {
        k += 7919;
        let q = protocol::HistoryQuery {
            date: Some(date(k % 366)),
            ..Default::default()
        };
        black_box(reader.history("bench", &q, View::Draft).ok());
    });
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
