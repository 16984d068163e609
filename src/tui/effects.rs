//! Carries `update`'s effects out against the sync engine and turns the
//! results into actions. The app loop runs [`perform`] on a worker thread
//! so that no engine call (each may wait for the local store) ever holds
//! up a frame; tests call it directly.

use super::update::{Action, Effect};
use crate::sync::{SyncEngine, UndoError};
use std::sync::Arc;
use std::sync::mpsc;
use tokio::sync::mpsc::UnboundedSender;

/// Does one effect; returns what came of it. Terminal effects (suspend,
/// redraw) are the app loop's and return nothing here.
pub fn perform(engine: &SyncEngine, effect: Effect) -> Vec<Action> {
    match effect {
        Effect::Edit { ops, what } => {
            let targets = ops.iter().map(|op| op.target()).collect();
            match engine.edit(ops) {
                Ok(op_id) => vec![Action::Edited {
                    op_id,
                    what,
                    targets: Some(targets),
                }],
                Err(e) => vec![Action::Failed(e.to_string())],
            }
        }
        Effect::Undo { anyway } => {
            let r = if anyway {
                engine.undo_anyway()
            } else {
                engine.undo()
            };
            match r {
                Ok(Some(op)) => vec![Action::Edited {
                    op_id: Some(op),
                    what: "undone".into(),
                    targets: targets_of(engine, op),
                }],
                Ok(None) => vec![Action::Failed("nothing to undo".into())],
                Err(UndoError::ChangedSince(t)) => vec![Action::UndoChangedSince(t.len())],
                Err(e) => vec![Action::Failed(e.to_string())],
            }
        }
        Effect::Redo => match engine.redo() {
            Ok(Some(op)) => vec![Action::Edited {
                op_id: Some(op),
                what: "redone".into(),
                targets: targets_of(engine, op),
            }],
            Ok(None) => vec![Action::Failed("nothing to redo".into())],
            Err(e) => vec![Action::Failed(e.to_string())],
        },
        Effect::KeepMine(op) => match engine.keep_mine(op) {
            Ok(Some(new)) => vec![Action::Edited {
                op_id: Some(new),
                what: "kept yours: sent again over theirs".into(),
                targets: None,
            }],
            Ok(None) => vec![Action::Failed("that conflict is already settled".into())],
            Err(e) => vec![Action::Failed(e.to_string())],
        },
        Effect::KeepTheirs(op) => settled(engine.keep_theirs(op), op, "kept theirs"),
        Effect::Dismiss(op) => settled(engine.dismiss(op), op, "dismissed"),
        Effect::ShareCursor(c) => {
            engine.set_cursor(c);
            Vec::new()
        }
        Effect::History(q) => match engine.history(q) {
            Ok(req) => vec![Action::HistoryAsked(req)],
            Err(m) => vec![Action::HistoryUnavailable(m)],
        },
        Effect::AskUsers => match engine.users() {
            Ok(req) => vec![Action::UsersAsked(req)],
            Err(m) => vec![Action::UsersUnavailable(m)],
        },
        Effect::SetRole(c) => match engine.set_role(&c.user, c.role.as_deref(), c.create) {
            Ok(req) => vec![Action::UsersAsked(req)],
            Err(m) => vec![Action::UsersUnavailable(m)],
        },
        Effect::Refresh => vec![
            Action::Outbox(engine.outbox()),
            Action::Others(engine.others()),
        ],
        Effect::Reconnect => {
            engine.reconnect_now();
            Vec::new()
        }
        Effect::Suspend | Effect::Redraw => Vec::new(),
    }
}

/// What an edit still in the outbox writes (None once it has left: then
/// the findings are read again in full).
fn targets_of(engine: &SyncEngine, op_id: u64) -> Option<Vec<crate::domain::Target>> {
    engine
        .outbox()
        .into_iter()
        .find(|e| e.op_id == op_id)
        .map(|e| e.ops.iter().map(|op| op.target()).collect())
}

/// What the engine knew before the editor listened: the connection, the
/// outbox, the others, and a damaged local file made anew.
pub fn startup(engine: &SyncEngine) -> Vec<Action> {
    let mut out = vec![
        Action::Sync(crate::sync::SyncEvent::Connection(engine.status().conn)),
        Action::Outbox(engine.outbox()),
        Action::Others(engine.others()),
    ];
    if let Some(r) = engine.recovered() {
        out.push(Action::Failed(r.message()));
    }
    out
}

fn settled(r: Result<bool, crate::sync::LocalError>, op: u64, what: &str) -> Vec<Action> {
    match r {
        Ok(true) => vec![Action::Edited {
            op_id: Some(op),
            what: what.into(),
            targets: None,
        }],
        Ok(false) => vec![Action::Failed("that edit is already settled".into())],
        Err(e) => vec![Action::Failed(e.to_string())],
    }
}

/// The worker thread: takes effects in order, does each, sends back the
/// actions. Refreshes and cursor shares asked for in a burst are done once.
pub struct Worker {
    tx: Option<mpsc::Sender<Effect>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    pub fn start(engine: Arc<SyncEngine>, out: UnboundedSender<Action>) -> std::io::Result<Worker> {
        let (tx, rx) = mpsc::channel::<Effect>();
        let thread = std::thread::Builder::new()
            .name("rota-editor-effects".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    batch.extend(rx.try_iter());
                    for effect in coalesce(batch) {
                        for action in perform(&engine, effect) {
                            if out.send(action).is_err() {
                                return;
                            }
                        }
                    }
                }
            })?;
        Ok(Worker {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn send(&self, effect: Effect) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(effect);
        }
    }

    /// Finishes the effects already sent (edits among them), then stops.
    pub fn finish(mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A burst of effects with repeated refreshes and cursor shares done once
/// (the last cursor wins); everything else in order.
fn coalesce(batch: Vec<Effect>) -> Vec<Effect> {
    let last_cursor = batch
        .iter()
        .rposition(|e| matches!(e, Effect::ShareCursor(_)));
    let mut refresh = false;
    let mut out = Vec::with_capacity(batch.len());
    for (i, e) in batch.into_iter().enumerate() {
        match e {
            Effect::Refresh => refresh = true,
            Effect::ShareCursor(_) if Some(i) != last_cursor => {}
            other => out.push(other),
        }
    }
    if refresh {
        out.push(Effect::Refresh);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_refreshes_once_and_shares_the_last_cursor() {
        let c = |d: u32| {
            Effect::ShareCursor(Some(crate::protocol::Cursor {
                staff: "s1".into(),
                date: crate::domain::Date(
                    chrono::NaiveDate::from_ymd_opt(2026, 12, d).unwrap_or_default(),
                ),
            }))
        };
        let out = coalesce(vec![
            Effect::Refresh,
            c(1),
            Effect::Redo,
            Effect::Refresh,
            c(2),
        ]);
        assert_eq!(out, vec![Effect::Redo, c(2), Effect::Refresh]);
    }
}
