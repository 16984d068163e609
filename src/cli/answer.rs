//! Waiting for the hub's answer to one edit a command sent (`--apply`,
//! `--publish`, `--fill`): acknowledged, a conflict, refused, or no answer
//! in time. One way for every command: events first, and where events were
//! missed (the broadcast lagged or closed), the outbox says where the edit
//! stands.

use crate::domain::{Conflict, Problem};
use crate::sync::{EntryState, SyncEngine, SyncEvent};
use std::future::Future;
use tokio::sync::broadcast;

/// How an edit ended, as far as the command waited.
pub enum Answer {
    Acked {
        seq: u64,
        overwritten: Vec<Conflict>,
    },
    Conflicted(Vec<Conflict>),
    Rejected(String, String, Vec<Problem>),
    TimedOut,
    /// `stop` came first (Ctrl-C while waiting).
    Interrupted,
}

/// What a command says when the hub refused its one edit (nothing of it
/// applied, `what` naming it: "filled", "published"), and its exit
/// status: refused for a role that does not allow it, else `otherwise`.
pub fn refused(
    engine: &SyncEngine,
    op_id: u64,
    what: &str,
    code: &str,
    message: &str,
    otherwise: i32,
) -> i32 {
    let _ = engine.dismiss(op_id);
    eprintln!("rota: nothing {what}: the hub refused it ({code}: {message})");
    if code == crate::protocol::codes::FORBIDDEN {
        super::exit::REFUSED
    } else {
        otherwise
    }
}

/// What a command says when no answer came in time (`what`: "the fill",
/// "the publication"): sent, perhaps applied, the outbox settles it on the
/// next sync.
pub fn unanswered(what: &str, timeout: std::time::Duration, engine: &SyncEngine) -> i32 {
    eprintln!(
        "rota: {}: {what} stays in the outbox and `rota --sync` finishes it (applied once at most)",
        why_unanswered(engine, timeout)
    );
    super::exit::UNREACHABLE
}

/// Why no answer came in time: the hub answered that it could not store
/// the edit (its database away, say) and the engine is waiting to send it
/// again, or nothing came at all.
pub fn why_unanswered(engine: &SyncEngine, timeout: std::time::Duration) -> String {
    match engine.status().conn {
        crate::sync::ConnState::Retrying { reason, .. } if reason.starts_with("hub: ") => format!(
            "the hub could not store it within {} s ({})",
            timeout.as_secs(),
            reason.trim_start_matches("hub: ")
        ),
        _ => format!("no answer from the hub within {} s", timeout.as_secs()),
    }
}

/// Waits until `deadline` for the hub's answer to edit `op_id`, calling
/// `tick` every quarter second (a progress line) and giving up when `stop`
/// completes. A lost connection is retried by the engine meanwhile; the
/// edit is sent again and the hub answers it once.
pub async fn wait_for_answer(
    engine: &SyncEngine,
    events: &mut broadcast::Receiver<SyncEvent>,
    op_id: u64,
    deadline: tokio::time::Instant,
    mut tick: impl FnMut(),
    stop: impl Future<Output = ()>,
) -> Answer {
    let mut ticks = tokio::time::interval(std::time::Duration::from_millis(250));
    let mut stop = std::pin::pin!(stop);
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(SyncEvent::Acked { op_id: id, seq, overwritten }) if id == op_id => {
                    return Answer::Acked { seq, overwritten };
                }
                Ok(SyncEvent::Conflicted { op_id: id, conflicts }) if id == op_id => {
                    return Answer::Conflicted(conflicts);
                }
                Ok(SyncEvent::Rejected { op_id: id, code, message, problems }) if id == op_id => {
                    return Answer::Rejected(code, message, problems);
                }
                Ok(_) => {}
                // Events were missed: read where the edit stands instead.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    if let Some(a) = answer_from_outbox(engine, op_id) {
                        return a;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => {
                    return answer_from_outbox(engine, op_id).unwrap_or(Answer::TimedOut);
                }
            },
            _ = ticks.tick() => tick(),
            _ = tokio::time::sleep_until(deadline) => return Answer::TimedOut,
            _ = &mut stop => return Answer::Interrupted,
        }
    }
}

/// Where edit `op_id` stands in the outbox: gone from it (acknowledged), a
/// conflict, refused, or still pending (None).
fn answer_from_outbox(engine: &SyncEngine, op_id: u64) -> Option<Answer> {
    match engine.outbox().into_iter().find(|e| e.op_id == op_id) {
        None => Some(Answer::Acked {
            seq: engine.status().seq,
            overwritten: Vec::new(),
        }),
        Some(e) => match e.state {
            EntryState::Pending => None,
            EntryState::Conflict { conflicts } => Some(Answer::Conflicted(conflicts)),
            EntryState::Rejected {
                code,
                message,
                problems,
            } => Some(Answer::Rejected(code, message, problems)),
        },
    }
}
