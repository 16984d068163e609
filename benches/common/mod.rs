//! What the benchmarks share: the real binary as a hub on 127.0.0.1, a
//! scratch dir, the benchmark filter, and how figures are printed (median,
//! p99 or p90, max). Measures only: nothing here asserts a time.
#![allow(dead_code)]

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A child process killed (and waited for) when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real binary.
pub fn rota() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rota"))
}

/// The real binary as a hub on `dir`, on a free loopback port: the child
/// and its WebSocket URL.
pub fn hub_process(dir: &Path) -> (Killed, String) {
    let mut child = rota()
        .args([
            "--serve",
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "warn",
            "--data",
        ])
        .arg(dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start the hub: {e}"));
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = std::io::BufReader::new(out).read_line(&mut line);
    }
    let url = line
        .split("ws://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .map(|addr| format!("ws://{addr}/ws"))
        .unwrap_or_else(|| panic!("the hub printed no URL: {line:?}"));
    (Killed(child), url)
}

/// A fresh scratch dir under the system's temp dir.
pub fn tempdir() -> PathBuf {
    let mut bits = [0u8; 8];
    let _ = getrandom::fill(&mut bits);
    let dir = std::env::temp_dir().join(format!("rota-bench-{}", u64::from_le_bytes(bits)));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// Whether a benchmark runs: its name holds the first argument, if any
/// (`cargo bench --bench micro -- commit`).
pub fn wanted(name: &str) -> bool {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    filter.is_none_or(|w| name.contains(&w))
}

/// The `q` quantile of sorted times.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

/// One line in microseconds: median, p99, max and how many.
pub fn report_us(name: &str, mut times: Vec<Duration>) {
    if times.is_empty() {
        println!("{name:<56} no samples");
        return;
    }
    times.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{name:<56} median {:>9.1} us   p99 {:>9.1} us   max {:>9.1} us   (n {})",
        us(quantile(&times, 0.5)),
        us(quantile(&times, 0.99)),
        us(times[times.len() - 1]),
        times.len()
    );
}

/// One line in milliseconds for a few long runs: median, p90, max.
pub fn report_ms(what: &str, mut times: Vec<Duration>) {
    if times.is_empty() {
        println!("{what}: no runs");
        return;
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{what}: runs {}, median {:.0} ms, p90 {:.0} ms, max {:.0} ms (p99 of so few runs is the max)",
        times.len(),
        ms(quantile(&times, 0.5)),
        ms(quantile(&times, 0.9)),
        ms(times[times.len() - 1]),
    );
}
