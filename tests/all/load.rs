//! rota-load (issue 5), each scenario small and quick, against the real hub
//! binary it starts: correctness only (nothing lost, nothing doubled, every
//! roster equal to the hub's). No time is asserted.

use std::process::Command;

fn load(args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rota-load"))
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), report, stderr)
}

fn assert_clean(scenario: &str, code: i32, r: &serde_json::Value, stderr: &str) {
    assert_eq!(code, 0, "{scenario}: {r}\n{stderr}");
    assert_eq!(r["scenario"], scenario);
    assert_eq!(r["lost"], 0, "{r}");
    assert_eq!(r["duplicated"], 0, "{r}");
    assert_eq!(r["converged"], true, "{r}");
    assert!(r.get("failures").is_none(), "{r}");
    for key in ["ack_ms", "fanout_ms", "fanout_last_ms", "connect_ms"] {
        for p in ["p50", "p90", "p99", "max"] {
            assert!(r[key][p].is_number(), "{key}.{p} in {r}");
        }
    }
    assert!(
        r["acked_per_s"].is_number() && r["hub_rss_mb"].is_number(),
        "{r}"
    );
}

#[test]
fn fanout_paced_delivers_every_edit_to_every_editor_once() {
    let (code, r, err) = load(&[
        "--scenario",
        "fanout",
        "--clients",
        "6",
        "--edits",
        "120",
        "--roster-size",
        "10x30",
    ]);
    assert_clean("fanout", code, &r, &err);
    assert_eq!(
        (r["edits"].as_u64(), r["acked"].as_u64()),
        (Some(120), Some(120))
    );
    // Every delivery was timed: 120 edits x 5 other editors.
    assert_eq!(r["fanout_ms"]["count"], 600);
    assert_eq!(r["fanout_last_ms"]["count"], 120);
}

#[test]
fn throughput_with_pipelined_writers_loses_and_doubles_nothing() {
    let (code, r, err) = load(&[
        "--scenario",
        "throughput",
        "--clients",
        "8",
        "--writers",
        "4",
        "--edits",
        "400",
        "--roster-size",
        "20x40",
    ]);
    assert_clean("throughput", code, &r, &err);
    assert_eq!(
        (r["edits"].as_u64(), r["acked"].as_u64()),
        (Some(400), Some(400))
    );
    assert_eq!(r["fanout_ms"]["count"], 400 * 7);
}

#[test]
fn contention_counts_conflicts_and_still_converges() {
    let (code, r, err) = load(&[
        "--scenario",
        "contention",
        "--clients",
        "6",
        "--writers",
        "6",
        "--edits",
        "300",
        "--roster-size",
        "5x5",
    ]);
    assert_clean("contention", code, &r, &err);
    let (edits, acked, conflicts) = (
        r["edits"].as_u64().unwrap(),
        r["acked"].as_u64().unwrap(),
        r["conflicts"].as_u64().unwrap(),
    );
    assert_eq!(edits, 300);
    assert_eq!(acked + conflicts, edits, "{r}");
}

#[test]
fn connections_weighs_idle_editors() {
    let (code, r, err) = load(&["--scenario", "connections", "--clients", "40"]);
    assert_clean("connections", code, &r, &err);
    assert_eq!(r["connect_ms"]["count"], 40);
    assert!(r["per_connection_kib"].is_number(), "{r}");
}

#[test]
fn catchup_brings_back_what_an_editor_missed() {
    let (code, r, err) = load(&[
        "--scenario",
        "catchup",
        "--edits",
        "150",
        "--runs",
        "3",
        "--roster-size",
        "10x30",
    ]);
    assert_clean("catchup", code, &r, &err);
    assert_eq!(r["catchup_edits"], 150);
    assert_eq!(r["catchup_ms"]["count"], 3);
    assert_eq!(r["edits"], 450);
}

#[test]
fn snapshot_loads_a_fully_filled_roster() {
    let (code, r, err) = load(&[
        "--scenario",
        "snapshot",
        "--roster-size",
        "30x40",
        "--runs",
        "2",
    ]);
    assert_clean("snapshot", code, &r, &err);
    assert_eq!(r["snapshot_cells"], 1200);
    assert_eq!(r["snapshot_ms"]["count"], 2);
}

#[test]
fn bad_flags_are_refused_with_a_reason() {
    let out = Command::new(env!("CARGO_BIN_EXE_rota-load"))
        .args(["--scenario", "stampede"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown scenario `stampede`"));
    let out = Command::new(env!("CARGO_BIN_EXE_rota-load"))
        .args(["--roster-size", "150by364"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("STAFFxDAYS"));
}

/// Issue 22: staff editors are sent each publication and never a draft
/// cell; every publication and draft edit reached every observer.
#[test]
fn published_sends_staff_the_publications_and_no_draft_cell() {
    let (code, r, err) = load(&["--scenario", "published", "--clients", "6", "--runs", "3"]);
    assert_eq!(code, 0, "{r}\n{err}");
    assert_eq!(r["scenario"], "published");
    assert_eq!(
        (r["staff"].as_u64(), r["rounds"].as_u64()),
        (Some(5), Some(3))
    );
    assert_eq!(r["staff_draft_cells"], 0, "{r}");
    assert_eq!(r["staff_draft_frames"], 0, "{r}");
    assert_eq!(r["staff_other_changes"], 0, "{r}");
    assert_eq!(r["lost"], 0, "{r}");
    // Every publication reached every member of staff, every draft edit
    // every editor: 3 rounds x 5 each.
    assert_eq!(r["published_ms"]["count"], 15);
    assert_eq!(r["draft_ms"]["count"], 15);
    assert_eq!(r["staff_frames"], 15);
}
