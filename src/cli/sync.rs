//! `rota --sync`: send the outbox, refresh the local copy, exit.

use super::{Cli, connect, exit, start_engine, stop};
use crate::sync::ConnState;
use std::time::Duration;

/// `rota --sync`: connect, send the outbox, pull the roster, exit.
pub async fn sync(cli: &Cli) -> i32 {
    let engine = match start_engine(cli) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let timeout = Duration::from_secs(cli.timeout.max(1));
    let code = match connect(&engine, timeout).await {
        Ok(_) => {
            let (status, done) = engine
                .wait_until(timeout, |s| {
                    s.pending == 0 || !matches!(s.conn, ConnState::Connected { .. })
                })
                .await;
            report_sync(&status, done)
        }
        Err(reason) => {
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
    stop(engine).await;
    code
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
    println!("rota: all changes saved (roster at seq {})", status.seq);
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
