//! What flows through the editor: a key's [`Command`], the [`Action`]s
//! `update` takes (from keys, the mouse, the sync engine, the timer), and
//! the [`Effect`]s it asks the app loop to carry out. Plain data, no logic:
//! the key map makes actions, `update` takes them, `effects` makes them.

use crossterm::event::{KeyCode, KeyModifiers};
use rota_client::{OutboxEntry, SyncEvent};
use rota_core::domain::{Op, Target};
use rota_core::protocol::{Cursor, HistoryQuery, PresenceInfo};

/// What a key in the grid asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Command {
    Left,
    Right,
    Up,
    Down,
    WeekForward,
    WeekBack,
    PageUp,
    PageDown,
    FirstDate,
    LastDate,
    FirstPerson,
    LastPerson,
    Today,
    Jump,
    Clear,
    Undo,
    Redo,
    NextConflict,
    History,
    Help,
    Quit,
    Redraw,
    Suspend,
    Reconnect,
    NextWarning,
    CoverFold,
    Select,
    SelectLeft,
    SelectRight,
    SelectUp,
    SelectDown,
    Yank,
    Paste,
    CopyLastWeek,
    Pattern,
    Find,
    FindNext,
    Filter,
    Manage,
    /// Type a code, whatever its case or script (`i` then `d1`).
    EnterCode,
    /// List the rule warnings.
    Warnings,
    /// Enter, change or withdraw the request of the cell under the cursor.
    Request,
    /// List the requests of the cursor's person (or date).
    Requests,
    /// List the published shifts of the cursor's person (staff: their
    /// own) from today, as `rota --mine` prints them.
    Shifts,
    /// Step to the next (previous) cell that differs from what staff were
    /// shown.
    NextUnpublished,
    PreviousUnpublished,
    /// Publish the block's dates, or a range asked for (admins).
    Publish,
    /// Propose a fill of the block's empty cells (or the planning
    /// period's): the search runs off the screen's thread.
    Fill,
    /// Accept the proposals in the block (or all of them) as one edit.
    AcceptProposals,
    /// Discard the proposals in the block (or all of them).
    DiscardProposals,
}

/// A key in a text prompt (code entry, jump).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    Char(char),
    Back,
    Enter,
    Tab,
    Esc,
    Up,
    Down,
    /// Rub out all that is typed (Ctrl-u, at the request prompt).
    Clear,
}

/// A key in a panel (help, conflicts, history, a question).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PanelKey {
    Close,
    Up,
    Down,
    KeepMine,
    KeepTheirs,
    Dismiss,
    Next,
    More,
    Yes,
    No,
    /// Enter on a list: take the selected line.
    Choose,
    NextTab,
    PreviousTab,
    Add,
    Remove,
    MoveUp,
    MoveDown,
    /// Ask the hub again (a question that failed or went unanswered).
    Retry,
    PageUp,
    PageDown,
    /// The first line of a list or panel.
    Home,
    /// The last.
    End,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Do(Command),
    Input(Input),
    Panel(PanelKey),
    /// The first key of two was pressed.
    Prefix(KeyCode, KeyModifiers),
    /// The first key's own command, then this key.
    PrefixThen(Command, KeyCode, KeyModifiers),
    /// A key that means nothing here.
    Unbound(String),
    Click {
        x: u16,
        y: u16,
    },
    /// The mouse moved with its left button down: the block grows.
    Drag {
        x: u16,
        y: u16,
    },
    /// Text pasted into the terminal (bracketed paste).
    Paste(String),
    Wheel {
        down: bool,
        sideways: bool,
    },
    Resize(u16, u16),
    /// Time passed (a highlight fades, a countdown moves).
    Tick,
    Sync(SyncEvent),
    /// The outbox and the others, as the engine has them now.
    Outbox(Vec<OutboxEntry>),
    Others(Vec<PresenceInfo>),
    /// An edit was made (None: it changed nothing). `targets`: what it
    /// wrote, when known (None: look at everything again).
    Edited {
        op_id: Option<u64>,
        what: String,
        targets: Option<Vec<Target>>,
        /// Move the cursor to the first cell it wrote (an undo or a redo:
        /// the user sees what came back).
        reveal: bool,
    },
    /// An edit or a request was refused before it reached the hub.
    Failed(String),
    /// Undo would overwrite this many changes by others.
    UndoChangedSince(String),
    /// A question to the hub (history, users) could not be put: why.
    NotAsked {
        req: u64,
        message: String,
    },
    /// A member of staff's published shifts changed since they last
    /// looked: what, in a sentence.
    ShiftsChanged(String),
    /// The fill's search: the best so far.
    FillProgress(crate::fill::Progress),
    /// The fill's search ended (its time up, or stopped): what it proposes.
    FillDone(crate::fill::Outcome),
}

/// What `update` asks the app loop to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Compare a member of staff's published shifts from today with what
    /// this editor last showed them, keep what it shows now, and say what
    /// changed.
    CheckShifts {
        staff: String,
        /// Today, as the editor has it.
        from: rota_core::domain::Date,
        /// A publication came while they look (else: they open the roster).
        live: bool,
    },
    Edit {
        ops: Vec<Op>,
        what: String,
    },
    Undo {
        anyway: bool,
    },
    Redo,
    KeepMine(u64),
    KeepTheirs(u64),
    Dismiss(u64),
    ShareCursor(Option<Cursor>),
    /// Ask the hub for a page of history, under the id the editor waits for.
    History {
        req: u64,
        query: HistoryQuery,
    },
    /// Ask the hub for the roster's users.
    AskUsers {
        req: u64,
    },
    /// Change a user's role on the roster, or add a user.
    SetRole {
        req: u64,
        change: RoleChange,
    },
    /// Stop waiting out the backoff.
    Reconnect,
    /// Run the fill's search (off the screen's thread), its progress and
    /// outcome coming back as actions.
    Fill(crate::fill::Ask),
    /// Stop the fill's search: it ends with the best so far.
    StopFill,
    Suspend,
    Redraw,
}

/// What a filled user form asks the hub for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleChange {
    pub user: String,
    /// None takes the role away.
    pub role: Option<String>,
    /// A new user: the hub answers with their token.
    pub create: bool,
    /// With the `staff` role: the staff row they are bound to.
    pub staff: Option<String>,
}
