//! Proposals: a code suggested for an empty cell (an assisted fill's
//! result) that every editor of the roster sees until someone accepts it
//! (writes the code to the cell), discards it, or writes the cell. A
//! proposal lives only while its cell is empty: that rule is kept here, in
//! the ops, so the hub and every editor agree on it from the changes alone.

use super::*;
use serde::{Deserialize, Serialize};

/// One proposal as the wire and the snapshot carry it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposed {
    pub staff: String,
    pub date: Date,
    pub code: String,
    /// The seq of the batch that proposed it.
    #[serde(default)]
    pub seq: Seq,
}

impl Roster {
    /// Every proposal, by person then date.
    pub fn proposals(&self) -> Vec<Proposed> {
        self.proposals
            .iter()
            .map(|((staff, date), e)| Proposed {
                staff: staff.clone(),
                date: *date,
                code: e.value.to_string(),
                seq: e.stamp.seq,
            })
            .collect()
    }

    /// How many cells hold a proposal.
    pub fn proposal_count(&self) -> usize {
        self.proposals.len()
    }

    /// The code proposed for a cell.
    pub fn proposal(&self, staff: &str, date: Date) -> Option<&str> {
        // A lookup by borrowed parts would need a second map; proposals are
        // looked up per visible cell, a few thousand a frame at most.
        self.proposals
            .get(&(staff.to_string(), date))
            .map(|e| &*e.value)
    }

    /// A person's proposals from `from` to `to` (both included).
    pub fn proposals_of(
        &self,
        staff: &str,
        from: Date,
        to: Date,
    ) -> impl Iterator<Item = (Date, &str)> {
        let range = (staff.to_string(), from)..=(staff.to_string(), to.max(from));
        self.proposals
            .range(range)
            .map(|((_, d), e)| (*d, &*e.value))
            .filter(move |(d, _)| *d <= to)
    }

    pub(super) fn op_propose(
        &mut self,
        i: usize,
        staff: &str,
        date: Date,
        code: Option<&str>,
        b: &mut Batch,
    ) -> Result<(), Problem> {
        self.writable(i, staff, code)?;
        // Someone wrote the cell since the proposal was made: it is no
        // longer proposed (the fill keeps every cell people set).
        let set = self
            .cells
            .get(staff)
            .and_then(|row| row.get(&date))
            .is_some_and(|e| e.value.is_some());
        let code = code.filter(|_| !set);
        self.put_proposal(staff, date, code, b);
        Ok(())
    }

    /// Sets or withdraws a cell's proposal in a batch, with its change and
    /// undo; nothing when it already is so.
    pub(super) fn put_proposal(
        &mut self,
        staff: &str,
        date: Date,
        code: Option<&str>,
        b: &mut Batch,
    ) {
        let key = (staff.to_string(), date);
        if self.proposals.get(&key).map(|e| &*e.value) == code {
            return;
        }
        let prev = match code {
            Some(c) => {
                let value = self.intern(c);
                self.proposals.insert(
                    key.clone(),
                    Entry {
                        value,
                        stamp: b.stamp.clone(),
                    },
                )
            }
            None => self.proposals.remove(&key),
        };
        b.changes.push(ChangeRecord {
            before: prev
                .as_ref()
                .map(|e| to_json(&&*e.value))
                .unwrap_or_default(),
            change: Change::Proposal {
                staff: staff.to_string(),
                date,
                code: code.map(str::to_string),
            },
        });
        b.undo.push(Undo::Proposal(key, prev));
    }

    /// Applies a proposal the hub accepted.
    pub(super) fn accept_proposal(
        &mut self,
        staff: &str,
        date: Date,
        code: Option<&str>,
        stamp: Stamp,
    ) {
        let key = (staff.to_string(), date);
        match code {
            Some(c) => {
                let value = self.intern(c);
                self.proposals.insert(key, Entry { value, stamp });
            }
            None => {
                self.proposals.remove(&key);
            }
        }
    }
}
