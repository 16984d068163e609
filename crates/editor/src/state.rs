//! The editor's state: what the screen shows and where the cursor is. The
//! roster itself is read from the sync engine's view (a [`ViewReader`]);
//! the state keeps only the layout (rows, dates, codes), the outbox as last
//! heard, and what the user is doing. Changed only by `update`.

use super::config::{Advance, Config};
use super::keymap::Keymap;
pub use super::layout::{
    CodeLook, Filter, Layout, Line, Person, REACH_YEARS, REQUEST_TOTALS_COLS, TOTALS_COLS,
    count_code, reach, totals_of,
};
use super::typing::{same_char, starts_with_typed};
use crossterm::event::{KeyCode, KeyModifiers};
use rota_client::{ConnState, EntryState, OutboxEntry, ViewReader};
use rota_core::domain::Date;
use rota_core::domain::rules::{Findings, Totals};
use rota_core::protocol::{Cursor, HistoryEntry};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What the user is doing.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    Normal,
    /// Typing a code into the cell under the cursor. `opened` when `i`
    /// opened it: then only Enter or Esc close it (a first letter typed
    /// in the grid closes it too when rubbed out).
    Entry {
        typed: String,
        opened: bool,
    },
    /// Typing a date or part of a name.
    Jump {
        query: String,
        selected: usize,
    },
    Help {
        scroll: usize,
    },
    /// Stepping through conflicted and rejected edits.
    Conflicts {
        index: usize,
    },
    History(HistoryPanel),
    /// Undo would overwrite someone else's change: ask.
    ConfirmUndo {
        question: String,
    },
    /// Typing a pattern to lay over the block.
    Pattern {
        typed: String,
    },
    /// Typing part of a name; the cursor follows the first match.
    Find {
        query: String,
    },
    /// Choosing who the grid shows.
    Filter {
        selected: usize,
    },
    /// Staff, codes and rules, and their forms.
    Manage(super::forms::Manage),
    /// The rule warnings, listed.
    Warnings(WarningsPanel),
    /// Typing the request of the cell under the cursor (`R`).
    Request(RequestPrompt),
    /// A person's or a date's requests, listed (`W`).
    Requests(RequestsPanel),
    /// A person's published shifts from today, as `rota --mine` (`M`).
    Shifts(ShiftsPanel),
    /// Publishing a date range (`P`): its dates, a note, then yes or no.
    Publish(PublishPrompt),
}

/// The publish prompt, stage by stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublishPrompt {
    /// Typing the range (filled in with the planning period).
    Range { typed: String },
    /// Typing the note staff are told (optional).
    Note { from: Date, to: Date, typed: String },
    /// Asking: y publishes, n or Esc does not.
    Confirm {
        from: Date,
        to: Date,
        note: String,
        /// The question, as asked ("Publish … as publication 3? y/n").
        question: String,
    },
}

/// The request prompt: for whom, which date, and what is typed so far
/// (`off N 2, school run`; empty withdraws).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestPrompt {
    pub staff: String,
    pub date: Date,
    pub typed: String,
}

/// The list of requests: of a person (the cursor's when opened) or of a
/// date (Tab switches), and the line selected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestsPanel {
    pub listing: crate::requests::Listing,
    /// The person and date of the cursor when opened, for Tab.
    pub staff: String,
    pub date: Date,
    pub selected: usize,
}

/// A person's published shifts: whose, from which date (the editor's
/// today when opened), and how far scrolled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShiftsPanel {
    pub staff: String,
    pub from: Date,
    pub scroll: usize,
}

/// The list of rule warnings: of the dates on screen, or all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WarningsPanel {
    pub all: bool,
    pub selected: usize,
}

/// How long the editor waits for the hub to answer a question (history,
/// users) before it says so and offers to ask again.
pub const ANSWER_WAIT_MS: i64 = 10_000;

/// A question put to the hub and not yet answered: its id, and when the
/// editor stops waiting (Unix ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Asked {
    pub req: u64,
    pub until: i64,
}

/// The roster's users as the hub last listed them (the manage panel's
/// users tab).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsersList {
    pub users: Vec<rota_core::protocol::RosterUser>,
    /// The request waiting for an answer.
    pub waiting: Option<Asked>,
    /// Why there is no list (offline, not an admin, no accounts...).
    pub problem: Option<String>,
    /// A user being added: their token comes with the answer.
    pub creating: Option<String>,
    /// A new user's token, shown until the panel closes: (user, token).
    pub token: Option<(String, String)>,
}

/// The history of one cell, as pages arrive from the hub.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryPanel {
    pub staff: String,
    pub date: Date,
    pub entries: Vec<HistoryEntry>,
    /// Cursor for the next older page; None at the end.
    pub next: Option<String>,
    /// The request waiting for an answer.
    pub waiting: Option<Asked>,
    /// Why there is nothing (offline, an error).
    pub problem: Option<String>,
    pub scroll: usize,
}

/// Display columns of text: East Asian ambiguous characters count 2 when
/// the terminal draws them so.
pub use rota_core::text::text_cols;

/// How an edit of ours stands, for a cell it writes.
#[derive(Clone, Debug, PartialEq)]
pub enum Mark {
    Pending,
    /// Someone else wrote it first: their value, who and when.
    Conflict {
        op_id: u64,
        mine: Option<String>,
        theirs: Option<String>,
        user: String,
        at: i64,
    },
    Rejected {
        op_id: u64,
        reason: String,
    },
}

/// Another editor on this roster.
#[derive(Clone, Debug, PartialEq)]
pub struct Other {
    pub user: String,
    pub cursor: Option<Cursor>,
}

/// Where the grid's cursor is: a person (index into the layout's staff)
/// and a date (column from the layout's first date).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub person: usize,
    pub col: usize,
}

/// How long a colleague's change stays highlighted, strongly then faintly.
pub const FLASH_STRONG_MS: i64 = 1_000;
pub const FLASH_MS: i64 = 3_000;

#[derive(Debug)]
pub struct State {
    /// The roster's users, for the manage panel's users tab.
    pub users: UsersList,
    /// The id the next question to the hub goes under.
    pub next_req: u64,
    /// Who the hub says this editor is, and its role on the roster.
    pub access: rota_client::Access,
    pub roster_name: String,
    pub user: String,
    pub view: ViewReader,
    pub config: Config,
    pub keymap: Keymap,
    pub layout: Layout,
    pub cursor: Pos,
    /// First line and first date column on screen.
    pub top: usize,
    pub left: usize,
    /// The terminal's size.
    pub size: (u16, u16),
    pub today: Date,
    /// Unix ms, set by the app loop before each action.
    pub now: i64,
    /// The local time zone's offset from UTC in seconds, for times shown.
    pub utc_offset: i32,
    pub conn: ConnState,
    /// When the connection was last lost (Unix ms), for "offline since".
    pub offline_since: Option<i64>,
    /// A member of staff's shifts were compared with what they last saw
    /// (once a session, when first connected and bound to a row).
    pub shifts_checked: bool,
    /// A new role that changes what the editor is sent, to be said again
    /// once connected anew (the hub starts the connection over for it).
    pub role_news: Option<String>,
    /// When the next connection attempt is due (Unix ms).
    pub retry_at: Option<i64>,
    pub outbox: Vec<OutboxEntry>,
    /// The desk's version `outbox` and `others` were read at.
    pub desk_seen: u64,
    /// The cells our outbox writes, and how each stands.
    pub marks: HashMap<String, BTreeMap<Date, Mark>>,
    /// Cells others changed a moment ago: when, and who.
    pub flashes: HashMap<String, BTreeMap<Date, (i64, String)>>,
    pub others: BTreeMap<u64, Other>,
    pub mode: Mode,
    pub message: Option<(String, bool)>,
    /// A first key of two (`g` of `g g`).
    pub prefix: Option<(KeyCode, KeyModifiers)>,
    /// Under the filter "people with warnings", who has been shown since
    /// it was chosen: a person whose last warning an edit puts right
    /// stays on screen (rows do not vanish under the cursor) until the
    /// filter is chosen again.
    pub warned_shown: BTreeSet<String>,
    /// `q` was pressed with edits unsaved: a second `q` quits.
    pub quit_armed: bool,
    /// `q` was pressed while connected with edits on their way: the editor
    /// quits once the hub has them all (any other key stays).
    pub quit_when_saved: bool,
    /// Keys (and clicks, pastes) taken so far: an answer that would move
    /// the cursor does so only when no key came after what asked for it.
    pub keys_taken: u64,
    /// `keys_taken` when an undo or redo was asked for: its answer shows
    /// the cell it brought back unless the user has moved on since.
    pub reveal_at: Option<u64>,
    pub quit: bool,
    /// Something changed since the last frame.
    pub dirty: bool,
    /// The roster's rule findings, kept up to date edit by edit.
    pub findings: Findings,
    /// The cells that differ from what staff were shown, kept up to date
    /// edit by edit as the findings are.
    pub unpublished: crate::publish::Unpublished,
    /// The finding `!` last stepped to.
    pub finding_at: Option<usize>,
    /// How coverage shows; None: per code when the rows fit in a third of
    /// the grid, else folded.
    pub coverage_shown: Option<CoverageShown>,
    /// The other corner of the selected block (the cursor is one corner).
    pub anchor: Option<Pos>,
    /// What `y` copied: rows of codes (None: an empty cell).
    pub register: Vec<Vec<Option<String>>>,
    /// Who the grid shows.
    pub filter: Filter,
    /// What `/` last looked for (`n` looks again).
    pub last_find: Option<String>,
    /// A fill's search is running: its best so far (None until it says).
    pub filling: Option<Option<crate::fill::Progress>>,
}

/// How the coverage rows under the grid show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoverageShown {
    /// A row per code (and group) with a staffing rule.
    PerCode,
    /// One row: how many staffing rules are under (or over) each date.
    Folded,
    Hidden,
}

/// A block of the grid: people `top..=bottom` (layout indices) and date
/// columns `left..=right`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub top: usize,
    pub bottom: usize,
    pub left: usize,
    pub right: usize,
}

impl Block {
    pub fn contains(&self, p: Pos) -> bool {
        (self.top..=self.bottom).contains(&p.person) && (self.left..=self.right).contains(&p.col)
    }
    pub fn people(&self) -> usize {
        self.bottom - self.top + 1
    }
    pub fn days(&self) -> usize {
        self.right - self.left + 1
    }
}

impl State {
    pub fn new(
        roster_name: &str,
        user: &str,
        view: ViewReader,
        config: Config,
        today: Date,
        now: i64,
    ) -> State {
        let (layout, findings, unpublished) = view.read(|r| {
            let findings = Findings::new(r);
            let unpublished = crate::publish::Unpublished::new(r);
            (
                Layout::build(
                    r,
                    today,
                    &config,
                    &Filter::Everyone,
                    &findings,
                    &BTreeSet::new(),
                ),
                findings,
                unpublished,
            )
        });
        let keymap = Keymap::new(&config.keys);
        let mut s = State {
            roster_name: roster_name.to_string(),
            user: user.to_string(),
            view,
            keymap,
            layout,
            cursor: Pos::default(),
            top: 0,
            left: 0,
            size: (80, 24),
            today,
            now,
            utc_offset: 0,
            users: UsersList::default(),
            next_req: 1,
            access: Default::default(),
            conn: ConnState::Offline {
                reason: "not connected yet".into(),
            },
            offline_since: None,
            shifts_checked: false,
            role_news: None,
            retry_at: None,
            outbox: Vec::new(),
            marks: HashMap::new(),
            flashes: HashMap::new(),
            others: BTreeMap::new(),
            mode: Mode::Normal,
            message: None,
            prefix: None,
            desk_seen: 0,
            quit_armed: false,
            warned_shown: BTreeSet::new(),
            quit_when_saved: false,
            keys_taken: 0,
            reveal_at: None,
            quit: false,
            dirty: true,
            findings,
            unpublished,
            finding_at: None,
            coverage_shown: None,
            anchor: None,
            register: Vec::new(),
            filter: Filter::Everyone,
            last_find: None,
            filling: None,
            config,
        };
        // Today, or the planning period's first day when today is not in
        // it (a roster planned for next month or next year).
        let open_on = s
            .view
            .read(|r| r.period())
            .filter(|p| today < p.from || today > p.to)
            .map_or(today, |p| p.from);
        if let Some(col) = s.layout.col_of(open_on) {
            s.cursor.col = col;
            s.show_near_left(col);
        }
        s.scroll_to_cursor();
        s
    }

    /// Scrolls so that date column `col` is near the left: a quarter of
    /// the dates on screen before it (up to a week), the rest after.
    pub fn show_near_left(&mut self, col: usize) {
        let before = (self.grid_cols() / 4).min(7);
        self.left = col.saturating_sub(before);
        self.fill_the_screen();
    }

    /// Near the grid's last date, as many dates as fit stay on screen (no
    /// blank columns at the right while earlier dates could show).
    fn fill_the_screen(&mut self) {
        let cols = self.grid_cols().max(1);
        self.left = self.left.min(self.layout.days.saturating_sub(cols));
    }

    /// Columns a date takes on screen: the code, one for the state glyph
    /// (right after the code), one for the unpublished mark when the roster
    /// publishes and this editor sees the draft, one for a request's mark
    /// when the roster has requests, one blank between dates.
    pub fn col_cols(&self) -> u16 {
        self.layout.code_cols
            + 2
            + u16::from(self.marks_unpublished())
            + u16::from(self.layout.requests)
    }

    /// Whether the grid marks the cells that differ from what staff were
    /// shown: in a roster that publishes, for who sees the draft (an
    /// editor or an admin, or on a hub without accounts; staff and
    /// viewers see what was published).
    pub fn marks_unpublished(&self) -> bool {
        self.layout.publishes && self.sees_draft()
    }

    /// Whether this editor's role sees the draft (the roster's cells as
    /// they are): editors and admins (and a role not said yet).
    pub fn sees_draft(&self) -> bool {
        !matches!(self.role(), Some("viewer" | "staff"))
    }

    /// Lines of people the grid shows (the screen less header, two date
    /// lines, the coverage rows and the status line).
    pub fn grid_lines(&self) -> usize {
        (self.size.1.saturating_sub(4) as usize).saturating_sub(self.coverage_lines())
    }

    /// How coverage shows now: the user's choice, or what fits. A row per
    /// code shows only while the rows fit in half of the grid (a third
    /// unless asked for), so the people stay in view: else they fold.
    pub fn coverage_mode(&self) -> CoverageShown {
        let rows = self.findings.coverage_rows().len();
        let area = self.size.1.saturating_sub(4) as usize;
        match self.coverage_shown {
            Some(CoverageShown::PerCode) if rows > area / 2 => CoverageShown::Folded,
            Some(shown) => shown,
            None if rows <= area / 3 => CoverageShown::PerCode,
            None => CoverageShown::Folded,
        }
    }

    /// Lines the coverage rows take under the grid.
    pub fn coverage_lines(&self) -> usize {
        if self.findings.coverage_rows().is_empty() {
            return 0;
        }
        match self.coverage_mode() {
            CoverageShown::PerCode => self.findings.coverage_rows().len(),
            CoverageShown::Folded => 1,
            CoverageShown::Hidden => 0,
        }
    }

    /// Columns of the totals column at the right (0 when the screen is too
    /// narrow to spare them beside a week of dates).
    pub fn totals_cols(&self) -> u16 {
        let cols = if self.layout.requests {
            TOTALS_COLS + REQUEST_TOTALS_COLS
        } else {
            TOTALS_COLS
        };
        let need = self.name_cols() + 1 + cols + 7 * self.col_cols();
        if self.size.0 >= need { cols } else { 0 }
    }

    /// Dates the grid shows.
    pub fn grid_cols(&self) -> usize {
        let free = self
            .size
            .0
            .saturating_sub(self.name_cols() + 1 + self.totals_cols());
        (free / self.col_cols()) as usize
    }

    /// The first and last date on screen.
    pub fn dates_shown(&self) -> (Date, Date) {
        let cols = self.grid_cols().max(1);
        let last = (self.left + cols - 1).min(self.layout.days.saturating_sub(1));
        (self.layout.date(self.left), self.layout.date(last))
    }

    /// The selected block: from the anchor to the cursor.
    pub fn selection(&self) -> Option<Block> {
        let a = self.anchor?;
        let c = self.cursor;
        Some(Block {
            top: a.person.min(c.person),
            bottom: a.person.max(c.person),
            left: a.col.min(c.col),
            right: a.col.max(c.col),
        })
    }

    pub fn person(&self) -> Option<&Person> {
        self.layout.staff.get(self.cursor.person)
    }

    pub fn cursor_date(&self) -> Date {
        self.layout.date(self.cursor.col)
    }

    /// The request of the cell under the cursor, if it has one.
    pub fn cursor_request(&self) -> Option<rota_core::domain::Request> {
        let p = self.person()?;
        let d = self.cursor_date();
        self.view.read(|r| r.request(&p.id, d).cloned())
    }

    /// The code in the cell under the cursor.
    pub fn cursor_code(&self) -> Option<String> {
        let p = self.person()?;
        let d = self.cursor_date();
        self.view
            .read(|r| r.cell(&p.id, d).and_then(|(c, _)| c.map(str::to_string)))
    }

    /// Whether some code starts with `c` (ASCII letters in either case).
    /// Whether a key types a code here rather than run its command: an
    /// upper-case key (or any not a lower-case letter) that some code
    /// starts with, pressed alone (as the grid's key lookup takes it).
    pub fn key_taken(&self, k: &crate::keymap::KeyCombo) -> bool {
        k.prefix.is_none()
            && k.mods.is_empty()
            && matches!(k.code, crossterm::event::KeyCode::Char(c)
                if !c.is_ascii_lowercase() && self.code_starts_with(c))
    }

    /// The first key of `cmd` that is the command's here ("H", or "F2"
    /// when a code takes H), for hints; None when codes take them all.
    pub fn key_label(&self, cmd: crate::action::Command) -> Option<String> {
        self.keymap
            .keys_of(cmd)
            .iter()
            .find(|k| !self.key_taken(k))
            .map(|k| k.to_string())
    }

    pub fn code_starts_with(&self, c: char) -> bool {
        self.layout
            .codes
            .keys()
            .any(|k| k.chars().next().is_some_and(|f| same_char(f, c)))
    }

    /// Codes that start with what was typed.
    pub fn candidates(&self, typed: &str) -> Vec<&str> {
        self.layout
            .codes
            .keys()
            .filter(|k| starts_with_typed(k, typed))
            .map(String::as_str)
            .collect()
    }

    /// A person's worked shifts and paid hours from `from` to `to`.
    pub fn totals(&self, staff: &str, from: Date, to: Date) -> Totals {
        self.view.read(|r| {
            totals_of(
                &self.layout,
                r.row_between(staff, from, to).filter_map(|(_, c, _)| c),
            )
        })
    }

    pub fn mark(&self, staff: &str, date: Date) -> Option<&Mark> {
        self.marks.get(staff).and_then(|m| m.get(&date))
    }

    /// The colleague and how long ago, when a cell was changed a moment ago.
    pub fn flash(&self, staff: &str, date: Date) -> Option<(i64, &str)> {
        self.flashes
            .get(staff)
            .and_then(|m| m.get(&date))
            .map(|(at, who)| (self.now - at, who.as_str()))
            .filter(|(age, _)| *age < FLASH_MS)
    }

    /// Conflicted and rejected edits, oldest first.
    pub fn troubles(&self) -> Vec<&OutboxEntry> {
        self.outbox
            .iter()
            .filter(|e| e.state != EntryState::Pending)
            .collect()
    }

    /// (pending, conflicted, rejected) edits of ours.
    /// Columns of the names, at most a fifth of a narrow screen (10 at
    /// least): the dates are what a planner came for.
    pub fn name_cols(&self) -> u16 {
        self.layout.name_cols.min((self.size.0 / 5).max(10))
    }

    pub fn counts(&self) -> (usize, usize, usize) {
        rota_client::count_states(&self.outbox)
    }

    /// Widens the grid to take `date` (within reach of today: false when
    /// it is not). Whatever was on screen stays on the same dates: the
    /// cursor, the first date shown and the block's corner move with
    /// them when dates are added before the first.
    pub fn include(&mut self, date: Date) -> bool {
        let Some(shift) = self.layout.include(date, self.today) else {
            return false;
        };
        self.cursor.col += shift;
        self.left += shift;
        if let Some(a) = &mut self.anchor {
            a.col += shift;
        }
        true
    }

    /// Takes a new layout (the roster's people or dates changed), keeping
    /// the cursor on its person and date, the first date shown, and the
    /// block's corner on theirs.
    pub fn set_layout(&mut self, mut layout: Layout) {
        let person = self.person().map(|p| p.id.clone());
        let date = self.cursor_date();
        let left = self.layout.date(self.left);
        let anchor = self.anchor.map(|a| {
            (
                self.layout.staff.get(a.person).map(|p| p.id.clone()),
                self.layout.date(a.col),
            )
        });
        layout.include(date, self.today);
        self.cursor.person = person
            .and_then(|id| layout.person_index(&id))
            .unwrap_or(self.cursor.person)
            .min(layout.staff.len().saturating_sub(1));
        self.cursor.col = layout.col_of(date).unwrap_or(0);
        self.left = layout.col_of(left).unwrap_or(0).min(self.cursor.col);
        self.anchor = anchor.and_then(|(id, d)| {
            Some(Pos {
                person: layout.person_index(&id?)?,
                col: layout.col_of(d)?,
            })
        });
        self.layout = layout;
        self.scroll_to_cursor();
    }

    /// Keeps the cursor's cell on screen, and the screen full of people
    /// when there are enough to fill it.
    pub fn scroll_to_cursor(&mut self) {
        let line = self.layout.line_of.get(self.cursor.person).copied();
        let rows = self.grid_lines().max(1);
        self.top = self.top.min(self.layout.lines.len().saturating_sub(rows));
        if let Some(line) = line {
            // Show the group heading above the first person of a group.
            let want_top = if line > 0 && matches!(self.layout.lines[line - 1], Line::Group(_)) {
                line - 1
            } else {
                line
            };
            if want_top < self.top {
                self.top = want_top;
            } else if line >= self.top + rows {
                self.top = line + 1 - rows;
            }
        }
        let cols = self.grid_cols().max(1);
        if self.cursor.col < self.left {
            self.left = self.cursor.col;
        } else if self.cursor.col >= self.left + cols {
            self.left = self.cursor.col + 1 - cols;
        }
        self.fill_the_screen();
    }

    /// A new question to the hub: its id, and until when it is waited for.
    pub fn ask(&mut self) -> Asked {
        let req = self.next_req;
        self.next_req += 1;
        Asked {
            req,
            until: self.now + ANSWER_WAIT_MS,
        }
    }

    /// The questions to the hub waited for now.
    pub fn waiting(&self) -> impl Iterator<Item = Asked> + '_ {
        let history = match &self.mode {
            Mode::History(p) => p.waiting,
            _ => None,
        };
        history.into_iter().chain(self.users.waiting)
    }

    /// When the screen must be drawn again though nothing happens: a fading
    /// highlight, the retry countdown, a question the hub has not answered
    /// in time. None: wait for an event.
    pub fn next_wakeup(&self) -> Option<i64> {
        let mut next: Option<i64> = None;
        let mut at = |t: i64| next = Some(next.map_or(t, |n| n.min(t)));
        for w in self.waiting() {
            at(w.until);
        }
        for row in self.flashes.values() {
            for (when, _) in row.values() {
                let age = self.now - when;
                if age < FLASH_STRONG_MS {
                    at(when + FLASH_STRONG_MS);
                } else if age < FLASH_MS {
                    at(when + FLASH_MS);
                }
            }
        }
        if let Some(r) = self.retry_at
            && r > self.now
        {
            // The countdown shows whole seconds.
            at(self.now + 1000 - (r - self.now) % 1000);
        }
        next
    }

    /// The choices of the filter panel: everyone, people with warnings,
    /// then each group (read from the roster: the layout may be filtered).
    pub fn filter_choices(&self) -> Vec<Filter> {
        let mut groups: Vec<String> = self.view.read(|r| {
            r.staff()
                .into_iter()
                .filter(|s| s.active && !s.group.is_empty())
                .map(|s| s.group)
                .collect()
        });
        groups.sort();
        groups.dedup();
        let mut v = vec![Filter::Everyone, Filter::Warned];
        v.extend(groups.into_iter().map(Filter::Group));
        v
    }

    /// The editor's role on the roster, as the hub last said (None: not
    /// said yet; the hub decides).
    pub fn role(&self) -> Option<&str> {
        self.access.role.as_deref()
    }

    /// Why this editor's role does not allow an edit of `ops` (None: it
    /// does, or the role is not known yet). Cells and requests take an
    /// editor, anything else an admin, as the hub judges; a member of
    /// staff enters and withdraws their own row's requests only.
    pub fn refusal(&self, ops: &[rota_core::domain::Op]) -> Option<String> {
        use rota_core::domain::Role;
        let requests = ops.iter().all(|op| {
            matches!(
                op,
                rota_core::domain::Op::PutRequest { .. }
                    | rota_core::domain::Op::RemoveRequest { .. }
            )
        });
        let role = Role::parse(self.role()?)?;
        let own = self.access.staff.as_deref();
        if role.allows(ops, own) {
            return None;
        }
        let need = Role::needed_for(ops);
        let publishes = ops
            .iter()
            .any(|op| matches!(op, rota_core::domain::Op::Publish { .. }));
        let what = match need {
            Role::Editor if requests => "enter or withdraw requests",
            Role::Editor => "change cells",
            _ if publishes => "publish",
            _ => "change staff, shift codes, rules or settings",
        };
        Some(match own.filter(|_| role == Role::Staff && requests) {
            Some(me) => format!(
                "on roster {} you enter and withdraw your own requests only ({}); another's takes the {need} role",
                self.roster_name,
                self.name_of(me)
            ),
            None => format!(
                "to {what} on roster {} takes the {need} role; you are {} (ask an admin of the roster)",
                self.roster_name,
                role.with_article()
            ),
        })
    }

    /// A person's name (their id when the roster has no one by it).
    pub fn name_of(&self, staff: &str) -> String {
        self.view
            .read(|r| r.staff_member(staff).map(|s| s.name.clone()))
            .unwrap_or_else(|| staff.to_string())
    }

    /// The row a member of staff is bound to (None for any other role).
    pub fn own_row(&self) -> Option<&str> {
        self.access
            .staff
            .as_deref()
            .filter(|_| self.role() == Some("staff"))
    }

    /// Why this editor may not read the history of `staff`'s cells (None:
    /// it may): a member of staff reads their own row's only, as the hub
    /// judges.
    pub fn history_refusal(&self, staff: &str) -> Option<String> {
        match self.own_row() {
            Some(me) if me != staff => Some(format!(
                "as staff you see the history of your own row only ({})",
                self.name_of(me)
            )),
            _ => None,
        }
    }

    /// Whether the role allows changing cells.
    pub fn may_edit_cells(&self) -> bool {
        !matches!(self.role(), Some("viewer" | "staff"))
    }

    /// Whether the role allows managing staff, codes and rules.
    pub fn may_manage(&self) -> bool {
        self.role().is_none_or(|r| r == "admin")
    }

    /// The keys that type `code` from the grid: its first letter with
    /// Shift when it is a lower-case one (lower-case letters are commands),
    /// the rest as written, and Enter when a longer code starts with it.
    pub fn keys_for_code(&self, code: &str) -> String {
        let mut keys: String = code
            .chars()
            .enumerate()
            .map(|(i, c)| if i == 0 { c.to_ascii_uppercase() } else { c })
            .collect();
        let longer = self
            .layout
            .codes
            .keys()
            .any(|k| k.chars().count() > code.chars().count() && starts_with_typed(k, code));
        if longer {
            keys.push_str(" Enter");
        }
        keys
    }

    /// The advance setting, as a move.
    pub fn advance(&self) -> Advance {
        self.config.advance
    }
}
