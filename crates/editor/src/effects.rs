//! Carries `update`'s effects out against the sync engine and turns the
//! results into actions. The app loop runs [`perform`] on a worker thread
//! so that no engine call (each may wait for the local store) ever holds
//! up a frame; tests call it directly.

use super::action::{Action, Effect};
use crate::fill;
use rota_client::{SyncEngine, UndoError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};
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
                    reveal: false,
                }],
                Err(e) => vec![Action::Failed(e.to_string())],
            }
        }
        Effect::Undo { anyway } => match engine.undo_ops(anyway) {
            Ok(Some((op, ops))) => {
                let targets = Some(ops.iter().map(|o| o.target()).collect());
                vec![Action::Edited {
                    op_id: Some(op),
                    what: format!("undone: {}", describe(engine, &ops)),
                    targets,
                    reveal: true,
                }]
            }
            Ok(None) => vec![Action::Failed("nothing to undo".into())],
            Err(UndoError::ChangedSince(t)) => {
                vec![Action::UndoChangedSince(changed_since(engine, &t))]
            }
            Err(e) => vec![Action::Failed(e.to_string())],
        },
        Effect::Redo => match engine.redo_ops() {
            Ok(Some((op, ops))) => {
                let targets = Some(ops.iter().map(|o| o.target()).collect());
                vec![Action::Edited {
                    op_id: Some(op),
                    what: format!("redone: {}", describe(engine, &ops)),
                    targets,
                    reveal: true,
                }]
            }
            Ok(None) => vec![Action::Failed("nothing to redo".into())],
            Err(e) => vec![Action::Failed(e.to_string())],
        },
        Effect::KeepMine(op) => match engine.keep_mine(op) {
            Ok(Some(new)) => vec![Action::Edited {
                op_id: Some(new),
                what: "kept yours: sent again over theirs".into(),
                targets: None,
                reveal: false,
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
        // A question goes under the id the editor already waits for: its
        // answer may come before this returns, and is taken either way.
        Effect::History { req, query } => not_asked(req, engine.history(req, query)),
        Effect::AskUsers { req } => not_asked(req, engine.users(req)),
        Effect::SetRole { req, change } => not_asked(
            req,
            engine.set_role(
                req,
                &change.user,
                change.role.as_deref(),
                change.create,
                change.staff.as_deref(),
            ),
        ),
        Effect::Reconnect => {
            engine.reconnect_now();
            Vec::new()
        }
        Effect::Suspend | Effect::Redraw => Vec::new(),
        Effect::CheckShifts { staff, from, live } => check_shifts(engine, &staff, from, live),
        // Here (tests) the search runs to its time; the app's worker runs
        // it on a thread of its own, which Esc stops.
        Effect::Fill(ask) => {
            let mut out = Vec::new();
            fill_search(engine, &ask, &AtomicBool::new(false), &mut |a| out.push(a));
            out
        }
        Effect::StopFill => Vec::new(),
    }
}

/// How often the search says its best so far.
const FILL_PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Runs a fill's search on the roster as this editor has it (its pending
/// edits included) until its time is up or `stop` is set, saying its
/// progress now and then; ends with what it proposes.
pub fn fill_search(
    engine: &SyncEngine,
    ask: &fill::Ask,
    stop: &AtomicBool,
    send: &mut dyn FnMut(Action),
) {
    let scope = rota_fill::Scope {
        from: Some(ask.from),
        to: Some(ask.to),
        staff: ask.staff.clone(),
    };
    let roster = engine.view_reader().read(|r| r.clone());
    // Cells already proposed (a colleague's fill, or this editor's last)
    // are kept as proposed: Model::new counts them as set, so the search
    // works round them and never withdraws them (`-` discards them first
    // to fill there again).
    let Some((model, start)) = rota_fill::Model::new(&roster, &scope) else {
        send(Action::FillDone(fill::Outcome::Refused(
            "nothing to fill: the roster has no planning period (set one: m, then the settings tab)"
                .into(),
        )));
        return;
    };
    if model.free.is_empty() {
        send(Action::FillDone(fill::Outcome::Refused(
            "nothing to fill: no empty cell there that is not proposed already (within the planning period; - discards proposals)".into(),
        )));
        return;
    }
    let before = start.score;
    let began = Instant::now();
    let until = began + Duration::from_secs(ask.seconds);
    let mut said = began;
    let filled = rota_fill::fill(&model, start, 1, |p| {
        let now = Instant::now();
        if now.duration_since(said) >= FILL_PROGRESS_EVERY {
            said = now;
            send(Action::FillProgress(fill::Progress {
                best: p.best,
                before,
                moves: p.moves,
                millis: now.duration_since(began).as_millis() as u64,
            }));
        }
        now < until && !stop.load(Ordering::Relaxed)
    });
    let stopped = stop.load(Ordering::Relaxed);
    // Proposed against the roster as it is now: a cell written while the
    // search ran is no longer free (and the hub withdraws a proposal on a
    // written cell anyway).
    let ops = engine
        .view_reader()
        .read(|now| fill::proposal_ops(&model, &filled.grid.rows, now));
    send(Action::FillDone(fill::Outcome::Proposed {
        cells: ops.len(),
        ops,
        before,
        after: filled.grid.score,
        stopped,
    }));
}

/// A member of staff's published shifts from today, as this editor shows
/// them now, against what it kept when they last looked (or, `live`, when
/// the last publication came while they looked); what it shows now is
/// kept. The first time there is nothing to compare: nothing said.
fn check_shifts(
    engine: &SyncEngine,
    staff: &str,
    today: rota_core::domain::Date,
    live: bool,
) -> Vec<Action> {
    // What was published only: a roster that never published shows its
    // staff the roster as it is, which no one published to them.
    let roster = engine.server_roster();
    let mut now = std::collections::BTreeMap::new();
    let mut d = today;
    for _ in 0..366 * 5 {
        if roster.published_by(d).is_some()
            && let Some(code) = roster.published_cell(staff, d)
        {
            now.insert(d.to_string(), code.to_string());
        }
        d = d.add_days(1);
    }
    let key = format!("seen-shifts:{}:{staff}", engine.config().roster);
    let kept = engine.kept(&key);
    let _ = engine.keep(&key, &serde_json::to_string(&now).unwrap_or_default());
    let Some(before) = kept
        .and_then(|k| serde_json::from_str::<std::collections::BTreeMap<String, String>>(&k).ok())
    else {
        return Vec::new();
    };
    let mut changed = Vec::new();
    let dates: std::collections::BTreeSet<&String> = before.keys().chain(now.keys()).collect();
    for d in dates {
        let Ok(date) = d.parse::<rota_core::domain::Date>() else {
            continue;
        };
        if date < today {
            continue;
        }
        let (was, is) = (before.get(d), now.get(d));
        if was != is {
            let code = |c: Option<&String>| c.map_or("nothing".to_string(), String::clone);
            changed.push(format!(
                "{} {} -> {}",
                date.0.format("%a %-d %b"),
                code(was),
                code(is)
            ));
        }
    }
    if changed.is_empty() {
        return Vec::new();
    }
    let n = changed.len();
    let shown: Vec<String> = changed.into_iter().take(6).collect();
    let more = if n > shown.len() {
        format!(" and {} more", n - shown.len())
    } else {
        String::new()
    };
    let since = if live {
        "your shifts changed (just published)"
    } else {
        "your shifts changed since you last looked"
    };
    vec![Action::ShiftsChanged(format!(
        "{since}: {}{more}",
        shown.join(", ")
    ))]
}

/// A question the engine could not put to the hub (offline...): said at
/// once, so the editor stops waiting for it.
fn not_asked(req: u64, r: Result<(), String>) -> Vec<Action> {
    match r {
        Ok(()) => Vec::new(),
        Err(message) => vec![Action::NotAsked { req, message }],
    }
}

/// What an edit of this editor's (an undo, a redo) sets, in a few words:
/// "Ann Lee, Tue 1 Dec: N", "12 cells of 3 people, Tue 1 Dec to Fri 4 Dec",
/// "code E". Read from the operations the undo queued, never from the
/// outbox afterwards (a quick hub's ack may have emptied it by then).
fn describe(engine: &SyncEngine, ops: &[rota_core::domain::Op]) -> String {
    use chrono::Datelike;
    use rota_core::domain::Op;
    let cells: Vec<(&String, rota_core::domain::Date, &Option<String>)> = ops
        .iter()
        .filter_map(|op| match op {
            Op::SetCell {
                staff, date, code, ..
            } => Some((staff, *date, code)),
            _ => None,
        })
        .collect();
    // A request's edit: whose, when, and what it asks now (or withdrawn).
    let requests: Vec<(&String, rota_core::domain::Date, String)> = ops
        .iter()
        .filter_map(|op| match op {
            Op::PutRequest { request, .. } => Some((
                &request.staff,
                request.date,
                format!("request {}", crate::requests::wish_text(request)),
            )),
            Op::RemoveRequest { staff, date, .. } => {
                Some((staff, *date, "request withdrawn".to_string()))
            }
            _ => None,
        })
        .collect();
    // Proposals: how many proposed, how many withdrawn.
    let (proposed, withdrawn) = ops.iter().fold((0, 0), |(p, w), op| match op {
        Op::Propose { code: Some(_), .. } => (p + 1, w),
        Op::Propose { code: None, .. } => (p, w + 1),
        _ => (p, w),
    });
    let records = ops.len() - cells.len() - requests.len() - proposed - withdrawn;
    let name = |id: &str| {
        engine
            .with_view(|v| v.staff_member(id).map(|s| s.name.clone()))
            .unwrap_or_else(|| id.to_string())
    };
    let day = |d: rota_core::domain::Date| d.0.format("%a %-d %b").to_string();
    let mut parts = Vec::new();
    match cells.as_slice() {
        [] => {}
        [(staff, date, code)] => parts.push(format!(
            "{}, {}: {}",
            name(staff),
            day(*date),
            code.as_deref().unwrap_or("empty")
        )),
        many => {
            let mut people: Vec<&String> = many.iter().map(|c| c.0).collect();
            people.sort();
            people.dedup();
            let (Some(first), Some(last)) = (
                many.iter().map(|c| c.1).min(),
                many.iter().map(|c| c.1).max(),
            ) else {
                return String::new();
            };
            let when = if first == last {
                format!("on {}", day(first))
            } else if first.0.year() != last.0.year() {
                format!(
                    "{} to {}",
                    first.0.format("%a %-d %b %Y"),
                    last.0.format("%a %-d %b %Y")
                )
            } else {
                format!("{} to {}", day(first), day(last))
            };
            parts.push(format!(
                "{} cells of {}, {when}",
                many.len(),
                rota_script::diff::plural(people.len(), "person"),
            ));
        }
    }
    match requests.as_slice() {
        [] => {}
        [(staff, date, what)] => parts.push(format!("{}, {}: {what}", name(staff), day(*date))),
        many => {
            let mut people: Vec<&String> = many.iter().map(|r| r.0).collect();
            people.sort();
            people.dedup();
            parts.push(format!(
                "{} of {}",
                rota_script::diff::plural(many.len(), "request"),
                rota_script::diff::plural(people.len(), "person"),
            ));
        }
    }
    if proposed > 0 {
        parts.push(format!(
            "{} proposed",
            rota_script::diff::plural(proposed, "cell")
        ));
    }
    if withdrawn > 0 {
        parts.push(format!(
            "{} withdrawn",
            rota_script::diff::plural(withdrawn, "proposal")
        ));
    }
    if records > 0 {
        let what: Vec<String> = ops
            .iter()
            .filter(|op| {
                !matches!(
                    op,
                    Op::SetCell { .. }
                        | Op::PutRequest { .. }
                        | Op::RemoveRequest { .. }
                        | Op::Propose { .. }
                )
            })
            .take(3)
            .map(|op| match op.target() {
                rota_core::domain::Target::Staff { id } => name(&id),
                rota_core::domain::Target::Code { code } => format!("code {code}"),
                rota_core::domain::Target::Rule { id } => format!("rule {id}"),
                rota_core::domain::Target::Publication { .. } => "a publication".into(),
                _ => "the settings".into(),
            })
            .collect();
        parts.push(what.join(", "));
    }
    parts.join("; ")
}

/// The question an undo asks when someone changed what it restores: who
/// changed which cell, and what it holds now.
fn changed_since(engine: &SyncEngine, targets: &[rota_core::domain::Target]) -> String {
    use rota_core::domain::Target;
    let first = targets.iter().find_map(|t| match t {
        Target::Cell { staff, date } => Some(engine.with_view(|v| {
            let name = v
                .staff_member(staff)
                .map_or_else(|| staff.clone(), |s| s.name.clone());
            let (code, who) = v
                .cell(staff, *date)
                .map(|(c, st)| (c.unwrap_or("empty").to_string(), st.user.to_string()))
                .unwrap_or_else(|| ("empty".into(), String::new()));
            let who = if who.is_empty() {
                "someone else".to_string()
            } else {
                who
            };
            format!(
                "{who} changed {name}, {} since (now {code})",
                date.0.format("%a %-d %b")
            )
        })),
        _ => None,
    });
    let what = match (first, targets.len()) {
        (Some(first), 1) => first,
        (Some(first), n) => format!("{first}, and {} more", n - 1),
        (None, n) => format!(
            "someone else changed {} this undo restores",
            rota_script::diff::plural(n, "thing")
        ),
    };
    format!("{what}: undo anyway, over theirs?")
}

/// What the engine knew before the editor listened: the connection, who
/// the hub says this is (and its role), the outbox, the others, and a
/// damaged local file made anew.
pub fn startup(engine: &SyncEngine) -> Vec<Action> {
    let mut out = vec![
        Action::Sync(rota_client::SyncEvent::Connection(engine.status().conn)),
        Action::Sync(rota_client::SyncEvent::Access(engine.access())),
        Action::Outbox(engine.outbox()),
        Action::Others(engine.others()),
    ];
    if let Some(r) = engine.recovered() {
        out.push(Action::Failed(r.message()));
    }
    out
}

fn settled(r: Result<bool, rota_client::LocalError>, op: u64, what: &str) -> Vec<Action> {
    match r {
        Ok(true) => vec![Action::Edited {
            op_id: Some(op),
            what: what.into(),
            targets: None,
            reveal: false,
        }],
        Ok(false) => vec![Action::Failed("that edit is already settled".into())],
        Err(e) => vec![Action::Failed(e.to_string())],
    }
}

/// The worker thread: takes effects in order, does each, sends back the
/// actions. Cursor shares asked for in a burst are done once.
pub struct Worker {
    tx: Option<mpsc::Sender<Effect>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The fill running on its own thread (one at a time): its stop flag.
struct Filling {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Worker {
    pub fn start(engine: Arc<SyncEngine>, out: UnboundedSender<Action>) -> std::io::Result<Worker> {
        let (tx, rx) = mpsc::channel::<Effect>();
        let thread = std::thread::Builder::new()
            .name("rota-editor-effects".into())
            .spawn(move || {
                let mut filling: Option<Filling> = None;
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    batch.extend(rx.try_iter());
                    for effect in coalesce(batch) {
                        match effect {
                            Effect::Fill(ask) => {
                                if let Some(f) = filling.take() {
                                    f.stop.store(true, Ordering::Relaxed);
                                    let _ = f.thread.join();
                                }
                                filling = start_fill(&engine, ask, &out);
                            }
                            Effect::StopFill => {
                                if let Some(f) = &filling {
                                    f.stop.store(true, Ordering::Relaxed);
                                }
                            }
                            effect => {
                                for action in perform(&engine, effect) {
                                    if out.send(action).is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                    }
                }
                if let Some(f) = filling.take() {
                    f.stop.store(true, Ordering::Relaxed);
                    let _ = f.thread.join();
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

/// Starts a fill's search on a thread of its own (it would hold up every
/// other effect for its whole time on the worker's).
fn start_fill(
    engine: &Arc<SyncEngine>,
    ask: fill::Ask,
    out: &UnboundedSender<Action>,
) -> Option<Filling> {
    let stop = Arc::new(AtomicBool::new(false));
    let (engine, to, flag) = (engine.clone(), out.clone(), stop.clone());
    let spawned = std::thread::Builder::new()
        .name("rota-editor-fill".into())
        .spawn(move || {
            fill_search(&engine, &ask, &flag, &mut |a| {
                let _ = to.send(a);
            });
        });
    match spawned {
        Ok(thread) => Some(Filling { stop, thread }),
        Err(e) => {
            let _ = out.send(Action::FillDone(fill::Outcome::Refused(format!(
                "the fill could not start: {e}"
            ))));
            None
        }
    }
}

/// A burst of effects with its cursor shares done once (the last cursor
/// wins); everything else in order.
fn coalesce(batch: Vec<Effect>) -> Vec<Effect> {
    let last_cursor = batch
        .iter()
        .rposition(|e| matches!(e, Effect::ShareCursor(_)));
    batch
        .into_iter()
        .enumerate()
        .filter(|(i, e)| !matches!(e, Effect::ShareCursor(_)) || Some(*i) == last_cursor)
        .map(|(_, e)| e)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_shares_the_last_cursor_only() {
        let c = |d: u32| {
            Effect::ShareCursor(Some(rota_core::protocol::Cursor {
                staff: "s1".into(),
                date: rota_core::domain::Date(
                    chrono::NaiveDate::from_ymd_opt(2026, 12, d).unwrap_or_default(),
                ),
            }))
        };
        let out = coalesce(vec![
            c(1),
            Effect::Redo,
            c(3),
            Effect::Undo { anyway: false },
            c(2),
        ]);
        assert_eq!(
            out,
            vec![Effect::Redo, Effect::Undo { anyway: false }, c(2)]
        );
    }
}
