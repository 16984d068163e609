//! Latency samples, percentiles and the run's report (a table, or one JSON
//! object with `--json`).

use serde::Serialize;

/// Percentiles of a set of samples, in milliseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Percentiles {
    pub count: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    /// From samples in microseconds (sorted here).
    pub fn of_micros(mut us: Vec<u32>) -> Percentiles {
        if us.is_empty() {
            return Percentiles::default();
        }
        us.sort_unstable();
        let at = |q: f64| {
            let i = ((us.len() as f64 * q).ceil() as usize).clamp(1, us.len()) - 1;
            f64::from(us[i]) / 1000.0
        };
        Percentiles {
            count: us.len(),
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: f64::from(us[us.len() - 1]) / 1000.0,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub scenario: String,
    pub hub: String,
    pub clients: usize,
    pub writers: usize,
    /// Edits sent, and acknowledged.
    pub edits: usize,
    pub acked: usize,
    /// Edits the hub refused as conflicts (contention).
    pub conflicts: usize,
    /// Acknowledged edits that changed nothing (their value was already
    /// there): expected only under contention.
    pub unchanged: usize,
    pub duration_s: f64,
    pub acked_per_s: f64,
    /// Edit sent -> its ack.
    pub ack_ms: Percentiles,
    /// Edit sent -> seen by another editor (every delivery).
    pub fanout_ms: Percentiles,
    /// Edit sent -> seen by the last of the other editors.
    pub fanout_last_ms: Percentiles,
    /// Connect, handshake, hello -> welcome applied, per editor.
    pub connect_ms: Percentiles,
    /// snapshot: a new editor's first welcome with the whole roster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_ms: Option<Percentiles>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_cells: Option<usize>,
    /// --import: the one large edit, sent to acked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import_s: Option<f64>,
    /// --history-readers: history request -> its answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_ms: Option<Percentiles>,
    /// catchup: a returning editor's welcome with the edits it missed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catchup_ms: Option<Percentiles>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catchup_edits: Option<usize>,
    /// The hub's resident memory at the end (and at the start, for
    /// `connections`), and per connection.
    pub hub_rss_mb: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hub_rss_start_mb: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_connection_kib: Option<f64>,
    /// (edit, editor) pairs where an acknowledged edit never reached an editor.
    pub lost: usize,
    /// Edits applied or delivered more than once.
    pub duplicated: usize,
    /// Every editor's roster equals the hub's at the end.
    pub converged: bool,
    /// Why the run failed, if it did.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.converged && self.failures.is_empty()
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let mut row = |k: &str, v: String| out.push_str(&format!("{k:<22} {v}\n"));
        row("scenario", self.scenario.clone());
        row("hub", self.hub.clone());
        row(
            "clients / writers",
            format!("{} / {}", self.clients, self.writers),
        );
        row(
            "edits sent / acked",
            format!(
                "{} / {} ({} conflicts)",
                self.edits, self.acked, self.conflicts
            ),
        );
        row("duration", format!("{:.2} s", self.duration_s));
        row("acked per second", format!("{:.0}", self.acked_per_s));
        let p = |x: &Percentiles| {
            format!(
                "p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2} ms  (n={})",
                x.p50, x.p90, x.p99, x.max, x.count
            )
        };
        row("ack latency", p(&self.ack_ms));
        row("fan-out (each)", p(&self.fanout_ms));
        row("fan-out (last)", p(&self.fanout_last_ms));
        row("connect + welcome", p(&self.connect_ms));
        if let Some(s) = &self.snapshot_ms {
            row(
                "snapshot",
                format!("{} ({} cells)", p(s), self.snapshot_cells.unwrap_or(0)),
            );
        }
        if let Some(s) = self.import_s {
            row("import (one edit)", format!("{s:.2} s"));
        }
        if let Some(h) = &self.history_ms {
            row("history (readers)", p(h));
        }
        if let Some(s) = &self.catchup_ms {
            row(
                "catch-up",
                format!("{} ({} edits)", p(s), self.catchup_edits.unwrap_or(0)),
            );
        }
        let mb = |m: Option<f64>| m.map_or("n/a".into(), |m| format!("{m:.1} MB"));
        row("hub resident memory", mb(self.hub_rss_mb));
        if let Some(start) = self.hub_rss_start_mb {
            row("  before connecting", mb(Some(start)));
        }
        if let Some(k) = self.per_connection_kib {
            row("  per connection", format!("{k:.1} KiB"));
        }
        row("lost", self.lost.to_string());
        row("duplicated", self.duplicated.to_string());
        row("converged", self.converged.to_string());
        for f in &self.failures {
            row("FAILED", f.clone());
        }
        out
    }
}
