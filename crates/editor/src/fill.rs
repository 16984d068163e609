//! The fill as the editor offers it (pure): what a fill is asked for (the
//! block's people and dates, or the planning period), its progress and
//! outcome as the status line says them, and the edits that propose,
//! accept and discard. A proposal is a roster record every editor of the
//! roster sees (`Op::Propose`), not a cell: nothing is saved until someone
//! accepts it, and a cell someone writes is no longer proposed.

use rota_core::domain::{Date, Op, Roster};
use rota_fill::{Model, Score};

/// What a fill is asked to fill, and for how long.
#[derive(Clone, Debug, PartialEq)]
pub struct Ask {
    pub from: Date,
    pub to: Date,
    /// Only these people (None: everyone).
    pub staff: Option<Vec<String>>,
    pub seconds: u64,
}

/// The search's best so far, now and then.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    pub best: Score,
    /// The empty cells' score before the search.
    pub before: Score,
    pub moves: u64,
    pub millis: u64,
}

/// What a fill came to.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The proposal edit (may be empty: nothing to propose), with the
    /// scores before and after.
    Proposed {
        ops: Vec<Op>,
        cells: usize,
        before: Score,
        after: Score,
        stopped: bool,
    },
    /// Nothing searched: why.
    Refused(String),
}

/// The edit proposing a fill's result: each free cell the search gave a
/// code, proposed, unless the cell holds a code or a proposal in `roster`
/// (the roster as it is now: someone may have written it meanwhile). A
/// fill never withdraws a proposal: it worked round them.
pub fn proposal_ops(model: &Model, rows: &[Vec<u16>], roster: &Roster) -> Vec<Op> {
    let mut ops = Vec::new();
    for &(p, d) in &model.free {
        let Some(person) = model.people.get(p) else {
            continue;
        };
        let date = model.first.add_days(d as i64);
        let e = rows.get(p).and_then(|r| r.get(d)).copied().unwrap_or(0);
        let Some(code) = (e > 0)
            .then(|| model.codes.get(e as usize - 1).cloned())
            .flatten()
        else {
            continue;
        };
        let taken = roster.cell(&person.id, date).and_then(|(c, _)| c).is_some()
            || roster.proposal(&person.id, date).is_some();
        if !taken {
            ops.push(Op::Propose {
                staff: person.id.clone(),
                date,
                code: Some(code),
            });
        }
    }
    ops
}

/// The proposals on the people `staff` (None: everyone) from `from` to
/// `to`, whose cell is empty: (person, date, code).
pub fn proposals_in(
    roster: &Roster,
    staff: Option<&[String]>,
    from: Date,
    to: Date,
) -> Vec<(String, Date, String)> {
    roster
        .proposals()
        .into_iter()
        .filter(|p| p.date >= from && p.date <= to)
        .filter(|p| staff.is_none_or(|s| s.contains(&p.staff)))
        .filter(|p| roster.cell(&p.staff, p.date).and_then(|(c, _)| c).is_none())
        .map(|p| (p.staff, p.date, p.code))
        .collect()
}

/// The edit accepting proposals: each withdrawn, and its code written to
/// its cell, based on the cell as this editor has it (someone who wrote it
/// meanwhile meets a conflict, as with any edit). Undoing it empties the
/// cells and proposes them again.
pub fn accept_ops(roster: &Roster, proposals: &[(String, Date, String)]) -> Vec<Op> {
    let mut ops = Vec::with_capacity(proposals.len() * 2);
    for (staff, date, code) in proposals {
        let base = roster.cell(staff, *date).map_or(0, |(_, s)| s.seq);
        ops.push(Op::Propose {
            staff: staff.clone(),
            date: *date,
            code: None,
        });
        ops.push(Op::SetCell {
            staff: staff.clone(),
            date: *date,
            code: Some(code.clone()),
            base,
        });
    }
    ops
}

/// The edit discarding proposals.
pub fn discard_ops(proposals: &[(String, Date, String)]) -> Vec<Op> {
    proposals
        .iter()
        .map(|(staff, date, _)| Op::Propose {
            staff: staff.clone(),
            date: *date,
            code: None,
        })
        .collect()
}

/// "no rule broken, score 1,234" or "3 rules broken, score 2,345".
pub fn score_text(s: &Score) -> String {
    let hard = match s.hard {
        0 => "no rule broken".to_string(),
        1 => "1 rule broken".to_string(),
        n => format!("{n} rules broken"),
    };
    format!("{hard}, score {}", thousands(s.soft()))
}

/// What the status line says while the search runs.
pub fn progress_text(p: &Progress) -> String {
    format!(
        "filling ({} s, {} moves): {} (was {}) · Esc stops and keeps the best",
        p.millis / 1000,
        thousands(p.moves),
        score_text(&p.best),
        score_text(&p.before)
    )
}

/// "25,048 cells", "1 cell".
pub fn count(n: usize, word: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{} {word}{s}", thousands(n as u64))
}

/// 1234567 as "1,234,567".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
