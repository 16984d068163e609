//! Benchmark: `rota --apply` of one file of 100,000 cell edits against a hub
//! (both the real binary, on 127.0.0.1), from reading the file to the hub's
//! acknowledgement. Not a test: it asserts nothing about time; it prints
//! the median and worst of its runs. `cargo bench --bench apply`;
//! ROTA_BENCH_RUNS sets the number of runs (default 7).

mod common;

use common::{hub_process as start_hub, report_ms as report, rota};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

const STAFF: usize = 100;
const DAYS: usize = 1000;

fn write_files(dir: &Path) {
    let mut setup = String::from("[");
    for c in ["D", "N", "OFF"] {
        setup.push_str(&format!(
            r#"{{"op":"put_code","code":{{"code":"{c}","hours":8}}}},"#
        ));
    }
    for i in 1..=STAFF {
        setup.push_str(&format!(
            r#"{{"op":"add_staff","id":"s{i}","name":"Person {i}"}},"#
        ));
    }
    setup.pop();
    setup.push(']');
    std::fs::write(dir.join("setup.json"), setup).expect("write setup");
    let codes = ["D", "N", "OFF"];
    let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
    for (k, name) in ["a.csv", "b.csv"].iter().enumerate() {
        let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join(name)).expect("create"));
        writeln!(f, "staff,date,code").expect("write");
        for i in 1..=STAFF {
            for d in 0..DAYS {
                let date = start + chrono::Days::new(d as u64);
                writeln!(f, "s{i},{date},{}", codes[(i + d + k) % 3]).expect("write");
            }
        }
    }
}

fn apply(url: &str, data: &Path, file: &Path, extra: &[&str]) -> Duration {
    let started = Instant::now();
    let out = rota()
        .args([
            "--server",
            url,
            "--user",
            "bench",
            "--timeout",
            "120",
            "--apply",
        ])
        .arg(file)
        .args(extra)
        .arg("--data")
        .arg(data)
        .output()
        .expect("run rota --apply");
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "rota --apply failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing
    // useful either: this runs the same way under both.
    let runs: usize = std::env::var("ROTA_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7)
        .max(1);
    let tmp = std::env::temp_dir().join(format!("rota-bench-apply-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("temp dir");
    write_files(&tmp);
    let (hub, url) = start_hub(&tmp.join("hub"));
    let data = tmp.join("client");
    apply(&url, &data, &tmp.join("setup.json"), &[]);
    println!(
        "apply: {STAFF} staff x {DAYS} days = {} cell edits per file",
        STAFF * DAYS
    );
    let mut applied = Vec::new();
    let mut dry = Vec::new();
    for i in 0..runs {
        // Alternate the files so every run changes every cell.
        let file = tmp.join(if i % 2 == 0 { "a.csv" } else { "b.csv" });
        applied.push(apply(&url, &data, &file, &[]));
        let other = tmp.join(if i % 2 == 0 { "b.csv" } else { "a.csv" });
        dry.push(apply(&url, &data, &other, &["--dry-run"]));
    }
    report("--apply 100,000 cells, acknowledged", applied);
    report("--apply --dry-run 100,000 cells", dry);
    drop(hub);
    let _ = std::fs::remove_dir_all(&tmp);
}
