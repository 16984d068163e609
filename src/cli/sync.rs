//! `rota --sync`: send the outbox, refresh the local copy, exit.

use super::{Cli, Unreached, connect, exit, roster_exists, start_engine, stop};
use crate::sync::ConnState;
use std::time::Duration;

/// `rota --sync`: connect, send the outbox, pull the roster, exit.
pub async fn sync(cli: &Cli) -> i32 {
    let engine = match start_engine(cli) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let queued = queued_edits(&engine.outbox());
    if !queued.is_empty() {
        eprintln!("rota: sending {queued}");
    }
    let elsewhere = engine.config().queued_elsewhere();
    for (hub, n) in &elsewhere {
        eprintln!(
            "rota: {n} edit(s) of this roster are queued for another hub, {hub}, and are not sent \
             from here: run with --server ws://{hub} (or name it first among several) to send them"
        );
    }
    let timeout = Duration::from_secs(cli.timeout.max(1));
    let code = match connect(&engine, timeout).await {
        Ok(_) if queued.is_empty() && roster_exists(&engine, timeout).await.is_err() => exit::USAGE,
        Ok(_) => {
            let (status, done) = engine
                .wait_until(timeout, |s| {
                    s.pending == 0 || !matches!(s.conn, ConnState::Connected { .. })
                })
                .await;
            report_sync(&status, done)
        }
        Err(refused @ Unreached::Refused(_)) => refused.report(""),
        Err(Unreached::Unreachable(reason)) => {
            let status = engine.status();
            if status.pending + status.conflicted == 0 {
                // Nothing is left unsaved, which is what --sync is for; say
                // that the local copy is as old as it was.
                eprintln!(
                    "rota: nothing queued; hub unreachable ({reason}), local copy not refreshed"
                );
                exit::OK
            } else {
                eprintln!("rota: {}: hub unreachable ({reason})", left_over(&status));
                exit::UNREACHABLE
            }
        }
    };
    // The local file was damaged and some of its queue could not be read:
    // "all saved" would not be the whole truth.
    let code = match engine.recovered() {
        Some(r) if r.incomplete && code == exit::OK => exit::LOCAL,
        _ => code,
    };
    // Edits queued under another hub's name are not saved either.
    let code = if code == exit::OK && !elsewhere.is_empty() {
        exit::UNREACHABLE
    } else {
        code
    };
    stop(engine).await;
    code
}

/// What is queued, each edit named by its note (`apply:FILE` for a
/// script's) or its op id: "2 edits: apply:week.csv (140 changes), edit 7
/// (1 change)".
fn queued_edits(outbox: &[crate::sync::OutboxEntry]) -> String {
    let pending: Vec<String> = outbox
        .iter()
        .filter(|e| e.state == crate::sync::EntryState::Pending)
        .map(|e| {
            let name = e
                .note
                .clone()
                .unwrap_or_else(|| format!("edit {}", e.op_id));
            let n = e.ops.len();
            format!("{name} ({n} change{})", if n == 1 { "" } else { "s" })
        })
        .collect();
    match pending.len() {
        0 => String::new(),
        n => format!("{}: {}", edits(n), pending.join(", ")),
    }
}

fn report_sync(status: &crate::sync::Status, done: bool) -> i32 {
    if status.pending > 0 {
        let why = match (&status.conn, done) {
            (ConnState::Retrying { reason, .. }, _) => format!("connection lost ({reason})"),
            _ => "the hub did not acknowledge them in time".to_string(),
        };
        eprintln!("rota: {}: {why}", left_over(status));
        return exit::UNREACHABLE;
    }
    if status.conflicted > 0 || status.rejected > 0 {
        eprintln!(
            "rota: {} conflicted and {} rejected: resolve them in the editor",
            edits(status.conflicted),
            edits(status.rejected)
        );
        return exit::CONFLICT;
    }
    crate::outln!("rota: all changes saved (roster at seq {})", status.seq);
    exit::OK
}

/// "2 edits still queued, 1 conflicted".
fn left_over(status: &crate::sync::Status) -> String {
    let mut s = format!("{} still queued", edits(status.pending));
    if status.conflicted > 0 {
        s.push_str(&format!(", {} conflicted", status.conflicted));
    }
    s
}

fn edits(n: usize) -> String {
    if n == 1 {
        "1 edit".into()
    } else {
        format!("{n} edits")
    }
}
