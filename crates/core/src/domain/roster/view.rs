//! The published view: the roster as its staff and viewers are sent it.
//! Until a roster publishes, the view is the roster. Once it has, the
//! view's cells are the published ones: a draft cell is never part of it,
//! and a publication replaces its dates' cells (the first also empties
//! every other date, never published). A view is kept by applying, batch
//! after batch, what [`view_changes`] keeps of each with
//! [`Roster::apply_viewed`]; it then equals [`Roster::published_view`] of
//! the roster (the property test below).

use super::*;
use crate::domain::Role;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Which roster a connection is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum View {
    /// The cells as they are (editors and admins).
    #[default]
    Draft,
    /// The cells as last published (staff and viewers).
    Published,
}

impl View {
    /// The view a role is sent (None: a hub without accounts, where
    /// everyone edits).
    pub fn of(role: Option<Role>) -> View {
        match role {
            Some(Role::Staff | Role::Viewer) => View::Published,
            _ => View::Draft,
        }
    }

    pub fn is_draft(&self) -> bool {
        *self == View::Draft
    }

    pub fn as_str(self) -> &'static str {
        match self {
            View::Draft => "draft",
            View::Published => "published",
        }
    }
}

/// What the published view is sent of a batch's `changes`: never a
/// proposal; all the rest until the roster publishes; after (`publishes`:
/// the roster has a publication once the batch is applied), all but its
/// cells. Borrowed when nothing is left out.
pub fn view_changes(changes: &[Change], publishes: bool) -> Cow<'_, [Change]> {
    let hidden = |c: &Change| {
        matches!(c, Change::Proposal { .. }) || (publishes && matches!(c, Change::Cell { .. }))
    };
    if !changes.iter().any(hidden) {
        return Cow::Borrowed(changes);
    }
    Cow::Owned(changes.iter().filter(|c| !hidden(c)).cloned().collect())
}

impl Roster {
    /// Applies one change the published view was sent (see
    /// [`view_changes`]) to this view, and returns the changes that made,
    /// in the order applied: for a publication, the cells it set or emptied
    /// and then itself; for anything else, the change. (A cache of the view
    /// stores what is returned.)
    pub fn apply_viewed(&mut self, change: &Change, stamp: Stamp) -> Vec<Change> {
        let Change::Publication { publication: p } = change else {
            self.apply_accepted(change, stamp);
            return vec![change.clone()];
        };
        let mut wanted: HashMap<(&str, Date), &str> = HashMap::new();
        for (staff, date, code) in &p.cells {
            wanted.insert((staff.as_str(), *date), code.as_str());
        }
        let first = !self.publishes();
        let mut out = Vec::new();
        let mut ids: Vec<&String> = self.cells.keys().collect();
        ids.sort();
        for id in ids {
            let Some(row) = self.cells.get(id) else {
                continue;
            };
            for (date, e) in row.iter() {
                let inside = p.from <= *date && *date <= p.to;
                if (first || inside)
                    && e.value.is_some()
                    && !wanted.contains_key(&(id.as_str(), *date))
                {
                    out.push(Change::Cell {
                        staff: id.clone(),
                        date: *date,
                        code: None,
                    });
                }
            }
        }
        for (staff, date, code) in &p.cells {
            if self.cell(staff, *date).and_then(|(c, _)| c) != Some(code.as_str()) {
                out.push(Change::Cell {
                    staff: staff.clone(),
                    date: *date,
                    code: Some(code.clone()),
                });
            }
        }
        for c in &out {
            self.apply_accepted(c, stamp.clone());
        }
        self.apply_accepted(change, stamp);
        out.push(change.clone());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Op;
    use proptest::prelude::*;

    fn d(n: i64) -> Date {
        "2027-03-01".parse::<Date>().map(|d| d.add_days(n)).unwrap()
    }

    fn author() -> Author {
        Author {
            user: Arc::from("ada"),
            client: Arc::from("c1"),
        }
    }

    fn base() -> Roster {
        let mut r = Roster::default();
        let mut ops = vec![];
        for (code, hours) in [("D", 8.0), ("N", 10.0), ("E", 8.0)] {
            ops.push(Op::PutCode {
                code: ShiftCode::new(code, hours, true),
                base: None,
            });
        }
        for s in ["ann", "bob", "cy"] {
            ops.push(Op::AddStaff {
                id: s.into(),
                name: s.into(),
                group: String::new(),
                order: None,
            });
        }
        r.apply_batch(&ops, &author(), 1).unwrap();
        r
    }

    /// Each cell that holds a code, as a sorted list.
    fn codes(r: &Roster) -> Vec<(String, Date, String)> {
        let mut out: Vec<_> = r
            .cells()
            .into_iter()
            .filter_map(|(s, d, c, _)| c.map(|c| (s.to_string(), d, c.to_string())))
            .collect();
        out.sort();
        out
    }

    #[derive(Clone, Debug)]
    enum Step {
        Set(usize, i64, Option<usize>),
        Propose(usize, i64, Option<usize>),
        Publish(i64, i64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (0..3usize, 0..10i64, proptest::option::of(0..3usize))
                .prop_map(|(s, day, c)| Step::Set(s, day, c)),
            2 => (0..3usize, 0..10i64, proptest::option::of(0..3usize))
                .prop_map(|(s, day, c)| Step::Propose(s, day, c)),
            1 => (0..10i64, 0..4i64).prop_map(|(a, len)| Step::Publish(a, a + len)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// For any draft edits, proposals and publications, the view kept
        /// from what it is sent equals what staff see of the roster, it is
        /// never sent a proposal, once the roster publishes it is sent no
        /// draft cell; and no proposal stands on a written cell.
        #[test]
        fn the_view_kept_from_what_it_is_sent_is_what_staff_see(
            steps in proptest::collection::vec(step(), 1..40),
            batch in 1..4usize,
        ) {
            let staff = ["ann", "bob", "cy"];
            let codes_ = ["D", "N", "E"];
            let mut hub = base();
            let mut view = hub.published_view();
            for chunk in steps.chunks(batch) {
                let ops: Vec<Op> = chunk
                    .iter()
                    .map(|s| match s {
                        Step::Set(i, day, c) => Op::SetCell {
                            staff: staff[*i].into(),
                            date: d(*day),
                            code: c.map(|c| codes_[c].to_string()),
                            base: 0,
                        },
                        Step::Propose(i, day, c) => Op::Propose {
                            staff: staff[*i].into(),
                            date: d(*day),
                            code: c.map(|c| codes_[c].to_string()),
                        },
                        Step::Publish(a, b) => Op::Publish {
                            from: d(*a),
                            to: d(*b),
                            note: String::new(),
                        },
                    })
                    .collect();
                let Ok(applied) = hub.apply_batch_with(&ops, &author(), 0, true) else {
                    continue;
                };
                let changes: Vec<Change> =
                    applied.changes.into_iter().map(|c| c.change).collect();
                let sent = view_changes(&changes, hub.publishes());
                for c in sent.iter() {
                    prop_assert!(
                        !matches!(c, Change::Proposal { .. }),
                        "a proposal was sent: {:?}", c
                    );
                    if hub.publishes() {
                        prop_assert!(
                            !matches!(c, Change::Cell { .. }),
                            "a draft cell was sent: {:?}", c
                        );
                    }
                    let stamp = Stamp { seq: applied.seq, ..Stamp::none() };
                    view.apply_viewed(c, stamp);
                }
                prop_assert_eq!(codes(&view), codes(&hub.published_view()));
                prop_assert_eq!(view.proposal_count(), 0);
                // A proposal's cell is always empty.
                for p in hub.proposals() {
                    prop_assert!(hub.cell(&p.staff, p.date).and_then(|(c, _)| c).is_none());
                }
                prop_assert_eq!(view.publications().len(), hub.publications().len());
            }
        }
    }

    #[test]
    fn a_first_publication_empties_the_dates_it_does_not_publish() {
        let mut r = base();
        let set = |date: Date, code: &str| Op::SetCell {
            staff: "ann".into(),
            date,
            code: Some(code.into()),
            base: 0,
        };
        let ops = vec![set(d(0), "D"), set(d(5), "N")];
        assert!(r.apply_batch_with(&ops, &author(), 0, true).is_ok());
        let mut view = r.published_view();
        assert_eq!(
            codes(&view).len(),
            2,
            "before publishing, the view is the draft"
        );
        let publish = Op::Publish {
            from: d(0),
            to: d(1),
            note: String::new(),
        };
        let applied = r.apply_batch_with(&[publish], &author(), 0, true);
        let Ok(applied) = applied else {
            panic!("publishing was refused: {applied:?}");
        };
        let mut made = Vec::new();
        for c in &applied.changes {
            made.extend(view.apply_viewed(&c.change, Stamp::none()));
        }
        assert_eq!(
            codes(&view),
            vec![("ann".to_string(), d(0), "D".to_string())]
        );
        assert!(
            made.contains(&Change::Cell {
                staff: "ann".into(),
                date: d(5),
                code: None
            }),
            "the emptied cell is among what the view's cache is told: {made:?}"
        );
    }
}
