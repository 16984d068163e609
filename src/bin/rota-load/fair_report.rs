//! The fairness scenario's report: the honest editors' figures, the
//! attack's, the hub's memory and connections, as a table or one JSON
//! object, and the line of figures that tells each attack's story.

use crate::attack::{Attack, Figures};
use crate::delivery::Delivery;
use crate::honest::Outcome;
use crate::report::Percentiles;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, Serialize)]
pub struct FairReport {
    pub scenario: String,
    pub attack: String,
    pub hub: String,
    /// The honest side's measured run, and the attack's start before it.
    pub duration_s: f64,
    pub warmup_s: f64,
    pub honest_editors: usize,
    /// The honest edits went in two parts each (parts-budget).
    pub honest_parts: bool,
    pub honest_sent: usize,
    pub honest_acked: usize,
    /// Edit sent -> its ack.
    pub honest_ack_ms: Percentiles,
    /// Honest edits refused (rejected or error), in all and by code.
    pub honest_refused: usize,
    pub honest_refused_by_code: BTreeMap<String, usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub honest_refusals: Vec<String>,
    /// history-flood: the honest reader's history page and roster list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub honest_history_ms: Option<Percentiles>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub honest_rosters_ms: Option<Percentiles>,
    /// slow-readers and its baseline: the big writer's edits broadcast to
    /// the honest readers, its ack read -> their change read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    pub attacker: Figures,
    /// The hub's open connections (its /metrics) just before the honest
    /// run ended, what this run had opened, and the difference: those the
    /// hub closed.
    pub hub_connections: Option<f64>,
    pub connections_opened: u64,
    pub closed_by_hub: Option<i64>,
    /// Bytes of edits in parts the hub held just before the honest run ended.
    pub hub_parts_held_mb: Option<f64>,
    pub hub_rss_before_mb: Option<f64>,
    pub hub_rss_peak_mb: Option<f64>,
    pub hub_rss_after_mb: Option<f64>,
    /// non-readers, slow-readers: peak growth per socket never read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_connection_kib: Option<f64>,
    /// The figures that tell this attack's story, in one line.
    pub extra: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
}

impl FairReport {
    pub fn ok(&self) -> bool {
        self.failures.is_empty() && self.honest_acked + self.honest_refused > 0
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let mut row = |k: &str, v: String| out.push_str(&format!("{k:<24} {v}\n"));
        let p = |x: &Percentiles| {
            format!(
                "p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2} ms  (n={})",
                x.p50, x.p90, x.p99, x.max, x.count
            )
        };
        let mb = |m: Option<f64>| m.map_or("n/a".into(), |m| format!("{m:.1} MB"));
        row("scenario", format!("fairness, attack {}", self.attack));
        row("hub", self.hub.clone());
        row(
            "honest run",
            format!(
                "{:.2} s after {:.2} s of attack ({} editors{})",
                self.duration_s,
                self.warmup_s,
                self.honest_editors,
                if self.honest_parts {
                    ", edits in 2 parts"
                } else {
                    ""
                }
            ),
        );
        row("honest ack", p(&self.honest_ack_ms));
        row(
            "honest sent / acked",
            format!("{} / {}", self.honest_sent, self.honest_acked),
        );
        let codes: Vec<String> = self
            .honest_refused_by_code
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        row(
            "honest refused",
            format!("{} {}", self.honest_refused, codes.join(", ")),
        );
        for r in &self.honest_refusals {
            row("  e.g.", r.clone());
        }
        if let Some(h) = &self.honest_history_ms {
            row("honest history page", p(h));
        }
        if let Some(h) = &self.honest_rosters_ms {
            row("honest list_rosters", p(h));
        }
        if let Some(d) = &self.delivery {
            row("honest delivery", p(&d.ms));
            row(
                "  (ack -> change)",
                format!(
                    "{} readers, {} writer edits; {} read before the ack (as 0 ms), \
                     {} not read within 30 s of the end",
                    d.readers, d.edits, d.before_ack, d.undelivered
                ),
            );
        }
        let a = &self.attacker;
        row(
            "attacker connections",
            format!("{} ({} refused)", a.connected, a.refused_connections),
        );
        row(
            "attacker edits",
            format!(
                "{} acked ({} ops), {} refused, {} busy; {:.1} MB sent",
                a.edits_acked, a.ops_acked, a.edits_refused, a.busy, a.mb_sent
            ),
        );
        if a.cursor_moves > 0 {
            row("attacker cursor moves", a.cursor_moves.to_string());
        }
        if a.reads > 0 {
            row("attacker reads", a.reads.to_string());
        }
        if a.held_open > 0 {
            row(
                "attacker placed open",
                format!(
                    "{} edits, {:.1} MB (taken, no busy heard)",
                    a.held_open, a.held_mb
                ),
            );
            row(
                "hub holding in parts",
                self.hub_parts_held_mb
                    .map_or("n/a".into(), |m| format!("{m:.1} MB")),
            );
        }
        for e in &a.errors {
            row("  attacker saw", e.clone());
        }
        row(
            "hub connections at end",
            format!(
                "{} of {} opened ({} closed by the hub)",
                self.hub_connections.map_or("n/a".into(), |c| c.to_string()),
                self.connections_opened,
                self.closed_by_hub.map_or("n/a".into(), |c| c.to_string())
            ),
        );
        row(
            "hub memory",
            format!(
                "before {}, peak {}, after {}",
                mb(self.hub_rss_before_mb),
                mb(self.hub_rss_peak_mb),
                mb(self.hub_rss_after_mb)
            ),
        );
        if let Some(k) = self.per_connection_kib {
            row("  per socket never read", format!("{k:.1} KiB"));
        }
        row("extra", self.extra.clone());
        for f in &self.failures {
            row("FAILED", f.clone());
        }
        out
    }
}

pub fn take_outcome(report: &mut FairReport, o: Outcome) {
    report.honest_sent = o.sent;
    report.honest_acked = o.ack_us.len();
    report.honest_ack_ms = Percentiles::of_micros(o.ack_us);
    report.honest_refused = o.refused.values().sum();
    report.honest_refused_by_code = o.refused;
    report.honest_refusals = o.refusals;
    if !o.history_us.is_empty() || !o.rosters_us.is_empty() {
        report.honest_history_ms = Some(Percentiles::of_micros(o.history_us));
        report.honest_rosters_ms = Some(Percentiles::of_micros(o.rosters_us));
    }
    report.failures.extend(o.failures);
}

/// The figures beyond honest p50/p99 that tell whether the attack happened
/// and what it did, in one line.
pub fn extra(attack: Attack, r: &FairReport) -> String {
    let a = &r.attacker;
    let per_s = |n: u64| n as f64 / (r.duration_s + r.warmup_s).max(1e-9);
    let mut out: Vec<String> = Vec::new();
    match attack {
        Attack::None => {}
        Attack::BigParts | Attack::BigPartsSame | Attack::BigEdits => out.push(format!(
            "attacker {} edits acked ({:.0} ops/s), {:.0} MB sent",
            a.edits_acked,
            per_s(a.ops_acked),
            a.mb_sent
        )),
        Attack::BigPartsRejected => out.push(format!(
            "attacker {} edits rejected, {} acked, {:.0} MB sent",
            a.edits_refused, a.edits_acked, a.mb_sent
        )),
        Attack::Cursors => out.push(format!(
            "{} cursor moves ({:.0}/s)",
            a.cursor_moves,
            per_s(a.cursor_moves)
        )),
        Attack::PartsBudget => {
            let busy = r.honest_refused_by_code.get("busy").copied().unwrap_or(0);
            out.push(format!(
                "honest in parts: {} taken, {busy} busy; attacker placed {} edits ({:.0} MB), \
                 {} busy; hub holding {} MB in parts",
                r.honest_acked,
                a.held_open,
                a.held_mb,
                a.busy,
                r.hub_parts_held_mb
                    .map_or("?".into(), |m| format!("{m:.0}"))
            ));
        }
        Attack::NonReaders | Attack::SlowReaders | Attack::SlowReadersBaseline => {
            let mb = |m: Option<f64>| m.map_or("?".into(), |m| format!("{m:.0}"));
            if let Some(d) = &r.delivery {
                out.push(format!(
                    "delivery p50/p99/max {:.1}/{:.1}/{:.1} ms (n={}{})",
                    d.ms.p50,
                    d.ms.p99,
                    d.ms.max,
                    d.ms.count,
                    if d.undelivered > 0 {
                        format!(", {} not read within 30 s", d.undelivered)
                    } else {
                        String::new()
                    }
                ));
            }
            out.push(format!(
                "RSS {}/{}/{} MB before/peak/after{}; writer {} edits acked",
                mb(r.hub_rss_before_mb),
                mb(r.hub_rss_peak_mb),
                mb(r.hub_rss_after_mb),
                r.per_connection_kib
                    .map_or(String::new(), |k| format!(", {k:.1} KiB per conn.")),
                a.edits_acked
            ));
        }
        Attack::HistoryFlood => {
            let p = |x: &Option<Percentiles>| {
                x.as_ref()
                    .map_or("?".into(), |x| format!("{:.1}/{:.1}", x.p50, x.p99))
            };
            out.push(format!(
                "honest history p50/p99 {} ms, list_rosters {} ms; attacker {} reads",
                p(&r.honest_history_ms),
                p(&r.honest_rosters_ms),
                a.reads
            ));
        }
    }
    if let Some(c) = r.closed_by_hub.filter(|c| *c != 0) {
        out.push(format!("{c} connections closed by the hub"));
    }
    if a.refused_connections > 0 {
        out.push(format!("{} connections refused", a.refused_connections));
    }
    if r.honest_refused > 0 && attack != Attack::PartsBudget {
        out.push(format!("honest refused {}", r.honest_refused));
    }
    out.join("; ")
}
