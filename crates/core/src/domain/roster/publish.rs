//! Publishing: fixing the cells of a date range as the roster's staff are
//! to see them. The published layer is what each date's last publication
//! fixed; the draft (the cells) goes on changing under it.

use super::*;

/// What a publication replaced, to put back on a refused batch.
pub(super) struct Unfix {
    number: u32,
    /// Each date of the range and the publication it had before.
    dates: Vec<(Date, Option<u32>)>,
    /// The published cells of the range before.
    cells: Vec<(String, Date, Arc<str>)>,
}

impl Roster {
    /// Makes `p` the last publication of its dates.
    pub(super) fn fix_publication(&mut self, p: &Publication, stamp: Stamp) -> Unfix {
        let mut dates = Vec::new();
        let mut d = p.from;
        while d <= p.to {
            dates.push((d, self.published_on.insert(d, p.number)));
            if d == Date(chrono::NaiveDate::MAX) {
                break;
            }
            d = d.add_days(1);
        }
        let mut cells = Vec::new();
        for (staff, row) in self.published_cells.iter_mut() {
            let gone: Vec<Date> = row.range(p.from..=p.to).map(|(d, _)| *d).collect();
            for d in gone {
                if let Some(code) = row.remove(&d) {
                    cells.push((staff.clone(), d, code));
                }
            }
        }
        self.published_cells.retain(|_, row| !row.is_empty());
        for (staff, date, code) in &p.cells {
            let code = self.intern(code);
            self.published_cells
                .entry(staff.clone())
                .or_default()
                .insert(*date, code);
        }
        let head = Publication {
            cells: Vec::new(),
            seq: stamp.seq,
            ..p.clone()
        };
        self.publications
            .insert(p.number, Entry { value: head, stamp });
        Unfix {
            number: p.number,
            dates,
            cells,
        }
    }

    /// Puts back what a publication replaced.
    pub(super) fn unfix(&mut self, u: Unfix) {
        self.publications.remove(&u.number);
        for row in self.published_cells.values_mut() {
            row.retain(|d, _| !u.dates.iter().any(|(x, _)| x == d));
        }
        self.published_cells.retain(|_, row| !row.is_empty());
        for (d, prev) in u.dates {
            match prev {
                Some(n) => self.published_on.insert(d, n),
                None => self.published_on.remove(&d),
            };
        }
        for (staff, d, code) in u.cells {
            self.published_cells
                .entry(staff)
                .or_default()
                .insert(d, code);
        }
    }

    pub(super) fn op_publish(
        &mut self,
        i: usize,
        from: Date,
        to: Date,
        note: &str,
        b: &mut Batch,
    ) -> Result<(), Problem> {
        Period::new(from, to).map_err(|m| problem(i, "invalid_value", format!("publish {m}")))?;
        let note = note.trim();
        if note.chars().count() > MAX_PUBLICATION_NOTE || note.chars().any(char::is_control) {
            return Err(problem(
                i,
                "invalid_value",
                format!(
                    "a publication's note must be at most {MAX_PUBLICATION_NOTE} characters without control characters"
                ),
            ));
        }
        check_visible("publication note", note).map_err(|m| problem(i, "invalid_value", m))?;
        let mut ids: Vec<&String> = self
            .staff
            .iter()
            .filter(|(_, e)| e.value.active)
            .map(|(id, _)| id)
            .collect();
        ids.sort();
        let mut cells = Vec::new();
        for id in ids {
            for (d, code, _) in self.row_between(id, from, to) {
                if let Some(code) = code {
                    cells.push((id.clone(), d, code.to_string()));
                }
            }
        }
        let p = Publication {
            number: self.publications.keys().next_back().map_or(1, |n| n + 1),
            from,
            to,
            note: note.to_string(),
            by: b.stamp.user.to_string(),
            at: b.stamp.at,
            cells,
            seq: b.stamp.seq,
        };
        let undo = self.fix_publication(&p, b.stamp.clone());
        b.undo.push(Undo::Publication(Box::new(undo)));
        b.changes.push(ChangeRecord {
            before: serde_json::Value::Null,
            change: Change::Publication { publication: p },
        });
        Ok(())
    }

    /// What staff see in a cell: the code its date's last publication
    /// fixed (None: nothing, or the date was never published).
    pub fn published_cell(&self, staff: &str, date: Date) -> Option<&str> {
        self.published_cells
            .get(staff)
            .and_then(|row| row.get(&date))
            .map(|c| &**c)
    }

    /// The number of the last publication of `date` (None: never published).
    pub fn published_by(&self, date: Date) -> Option<u32> {
        self.published_on.get(&date).copied()
    }

    /// Whether the roster has ever published.
    pub fn publishes(&self) -> bool {
        !self.publications.is_empty()
    }

    /// Every publication (newest last), each with the cells it is still the
    /// last publication of: what a snapshot carries.
    pub fn publications(&self) -> Vec<Publication> {
        let mut out: Vec<Publication> = self
            .publications
            .values()
            .map(|e| Publication {
                seq: e.stamp.seq,
                ..e.value.clone()
            })
            .collect();
        // Each publication's place in `out` by number: a snapshot of a
        // roster published week by week for years is built without a
        // search a cell.
        let at: HashMap<u32, usize> = out.iter().enumerate().map(|(i, p)| (p.number, i)).collect();
        let mut ids: Vec<&String> = self.published_cells.keys().collect();
        ids.sort();
        for id in ids {
            for (d, code) in self.published_cells.get(id).into_iter().flatten() {
                let Some(i) = self.published_on.get(d).and_then(|n| at.get(n)) else {
                    continue;
                };
                out[*i].cells.push((id.clone(), *d, code.to_string()));
            }
        }
        out
    }

    /// The last publication, if any.
    pub fn last_publication(&self) -> Option<&Publication> {
        self.publications.values().next_back().map(|e| &e.value)
    }

    /// The cells that differ from what staff see, on published dates:
    /// (staff, date, draft code, published code), by staff then date.
    /// Active staff only.
    pub fn unpublished(&self) -> Vec<(String, Date, Option<String>, Option<String>)> {
        let (Some((&first, _)), Some((&last, _))) = (
            self.published_on.first_key_value(),
            self.published_on.last_key_value(),
        ) else {
            return Vec::new();
        };
        let mut ids: Vec<&String> = self
            .staff
            .iter()
            .filter(|(_, e)| e.value.active)
            .map(|(id, _)| id)
            .collect();
        ids.sort();
        let mut out = Vec::new();
        for id in ids {
            let mut dates: std::collections::BTreeSet<Date> = self
                .row_between(id, first, last)
                .map(|(d, _, _)| d)
                .collect();
            if let Some(row) = self.published_cells.get(id) {
                dates.extend(row.keys().copied());
            }
            for d in dates {
                if !self.published_on.contains_key(&d) {
                    continue;
                }
                let draft = self.cell(id, d).and_then(|(c, _)| c);
                let shown = self.published_cell(id, d);
                if draft != shown {
                    out.push((
                        id.clone(),
                        d,
                        draft.map(str::to_string),
                        shown.map(str::to_string),
                    ));
                }
            }
        }
        out
    }

    /// The roster as its staff see it: the records as they are, each cell
    /// as published (dates never published: empty), no proposal. A roster
    /// that never published is shown as it is, but for its proposals.
    pub fn published_view(&self) -> Roster {
        if !self.publishes() {
            return Roster {
                proposals: BTreeMap::new(),
                ..self.clone()
            };
        }
        let mut view = Roster {
            cells: HashMap::default(),
            cell_count: 0,
            proposals: BTreeMap::new(),
            ..self.clone()
        };
        for (staff, row) in &self.published_cells {
            for (d, code) in row {
                let n = self.published_on.get(d).copied().unwrap_or(0);
                let stamp = self
                    .publications
                    .get(&n)
                    .map_or_else(Stamp::none, |e| e.stamp.clone());
                view.put_cell(staff, *d, Some(code), stamp);
            }
        }
        view
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STAFF: [&str; 3] = ["ann", "bob", "cy"];
    const CODES: [Option<&str>; 3] = [Some("D"), Some("N"), None];

    fn day(i: u8) -> Date {
        "2027-03-01"
            .parse::<Date>()
            .map(|d| d.add_days(i64::from(i)))
            .unwrap()
    }

    fn author() -> Author {
        Author {
            user: Arc::from("ada"),
            client: Arc::from("c1"),
        }
    }

    fn roster() -> Roster {
        let mut r = Roster::default();
        let mut ops = vec![
            Op::PutCode {
                code: ShiftCode::new("D", 8.0, true),
                base: None,
            },
            Op::PutCode {
                code: ShiftCode::new("N", 10.0, true),
                base: None,
            },
        ];
        for s in STAFF {
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

    #[derive(Clone, Debug)]
    enum Step {
        Set(usize, u8, usize),
        Publish(u8, u8),
        /// A publication in a batch that is refused: nothing of it stays.
        Refused(u8, u8),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => (0..3usize, 0..10u8, 0..3usize).prop_map(|(s, d, c)| Step::Set(s, d, c)),
            2 => (0..10u8, 0..10u8).prop_map(|(a, b)| Step::Publish(a.min(b), a.max(b))),
            1 => (0..10u8, 0..10u8).prop_map(|(a, b)| Step::Refused(a.min(b), a.max(b))),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// What staff see equals the draft as it was at each date's last
        /// publication, whatever edits and publications come in between,
        /// and a copy rebuilt from the changes (as an editor or the store
        /// rebuilds it) and from a snapshot's publications agrees.
        #[test]
        fn staff_see_each_date_as_its_last_publication_left_it(steps in prop::collection::vec(step(), 1..40)) {
            let mut r = roster();
            let mut replica = r.clone();
            // The model: each date's cells as of its last publication.
            let mut seen: BTreeMap<Date, BTreeMap<&str, &str>> = BTreeMap::new();
            let mut draft: BTreeMap<(&str, Date), &str> = BTreeMap::new();
            let mut number = 0;
            for (k, s) in steps.iter().enumerate() {
                let at = k as i64 + 2;
                let ops = match s {
                    Step::Set(p, d, c) => vec![Op::SetCell {
                        staff: STAFF[*p].into(),
                        date: day(*d),
                        code: CODES[*c].map(String::from),
                        base: 0,
                    }],
                    Step::Publish(a, b) => vec![Op::Publish { from: day(*a), to: day(*b), note: String::new() }],
                    Step::Refused(a, b) => vec![
                        Op::Publish { from: day(*a), to: day(*b), note: String::new() },
                        Op::SetCell { staff: "nobody".into(), date: day(0), code: None, base: 0 },
                    ],
                };
                let result = r.apply_batch_with(&ops, &author(), at, true);
                match s {
                    Step::Refused(..) => prop_assert!(result.is_err()),
                    _ => {
                        let applied = result.unwrap();
                        let stamp = Stamp { seq: applied.seq, user: Arc::from("ada"), client: Arc::from("c1"), at };
                        for c in &applied.changes {
                            replica.apply_accepted(&c.change, stamp.clone());
                        }
                        replica.set_seq(applied.seq);
                    }
                }
                match s {
                    Step::Set(p, d, c) => match CODES[*c] {
                        Some(code) => { draft.insert((STAFF[*p], day(*d)), code); }
                        None => { draft.remove(&(STAFF[*p], day(*d))); }
                    },
                    Step::Publish(a, b) => {
                        number += 1;
                        for i in *a..=*b {
                            let d = day(i);
                            let cells = STAFF.iter().filter_map(|s| draft.get(&(*s, d)).map(|c| (*s, *c))).collect();
                            seen.insert(d, cells);
                        }
                    }
                    Step::Refused(..) => {}
                }
            }
            let snap = crate::protocol::Snapshot::of(&r).to_roster(r.seq());
            for copy in [&r, &replica, &snap] {
                prop_assert_eq!(copy.last_publication().map_or(0, |p| p.number), number);
                for i in 0..10 {
                    let d = day(i);
                    for s in STAFF {
                        let want = seen.get(&d).and_then(|m| m.get(s)).copied();
                        prop_assert_eq!(copy.published_cell(s, d), want, "{} on {}", s, d);
                        let view = copy.published_view();
                        let shown = view.cell(s, d).and_then(|(c, _)| c);
                        prop_assert_eq!(shown, if number == 0 { draft.get(&(s, d)).copied() } else { want });
                    }
                }
            }
            // What differs is exactly the published dates whose draft moved on.
            let differs: Vec<(String, Date)> = r.unpublished().into_iter().map(|(s, d, _, _)| (s, d)).collect();
            let mut want = Vec::new();
            for s in STAFF {
                for (d, cells) in &seen {
                    if draft.get(&(s, *d)).copied() != cells.get(s).copied() {
                        want.push((s.to_string(), *d));
                    }
                }
            }
            prop_assert_eq!(differs, want);
        }
    }
}
