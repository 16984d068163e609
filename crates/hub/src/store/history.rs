//! A page of history, whichever database it is read from: which changes a
//! query wants (and which the view may not see), where the page starts
//! (its cursor) and when it is full, and the cursor of the next page. The
//! stores find the batches that may hold a match and offer their changes,
//! newest first.

use super::batch::{after_value, staff_and_date};
use rota_core::domain::{Change, Seq, View};
use rota_core::protocol::{HistoryCursor, HistoryEntry, HistoryQuery};

/// Who wrote a batch, as read back.
pub(super) struct Author {
    pub(super) user: String,
    pub(super) client: String,
    pub(super) op_id: i64,
    pub(super) at: i64,
    pub(super) note: Option<String>,
}

/// A page being gathered.
pub(super) struct Page<'q> {
    q: &'q HistoryQuery,
    view: View,
    /// Read for the published view of a roster that publishes, a page
    /// holds no cell: staff and viewers are never shown the draft, not
    /// even its past.
    no_cells: bool,
    /// Where the page starts: below this batch and place in it.
    cursor: Option<(i64, i64)>,
    limit: usize,
    /// One more than a page at most, to know whether there is a next.
    found: Vec<(i64, usize, HistoryEntry)>,
}

impl<'q> Page<'q> {
    pub(super) fn new(q: &'q HistoryQuery, view: View, publishes: bool) -> Page<'q> {
        let cursor = q
            .before
            .as_deref()
            .and_then(HistoryCursor::parse)
            .map(|c| (c.seq.min(i64::MAX as Seq) as i64, i64::from(c.index)));
        Page {
            q,
            view,
            no_cells: view == View::Published && publishes,
            cursor,
            limit: q.page_size(),
            found: Vec::new(),
        }
    }

    /// The newest batch the page may hold.
    pub(super) fn top(&self) -> i64 {
        self.cursor.map_or(i64::MAX, |(seq, _)| seq)
    }

    /// The place in batch `seq` below which its changes are read (None:
    /// all of them).
    pub(super) fn below(&self, seq: i64) -> Option<usize> {
        self.cursor
            .filter(|(cs, _)| *cs == seq)
            .map(|(_, ci)| ci.max(0) as usize)
    }

    fn wanted(&self, c: &Change) -> bool {
        let q = self.q;
        let (staff, date) = staff_and_date(c);
        let dated = q.date.is_some() || q.from.is_some() || q.to.is_some();
        // Staff see no draft cell once the roster publishes, and never a
        // proposal.
        let hidden = match c {
            Change::Cell { .. } => self.no_cells,
            Change::Proposal { .. } => self.view == View::Published,
            _ => false,
        };
        !hidden
            && q.staff.as_deref().is_none_or(|s| staff == Some(s))
            && (!dated || date.is_some())
            && q.date.is_none_or(|d| date == Some(d))
            && q.from.is_none_or(|f| date.is_some_and(|d| d >= f))
            && q.to.is_none_or(|t| date.is_some_and(|d| d <= t))
    }

    /// Offers change `idx` of batch `seq` (newest first); returns whether
    /// the page wants more.
    pub(super) fn offer(
        &mut self,
        seq: i64,
        idx: usize,
        change: Change,
        before: serde_json::Value,
        by: &Author,
    ) -> bool {
        if !self.wanted(&change) {
            return true;
        }
        let target = change.target();
        let (staff, date) = staff_and_date(&change);
        self.found.push((
            seq,
            idx,
            HistoryEntry {
                seq: seq as Seq,
                entity: target.entity().to_string(),
                key: target.key(),
                staff: staff.map(str::to_string),
                date,
                before,
                after: after_value(&change),
                user: by.user.clone(),
                client: by.client.clone(),
                op_id: by.op_id as u64,
                at: by.at,
                note: by.note.clone(),
            },
        ));
        self.found.len() <= self.limit
    }

    /// The page, and the cursor of the next one when there is more.
    pub(super) fn finish(mut self) -> (Vec<HistoryEntry>, Option<String>) {
        let more = self.found.len() > self.limit;
        self.found.truncate(self.limit);
        let next = more
            .then(|| {
                self.found.last().map(|(seq, idx, _)| {
                    HistoryCursor {
                        seq: *seq as Seq,
                        index: *idx as u32,
                    }
                    .to_string()
                })
            })
            .flatten();
        (self.found.into_iter().map(|(_, _, e)| e).collect(), next)
    }
}
