//! The published scenario's report: the fan-out of each publication to
//! the staff editors beside the fan-out of the same number of cells as a
//! draft edit to editors, what staff were sent that they should not have
//! been (draft cells, changes other than the publications), the hub's
//! memory; a table, or one JSON object with `--json`.

use crate::report::Percentiles;
use serde::Serialize;

#[derive(Clone, Debug, Default, Serialize)]
pub struct PubReport {
    pub scenario: String,
    pub hub: String,
    /// Connections per roster: the admin and `clients - 1` others.
    pub clients: usize,
    /// Staff editors on the roster that publishes (sent the published
    /// view): each publication's observers.
    pub staff: usize,
    /// Editors on the roster that never publishes (sent the draft): each
    /// draft edit's observers.
    pub editors: usize,
    /// Rounds done; each is one published round and one draft round, in
    /// turn (the order swapped every round).
    pub rounds: usize,
    /// Cells of each draft edit and of each publication.
    pub cells: usize,
    pub duration_s: f64,
    /// Published rounds: the draft edit of `cells` cells on the roster
    /// that publishes, sent -> ack (staff are sent nothing of it).
    pub hidden_edit_ack_ms: Percentiles,
    /// The publish, sent -> ack.
    pub publish_ack_ms: Percentiles,
    /// The publish sent -> its publication read by each staff editor.
    pub published_ms: Percentiles,
    /// ... by the last of them, per round.
    pub published_last_ms: Percentiles,
    /// Draft rounds: the draft edit on the other roster, sent -> ack.
    pub draft_ack_ms: Percentiles,
    /// The draft edit sent -> read by each editor.
    pub draft_ms: Percentiles,
    /// ... by the last of them, per round.
    pub draft_last_ms: Percentiles,
    /// Frames and bytes staff editors were sent after their welcomes.
    pub staff_frames: usize,
    pub staff_bytes: usize,
    /// Of those, frames holding any draft cell, their bytes and the cells
    /// (each must be 0).
    pub staff_draft_frames: usize,
    pub staff_draft_bytes: usize,
    pub staff_draft_cells: usize,
    /// `change` messages staff were sent besides the publications (must be
    /// 0: the draft edits change nothing they are shown).
    pub staff_other_changes: usize,
    /// Frames and bytes editors were sent after their welcomes.
    pub editor_frames: usize,
    pub editor_bytes: usize,
    /// The hub's resident memory with only the admin connected, with
    /// everyone connected before the first round, and at the end.
    pub hub_rss_start_mb: Option<f64>,
    pub hub_rss_connected_mb: Option<f64>,
    pub hub_rss_mb: Option<f64>,
    /// (round, connection) pairs whose change never came (within 30 s).
    pub lost: usize,
    /// Why the run failed, if it did.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
}

impl PubReport {
    pub fn ok(&self) -> bool {
        self.lost == 0
            && self.staff_draft_frames == 0
            && self.staff_other_changes == 0
            && self.failures.is_empty()
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let mut row = |k: &str, v: String| out.push_str(&format!("{k:<26} {v}\n"));
        row("scenario", self.scenario.clone());
        row("hub", self.hub.clone());
        row(
            "staff / editors",
            format!(
                "{} / {} (each roster: 1 admin + {} others)",
                self.staff,
                self.editors,
                self.clients.saturating_sub(1)
            ),
        );
        row(
            "rounds",
            format!(
                "{} published + {} draft, alternated, {} cells each",
                self.rounds, self.rounds, self.cells
            ),
        );
        row("duration", format!("{:.2} s", self.duration_s));
        let p = |x: &Percentiles| {
            format!(
                "p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2} ms  (n={})",
                x.p50, x.p90, x.p99, x.max, x.count
            )
        };
        row("published: edit ack", p(&self.hidden_edit_ack_ms));
        row("published: publish ack", p(&self.publish_ack_ms));
        row("published: fan-out each", p(&self.published_ms));
        row("published: fan-out last", p(&self.published_last_ms));
        row("draft: edit ack", p(&self.draft_ack_ms));
        row("draft: fan-out each", p(&self.draft_ms));
        row("draft: fan-out last", p(&self.draft_last_ms));
        row(
            "staff were sent",
            format!("{} frames, {} bytes", self.staff_frames, self.staff_bytes),
        );
        row(
            "  holding draft cells",
            format!(
                "{} frames, {} bytes, {} cells",
                self.staff_draft_frames, self.staff_draft_bytes, self.staff_draft_cells
            ),
        );
        row("  other changes", self.staff_other_changes.to_string());
        row(
            "editors were sent",
            format!("{} frames, {} bytes", self.editor_frames, self.editor_bytes),
        );
        let mb = |m: Option<f64>| m.map_or("n/a".into(), |m| format!("{m:.1} MB"));
        row("hub resident memory", mb(self.hub_rss_mb));
        row("  before the rounds", mb(self.hub_rss_connected_mb));
        row("  before connecting", mb(self.hub_rss_start_mb));
        row("lost", self.lost.to_string());
        for f in &self.failures {
            row("FAILED", f.clone());
        }
        out
    }
}
