//! Block edits: what filling, clearing, pasting, copying last week and
//! laying a pattern over a block write, as the cell operations of one edit
//! (all or nothing, one undo step, one conflict question). Reads the
//! state and the view; changes nothing: `update` sends what these return.

use super::state::{Block, Pos, State};
use super::typing::same_code;
use rota_core::domain::{Date, Op};

/// Rows of codes (None: an empty cell), as `y` copies and a paste brings.
pub type Cells = Vec<Vec<Option<String>>>;

/// The selected block, or the cursor's cell alone.
pub fn block_or_cursor(state: &State) -> Block {
    state.selection().unwrap_or(Block {
        top: state.cursor.person,
        bottom: state.cursor.person,
        left: state.cursor.col,
        right: state.cursor.col,
    })
}

fn set(staff: &str, date: Date, code: Option<String>) -> Op {
    Op::SetCell {
        staff: staff.to_string(),
        date,
        code,
        base: 0,
    }
}

/// The ids of the people a block covers, top to bottom.
fn people(state: &State, b: Block) -> Vec<String> {
    (b.top..=b.bottom)
        .filter_map(|p| state.layout.staff.get(p).map(|s| s.id.clone()))
        .collect()
}

/// Every cell of the block set to `code` (None clears), leaving out cells
/// that already hold it.
pub fn fill(state: &State, b: Block, code: Option<&str>) -> Vec<Op> {
    let ids = people(state, b);
    let (first, last) = (state.layout.date(b.left), state.layout.date(b.right));
    state.view.read(|r| {
        let mut ops = Vec::new();
        for id in &ids {
            let mut have: Vec<(Date, Option<&str>)> = r
                .row_between(id, first, last)
                .map(|(d, c, _)| (d, c))
                .collect();
            have.sort_by_key(|(d, _)| *d);
            for col in b.left..=b.right {
                let d = state.layout.date(col);
                let now = have
                    .binary_search_by_key(&d, |(d, _)| *d)
                    .ok()
                    .and_then(|i| have[i].1);
                if now != code {
                    ops.push(set(id, d, code.map(str::to_string)));
                }
            }
        }
        ops
    })
}

/// The codes of a block, row by row.
pub fn copy(state: &State, b: Block) -> Cells {
    let ids = people(state, b);
    state.view.read(|r| {
        ids.iter()
            .map(|id| {
                (b.left..=b.right)
                    .map(|col| {
                        r.cell(id, state.layout.date(col))
                            .and_then(|(c, _)| c.map(str::to_string))
                    })
                    .collect()
            })
            .collect()
    })
}

/// `cells` laid from `at` (its top left corner); what falls past the last
/// person or date is left out and counted.
pub fn paste(state: &State, at: Pos, cells: &Cells) -> (Vec<Op>, usize) {
    let mut ops = Vec::new();
    let mut cut = 0;
    for (i, row) in cells.iter().enumerate() {
        let Some(person) = state.layout.staff.get(at.person + i) else {
            cut += row.len();
            continue;
        };
        for (j, code) in row.iter().enumerate() {
            let col = at.col + j;
            if col >= state.layout.days {
                cut += 1;
                continue;
            }
            ops.push(set(&person.id, state.layout.date(col), code.clone()));
        }
    }
    (ops, cut)
}

/// The week (Monday to Sunday) holding `date`.
pub fn week_of(date: Date) -> (Date, Date) {
    use chrono::Datelike;
    let monday = date.add_days(-i64::from(date.0.weekday().num_days_from_monday()));
    (monday, monday.add_days(6))
}

/// The block's people (or the cursor's person): each day of the cursor's
/// week given the code of the same weekday the week before. Cells already
/// alike are left out.
pub fn last_week(state: &State) -> (Vec<Op>, (Date, Date)) {
    let b = block_or_cursor(state);
    let (monday, sunday) = week_of(state.cursor_date());
    let ids = people(state, b);
    let ops = state.view.read(|r| {
        let code = |id: &str, d: Date| r.cell(id, d).and_then(|(c, _)| c.map(str::to_string));
        let mut ops = Vec::new();
        for id in &ids {
            for i in 0..7 {
                let d = monday.add_days(i);
                let before = code(id, d.add_days(-7));
                if code(id, d) != before {
                    ops.push(set(id, d, before));
                }
            }
        }
        ops
    });
    (ops, (monday, sunday))
}

/// A pattern laid over the block, each person's row from the block's first
/// date (the block: from the cursor, one pattern long, when none is
/// selected).
pub fn pattern(state: &State, codes: &[Option<String>]) -> Vec<Op> {
    let b = state.selection().unwrap_or(Block {
        top: state.cursor.person,
        bottom: state.cursor.person,
        left: state.cursor.col,
        right: (state.cursor.col + codes.len().saturating_sub(1))
            .min(state.layout.days.saturating_sub(1)),
    });
    let mut ops = Vec::new();
    for id in people(state, b) {
        for (k, col) in (b.left..=b.right).enumerate() {
            // An empty entry leaves its day as it is (booked leave stays).
            if let Some(Some(c)) = codes.get(k % codes.len().max(1)) {
                ops.push(set(&id, state.layout.date(col), Some(c.clone())));
            }
        }
    }
    ops
}

/// The roster's own spelling of a typed code (ASCII case aside), or an
/// error naming it and the codes there are.
pub fn known_code(state: &State, typed: &str) -> Result<String, String> {
    state
        .layout
        .codes
        .keys()
        .find(|k| same_code(k, typed))
        .cloned()
        .ok_or_else(|| {
            let known: Vec<&str> = state.layout.codes.keys().map(String::as_str).collect();
            format!("no code `{typed}`; codes here: {}", known.join(" "))
        })
}

/// Text pasted from a spreadsheet: rows of tab-separated (or, with no tab
/// anywhere, comma-separated) codes; an empty field clears its cell. Every
/// code must exist: the first unknown one is named with its row and column,
/// and nothing is pasted.
pub fn parse_clipboard(state: &State, text: &str) -> Result<Cells, String> {
    let sep = if text.contains('\t') { '\t' } else { ',' };
    // Rows end in LF, CR LF, or (as terminals and tmux paste them) CR.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = text.lines().collect();
    // A spreadsheet ends its copy with a newline: no empty last row.
    let lines = match lines.iter().rposition(|l| !l.trim().is_empty()) {
        Some(last) => &lines[..=last],
        None => return Err("the pasted text holds no codes".into()),
    };
    let mut rows = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let mut row = Vec::new();
        for (j, field) in line.split(sep).enumerate() {
            let field = field.trim().trim_matches('"').trim();
            if field.is_empty() {
                row.push(None);
                continue;
            }
            let code = known_code(state, field)
                .map_err(|m| format!("row {}, column {} of the text: {m}", i + 1, j + 1))?;
            row.push(Some(code));
        }
        rows.push(row);
    }
    Ok(rows)
}
