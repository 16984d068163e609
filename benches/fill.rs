//! Benchmark: the assisted fill on the Shift Scheduling Benchmark
//! instances (tests/data/nrp/InstanceN.txt), each from an empty roster, as
//! `rota --apply FILE --format nrp --start 2027-01-04` lays it out (built
//! here in-process, no hub). Prints per instance: people x days, the rule
//! findings left, the soft score, the best known value and the gap, and
//! the score at 1 s, 10 s and 60 s (those within the time). Measures only:
//! it asserts nothing.
//!
//! `cargo bench --bench fill -- [--seconds N] [--threads N] [--instances 1-24]`
//! (defaults: 60 s, every core, all 24; `--instances 1,3,8-12` takes a
//! list). `--seed N` changes the seed (default 1).

use rota::domain::{Author, Date, Roster};
use rota::fill::{Model, Scope, Score, fill_parallel};
use rota::script::nrp;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BEST_KNOWN: [u64; 24] = [
    607, 828, 1001, 1716, 1143, 1950, 1056, 1300, 439, 4631, 3443, 4040, 1348, 1278, 3829, 3225,
    5746, 4459, 3149, 4769, 21133, 30241, 17428, 42463,
];

const MARKS: [u64; 3] = [1, 10, 60];

struct Args {
    seconds: u64,
    threads: usize,
    instances: Vec<usize>,
    seed: u64,
    why: bool,
}

fn args() -> Args {
    let mut a = Args {
        seconds: 60,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        instances: (1..=24).collect(),
        seed: 1,
        why: false,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--seconds" => a.seconds = value.parse().unwrap_or(a.seconds),
            "--threads" => a.threads = value.parse().unwrap_or(a.threads).max(1),
            "--seed" => a.seed = value.parse().unwrap_or(a.seed),
            "--instances" => a.instances = list(&value),
            "--why" => {
                a.why = true;
                i += 1;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

/// "1-7,9,12" as numbers within 1..=24.
fn list(s: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
            for n in a.max(1)..=b.min(24) {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
    }
    out
}

/// The instance laid onto an empty roster, as `--apply --format nrp` does.
fn roster(n: usize) -> Roster {
    let path = format!(
        "{}/tests/data/nrp/Instance{n}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let inst = nrp::parse(&text).unwrap_or_else(|e| panic!("{path}: {e:?}"));
    let start: Date = "2027-01-04".parse().expect("a date");
    let mut r = Roster::default();
    let plan = nrp::plan(&inst, start, &r);
    let author = Author {
        user: Arc::from("bench"),
        client: Arc::from("bench"),
    };
    if let Err(e) = r.apply_batch_with(&plan.ops, &author, 1, true) {
        panic!("{path}: {e:?}");
    }
    r
}

/// The rule findings left, by kind of rule (`--why`).
fn why(r: &Roster, model: &Model, rows: &[Vec<u16>]) {
    let mut ops = Vec::new();
    for (p, row) in rows.iter().enumerate() {
        for (d, e) in row.iter().enumerate() {
            if let Some(code) = (*e as usize)
                .checked_sub(1)
                .and_then(|i| model.codes.get(i))
            {
                ops.push(rota::domain::Op::SetCell {
                    staff: model.people[p].id.clone(),
                    date: model.first.add_days(d as i64),
                    code: Some(code.clone()),
                    base: 0,
                });
            }
        }
    }
    let mut r = r.clone();
    let author = Author {
        user: Arc::from("bench"),
        client: Arc::from("bench"),
    };
    if r.apply_batch_with(&ops, &author, 2, true).is_err() {
        return;
    }
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    for f in rota::domain::rules::Findings::new(&r).all() {
        if f.rule.starts_with("cover:") {
            continue;
        }
        let kind = f.rule.rsplit(':').next().unwrap_or("").to_string();
        let kind = if f.rule.starts_with("limit:") && f.rule.contains(":shifts:") {
            "shifts".to_string()
        } else if f.rule.starts_with("follow:") {
            "follow".to_string()
        } else {
            kind
        };
        *kinds.entry(kind).or_default() += 1;
    }
    println!("     findings left: {kinds:?}");
}

/// A score as a cell of the table: the soft score, or the findings left.
fn cell(s: &Score) -> String {
    if s.hard == 0 {
        s.soft().to_string()
    } else {
        format!("{}h/{}", s.hard, s.soft())
    }
}

fn main() {
    let a = args();
    println!(
        "Assisted fill, Shift Scheduling Benchmark: {} s, {} thread{}, seed {}",
        a.seconds,
        a.threads,
        if a.threads == 1 { "" } else { "s" },
        a.seed
    );
    let marks: Vec<u64> = MARKS.into_iter().filter(|m| *m <= a.seconds).collect();
    let mut head = format!(
        "{:>4} {:>9} {:>5} {:>7} {:>7} {:>8}",
        "inst", "size", "hard", "soft", "best", "gap"
    );
    for m in &marks {
        head.push_str(&format!(" {:>10}", format!("@{m}s")));
    }
    head.push_str(&format!(" {:>12}", "moves"));
    println!("{head}");
    for &n in &a.instances {
        let r = roster(n);
        let Some((model, start)) = Model::new(&r, &Scope::default()) else {
            println!("{n:>4} no planning period");
            continue;
        };
        let began = Instant::now();
        let until = began + Duration::from_secs(a.seconds);
        let seen: Mutex<Vec<Option<Score>>> = Mutex::new(vec![None; marks.len()]);
        let filled = fill_parallel(&model, start, a.seed, a.threads, |p| {
            let now = Instant::now();
            let since = now.duration_since(began);
            if let Ok(mut seen) = seen.lock() {
                for (k, m) in marks.iter().enumerate() {
                    if since >= Duration::from_secs(*m) && seen[k].is_none() {
                        seen[k] = Some(p.best);
                    }
                }
            }
            now < until
        });
        let s = filled.grid.score;
        let best = BEST_KNOWN[n - 1];
        let gap = if s.hard == 0 {
            format!(
                "{:+.1}%",
                (s.soft() as f64 - best as f64) / best as f64 * 100.0
            )
        } else {
            "-".to_string()
        };
        let mut line = format!(
            "{n:>4} {:>9} {:>5} {:>7} {best:>7} {gap:>8}",
            format!("{}x{}", model.people.len(), model.days),
            s.hard,
            s.soft()
        );
        let seen = seen.into_inner().unwrap_or_default();
        for (k, m) in marks.iter().enumerate() {
            // The last mark is the end: the final score when not seen.
            let v = match seen.get(k).copied().flatten() {
                Some(v) => cell(&v),
                None if *m == a.seconds => cell(&s),
                None => "-".to_string(),
            };
            line.push_str(&format!(" {v:>10}"));
        }
        line.push_str(&format!(" {:>12}", filled.moves));
        println!("{line}");
        if a.why && s.hard > 0 {
            why(&r, &model, &filled.grid.rows);
        }
    }
}
