//! How a batch is filed, whichever database holds it: the staff member
//! and date each change is filed under (history's index), who wrote the
//! batch, its changes as the log keeps them (`[[change, before], ...]`),
//! and what a loaded roster must hold together.

use super::{Result, StoreError};
use rota_core::domain::{Change, Date, Roster, Seq};
use std::collections::BTreeSet;

/// The staff member and the date a change is filed under in the change log:
/// a cell, a request and a proposal have all three, a staff record its id, the rest neither.
pub(super) fn staff_and_date(change: &Change) -> (Option<&str>, Option<Date>) {
    match change {
        Change::Cell { staff, date, .. }
        | Change::Request { staff, date, .. }
        | Change::Proposal { staff, date, .. } => (Some(staff), Some(*date)),
        Change::Staff { staff } => (Some(&staff.id), None),
        _ => (None, None),
    }
}

/// Who wrote a batch, and why.
pub(super) struct BatchMeta<'a> {
    pub(super) user: &'a str,
    pub(super) client: &'a str,
    pub(super) op_id: u64,
    pub(super) at: i64,
    pub(super) note: Option<&'a str>,
}

/// A batch's changes as the log keeps them: `[[change, before], ...]`.
pub(super) struct Logged<I>(pub(super) I);

impl<'a, I> serde::Serialize for Logged<I>
where
    I: Iterator<Item = (&'a Change, &'a serde_json::Value)> + Clone,
{
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.0.clone())
    }
}

/// What a roster's stored state must hold together: every cell's person
/// and code exist (a hand-edited or damaged store may not).
pub(super) fn check_loaded(roster: &Roster, name: &str) -> Result<()> {
    let codes: BTreeSet<String> = roster.codes().into_iter().map(|c| c.code).collect();
    let staff: BTreeSet<String> = roster.staff().into_iter().map(|s| s.id).collect();
    for (person, date, code, _) in roster.cells() {
        if !staff.contains(person) {
            return Err(StoreError::Corrupt(format!(
                "roster {name}: a cell of {date} belongs to `{person}`, who is not on the roster"
            )));
        }
        if let Some(c) = code
            && !codes.contains(c)
        {
            return Err(StoreError::Corrupt(format!(
                "roster {name}: {person} on {date} holds code `{c}`, which the roster does not have"
            )));
        }
    }
    Ok(())
}

pub(super) fn decode_changes<T: serde::de::DeserializeOwned>(
    seq: Seq,
    json: &str,
) -> Result<Vec<T>> {
    serde_json::from_str(json)
        .map_err(|e| StoreError::Corrupt(format!("change log batch {seq}: {e}")))
}

/// What a change made its target: a code (or null) for a cell, the record
/// (or null) for the others.
pub(super) fn after_value(change: &Change) -> serde_json::Value {
    let v = match change {
        Change::Cell { code, .. } => serde_json::to_value(code),
        Change::Staff { staff } => serde_json::to_value(staff),
        Change::Code { def, .. } => serde_json::to_value(def),
        Change::Rule { rule, .. } => serde_json::to_value(rule),
        Change::Settings { settings } => serde_json::to_value(settings),
        Change::Request { request, .. } => serde_json::to_value(request),
        Change::Proposal { code, .. } => serde_json::to_value(code),
        Change::Publication { publication } => serde_json::to_value(publication),
    };
    v.unwrap_or_default()
}

/// The batches one group wrote on one roster: the span of their seqs
/// (consecutive: the roster is the group's until it commits), the time of
/// the first (the roster's creation, should it be new), and the staff and
/// dates they touched, for history's index, written once at commit.
pub(super) struct Touched {
    pub(super) roster: String,
    pub(super) first: i64,
    pub(super) last: i64,
    pub(super) at: i64,
    pub(super) staff: BTreeSet<String>,
    pub(super) dates: BTreeSet<Date>,
}

impl Touched {
    /// Counts batch `seq` of `roster`, and its changes' staff and dates,
    /// in the group's record `touched`.
    pub(super) fn note<'c>(
        touched: &mut Vec<Touched>,
        roster: &str,
        seq: i64,
        at: i64,
        changes: impl Iterator<Item = &'c Change>,
    ) {
        let i = match touched.iter().position(|t| t.roster == roster) {
            Some(i) => i,
            None => {
                touched.push(Touched {
                    roster: roster.to_string(),
                    first: seq,
                    last: seq,
                    at,
                    staff: BTreeSet::new(),
                    dates: BTreeSet::new(),
                });
                touched.len() - 1
            }
        };
        let t = &mut touched[i];
        t.first = t.first.min(seq);
        t.last = t.last.max(seq);
        for change in changes {
            let (staff, date) = staff_and_date(change);
            if let Some(s) = staff
                && !t.staff.contains(s)
            {
                t.staff.insert(s.to_string());
            }
            t.dates.extend(date);
        }
    }
}
