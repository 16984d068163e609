//! The real editor driven by random keys, as a person in a hurry would:
//! moves, codes (typed with Shift and after `i`), clears, undo and redo,
//! panels (history, conflicts, warnings, help, filter, manage and its
//! forms, requests), staff requests typed at `R`, blocks, pastes, jumps,
//! resizes, mouse clicks and Esc, weighted toward real use. Keys go through
//! the real key map and `update`; effects are carried out by the editor's
//! own `perform` against a real sync engine joined to a real hub on
//! 127.0.0.1, while a second editor writes the same roster. The engine's
//! events and the effects' results reach the editor in either order (as the
//! app loop may take them), and time passes on a clock of the test's.
//!
//! After every key: no panic; no panel waits on the hub past its time; the
//! rule findings equal a fresh evaluation and change only where an edit
//! wrote (a person's, or a date's staffing); the planning period changes
//! only by an edit of the settings; what was said shows whole on the
//! screen at its size; the cell under the cursor shows what the engine's
//! view holds; a viewer queues nothing. At the end both editors and the
//! hub hold the same roster.
//!
//! `ROTA_EDITOR_FUZZ_KEYS` sets the keys a run (default 1,200);
//! `ROTA_EDITOR_FUZZ_SEED` runs one seed and prints its keys. A seed
//! replays the same keys and the same orders; the hub's timing is real.

use crate::common;

use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use rota::domain::rules::{Finding, Findings, What};
use rota::domain::{Date, Target};
use rota::sync::{SyncEngine, SyncEvent};
use rota::tui::action::{Action, Effect};
use rota::tui::config::Config;
use rota::tui::effects::perform;
use rota::tui::state::{ANSWER_WAIT_MS, Mode, State};
use rota::tui::update::update;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// SplitMix64: small, fast, and the same sequence for the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

/// One thing the person does.
#[derive(Clone, Debug)]
enum Step {
    Key(KeyCode, KeyModifiers),
    Paste(String),
    Resize(u16, u16),
    Click(u16, u16),
}

fn key(c: char) -> Step {
    Step::Key(KeyCode::Char(c), KeyModifiers::NONE)
}

fn named(code: KeyCode) -> Step {
    Step::Key(code, KeyModifiers::NONE)
}

/// The next few steps, weighted toward real use, fitted to the mode.
fn steps(rng: &mut Rng, s: &State) -> Vec<Step> {
    let codes: Vec<String> = s.layout.codes.keys().cloned().collect();
    let text = |rng: &mut Rng, n: usize| -> Vec<Step> {
        const CHARS: &[char] = &[
            'a', 'e', 'N', 'D', '1', '2', '0', '-', ':', ' ', '夜', 'x', 's', 'O', 'F',
        ];
        (0..n).map(|_| key(*rng.pick(CHARS))).collect()
    };
    match &s.mode {
        Mode::Manage(m) if m.form.is_some() => {
            let n = rng.below(4);
            let mut out = text(rng, n);
            out.push(match rng.below(10) {
                0..=3 => named(KeyCode::Tab),
                4 => named(KeyCode::Backspace),
                5..=6 => named(KeyCode::Enter),
                7 => named(KeyCode::Up),
                _ => named(KeyCode::Esc),
            });
            return out;
        }
        Mode::Jump { .. } | Mode::Find { .. } | Mode::Pattern { .. } => {
            let n = rng.below(3);
            let mut out = text(rng, n);
            out.push(match rng.below(6) {
                0..=2 => named(KeyCode::Enter),
                3 => named(KeyCode::Down),
                4 => named(KeyCode::Backspace),
                _ => named(KeyCode::Esc),
            });
            return out;
        }
        Mode::Request(_) => {
            // A request typed whole (or nothing: it withdraws), a typo now
            // and then; Enter, or Esc.
            let mut out = vec![named(KeyCode::Backspace); rng.below(3)];
            let typed = *rng.pick(&["off", "off N 2, swap", "on D", "", "maybe", "off 9"]);
            out.extend(typed.chars().map(key));
            out.push(if rng.chance(80) {
                named(KeyCode::Enter)
            } else {
                named(KeyCode::Esc)
            });
            return out;
        }
        Mode::Normal => {}
        _ => {
            // A panel: its keys, and now and then out of it.
            const PANEL: &[char] = &['j', 'k', 'n', 'r', 'a', 'd', 'y', 'm', 't', 'J', 'K', 's'];
            return vec![match rng.below(12) {
                0..=5 => key(*rng.pick(PANEL)),
                6 => named(KeyCode::Tab),
                7 => named(KeyCode::Enter),
                8 => named(KeyCode::PageDown),
                _ => named(KeyCode::Esc),
            }];
        }
    }
    match rng.below(100) {
        0..=29 => {
            const MOVES: &[char] = &['h', 'j', 'k', 'l', 'w', 'b', 'G', 't', '!'];
            let mut out = vec![key(*rng.pick(MOVES))];
            if rng.chance(10) {
                out.push(named(*rng.pick(&[
                    KeyCode::PageDown,
                    KeyCode::PageUp,
                    KeyCode::Home,
                    KeyCode::End,
                ])));
            }
            out
        }
        30..=51 if !codes.is_empty() => {
            let code = rng.pick(&codes).clone();
            let mut out = Vec::new();
            if rng.chance(50) {
                out.push(key('i'));
                out.extend(code.chars().map(key));
                if s.keys_for_code(&code).ends_with("Enter") || rng.chance(10) {
                    out.push(named(KeyCode::Enter));
                }
            } else {
                for (i, part) in s.keys_for_code(&code).split(' ').enumerate() {
                    if i > 0 {
                        out.push(named(KeyCode::Enter));
                    } else {
                        out.extend(part.chars().map(key));
                    }
                }
            }
            out
        }
        52..=56 => vec![key('x')],
        57..=63 => vec![if rng.chance(70) {
            key('u')
        } else {
            Step::Key(KeyCode::Char('r'), KeyModifiers::CONTROL)
        }],
        64..=75 => {
            let mut out = vec![key(
                *rng.pick(&['H', 'c', 'e', '?', 'f', 'm', 'z', 'H', 'R', 'W'])
            )];
            if rng.chance(30) {
                out.push(named(KeyCode::Tab));
            }
            out
        }
        76..=82 => {
            let mut out = vec![key('v')];
            for _ in 0..rng.below(4) {
                out.push(key(*rng.pick(&['j', 'l', 'l'])));
            }
            out.push(match rng.below(4) {
                0 => key('y'),
                1 => key('x'),
                2 => key('p'),
                _ => match codes.first() {
                    Some(c) => key(c.chars().next().unwrap_or('D').to_ascii_uppercase()),
                    None => key('y'),
                },
            });
            out
        }
        83..=84 => {
            let pick = |rng: &mut Rng| {
                if codes.is_empty() || rng.chance(15) {
                    "zz".to_string()
                } else {
                    rng.pick(&codes).clone()
                }
            };
            vec![Step::Paste(format!(
                "{}\t{}\n{}\t",
                pick(rng),
                pick(rng),
                pick(rng)
            ))]
        }
        85..=87 => vec![Step::Resize(
            20 + rng.below(231) as u16,
            5 + rng.below(66) as u16,
        )],
        88..=91 => {
            let mut out = vec![key('g')];
            let targets = [
                "24",
                "14/12",
                "1/1",
                "2027-03-10",
                "31.12.",
                "ann",
                "s1",
                "zz",
            ];
            out.extend(rng.pick(&targets).chars().map(key));
            out.push(named(KeyCode::Enter));
            out
        }
        92..=93 => vec![Step::Click(
            rng.below(s.size.0 as usize) as u16,
            rng.below(s.size.1 as usize) as u16,
        )],
        94..=95 => vec![
            key('s'),
            key('D'),
            key(','),
            key('N'),
            named(KeyCode::Enter),
        ],
        _ => vec![named(KeyCode::Esc)],
    }
}

/// A finding's identity, for comparing two evaluations: a hash of its
/// rule, dates, people and what it found (cheap on 10,000 findings).
type Key = u64;

fn key_of(f: &Finding) -> Key {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (&f.rule, f.first, f.last, &f.staff).hash(&mut h);
    match &f.what {
        What::Under {
            code,
            n,
            min,
            group,
        } => (0u8, code, n, min, group).hash(&mut h),
        What::Over {
            code,
            n,
            max,
            group,
        } => (1u8, code, n, max, group).hash(&mut h),
        What::Sequence { first, then, .. } => (2u8, first, then).hash(&mut h),
        What::Run {
            days,
            worked,
            bound,
            ..
        } => (3u8, days, worked, bound_bits(bound)).hash(&mut h),
        What::Amount {
            unit, value, bound, ..
        } => (4u8, unit, value.to_bits(), bound_bits(bound)).hash(&mut h),
        What::Request {
            wish, weight, has, ..
        } => (5u8, wish, weight, has).hash(&mut h),
    }
    h.finish()
}

fn bound_bits(b: &rota::domain::rules::Bound) -> (u8, u64) {
    match b {
        rota::domain::rules::Bound::AtMost(m) => (0u8, m.to_bits()),
        rota::domain::rules::Bound::AtLeast(m) => (1u8, m.to_bits()),
    }
}

fn all_findings(f: &Findings) -> BTreeSet<Key> {
    f.all().into_iter().map(key_of).collect()
}

/// Enough of a finding to tell whether an edit explains its going.
struct Brief {
    rule: String,
    first: Date,
    staff: Vec<String>,
    staffing: bool,
}

fn briefs(f: &Findings) -> std::collections::HashMap<Key, Brief> {
    f.all()
        .into_iter()
        .map(|f| {
            let brief = Brief {
                rule: f.rule.clone(),
                first: f.first,
                staff: f.staff.clone(),
                staffing: matches!(f.what, What::Under { .. } | What::Over { .. }),
            };
            (key_of(f), brief)
        })
        .collect()
}

/// What the actions of one step wrote, as far as findings go.
#[derive(Default)]
struct Touched {
    /// Anything may have changed (records, a resync, a dropped edit).
    anything: bool,
    people: BTreeSet<String>,
    dates: BTreeSet<Date>,
    settings: bool,
}

impl Touched {
    fn targets(&mut self, t: Option<&[Target]>) {
        let Some(t) = t else {
            self.anything = true;
            return;
        };
        for t in t {
            match t {
                Target::Cell { staff, date } => {
                    self.people.insert(staff.clone());
                    self.dates.insert(*date);
                }
                Target::Settings => {
                    self.settings = true;
                    self.anything = true;
                }
                _ => self.anything = true,
            }
        }
    }

    fn action(&mut self, a: &Action) {
        match a {
            Action::Edited { targets, .. } => self.targets(targets.as_deref()),
            Action::Sync(SyncEvent::Remote { changes, count, .. }) => {
                if changes.len() < *count {
                    self.anything = true;
                    self.settings = true;
                }
                let t: Vec<Target> = changes.iter().map(|c| c.target()).collect();
                self.targets(Some(&t));
            }
            Action::Sync(
                SyncEvent::Resynced { .. }
                | SyncEvent::Conflicted { .. }
                | SyncEvent::Rejected { .. },
            ) => {
                self.anything = true;
                self.settings = true;
            }
            _ => {}
        }
    }

    /// Whether a finding that came or went is one these writes can move:
    /// a staffing finding of a date written, or a finding about a person
    /// written.
    fn explains(&self, staffing: bool, first: Date, staff: &[String]) -> bool {
        if staffing {
            self.dates.contains(&first)
        } else {
            staff.iter().any(|p| self.people.contains(p))
        }
    }
}

struct Fuzz {
    name: &'static str,
    rng: Rng,
    engine: Arc<SyncEngine>,
    state: State,
    events: broadcast::Receiver<SyncEvent>,
    /// The test's clock (Unix ms), moved on by each step.
    clock: i64,
    trace: Vec<String>,
    /// Since when (the test's clock) a panel has waited for the hub.
    waiting_since: Option<i64>,
    /// The questions the hub has answered (or refused): a panel must not
    /// wait for one of these.
    answered: BTreeSet<u64>,
    /// Steps between two comparisons with a fresh evaluation (one on a
    /// large roster costs a good part of a second in a debug build).
    fresh_every: usize,
}

impl Fuzz {
    fn new(name: &'static str, engine: SyncEngine, seed: u64, today: Date) -> Fuzz {
        let engine = Arc::new(engine);
        let events = engine.subscribe();
        let clock = 1_796_115_600_000;
        let mut state = State::new(
            &engine.config().roster,
            &engine.config().user,
            engine.view_reader(),
            Config::default(),
            today,
            clock,
        );
        let mut f = Fuzz {
            name,
            rng: Rng(seed),
            engine,
            state: {
                update(&mut state, Action::Resize(100, 30));
                state
            },
            events,
            clock,
            trace: Vec::new(),
            waiting_since: None,
            answered: BTreeSet::new(),
            fresh_every: 1,
        };
        for a in rota::tui::effects::startup(&f.engine.clone()) {
            f.deliver(a);
        }
        f.deliver(Action::Sync(SyncEvent::Resynced { seq: 0 }));
        f
    }

    /// An action, and what its effects give back at once (in order).
    fn deliver(&mut self, a: Action) -> Vec<Action> {
        if let Action::Sync(
            SyncEvent::History { req, .. }
            | SyncEvent::Users { req, .. }
            | SyncEvent::RequestFailed { req, .. },
        ) = &a
        {
            self.answered.insert(*req);
        }
        self.state.now = self.clock;
        // What others do never moves what this person sees: the cursor
        // stays on its person and date, the first date shown on its own.
        let remote = matches!(&a, Action::Sync(SyncEvent::Remote { .. }));
        let seen = |s: &State| {
            (
                s.person().map(|p| p.id.clone()),
                s.cursor_date(),
                s.layout.date(s.left),
            )
        };
        let before = seen(&self.state);
        let mut out = Vec::new();
        for e in update(&mut self.state, a) {
            match e {
                Effect::Suspend | Effect::Redraw => {}
                other => out.extend(perform(&self.engine, other)),
            }
        }
        let after = seen(&self.state);
        let still_there = before
            .0
            .as_ref()
            .is_some_and(|id| self.state.layout.person_index(id).is_some());
        if remote && still_there && before != after && self.state.size.0 >= 40 {
            self.fail(&format!(
                "a colleague's edit moved what is seen: {before:?} -> {after:?}"
            ));
        }
        out
    }

    fn fail(&self, what: &str) -> ! {
        let tail: Vec<&String> = self.trace.iter().rev().take(40).rev().collect();
        panic!(
            "{}: at step {}: {what}\nlast steps (ROTA_EDITOR_FUZZ_SEED replays): {tail:?}\nmode {:?}\nmessage {:?}",
            self.name,
            self.trace.len(),
            self.state.mode,
            self.state.message
        );
    }

    /// One step: its actions, their effects, the engine's events, in an
    /// order chosen by the seed; then time passes.
    async fn step(&mut self, step: Step) -> Touched {
        self.trace.push(format!("{step:?}"));
        let action = match &step {
            Step::Key(code, mods) => {
                rota::tui::keys::action_for(&self.state, KeyEvent::new(*code, *mods))
            }
            Step::Paste(t) => Some(Action::Paste(t.clone())),
            Step::Resize(w, h) => Some(Action::Resize(*w, *h)),
            Step::Click(x, y) => Some(Action::Click { x: *x, y: *y }),
        };
        let mut touched = Touched::default();
        let Some(action) = action else {
            return touched;
        };
        // Quitting and suspending end or stop the editor: not here.
        if matches!(action, Action::Do(rota::tui::action::Command::Quit)) {
            return touched;
        }
        touched.action(&action);
        let mut held = Vec::new();
        let mut queue = vec![action];
        let mut requests = Vec::new();
        while let Some(a) = queue.pop() {
            self.state.now = self.clock;
            for e in update(&mut self.state, a) {
                match &e {
                    Effect::History { req, .. }
                    | Effect::AskUsers { req }
                    | Effect::SetRole { req, .. } => requests.push(*req),
                    _ => {}
                }
                match e {
                    Effect::Suspend | Effect::Redraw => {}
                    other => held.extend(perform(&self.engine, other)),
                }
            }
        }
        let answers_first = self.rng.chance(50);
        if answers_first {
            // The hub's answers (and whatever else the engine says) first.
            self.wait_answers(&requests, &mut touched).await;
        }
        for a in held {
            touched.action(&a);
            let more = self.deliver(a);
            for m in more {
                touched.action(&m);
                self.deliver(m);
            }
        }
        self.drain(&mut touched);
        // Time passes: a highlight fades, now and then a question times out.
        self.clock += if self.rng.chance(3) {
            5_000 + self.rng.below(10_000) as i64
        } else {
            30 + self.rng.below(1500) as i64
        };
        self.state.now = self.clock;
        update(&mut self.state, Action::Tick);
        touched
    }

    /// Delivers the engine's events until each request has its answer (or
    /// a bounded wait passes: the hub may be slow; the editor's own
    /// timeout then speaks), then whatever else is there.
    async fn wait_answers(&mut self, requests: &[u64], touched: &mut Touched) {
        let mut left: BTreeSet<u64> = requests.iter().copied().collect();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while !left.is_empty() {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Ok(e)) => {
                    match &e {
                        SyncEvent::History { req, .. }
                        | SyncEvent::Users { req, .. }
                        | SyncEvent::RequestFailed { req, .. } => {
                            left.remove(req);
                        }
                        _ => {}
                    }
                    let a = Action::Sync(e);
                    touched.action(&a);
                    for m in self.deliver(a) {
                        touched.action(&m);
                        self.deliver(m);
                    }
                }
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => {
                    touched.anything = true;
                    self.deliver(Action::Sync(SyncEvent::Resynced { seq: 0 }));
                }
                _ => break,
            }
        }
        self.drain(touched);
    }

    fn drain(&mut self, touched: &mut Touched) {
        loop {
            match self.events.try_recv() {
                Ok(e) => {
                    let a = Action::Sync(e);
                    touched.action(&a);
                    for m in self.deliver(a) {
                        touched.action(&m);
                        self.deliver(m);
                    }
                }
                Err(broadcast::error::TryRecvError::Lagged(_)) => {
                    touched.anything = true;
                    self.deliver(Action::Sync(SyncEvent::Resynced { seq: 0 }));
                }
                Err(_) => return,
            }
        }
    }

    /// The screen at the state's size: each row's cells' symbols, by
    /// column (a wide character's second column is empty).
    fn screen(&self) -> Vec<Vec<String>> {
        let (w, h) = self.state.size;
        let mut t =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).expect("a terminal");
        let theme = rota::tui::theme::Theme::new(false);
        t.draw(|f| rota::tui::view::draw(f, &self.state, &theme))
            .expect("draws");
        let buf = t.backend().buffer();
        (0..h)
            .map(|y| {
                let mut row = Vec::with_capacity(w as usize);
                let mut skip = 0;
                for x in 0..w {
                    if skip > 0 {
                        skip -= 1;
                        row.push(String::new());
                        continue;
                    }
                    let sym = buf[(x, y)].symbol();
                    row.push(sym.to_string());
                    skip = unicode_width::UnicodeWidthStr::width(sym).saturating_sub(1);
                }
                row
            })
            .collect()
    }

    /// Waits (bounded) for the engine's next event and takes it and what
    /// follows: false when none came.
    async fn heard_more(&mut self, touched: &mut Touched) -> bool {
        match tokio::time::timeout(Duration::from_millis(500), self.events.recv()).await {
            Ok(Ok(e)) => {
                let a = Action::Sync(e);
                touched.action(&a);
                for m in self.deliver(a) {
                    touched.action(&m);
                    self.deliver(m);
                }
                self.drain(touched);
                true
            }
            _ => false,
        }
    }

    /// Every check a step must pass; gives back the findings as they are
    /// now (the next step's "before").
    async fn check(
        &mut self,
        before: &BTreeSet<Key>,
        before_findings: &std::collections::HashMap<Key, Brief>,
        period_before: Option<rota::domain::Period>,
        outbox_before: usize,
        touched: &mut Touched,
    ) -> std::collections::HashMap<Key, Brief> {
        // The findings equal a fresh evaluation of the view, once the
        // editor has heard of every change the view holds (the engine
        // writes the view before it tells: a change may be in the view
        // and its event still on its way).
        if self.trace.len().is_multiple_of(self.fresh_every) {
            let mut fresh = self.state.view.read(Findings::new);
            while all_findings(&self.state.findings) != all_findings(&fresh) {
                if !self.heard_more(touched).await {
                    self.fail("the findings kept step by step differ from a fresh evaluation");
                }
                fresh = self.state.view.read(Findings::new);
            }
        }
        let s = &self.state;
        let after = briefs(&s.findings);
        let now: BTreeSet<Key> = after.keys().copied().collect();
        // They changed only where an edit wrote.
        if !touched.anything && now != *before {
            for f in s.findings.all() {
                let staffing = matches!(f.what, What::Under { .. } | What::Over { .. });
                if !before.contains(&key_of(f)) && !touched.explains(staffing, f.first, &f.staff) {
                    self.fail(&format!(
                        "a finding came that no edit explains: {}",
                        f.message()
                    ));
                }
            }
            for (k, b) in before_findings {
                if !now.contains(k) && !touched.explains(b.staffing, b.first, &b.staff) {
                    self.fail(&format!(
                        "a finding went that no edit explains: rule {} on {} about {:?}",
                        b.rule, b.first, b.staff
                    ));
                }
            }
        }
        // The period changes only by an edit of the settings.
        let period = s.view.read(|r| r.period());
        let coded_before_none = period_before.is_none();
        if period != period_before && !touched.settings && !coded_before_none {
            self.fail(&format!(
                "the planning period moved without an edit of it: {period_before:?} -> {period:?}"
            ));
        }
        // No panel waits for an answer the hub has given.
        if let Some(w) = s.waiting().find(|w| self.answered.contains(&w.req)) {
            self.fail(&format!(
                "the hub answered question {}, and a panel still waits for it",
                w.req
            ));
        }
        // No panel waits on the hub past its time.
        let waiting = s.waiting().next().is_some()
            || matches!(&s.mode, Mode::History(p) if p.waiting.is_some() && p.problem.is_none());
        match (waiting, self.waiting_since) {
            (true, None) => self.waiting_since = Some(self.clock),
            (true, Some(t)) if self.clock - t > ANSWER_WAIT_MS + 2_000 => {
                self.fail("a panel waits on the hub past its time")
            }
            (false, _) => self.waiting_since = None,
            _ => {}
        }
        // A viewer queues nothing.
        if s.role() == Some("viewer") && self.engine.outbox().len() > outbox_before {
            self.fail("a viewer's key queued an edit");
        }
        // What was said shows whole.
        let cursor_cell = || {
            self.state
                .person()
                .and_then(|p| self.engine.cell(&p.id, self.state.cursor_date()))
        };
        let held_before = cursor_cell();
        let cells = self.screen();
        let screen: Vec<String> = cells.iter().map(|r| r.concat()).collect();
        // The view may change as the screen is drawn (a colleague's edit
        // arrives): then the cell is not compared.
        let steady = held_before == cursor_cell();
        let flat = screen.join(" ");
        let flat: String = flat.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Some((m, _)) = &s.message
            && matches!(s.mode, Mode::Normal | Mode::Manage(_))
            && s.size.1 >= 8
            && s.users.token.is_none()
        {
            let m: String = m.split_whitespace().collect::<Vec<_>>().join(" ");
            if !flat.contains(&m) {
                self.fail(&format!(
                    "said, but not whole on the screen: {m}\n{}",
                    screen.join("\n")
                ));
            }
        }
        // The cell under the cursor shows what the engine's view holds.
        if steady
            && matches!(s.mode, Mode::Normal)
            && s.message.is_none()
            && s.anchor.is_none()
            && s.person().is_some()
        {
            let line = s.layout.line_of[s.cursor.person];
            let rows = s.grid_lines();
            let cols = s.grid_cols();
            if line >= s.top
                && line < s.top + rows
                && s.cursor.col >= s.left
                && s.cursor.col < s.left + cols
            {
                let want = held_before.clone().unwrap_or_else(|| "·".to_string());
                let y = 3 + (line - s.top);
                let x =
                    (s.name_cols() as usize + 1) + (s.cursor.col - s.left) * s.col_cols() as usize;
                let shown: String = cells
                    .get(y)
                    .map(|r| {
                        r.iter()
                            .skip(x)
                            .take(s.col_cols() as usize)
                            .map(String::as_str)
                            .collect()
                    })
                    .unwrap_or_default();
                if !shown.starts_with(&want) && want.is_ascii() {
                    self.fail(&format!(
                            "the cursor's cell shows `{shown}`, the engine's view holds `{want}` (x {x}, y {y}, left {}, col {})\n{}",
                            s.left,
                            s.cursor.col,
                            screen.join("\n")
                        ));
                }
            }
        }
        after
    }

    async fn run(&mut self, keys: usize, bob: &SyncEngine, mut midway: impl FnMut(usize)) {
        let staff: Vec<String> = bob.with_view(|r| r.staff().into_iter().map(|s| s.id).collect());
        let mut done = 0;
        let mut last = None;
        while done < keys {
            midway(done);
            for step in steps(&mut self.rng, &self.state) {
                // The findings as they were, to tell one that went.
                let before_findings = match last.take() {
                    Some(b) => b,
                    None => briefs(&self.state.findings),
                };
                let before: BTreeSet<Key> = before_findings.keys().copied().collect();
                let period_before = self.state.view.read(|r| r.period());
                let outbox_before = self.engine.outbox().len();
                let mut touched = self.step(step).await;
                last = Some(
                    self.check(
                        &before,
                        &before_findings,
                        period_before,
                        outbox_before,
                        &mut touched,
                    )
                    .await,
                );
                done += 1;
            }
            // The other editor writes near where this one looks, now and
            // then far before or after the grid's dates.
            if self.rng.chance(15) && !staff.is_empty() {
                let who = self.rng.pick(&staff).clone();
                let date = match self.rng.below(10) {
                    0 => self
                        .state
                        .layout
                        .first
                        .add_days(-1 - self.rng.below(300) as i64),
                    1 => self
                        .state
                        .layout
                        .date(self.state.layout.days + self.rng.below(300)),
                    _ => self
                        .state
                        .cursor_date()
                        .add_days(self.rng.below(7) as i64 - 3),
                };
                let codes: Vec<String> =
                    bob.with_view(|r| r.codes().into_iter().map(|c| c.code).collect());
                let code = if self.rng.chance(20) {
                    None
                } else {
                    Some(self.rng.pick(&codes).clone())
                };
                let _ = bob.set_cell(&who, date, code.as_deref());
            }
        }
    }
}

/// Waits until both engines have nothing unsent and the same seq as the
/// hub, then compares the three rosters' cells.
async fn converge(url: &str, a: &SyncEngine, b: &SyncEngine, token: Option<&str>) {
    for e in [a, b] {
        // Conflicted and rejected edits stay until someone decides: they
        // are not on the hub, and the views leave them out.
        wait_status(e, "everything sent", |s| s.pending == 0).await;
    }
    let (seq, hub) = match token {
        None => hub_cells(url).await,
        Some(t) => {
            let (_c, w) = Client::hello_as(url, t, "fuzz-check", "c-fuzz-check", "default").await;
            let rota::protocol::ServerMsg::Welcome {
                seq,
                snapshot,
                changes,
                ..
            } = w
            else {
                panic!("a welcome");
            };
            // The hub's roster as it sent it: a snapshot, or every change.
            let mut r = rota::domain::Roster::default();
            if let Some(snap) = snapshot {
                for (staff, date, code, _) in snap.cells.iter() {
                    r.load_cell(staff, *date, code.as_deref(), rota::domain::Stamp::none());
                }
            }
            for cs in changes.unwrap_or_default() {
                for c in &cs.changes {
                    r.apply_accepted(c, rota::domain::Stamp::none());
                }
            }
            let mut cells: Vec<CellRow> = r
                .cells()
                .into_iter()
                .map(|(s, d, c, _)| (s.to_string(), d, c.map(str::to_string)))
                .collect();
            cells.sort();
            (seq, cells)
        }
    };
    for e in [a, b] {
        wait_synced(e, seq).await;
    }
    let cells = |e: &SyncEngine| view_cells(e);
    let (ca, cb) = (cells(a), cells(b));
    let troubles = |e: &SyncEngine| e.status().conflicted + e.status().rejected;
    if troubles(a) == 0 && troubles(b) == 0 {
        assert_eq!(ca, cb, "the two editors differ");
        assert_eq!(ca, hub, "the editors differ from the hub");
    }
}

fn keys_a_run() -> usize {
    std::env::var("ROTA_EDITOR_FUZZ_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_200)
}

fn seed_of(default: u64) -> u64 {
    std::env::var("ROTA_EDITOR_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// On the demo (25 staff, six weeks, its rules), as an admin on a hub
/// without accounts, a colleague writing the while.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_keys_on_the_demo_keep_the_editor_sound() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    let today = d("2026-12-01");
    let ann_engine = start_engine(&hub.url(), "ann", &dir.path().join("ann"));
    wait_connected(&ann_engine).await;
    ann_engine
        .edit_script(rota::tui::demo_ops(today).unwrap(), "demo", false)
        .unwrap();
    wait_status(&ann_engine, "the demo saved", |s| s.pending == 0).await;
    let bob = start_engine(&hub.url(), "bob", &dir.path().join("bob"));
    wait_synced(&bob, ann_engine.status().seq).await;
    let mut f = Fuzz::new("demo", ann_engine, seed_of(0xDE30), today);
    let t = std::time::Instant::now();
    f.run(keys_a_run(), &bob, |_| {}).await;
    eprintln!("demo: keys in {:.1} s", t.elapsed().as_secs_f64());
    converge(&hub.url(), &f.engine, &bob, None).await;
    eprintln!("demo: {} steps", f.trace.len());
}

/// On the benchmark's largest instance (150 staff, 364 days, 32
/// lower-case codes and 11,000 staffing rules), on a hub with accounts:
/// the editor starts as a viewer, and an admin makes it an editor midway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_keys_on_a_large_imported_roster_as_a_viewer_then_an_editor() {
    use rota::accounts::{AccountsFile, Grant, Role};
    let dir = tempfile::tempdir().unwrap();
    let hub_dir = dir.path().join("hub");
    let mut file = AccountsFile::open_in(&hub_dir).unwrap();
    let grant = |role| Grant::Role {
        roster: "default".into(),
        role,
    };
    let admin_token = file.add_user("olga", grant(Role::Admin)).unwrap();
    let ann_token = file.add_user("ann", grant(Role::Viewer)).unwrap();
    let hub = Hub::start(&hub_dir).await;
    let with_token = |user: &str, token: &str| {
        let mut c = engine_config(&hub.url(), user, &dir.path().join(user));
        c.token = Some(token.to_string());
        SyncEngine::start(c).unwrap()
    };
    let olga = with_token("olga", &admin_token);
    wait_connected(&olga).await;
    let t = std::time::Instant::now();
    let text = std::fs::read_to_string("tests/data/nrp/Instance24.txt").unwrap();
    let inst = rota::script::nrp::parse(&text).unwrap();
    let start = d("2026-11-02");
    let plan = olga.with_view(|r| rota::script::nrp::plan(&inst, start, r));
    olga.edit_script(plan.ops, "import", false).unwrap();
    let (st, ok) = olga
        .wait_until(Duration::from_secs(120), |s| s.pending == 0)
        .await;
    assert!(ok, "the import saved: {st:?}");
    let ann = with_token("ann", &ann_token);
    wait_synced(&ann, olga.status().seq).await;
    eprintln!("instance24: imported in {:.1} s", t.elapsed().as_secs_f64());
    let t = std::time::Instant::now();
    let mut f = Fuzz::new("instance24", ann, seed_of(0x1234_0024), d("2026-12-01"));
    f.fresh_every = 40;
    let keys = keys_a_run() / 3;
    let dir_hub = hub_dir.clone();
    let mut promoted = false;
    f.run(keys, &olga, |done| {
        if !promoted && done >= keys / 2 {
            promoted = true;
            AccountsFile::open_in(&dir_hub)
                .unwrap()
                .set_role("ann", "default", Some(Role::Editor))
                .unwrap();
        }
    })
    .await;
    eprintln!("instance24: keys in {:.1} s", t.elapsed().as_secs_f64());
    converge(&hub.url(), &f.engine, &olga, Some(&admin_token)).await;
    eprintln!("instance24: {} steps", f.trace.len());
}
