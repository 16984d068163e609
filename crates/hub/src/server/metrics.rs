//! Counters and histograms the hub keeps, and their Prometheus text form.
//! Plain atomics: recording a value never takes a lock on the hot path.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub struct Histogram {
    bounds: &'static [f64],
    buckets: Vec<AtomicU64>,
    /// Sum of observed values, in millionths.
    sum_micro: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_micro: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|b| v <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.sum_micro.fetch_add((v * 1e6) as u64, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (b, n) in self.bounds.iter().zip(&self.buckets) {
            cumulative += n.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micro.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

pub struct Metrics {
    pub connections: AtomicU64,
    /// Rosters held in memory by the writer (a ring, the roster, recent frames).
    pub rosters_loaded: AtomicU64,
    /// Bytes of edits arriving in parts held by all connections together:
    /// the hub-wide budget those reserve in (see `conn::Held`).
    pub assembling_bytes: AtomicU64,
    pub connections_total: AtomicU64,
    pub edits_accepted: AtomicU64,
    pub ops_accepted: AtomicU64,
    pub conflicts: AtomicU64,
    pub rejections: AtomicU64,
    pub replays: AtomicU64,
    pub protocol_errors: AtomicU64,
    /// Connections closed because their outbound queue overflowed or a write
    /// to them timed out.
    pub broadcast_drops: AtomicU64,
    /// Times a connection was not read from for the rest of a second for
    /// sending cursor moves faster than a person moves a cursor.
    pub reading_paused: AtomicU64,
    /// Ticks of others' cursor moves not sent to a connection flooding its
    /// own (it is sent the whole presence once a second instead).
    pub presence_slowed: AtomicU64,
    /// Upgrades refused for a missing or bad token (HTTP 401).
    pub auth_refused: AtomicU64,
    /// Messages refused because the connection's role does not allow them.
    pub forbidden: AtomicU64,
    pub commit_failures: AtomicU64,
    /// Groups committed on a writer's background thread (a big group with
    /// nobody else on its store file: `server/background.rs`).
    pub background_groups: AtomicU64,
    pub commit_batch_size: Histogram,
    pub commit_seconds: Histogram,
}

static BATCH_BOUNDS: [f64; 11] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];
static SECONDS_BOUNDS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0,
];

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            connections: AtomicU64::new(0),
            rosters_loaded: AtomicU64::new(0),
            assembling_bytes: AtomicU64::new(0),
            connections_total: AtomicU64::new(0),
            edits_accepted: AtomicU64::new(0),
            ops_accepted: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
            rejections: AtomicU64::new(0),
            replays: AtomicU64::new(0),
            protocol_errors: AtomicU64::new(0),
            broadcast_drops: AtomicU64::new(0),
            reading_paused: AtomicU64::new(0),
            presence_slowed: AtomicU64::new(0),
            auth_refused: AtomicU64::new(0),
            forbidden: AtomicU64::new(0),
            commit_failures: AtomicU64::new(0),
            background_groups: AtomicU64::new(0),
            commit_batch_size: Histogram::new(&BATCH_BOUNDS),
            commit_seconds: Histogram::new(&SECONDS_BOUNDS),
        }
    }
}

impl Metrics {
    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Relaxed);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self, resident_bytes: Option<u64>) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, kind: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        };
        counter(
            "rota_connections",
            "gauge",
            "Open editor connections.",
            self.connections.load(Relaxed),
        );
        counter(
            "rota_rosters_loaded",
            "gauge",
            "Rosters held in memory (let go a while after their last editor leaves).",
            self.rosters_loaded.load(Relaxed),
        );
        counter(
            "rota_assembling_bytes",
            "gauge",
            "Bytes of edits arriving in parts held for all connections.",
            self.assembling_bytes.load(Relaxed),
        );
        counter(
            "rota_connections_total",
            "counter",
            "Editor connections accepted.",
            self.connections_total.load(Relaxed),
        );
        counter(
            "rota_edits_accepted_total",
            "counter",
            "Edit batches committed.",
            self.edits_accepted.load(Relaxed),
        );
        counter(
            "rota_ops_accepted_total",
            "counter",
            "Operations in committed batches.",
            self.ops_accepted.load(Relaxed),
        );
        counter(
            "rota_conflicts_total",
            "counter",
            "Batches refused for a stale write.",
            self.conflicts.load(Relaxed),
        );
        counter(
            "rota_rejections_total",
            "counter",
            "Batches refused as invalid.",
            self.rejections.load(Relaxed),
        );
        counter(
            "rota_replays_total",
            "counter",
            "Resent batches answered from the answer log.",
            self.replays.load(Relaxed),
        );
        counter(
            "rota_protocol_errors_total",
            "counter",
            "Frames answered with an error.",
            self.protocol_errors.load(Relaxed),
        );
        counter(
            "rota_broadcast_queue_drops_total",
            "counter",
            "Connections closed because their outbound queue overflowed.",
            self.broadcast_drops.load(Relaxed),
        );
        counter(
            "rota_reading_paused_total",
            "counter",
            "Times a connection flooding cursor moves was not read from for the rest of a second.",
            self.reading_paused.load(Relaxed),
        );
        counter(
            "rota_presence_slowed_total",
            "counter",
            "Ticks of others' cursor moves not sent to a connection flooding its own (sent the whole presence once a second instead).",
            self.presence_slowed.load(Relaxed),
        );
        counter(
            "rota_auth_refused_total",
            "counter",
            "WebSocket upgrades refused with 401 (no token, or a bad one).",
            self.auth_refused.load(Relaxed),
        );
        counter(
            "rota_forbidden_total",
            "counter",
            "Messages refused because the connection's role does not allow them.",
            self.forbidden.load(Relaxed),
        );
        counter(
            "rota_commit_failures_total",
            "counter",
            "Group commits that failed.",
            self.commit_failures.load(Relaxed),
        );
        counter(
            "rota_background_groups_total",
            "counter",
            "Big groups committed at a lower CPU priority, nobody else editing their store file.",
            self.background_groups.load(Relaxed),
        );
        if let Some(rss) = resident_bytes {
            counter(
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
                rss,
            );
        }
        self.commit_batch_size.render(
            &mut out,
            "rota_commit_batch_size",
            "Edit batches per group commit.",
        );
        self.commit_seconds.render(
            &mut out,
            "rota_commit_seconds",
            "Time to commit one group durably.",
        );
        out
    }
}

/// This process's resident memory, from /proc (Linux); None elsewhere.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
