//! Benchmark: failover between hubs on one PostgreSQL database. Two real
//! hubs (`rota --serve --database`, this build's binary) and one sync
//! engine given both (`--server A,B`, a person's editor's default backoff).
//! Each trial kills (-9) the hub the engine is on, makes an edit at once,
//! and times how long until the hub has acknowledged it (through the
//! other); the killed hub is started again for the next trial. Prints each
//! time and the median and worst. Measures only: it asserts nothing.
//!
//! `cargo bench --bench failover -- [--trials N]` (default 20). The
//! database is the tests' own server (rota-testpg), or ROTA_TEST_POSTGRES.

use rota::domain::Op;
use rota::sync::{HubAddr, SyncConfig, SyncEngine};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A hub of the binary on `url`'s database, listening on `listen`: the
/// child and its address.
fn hub(dir: &std::path::Path, url: &str, listen: &str) -> Option<(Child, String)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rota"))
        .args(["--serve", "--listen", listen, "--log-level", "warn"])
        .arg("--data")
        .arg(dir)
        .args(["--database", url])
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take()?)
        .read_line(&mut line)
        .ok()?;
    let addr = line.split("://").nth(1)?.split('/').next()?.to_string();
    Some((child, format!("ws://{addr}")))
}

fn set(day: u32, code: &str) -> Op {
    Op::SetCell {
        staff: "s1".into(),
        date: format!("2026-12-{:02}", day % 28 + 1)
            .parse()
            .expect("a date"),
        code: Some(code.into()),
        base: 0,
    }
}

fn main() {
    let trials: usize = std::env::args()
        .skip_while(|a| a != "--trials")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let url = rota_testpg::fresh_database("failover_bench");
    let Ok(root) = tempfile::tempdir() else {
        eprintln!("no temporary dir");
        return;
    };
    let dirs = [root.path().join("a"), root.path().join("b")];
    let (Some(a), Some(b)) = (
        hub(&dirs[0], &url, "127.0.0.1:0"),
        hub(&dirs[1], &url, "127.0.0.1:0"),
    ) else {
        eprintln!("the hubs did not start");
        return;
    };
    let mut hubs = [a, b];
    let Ok(runtime) = tokio::runtime::Runtime::new() else {
        return;
    };
    let servers = format!("{},{}", hubs[0].1, hubs[1].1);
    let mut config = SyncConfig::new(
        HubAddr::parse_server(&servers).expect("two hubs"),
        "ann",
        "default",
        &root.path().join("ann"),
    );
    config.ping_interval = Duration::from_secs(20);
    let Ok(engine) = SyncEngine::start(config) else {
        eprintln!("the engine did not start");
        return;
    };
    let synced = |engine: &SyncEngine| {
        runtime.block_on(engine.wait_until(Duration::from_secs(30), |s| {
            s.pending == 0 && matches!(s.conn, rota::sync::ConnState::Connected { .. })
        }))
    };
    let setup = vec![
        Op::PutCode {
            code: rota::domain::ShiftCode::new("D", 8.0, true),
            base: None,
        },
        Op::AddStaff {
            id: "s1".into(),
            name: "Ann".into(),
            group: String::new(),
            order: None,
        },
    ];
    if engine.edit(setup).is_err() || !synced(&engine).1 {
        eprintln!("the first edit was not acknowledged");
        return;
    }
    let mut times = Vec::with_capacity(trials);
    for t in 0..trials {
        // The engine is on hub t % 2 (it moved there when the other died).
        let on = t % 2;
        let _ = hubs[on].0.kill();
        let _ = hubs[on].0.wait();
        let killed = Instant::now();
        if engine.edit(vec![set(t as u32, "D")]).is_err() {
            eprintln!("trial {t}: the edit was refused");
            return;
        }
        let (status, ok) = synced(&engine);
        let took = killed.elapsed();
        if !ok {
            eprintln!("trial {t}: not acknowledged within 30 s: {status:?}");
            return;
        }
        println!("trial {t}: {:.0} ms", took.as_secs_f64() * 1000.0);
        times.push(took);
        // Started again where it was: the engine knows it by its address.
        let listen = hubs[on].1.trim_start_matches("ws://").to_string();
        match hub(&dirs[on], &url, &listen) {
            Some(h) => hubs[on] = h,
            None => {
                eprintln!("trial {t}: the killed hub did not start again on {listen}");
                return;
            }
        }
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "failover, kill -9 to the next acknowledged edit, {} trials: median {:.0} ms, worst {:.0} ms",
        times.len(),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    );
    for (c, _) in hubs.iter_mut() {
        let _ = c.kill();
        let _ = c.wait();
    }
}
