//! Operations applied: a batch checked and applied whole or rolled back,
//! each kind of operation, conflicts noted.

use super::*;

impl Roster {
    /// Sets state that was decided elsewhere: a change the hub accepted (on a
    /// client) or a row loaded from the store (on the hub). No checks: the
    /// change was checked when it was accepted.
    pub fn apply_accepted(&mut self, change: &Change, stamp: Stamp) {
        match change {
            Change::Cell { staff, date, code } => {
                self.put_cell(staff, *date, code.as_deref(), stamp);
            }
            Change::Staff { staff } => {
                self.staff.insert(
                    staff.id.clone(),
                    Entry {
                        value: staff.clone(),
                        stamp,
                    },
                );
            }
            Change::Code { code, def } => match def {
                Some(def) => {
                    self.codes.insert(
                        code.clone(),
                        Entry {
                            value: def.clone(),
                            stamp,
                        },
                    );
                }
                None => {
                    self.codes.remove(code);
                }
            },
            Change::Rule { id, rule } => match rule {
                Some(rule) => {
                    self.rules.insert(
                        id.clone(),
                        Entry {
                            value: rule.clone(),
                            stamp,
                        },
                    );
                }
                None => {
                    self.rules.remove(id);
                }
            },
            Change::Settings { settings } => {
                self.settings = Entry {
                    value: settings.clone(),
                    stamp,
                };
            }
            Change::Request {
                staff,
                date,
                request,
            } => match request {
                Some(r) => {
                    self.requests.insert(
                        (staff.clone(), *date),
                        Entry {
                            value: r.clone(),
                            stamp,
                        },
                    );
                }
                None => {
                    self.requests.remove(&(staff.clone(), *date));
                }
            },
            Change::Proposal { staff, date, code } => {
                self.accept_proposal(staff, *date, code.as_deref(), stamp);
            }
            Change::Publication { publication } => {
                self.fix_publication(publication, stamp);
            }
        }
    }

    /// Sets the roster's seq (after loading, or after a change the hub sent).
    pub fn set_seq(&mut self, seq: Seq) {
        self.seq = self.seq.max(seq);
    }

    /// Checks and applies a batch as one unit under the next seq. On refusal
    /// the roster is unchanged and the reasons are returned: every permanent
    /// problem, or else every stale write (in strict mode).
    pub fn apply_batch(
        &mut self,
        ops: &[Op],
        author: &Author,
        at: i64,
    ) -> Result<Applied, Rejection> {
        self.apply_batch_with(ops, author, at, false)
    }

    /// [`Roster::apply_batch`], optionally ignoring stale versions (`force`)
    /// whatever the conflict mode. A client uses this to replay a batch the
    /// hub has already accepted, and to lay its pending edits over the hub's
    /// state: neither may be refused for staleness.
    pub fn apply_batch_with(
        &mut self,
        ops: &[Op],
        author: &Author,
        at: i64,
        force: bool,
    ) -> Result<Applied, Rejection> {
        self.run_batch(ops, author, at, force, true)
    }

    /// What [`Roster::apply_batch_with`] would do, leaving the roster as it
    /// is: a script checks a 100,000-cell file this way without a copy of
    /// the roster.
    pub fn try_batch(
        &mut self,
        ops: &[Op],
        author: &Author,
        at: i64,
        force: bool,
    ) -> Result<Applied, Rejection> {
        self.run_batch(ops, author, at, force, false)
    }

    pub(super) fn run_batch(
        &mut self,
        ops: &[Op],
        author: &Author,
        at: i64,
        force: bool,
        keep: bool,
    ) -> Result<Applied, Rejection> {
        let stamp = Stamp {
            seq: self.seq + 1,
            user: author.user.clone(),
            client: author.client.clone(),
            at,
        };
        // The mode in force when the batch arrives decides, even if the batch
        // itself changes it.
        let strict = !force && self.conflict_mode() == ConflictMode::Strict;
        let mut batch = Batch {
            stamp: &stamp,
            undo: Vec::new(),
            changes: Vec::new(),
            conflicts: Vec::new(),
        };
        let mut problems = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            if let Err(p) = self.apply_op(i, op, &mut batch) {
                problems.push(p);
            }
        }
        if problems.is_empty() {
            self.settle_period(&mut batch);
        }
        let Batch {
            undo,
            changes,
            conflicts,
            ..
        } = batch;
        if !problems.is_empty() || (strict && !conflicts.is_empty()) {
            self.rollback(undo);
            return Err(if problems.is_empty() {
                Rejection::Conflict(conflicts)
            } else {
                Rejection::Invalid(problems)
            });
        }
        if changes.is_empty() {
            return Ok(Applied {
                seq: self.seq,
                changes,
                overwritten: conflicts,
            });
        }
        if keep {
            self.seq = stamp.seq;
        } else {
            self.rollback(undo);
        }
        Ok(Applied {
            seq: stamp.seq,
            changes,
            overwritten: conflicts,
        })
    }

    pub(super) fn rollback(&mut self, undo: Vec<Undo>) {
        for u in undo.into_iter().rev() {
            match u {
                Undo::Cell(staff, date, prev) => {
                    let row = self.cells.entry(staff.clone()).or_default();
                    match prev {
                        Some(e) => {
                            row.insert(date, e);
                        }
                        None => {
                            if row.remove(&date).is_some() {
                                self.cell_count -= 1;
                            }
                            if row.is_empty() {
                                self.cells.remove(&staff);
                            }
                        }
                    }
                }
                Undo::Staff(id, prev) => restore(&mut self.staff, id, prev),
                Undo::Code(code, prev) => restore(&mut self.codes, code, prev),
                Undo::Rule(id, prev) => restore(&mut self.rules, id, prev),
                Undo::Settings(prev) => self.settings = prev,
                Undo::Publication(u) => self.unfix(*u),
                Undo::Request(key, prev) => match prev {
                    Some(e) => {
                        self.requests.insert(key, e);
                    }
                    None => {
                        self.requests.remove(&key);
                    }
                },
                Undo::Proposal(key, prev) => match prev {
                    Some(e) => {
                        self.proposals.insert(key, e);
                    }
                    None => {
                        self.proposals.remove(&key);
                    }
                },
            }
        }
    }

    /// The shared copy of a code's name.
    pub(super) fn intern(&mut self, code: &str) -> Arc<str> {
        if let Some(c) = self.code_names.get(code) {
            return c.clone();
        }
        let c: Arc<str> = Arc::from(code);
        self.code_names.insert(c.clone());
        c
    }

    /// Gives back memory a bulk load left unused (call after loading).
    pub fn compact(&mut self) {
        for row in self.cells.values_mut() {
            row.shrink();
        }
        self.cells.shrink_to_fit();
    }

    pub(super) fn put_cell(
        &mut self,
        staff: &str,
        date: Date,
        code: Option<&str>,
        stamp: Stamp,
    ) -> Option<CellEntry> {
        let value = code.map(|c| self.intern(c));
        let row = match self.cells.get_mut(staff) {
            Some(row) => row,
            None => self.cells.entry(staff.to_string()).or_default(),
        };
        let prev = row.insert(date, Entry { value, stamp });
        if prev.is_none() {
            self.cell_count += 1;
        }
        prev
    }

    pub(super) fn apply_op(&mut self, i: usize, op: &Op, b: &mut Batch) -> Result<(), Problem> {
        match op {
            Op::SetCell {
                staff,
                date,
                code,
                base,
            } => self.op_set_cell(i, staff, *date, code, *base, b),
            Op::AddStaff {
                id,
                name,
                group,
                order,
            } => self.op_add_staff(i, id, name, group, *order, b),
            Op::UpdateStaff {
                id,
                name,
                group,
                order,
                base,
            } => {
                let mut s = self.existing_staff(i, id, *base, b)?;
                if let Some(name) = name {
                    s.name = check_name(i, name)?;
                }
                if let Some(group) = group {
                    s.group = check_name(i, group)?;
                }
                if let Some(order) = order {
                    s.order = *order;
                }
                self.write_staff(s, b);
                Ok(())
            }
            Op::RemoveStaff { id, base } => {
                let mut s = self.existing_staff(i, id, *base, b)?;
                s.active = false;
                self.write_staff(s, b);
                Ok(())
            }
            Op::PutCode { code, base } => self.op_put_code(i, code, *base, b),
            Op::RemoveCode { code, base } => self.op_remove_code(i, code, *base, b),
            Op::PutRule { rule, base } => self.op_put_rule(i, rule, *base, b),
            Op::RemoveRule { id, base } => {
                let Some(cur) = self.rules.get(id) else {
                    return Err(problem(i, "not_found", format!("no rule `{id}`")));
                };
                if let Some(base) = base {
                    note_conflict(
                        i,
                        || Target::Rule { id: id.clone() },
                        *base,
                        &cur.stamp,
                        || to_json(&cur.value),
                        b,
                    );
                }
                let prev = self.rules.remove(id);
                b.undo.push(Undo::Rule(id.clone(), prev.clone()));
                b.changes.push(ChangeRecord {
                    before: prev.map(|e| to_json(&e.value)).unwrap_or_default(),
                    change: Change::Rule {
                        id: id.clone(),
                        rule: None,
                    },
                });
                Ok(())
            }
            Op::SetConflictMode { mode } => {
                let mode = *mode;
                self.write_settings(b, |s| s.conflict_mode = mode);
                Ok(())
            }
            Op::SetPeriod { from, to } => {
                let period = Period::new(*from, *to).map_err(|m| problem(i, "invalid_value", m))?;
                self.write_settings(b, |s| s.period = Some(period));
                Ok(())
            }
            Op::SetTimeZone { zone } => {
                if let Some(z) = zone {
                    check_time_zone(z).map_err(|m| problem(i, "invalid_value", m))?;
                }
                let zone = zone.clone();
                self.write_settings(b, |s| s.time_zone = zone);
                Ok(())
            }
            Op::PutRequest { request, base } => self.op_put_request(i, request, *base, b),
            Op::RemoveRequest { staff, date, base } => {
                self.op_remove_request(i, staff, *date, *base, b)
            }
            Op::Propose { staff, date, code } => {
                self.op_propose(i, staff, *date, code.as_deref(), b)
            }
            Op::Publish { from, to, note } => self.op_publish(i, *from, *to, note, b),
        }
    }

    /// Changes the settings with `f`, when that changes them.
    pub(super) fn write_settings(&mut self, b: &mut Batch, f: impl FnOnce(&mut Settings)) {
        let mut value = self.settings.value.clone();
        f(&mut value);
        value.seq = self.settings.value.seq;
        if value == self.settings.value {
            return;
        }
        let before = to_json(&self.settings.value);
        b.undo.push(Undo::Settings(self.settings.clone()));
        value.seq = b.stamp.seq;
        self.settings = Entry {
            value: value.clone(),
            stamp: b.stamp.clone(),
        };
        b.changes.push(ChangeRecord {
            before,
            change: Change::Settings { settings: value },
        });
    }

    /// A roster without a planning period gets one with the first edit
    /// that writes a code into a cell: the whole months from the first to
    /// the last date holding a code (see [`Period::covering`]). Part of
    /// the batch, so the hub and every editor agree on it.
    pub(super) fn settle_period(&mut self, b: &mut Batch) {
        if self.settings.value.period.is_some() {
            return;
        }
        let wrote_code = b
            .changes
            .iter()
            .any(|c| matches!(&c.change, Change::Cell { code: Some(_), .. }));
        if !wrote_code {
            return;
        }
        if let Some((first, last)) = self.code_span() {
            let period = Period::covering(first, last);
            self.write_settings(b, |s| s.period = Some(period));
        }
    }

    pub(super) fn op_set_cell(
        &mut self,
        i: usize,
        staff: &str,
        date: Date,
        code: &Option<String>,
        base: Seq,
        b: &mut Batch,
    ) -> Result<(), Problem> {
        self.writable(i, staff, code.as_deref())?;
        let current = self.cells.get(staff).and_then(|row| row.get(&date));
        if let Some(cur) = current {
            if cur.value.as_deref() == code.as_deref() {
                return Ok(()); // already holds that value: nothing to write
            }
            note_conflict(
                i,
                || Target::Cell {
                    staff: staff.to_string(),
                    date,
                },
                base,
                &cur.stamp,
                || to_json(&cur.value.as_deref()),
                b,
            );
        } else if code.is_none() {
            return Ok(()); // clearing a cell that was never written
        }
        let prev = self.put_cell(staff, date, code.as_deref(), b.stamp.clone());
        let before = prev
            .as_ref()
            .map(|e| to_json(&e.value.as_deref()))
            .unwrap_or_default();
        b.undo.push(Undo::Cell(staff.to_string(), date, prev));
        b.changes.push(ChangeRecord {
            before,
            change: Change::Cell {
                staff: staff.to_string(),
                date,
                code: code.clone(),
            },
        });
        // A cell someone writes is no longer proposed (accepting a proposal
        // is writing its code).
        if code.is_some() {
            self.put_proposal(staff, date, None, b);
        }
        Ok(())
    }

    pub(super) fn op_add_staff(
        &mut self,
        i: usize,
        id: &str,
        name: &str,
        group: &str,
        order: Option<i64>,
        b: &mut Batch,
    ) -> Result<(), Problem> {
        check_id("staff id", id).map_err(|m| problem(i, "invalid_value", m))?;
        let name = check_name(i, name)?;
        let group = check_name(i, group)?;
        if name.is_empty() {
            return Err(problem(i, "invalid_value", "staff name must not be empty"));
        }
        let order = match (order, self.staff.get(id)) {
            (_, Some(e)) if e.value.active => {
                return Err(problem(i, "exists", format!("staff `{id}` already exists")));
            }
            (Some(o), _) => o,
            // Re-adding a removed person restores them in their old place.
            (None, Some(e)) => e.value.order,
            (None, None) => self
                .staff
                .values()
                .map(|e| e.value.order + 1)
                .max()
                .unwrap_or(1),
        };
        self.write_staff(
            Staff {
                id: id.to_string(),
                name,
                group,
                order,
                active: true,
                seq: 0,
            },
            b,
        );
        Ok(())
    }

    /// The current record of a staff member, after the base-version check.
    /// What a cell, a request or a proposal names must be there: a person
    /// on the roster (not removed) and, if given, a code it knows.
    pub(super) fn writable(
        &self,
        i: usize,
        staff: &str,
        code: Option<&str>,
    ) -> Result<(), Problem> {
        match self.staff.get(staff) {
            None => return Err(problem(i, "unknown_staff", format!("no staff `{staff}`"))),
            Some(s) if !s.value.active => {
                return Err(problem(
                    i,
                    "staff_removed",
                    format!("staff `{staff}` has been removed"),
                ));
            }
            Some(_) => {}
        }
        if let Some(c) = code
            && !self.codes.contains_key(c)
        {
            return Err(problem(i, "unknown_code", format!("no shift code `{c}`")));
        }
        Ok(())
    }

    pub(super) fn existing_staff(
        &self,
        i: usize,
        id: &str,
        base: Option<Seq>,
        b: &mut Batch,
    ) -> Result<Staff, Problem> {
        let Some(cur) = self.staff.get(id) else {
            return Err(problem(i, "not_found", format!("no staff `{id}`")));
        };
        if let Some(base) = base {
            note_conflict(
                i,
                || Target::Staff { id: id.to_string() },
                base,
                &cur.stamp,
                || to_json(&cur.value),
                b,
            );
        }
        Ok(cur.value.clone())
    }

    pub(super) fn write_staff(&mut self, mut s: Staff, b: &mut Batch) {
        s.seq = b.stamp.seq;
        let id = s.id.clone();
        let prev = self.staff.insert(
            id.clone(),
            Entry {
                value: s.clone(),
                stamp: b.stamp.clone(),
            },
        );
        b.changes.push(ChangeRecord {
            before: prev.as_ref().map(|e| to_json(&e.value)).unwrap_or_default(),
            change: Change::Staff { staff: s },
        });
        b.undo.push(Undo::Staff(id, prev));
    }

    pub(super) fn op_put_code(
        &mut self,
        i: usize,
        def: &ShiftCode,
        base: Option<Seq>,
        b: &mut Batch,
    ) -> Result<(), Problem> {
        let (label, colour) = check_code_def(i, def)?;
        if let (Some(cur), Some(base)) = (self.codes.get(&def.code), base) {
            note_conflict(
                i,
                || Target::Code {
                    code: def.code.clone(),
                },
                base,
                &cur.stamp,
                || to_json(&cur.value),
                b,
            );
        }
        let value = ShiftCode {
            label,
            colour,
            seq: b.stamp.seq,
            ..def.clone()
        };
        let prev = self.codes.insert(
            def.code.clone(),
            Entry {
                value: value.clone(),
                stamp: b.stamp.clone(),
            },
        );
        b.changes.push(ChangeRecord {
            before: prev.as_ref().map(|e| to_json(&e.value)).unwrap_or_default(),
            change: Change::Code {
                code: def.code.clone(),
                def: Some(value),
            },
        });
        b.undo.push(Undo::Code(def.code.clone(), prev));
        Ok(())
    }

    pub(super) fn op_remove_code(
        &mut self,
        i: usize,
        code: &str,
        base: Option<Seq>,
        b: &mut Batch,
    ) -> Result<(), Problem> {
        let Some(cur) = self.codes.get(code) else {
            return Err(problem(i, "not_found", format!("no shift code `{code}`")));
        };
        if let Some(base) = base {
            note_conflict(
                i,
                || Target::Code {
                    code: code.to_string(),
                },
                base,
                &cur.stamp,
                || to_json(&cur.value),
                b,
            );
        }
        let (in_use, _) = self.code_uses(code);
        if in_use > 0 {
            let cells = if in_use == 1 {
                "1 cell; change it first".to_string()
            } else {
                format!("{in_use} cells; change them first")
            };
            return Err(problem(
                i,
                "in_use",
                format!("shift code `{code}` is in {cells}"),
            ));
        }
        let asked = self
            .requests
            .values()
            .filter(|e| e.value.wish.code() == Some(code))
            .count();
        if asked > 0 {
            let what = if asked == 1 {
                "1 request; change or withdraw it first".to_string()
            } else {
                format!("{asked} requests; change or withdraw them first")
            };
            return Err(problem(
                i,
                "in_use",
                format!("shift code `{code}` is named by {what}"),
            ));
        }
        let prev = self.codes.remove(code);
        b.changes.push(ChangeRecord {
            before: prev.as_ref().map(|e| to_json(&e.value)).unwrap_or_default(),
            change: Change::Code {
                code: code.to_string(),
                def: None,
            },
        });
        b.undo.push(Undo::Code(code.to_string(), prev));
        Ok(())
    }

    pub(super) fn op_put_rule(
        &mut self,
        i: usize,
        rule: &Rule,
        base: Option<Seq>,
        b: &mut Batch,
    ) -> Result<(), Problem> {
        check_id("rule id", &rule.id).map_err(|m| problem(i, "invalid_value", m))?;
        self.check_rule_refs(i, &rule.kind)?;
        if let (Some(cur), Some(base)) = (self.rules.get(&rule.id), base) {
            note_conflict(
                i,
                || Target::Rule {
                    id: rule.id.clone(),
                },
                base,
                &cur.stamp,
                || to_json(&cur.value),
                b,
            );
        }
        let value = Rule {
            seq: b.stamp.seq,
            ..rule.clone()
        };
        let prev = self.rules.insert(
            rule.id.clone(),
            Entry {
                value: value.clone(),
                stamp: b.stamp.clone(),
            },
        );
        b.changes.push(ChangeRecord {
            before: prev.as_ref().map(|e| to_json(&e.value)).unwrap_or_default(),
            change: Change::Rule {
                id: rule.id.clone(),
                rule: Some(value),
            },
        });
        b.undo.push(Undo::Rule(rule.id.clone(), prev));
        Ok(())
    }
}

/// Notes a stale write; what it names is only built when it is stale (most
/// writes are not, and a script's edit has 100,000).
pub(super) fn note_conflict(
    i: usize,
    target: impl FnOnce() -> Target,
    base: Seq,
    cur: &Stamp,
    value: impl FnOnce() -> serde_json::Value,
    b: &mut Batch,
) {
    if is_stale(cur, base, &b.stamp.client) {
        b.conflicts.push(Conflict {
            op: i,
            target: target(),
            base,
            value: value(),
            seq: cur.seq,
            user: cur.user.to_string(),
            client: cur.client.to_string(),
            at: cur.at,
        });
    }
}

pub(super) fn restore<T>(
    map: &mut BTreeMap<String, Entry<T>>,
    key: String,
    prev: Option<Entry<T>>,
) {
    match prev {
        Some(e) => {
            map.insert(key, e);
        }
        None => {
            map.remove(&key);
        }
    }
}

pub(super) fn with_seq<T: Clone>(v: &T, seq: Seq, set: impl FnOnce(&mut T, Seq)) -> T {
    let mut v = v.clone();
    set(&mut v, seq);
    v
}
