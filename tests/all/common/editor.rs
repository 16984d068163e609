//! Drives the editor without a terminal: keys go through the real key map
//! and `update`, effects are carried out against a real sync engine with
//! the editor's own `perform`, and the engine's events come back as
//! actions, as the app loop does. Every wait is bounded.

use super::WAIT;
use crossterm::event::{KeyEvent, KeyEventKind, KeyEventState};
use rota::domain::Date;
use rota::sync::{SyncEngine, SyncEvent};
use rota::tui::action::{Action, Effect};
use rota::tui::config::Config;
use rota::tui::effects::perform;
use rota::tui::keymap::KeyCombo;
use rota::tui::keys::action_for;
use rota::tui::state::State;
use rota::tui::update::update;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Codes (D N OFF, and S ST SK 夜 ○ for fast entry) and four people in two
/// groups: the roster the editor tests and screens use.
pub fn four_people(codes: &[(&str, &str)]) -> Vec<rota::domain::Op> {
    use rota::domain::{Op, ShiftCode};
    // Planned: November and December 2026 (the tests' today is 1 Dec).
    let mut ops: Vec<Op> = vec![Op::SetPeriod {
        from: "2026-11-01".parse().expect("a date"),
        to: "2026-12-31".parse().expect("a date"),
    }];
    ops.extend(codes.iter().map(|(c, colour)| {
        let mut code = ShiftCode::new(c, 8.0, *c != "OFF");
        code.colour = colour.to_string();
        Op::PutCode { code, base: None }
    }));
    for (i, (name, group)) in [
        ("Amara Okafor", "Nurses"),
        ("Ben Hughes", "Nurses"),
        ("Chloe Martin", "Doctors"),
        ("Dev Patel", "Doctors"),
    ]
    .iter()
    .enumerate()
    {
        ops.push(Op::AddStaff {
            id: format!("s{}", i + 1),
            name: name.to_string(),
            group: group.to_string(),
            order: Some(i as i64),
        });
    }
    ops
}

pub struct Ed {
    pub engine: Arc<SyncEngine>,
    pub state: State,
    events: broadcast::Receiver<SyncEvent>,
    /// Terminal effects asked for (suspend, redraw): the app loop's.
    pub terminal_effects: Vec<Effect>,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Ed {
    pub fn new(engine: SyncEngine, today: Date) -> Ed {
        Ed::with_config(engine, today, Config::default())
    }

    pub fn with_config(engine: SyncEngine, today: Date, config: Config) -> Ed {
        let engine = Arc::new(engine);
        let events = engine.subscribe();
        let state = State::new(
            &engine.config().roster,
            &engine.config().user,
            engine.view_reader(),
            config,
            today,
            now_ms(),
        );
        let mut ed = Ed {
            engine,
            state,
            events,
            terminal_effects: Vec::new(),
        };
        ed.act(Action::Resize(120, 40));
        for a in rota::tui::effects::startup(&ed.engine.clone()) {
            ed.act(a);
        }
        ed.act(Action::Sync(SyncEvent::Resynced { seq: 0 }));
        ed
    }

    /// One action, and everything that follows from it at once.
    pub fn act(&mut self, a: Action) {
        let mut queue = VecDeque::from([a]);
        while let Some(a) = queue.pop_front() {
            self.state.now = now_ms();
            for e in update(&mut self.state, a) {
                match e {
                    Effect::Suspend | Effect::Redraw => self.terminal_effects.push(e),
                    other => queue.extend(perform(&self.engine, other)),
                }
            }
        }
    }

    /// A key whose effects' results reach the editor only after the engine
    /// has told what `answered` waits for (as the app loop may take them:
    /// the engine's events and the worker's results race). Events go in
    /// first, then the results held back.
    pub async fn key_answered_first(&mut self, k: &str, answered: impl Fn(&SyncEvent) -> bool) {
        let combo = KeyCombo::parse(k).unwrap_or_else(|e| panic!("{e}"));
        let ev = KeyEvent::new(combo.code, combo.mods);
        let Some(a) = action_for(&self.state, ev) else {
            panic!("`{k}` does nothing here");
        };
        self.state.now = now_ms();
        let mut held = Vec::new();
        for e in update(&mut self.state, a) {
            match e {
                Effect::Suspend | Effect::Redraw => self.terminal_effects.push(e),
                other => held.extend(perform(&self.engine, other)),
            }
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Ok(e)) => {
                    let done = answered(&e);
                    self.act(Action::Sync(e));
                    if done {
                        break;
                    }
                }
                _ => panic!("timed out waiting for the hub's answer after `{k}`"),
            }
        }
        for a in held {
            self.act(a);
        }
    }

    /// A key whose effects are carried out but whose results are held
    /// back, as the app loop's worker may still be busy with them when the
    /// next key comes: [`Ed::act`] them later.
    pub fn key_held(&mut self, k: &str) -> Vec<Action> {
        let combo = KeyCombo::parse(k).unwrap_or_else(|e| panic!("{e}"));
        let ev = KeyEvent::new(combo.code, combo.mods);
        let Some(a) = action_for(&self.state, ev) else {
            panic!("`{k}` does nothing here");
        };
        self.state.now = now_ms();
        let mut held = Vec::new();
        for e in update(&mut self.state, a) {
            match e {
                Effect::Suspend | Effect::Redraw => self.terminal_effects.push(e),
                other => held.extend(perform(&self.engine, other)),
            }
        }
        held
    }

    /// An edit made as the editor makes one (its effect carried out, what
    /// came of it taken in), not behind its back on the engine.
    pub fn edit(&mut self, ops: Vec<rota::domain::Op>) {
        let what = "an edit".to_string();
        for a in perform(&self.engine, Effect::Edit { ops, what }) {
            self.act(a);
        }
    }

    /// Keys as the config file writes them, separated by spaces: `j j N`,
    /// `ctrl-r`, `esc`. `space` for a space.
    pub fn keys(&mut self, keys: &str) {
        for k in keys.split(' ').filter(|k| !k.is_empty()) {
            self.key(k);
        }
    }

    pub fn key(&mut self, k: &str) {
        let combo = KeyCombo::parse(k).unwrap_or_else(|e| panic!("{e}"));
        let ev = KeyEvent {
            code: combo.code,
            modifiers: combo.mods,
            kind: KeyEventKind::Press,
            state: KeyEventState::NONE,
        };
        if let Some(a) = action_for(&self.state, ev) {
            self.act(a);
        }
    }

    /// Types each character as a key press.
    pub fn type_text(&mut self, s: &str) {
        for c in s.chars() {
            let ev = KeyEvent::new(
                crossterm::event::KeyCode::Char(c),
                crossterm::event::KeyModifiers::NONE,
            );
            if let Some(a) = action_for(&self.state, ev) {
                self.act(a);
            }
        }
    }

    /// Feeds the engine's events in until `pred` holds (bounded).
    pub async fn until(&mut self, what: &str, pred: impl Fn(&State) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            while let Ok(e) = self.events.try_recv() {
                self.act(Action::Sync(e));
            }
            if pred(&self.state) {
                return;
            }
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Ok(e)) => self.act(Action::Sync(e)),
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => {
                    self.act(Action::Sync(SyncEvent::Resynced { seq: 0 }))
                }
                Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => {
                    panic!(
                        "timed out waiting for {what}; mode {:?}, message {:?}, outbox {:?}",
                        self.state.mode, self.state.message, self.state.outbox
                    )
                }
            }
        }
    }

    /// The code the editor shows for a person (by id) on a date.
    pub fn shows(&self, staff: &str, date: Date) -> Option<String> {
        self.state
            .view
            .read(|r| r.cell(staff, date).and_then(|(c, _)| c.map(str::to_string)))
    }

    /// The cursor as (person id, date).
    pub fn at(&self) -> (String, Date) {
        (
            self.state
                .person()
                .map(|p| p.id.clone())
                .unwrap_or_default(),
            self.state.cursor_date(),
        )
    }

    pub fn message(&self) -> String {
        self.state
            .message
            .as_ref()
            .map(|(m, _)| m.clone())
            .unwrap_or_default()
    }
}
