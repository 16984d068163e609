//! One roster held in memory, and the one place where operations are checked
//! and applied. A batch is applied all or nothing: every operation is applied
//! to the live state with an undo record, and the undo log is replayed when any
//! operation fails, so a refused batch leaves the roster exactly as it was.

use super::Seq;
use super::row::Row;
use super::types::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Who wrote a version and when.
#[derive(Clone, Debug, PartialEq)]
pub struct Stamp {
    pub seq: Seq,
    pub user: Arc<str>,
    pub client: Arc<str>,
    /// Unix time in milliseconds.
    pub at: i64,
}

impl Stamp {
    /// The stamp of something never written. Its empty names are one
    /// shared allocation, however many cells carry it.
    pub fn none() -> Stamp {
        static EMPTY: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
        let empty = EMPTY.get_or_init(|| Arc::from(""));
        Stamp {
            seq: 0,
            user: empty.clone(),
            client: empty.clone(),
            at: 0,
        }
    }
}

/// Names (users, clients) held once each while loading many stamps that
/// repeat them: one shared copy, not an allocation per stamp.
#[derive(Default)]
pub struct Names(HashMap<String, Arc<str>>);

impl Names {
    pub fn get(&mut self, s: String) -> Arc<str> {
        if let Some(a) = self.0.get(&s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s.as_str());
        self.0.insert(s, a.clone());
        a
    }

    /// A stamp whose names are shared.
    pub fn stamp(&mut self, seq: Seq, user: String, client: String, at: i64) -> Stamp {
        Stamp {
            seq,
            user: self.get(user),
            client: self.get(client),
            at,
        }
    }
}

/// The author of a batch.
#[derive(Clone, Debug)]
pub struct Author {
    pub user: Arc<str>,
    pub client: Arc<str>,
}

#[derive(Clone, Debug)]
struct Entry<T> {
    value: T,
    stamp: Stamp,
}

/// A cell's code is one of the roster's few codes: each is held once and
/// shared (16 bytes a cell, no allocation of its own).
type CellEntry = Entry<Option<Arc<str>>>;

/// One change an accepted batch made, with the value before it (a code or
/// null for a cell, the record or null otherwise) for the change log.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeRecord {
    pub before: serde_json::Value,
    pub change: Change,
}

impl ChangeRecord {
    /// What was changed.
    pub fn target(&self) -> Target {
        self.change.target()
    }
}

/// What an accepted batch did.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    /// The batch's seq. When the batch changed nothing (every write already
    /// held its value) this is the roster's current seq and `changes` is empty.
    pub seq: Seq,
    pub changes: Vec<ChangeRecord>,
    /// Stale writes applied anyway under last-writer-wins: what they overwrote.
    pub overwritten: Vec<Conflict>,
}

enum Undo {
    Cell(String, Date, Option<CellEntry>),
    Staff(String, Option<Entry<Staff>>),
    Code(String, Option<Entry<ShiftCode>>),
    Rule(String, Option<Entry<Rule>>),
    Settings(Entry<Settings>),
}

/// Work in progress while a batch is applied.
struct Batch<'a> {
    stamp: &'a Stamp,
    undo: Vec<Undo>,
    changes: Vec<ChangeRecord>,
    conflicts: Vec<Conflict>,
}

#[derive(Clone, Debug)]
pub struct Roster {
    seq: Seq,
    settings: Entry<Settings>,
    staff: BTreeMap<String, Entry<Staff>>,
    codes: BTreeMap<String, Entry<ShiftCode>>,
    rules: BTreeMap<String, Entry<Rule>>,
    /// Keyed with foldhash: hashing staff ids with SipHash was a tenth of
    /// applying a large batch.
    cells: HashMap<String, Row<CellEntry>, foldhash::fast::RandomState>,
    cell_count: usize,
    /// Every code a cell has held, once each.
    code_names: std::collections::HashSet<Arc<str>, foldhash::fast::RandomState>,
}

/// An empty roster: what a roster that was never written looks like.
impl Default for Roster {
    fn default() -> Roster {
        Roster {
            seq: 0,
            settings: Entry {
                value: Settings::default(),
                stamp: Stamp::none(),
            },
            staff: BTreeMap::new(),
            codes: BTreeMap::new(),
            rules: BTreeMap::new(),
            cells: HashMap::default(),
            cell_count: 0,
            code_names: Default::default(),
        }
    }
}

const MAX_NAME: usize = 200;

fn problem(op: usize, code: &str, message: impl Into<String>) -> Problem {
    Problem {
        op,
        code: code.to_string(),
        message: message.into(),
    }
}

/// A write based on `base` is stale when someone else wrote after that
/// version. A client's own later writes never make its earlier-based ones
/// stale, so it may send several edits of one cell without waiting for acks.
fn is_stale(current: &Stamp, base: Seq, client: &str) -> bool {
    base < current.seq && &*current.client != client
}

fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

impl Roster {
    pub fn seq(&self) -> Seq {
        self.seq
    }
    pub fn conflict_mode(&self) -> ConflictMode {
        self.settings.value.conflict_mode
    }
    /// Number of cells that have ever been written (cleared ones included).
    pub fn cell_count(&self) -> usize {
        self.cell_count
    }

    /// Staff in display order (by `order`, then id), removed ones included.
    /// Active staff as the grid lists them: groups in the order of their
    /// first member, people by order within their group.
    pub fn staff_by_group(&self) -> Vec<Staff> {
        let staff: Vec<Staff> = self.staff().into_iter().filter(|s| s.active).collect();
        let mut groups: Vec<&str> = Vec::new();
        for s in &staff {
            if !groups.contains(&s.group.as_str()) {
                groups.push(&s.group);
            }
        }
        let mut out = Vec::with_capacity(staff.len());
        for g in groups {
            out.extend(staff.iter().filter(|s| s.group == g).cloned());
        }
        out
    }

    pub fn staff(&self) -> Vec<Staff> {
        let mut v: Vec<Staff> = self
            .staff
            .values()
            .map(|e| with_seq(&e.value, e.stamp.seq, |s, q| s.seq = q))
            .collect();
        v.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.id.cmp(&b.id)));
        v
    }
    pub fn codes(&self) -> Vec<ShiftCode> {
        self.codes
            .values()
            .map(|e| with_seq(&e.value, e.stamp.seq, |c, q| c.seq = q))
            .collect()
    }
    pub fn rules(&self) -> Vec<Rule> {
        self.rules
            .values()
            .map(|e| with_seq(&e.value, e.stamp.seq, |r, q| r.seq = q))
            .collect()
    }
    pub fn settings(&self) -> Settings {
        with_seq(&self.settings.value, self.settings.stamp.seq, |s, q| {
            s.seq = q
        })
    }

    /// The version (seq of the last write) of what `target` names; 0 when
    /// it was never written or no longer exists.
    pub fn version(&self, target: &Target) -> Seq {
        match target {
            Target::Cell { staff, date } => self.cell(staff, *date).map_or(0, |(_, s)| s.seq),
            Target::Staff { id } => self.staff.get(id).map_or(0, |e| e.stamp.seq),
            Target::Code { code } => self.codes.get(code).map_or(0, |e| e.stamp.seq),
            Target::Rule { id } => self.rules.get(id).map_or(0, |e| e.stamp.seq),
            Target::Settings => self.settings.stamp.seq,
        }
    }

    /// What `target` holds now, as JSON, leaving out versions: a code (or
    /// null) for a cell, the record (or null) otherwise. Two rosters agree
    /// on a target exactly when these are equal.
    pub fn value_of(&self, target: &Target) -> serde_json::Value {
        match target {
            Target::Cell { staff, date } => to_json(&self.cell(staff, *date).and_then(|(c, _)| c)),
            Target::Staff { id } => to_json(
                &self
                    .staff
                    .get(id)
                    .map(|e| with_seq(&e.value, 0, |s, q| s.seq = q)),
            ),
            Target::Code { code } => to_json(
                &self
                    .codes
                    .get(code)
                    .map(|e| with_seq(&e.value, 0, |c, q| c.seq = q)),
            ),
            Target::Rule { id } => to_json(
                &self
                    .rules
                    .get(id)
                    .map(|e| with_seq(&e.value, 0, |r, q| r.seq = q)),
            ),
            Target::Settings => to_json(&with_seq(&self.settings.value, 0, |s, q| s.seq = q)),
        }
    }

    /// The staff member with this id (removed ones included).
    pub fn staff_member(&self, id: &str) -> Option<&Staff> {
        self.staff.get(id).map(|e| &e.value)
    }
    pub fn code(&self, code: &str) -> Option<&ShiftCode> {
        self.codes.get(code).map(|e| &e.value)
    }
    /// The code `typed` names: itself, else the one code that differs from
    /// it only in the case of its letters (`off` is OFF). Err says why not,
    /// naming the codes there are.
    pub fn code_named(&self, typed: &str) -> Result<&str, String> {
        if let Some((k, _)) = self.codes.get_key_value(typed) {
            return Ok(k.as_str());
        }
        let near: Vec<&str> = self
            .codes
            .keys()
            .filter(|k| k.eq_ignore_ascii_case(typed))
            .map(String::as_str)
            .collect();
        match near.as_slice() {
            [one] => Ok(one),
            [] => {
                let known: Vec<&str> = self.codes.keys().map(String::as_str).collect();
                Err(if known.is_empty() {
                    format!("no shift code `{typed}` (the roster has none yet)")
                } else {
                    format!(
                        "no shift code `{typed}` (the roster has {})",
                        known.join(", ")
                    )
                })
            }
            many => Err(format!(
                "`{typed}` could be {}: write it as the roster does",
                many.join(" or ")
            )),
        }
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.get(id).map(|e| &e.value)
    }

    /// The code in a cell (None when empty) and the stamp of its last write.
    pub fn cell(&self, staff: &str, date: Date) -> Option<(Option<&str>, &Stamp)> {
        self.cells
            .get(staff)
            .and_then(|row| row.get(&date))
            .map(|e| (e.value.as_deref(), &e.stamp))
    }

    /// One person's written cells from `from` to `to` (both included), by
    /// date: what a screen row shows, found with one lookup of the person.
    pub fn row_between(
        &self,
        staff: &str,
        from: Date,
        to: Date,
    ) -> impl Iterator<Item = (Date, Option<&str>, &Stamp)> {
        self.cells
            .get(staff)
            .filter(|_| from <= to)
            .into_iter()
            .flat_map(move |row| row.range(from, to))
            .map(|(d, e)| (*d, e.value.as_deref(), &e.stamp))
    }

    /// The roster's planning period: the dates its rules are checked over.
    /// A roster that has none set (made before periods, or never given a
    /// code) plans the dates from its first to its last code.
    pub fn period(&self) -> Option<Period> {
        self.settings
            .value
            .period
            .or_else(|| self.code_span().map(|(a, b)| Period { from: a, to: b }))
    }

    /// The period as set, None when none was (see [`Roster::period`]).
    pub fn set_period(&self) -> Option<Period> {
        self.settings.value.period
    }

    /// The roster's time zone, when one is set.
    pub fn time_zone(&self) -> Option<&str> {
        self.settings.value.time_zone.as_deref()
    }

    /// How many cells hold `code`, and the first of them (by person id,
    /// then date): what keeps the code from being removed.
    pub fn code_uses(&self, code: &str) -> (usize, Option<(&str, Date)>) {
        let mut n = 0;
        let mut first: Option<(&str, Date)> = None;
        for (staff, row) in &self.cells {
            for (date, e) in row.iter() {
                if e.value.as_deref() == Some(code) {
                    n += 1;
                    if first.is_none_or(|(s, d)| (staff.as_str(), *date) < (s, d)) {
                        first = Some((staff.as_str(), *date));
                    }
                }
            }
        }
        (n, first)
    }

    /// The first and last dates a cell holds a code on (cleared cells
    /// aside); None when none does.
    pub fn code_span(&self) -> Option<(Date, Date)> {
        let mut span: Option<(Date, Date)> = None;
        for row in self.cells.values() {
            let mut coded = row.iter().filter(|(_, e)| e.value.is_some());
            let Some((first, _)) = coded.next() else {
                continue;
            };
            let last = coded.last().map_or(*first, |(d, _)| *d);
            span = Some(match span {
                None => (*first, last),
                Some((a, b)) => (a.min(*first), b.max(last)),
            });
        }
        span
    }

    /// The first and last dates any cell was written on (cleared ones
    /// too); None when none was.
    pub fn date_span(&self) -> Option<(Date, Date)> {
        let mut span: Option<(Date, Date)> = None;
        for row in self.cells.values() {
            if let (Some(first), Some(last)) = (row.first_date(), row.last_date()) {
                span = Some(match span {
                    None => (first, last),
                    Some((a, b)) => (a.min(first), b.max(last)),
                });
            }
        }
        span
    }

    /// Every written cell: (staff, date, code, seq), by staff id then date.
    pub fn cells(&self) -> Vec<(&str, Date, Option<&str>, Seq)> {
        let mut ids: Vec<&String> = self.cells.keys().collect();
        ids.sort();
        let mut out = Vec::with_capacity(self.cell_count);
        for id in ids {
            if let Some(row) = self.cells.get(id) {
                for (date, e) in row.iter() {
                    out.push((id.as_str(), *date, e.value.as_deref(), e.stamp.seq));
                }
            }
        }
        out
    }

    /// Sets a cell as a snapshot or a store holds it (no checks), without
    /// building a [`Change`] for it.
    pub fn load_cell(&mut self, staff: &str, date: Date, code: Option<&str>, stamp: Stamp) {
        self.put_cell(staff, date, code, stamp);
    }

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

    fn run_batch(
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

    fn rollback(&mut self, undo: Vec<Undo>) {
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
            }
        }
    }

    /// The shared copy of a code's name.
    fn intern(&mut self, code: &str) -> Arc<str> {
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

    fn put_cell(
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

    fn apply_op(&mut self, i: usize, op: &Op, b: &mut Batch) -> Result<(), Problem> {
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
        }
    }

    /// Changes the settings with `f`, when that changes them.
    fn write_settings(&mut self, b: &mut Batch, f: impl FnOnce(&mut Settings)) {
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
    fn settle_period(&mut self, b: &mut Batch) {
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

    fn op_set_cell(
        &mut self,
        i: usize,
        staff: &str,
        date: Date,
        code: &Option<String>,
        base: Seq,
        b: &mut Batch,
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
        Ok(())
    }

    fn op_add_staff(
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
    fn existing_staff(
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

    fn write_staff(&mut self, mut s: Staff, b: &mut Batch) {
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

    fn op_put_code(
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

    fn op_remove_code(
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

    fn op_put_rule(
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

    /// Whether a change of staff, a code or a rule would be taken, checked
    /// without writing anything (a form checks as its user types). Cells
    /// and versions are not looked at: the hub decides those.
    pub fn check_record(&self, op: &Op) -> Result<(), Problem> {
        match op {
            Op::AddStaff {
                id, name, group, ..
            } => {
                check_id("staff id", id).map_err(|m| problem(0, "invalid_value", m))?;
                check_name(0, group)?;
                if check_name(0, name)?.is_empty() {
                    return Err(problem(0, "invalid_value", "staff name must not be empty"));
                }
                if self.staff.get(id).is_some_and(|e| e.value.active) {
                    return Err(problem(0, "exists", format!("staff `{id}` already exists")));
                }
                Ok(())
            }
            Op::UpdateStaff {
                id, name, group, ..
            } => {
                if !self.staff.contains_key(id) {
                    return Err(problem(0, "not_found", format!("no staff `{id}`")));
                }
                if let Some(n) = name
                    && check_name(0, n)?.is_empty()
                {
                    return Err(problem(0, "invalid_value", "staff name must not be empty"));
                }
                if let Some(g) = group {
                    check_name(0, g)?;
                }
                Ok(())
            }
            Op::PutCode { code, .. } => check_code_def(0, code).map(|_| ()),
            Op::PutRule { rule, .. } => {
                check_id("rule id", &rule.id).map_err(|m| problem(0, "invalid_value", m))?;
                self.check_rule_refs(0, &rule.kind)
            }
            _ => Ok(()),
        }
    }

    /// A rule may only name codes and staff the roster has.
    fn check_rule_refs(&self, i: usize, kind: &RuleKind) -> Result<(), Problem> {
        let code_known = |c: &str| -> Result<(), Problem> {
            if self.codes.contains_key(c) {
                Ok(())
            } else {
                Err(problem(i, "unknown_code", format!("no shift code `{c}`")))
            }
        };
        let bounds = |min: Option<f64>, max: Option<f64>| -> Result<(), Problem> {
            let bad = |v: Option<f64>| v.is_some_and(|v| !v.is_finite() || v < 0.0);
            if bad(min) || bad(max) || matches!((min, max), (Some(a), Some(b)) if a > b) {
                return Err(problem(
                    i,
                    "invalid_value",
                    "min and max must be >= 0 and min <= max",
                ));
            }
            Ok(())
        };
        match kind {
            RuleKind::Staffing {
                code,
                min,
                max,
                from,
                to,
                ..
            } => {
                code_known(code)?;
                bounds(Some(f64::from(*min)), max.map(f64::from))?;
                if let (Some(f), Some(t)) = (from, to)
                    && f > t
                {
                    return Err(problem(
                        i,
                        "invalid_value",
                        format!("from {f} is after to {t}"),
                    ));
                }
            }
            RuleKind::ForbiddenSequence { first, then } => {
                code_known(first)?;
                code_known(then)?;
            }
            RuleKind::Limit {
                min,
                max,
                code,
                staff,
                period_days,
                ..
            } => {
                bounds(*min, *max)?;
                if min.is_none() && max.is_none() {
                    return Err(problem(i, "invalid_value", "a limit needs a min or a max"));
                }
                if *period_days == Some(0) {
                    return Err(problem(
                        i,
                        "invalid_value",
                        "period_days must be at least 1",
                    ));
                }
                if let Some(c) = code {
                    code_known(c)?;
                }
                if let Some(s) = staff
                    && !self.staff.contains_key(s)
                {
                    return Err(problem(i, "unknown_staff", format!("no staff `{s}`")));
                }
            }
        }
        Ok(())
    }
}

/// Notes a stale write; what it names is only built when it is stale (most
/// writes are not, and a script's edit has 100,000).
fn note_conflict(
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

/// A shift code's definition as the roster takes it: the code, times and
/// hours checked; the label and colour trimmed.
fn check_code_def(i: usize, def: &ShiftCode) -> Result<(String, String), Problem> {
    let invalid = |m: String| problem(i, "invalid_value", m);
    check_code(&def.code).map_err(invalid)?;
    for (what, t) in [("start", &def.start), ("end", &def.end)] {
        if let Some(t) = t {
            check_time(what, t).map_err(invalid)?;
        }
    }
    if !(def.hours.is_finite() && (0.0..=48.0).contains(&def.hours)) {
        return Err(invalid(format!(
            "hours {} must be between 0 and 48",
            def.hours
        )));
    }
    Ok((check_name(i, &def.label)?, check_name(i, &def.colour)?))
}

fn check_name(i: usize, s: &str) -> Result<String, Problem> {
    let s = s.trim();
    if s.chars().count() > MAX_NAME || s.chars().any(char::is_control) {
        return Err(problem(
            i,
            "invalid_value",
            format!("`{s}` must be at most {MAX_NAME} characters without control characters"),
        ));
    }
    Ok(s.to_string())
}

fn restore<T>(map: &mut BTreeMap<String, Entry<T>>, key: String, prev: Option<Entry<T>>) {
    match prev {
        Some(e) => {
            map.insert(key, e);
        }
        None => {
            map.remove(&key);
        }
    }
}

fn with_seq<T: Clone>(v: &T, seq: Seq, set: impl FnOnce(&mut T, Seq)) -> T {
    let mut v = v.clone();
    set(&mut v, seq);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn author(client: &str) -> Author {
        Author {
            user: Arc::from("ann"),
            client: Arc::from(client),
        }
    }
    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }
    fn code(c: &str) -> ShiftCode {
        ShiftCode {
            code: c.into(),
            label: String::new(),
            colour: String::new(),
            hours: 8.0,
            worked: true,
            start: None,
            end: None,
            seq: 0,
        }
    }
    fn setup() -> Roster {
        let mut r = Roster::default();
        let ops = vec![
            Op::PutCode {
                code: code("D"),
                base: None,
            },
            Op::PutCode {
                code: code("N"),
                base: None,
            },
            Op::AddStaff {
                id: "s1".into(),
                name: "Ann".into(),
                group: "Nurses".into(),
                order: None,
            },
        ];
        r.apply_batch(&ops, &author("c0"), 1).unwrap();
        r
    }
    fn set(staff: &str, date: &str, c: Option<&str>, base: Seq) -> Op {
        Op::SetCell {
            staff: staff.into(),
            date: d(date),
            code: c.map(String::from),
            base,
        }
    }

    #[test]
    fn trying_a_batch_says_what_applying_it_would_do_and_changes_nothing() {
        let mut r = setup();
        r.apply_batch(&[set("s1", "2026-12-01", Some("D"), 0)], &author("c1"), 2)
            .unwrap();
        let before: Vec<_> = r
            .cells()
            .into_iter()
            .map(|(s, d, c, q)| (s.to_string(), d, c.map(str::to_string), q))
            .collect();
        let staff_before = r.staff();
        let batch = [
            set("s1", "2026-12-01", Some("N"), 2),
            set("s1", "2026-12-02", Some("D"), 0),
            Op::UpdateStaff {
                id: "s1".into(),
                name: Some("Annie".into()),
                group: None,
                order: None,
                base: None,
            },
        ];
        let tried = r.try_batch(&batch, &author("c2"), 3, false).unwrap();
        let mut copy = r.clone();
        let applied = copy
            .apply_batch_with(&batch, &author("c2"), 3, false)
            .unwrap();
        assert_eq!(tried, applied);
        assert_eq!(tried.changes.len(), 3);
        let after: Vec<_> = r
            .cells()
            .into_iter()
            .map(|(s, d, c, q)| (s.to_string(), d, c.map(str::to_string), q))
            .collect();
        assert_eq!(after, before);
        assert_eq!(r.staff(), staff_before);
        assert_eq!(r.seq(), 2);
        assert_eq!(r.cell_count(), 1);
        // A refused batch is refused the same way.
        let bad = [set("s1", "2026-12-03", Some("XX"), 0)];
        assert!(matches!(
            r.try_batch(&bad, &author("c2"), 3, false),
            Err(Rejection::Invalid(_))
        ));
        assert_eq!(r.seq(), 2);
    }

    #[test]
    fn refused_batch_leaves_roster_unchanged() {
        let mut r = setup();
        let before = format!("{:?}", r.cells());
        let err = r
            .apply_batch(
                &[
                    set("s1", "2026-12-01", Some("D"), 0),
                    set("nobody", "2026-12-02", Some("D"), 0),
                    set("s1", "2026-12-03", Some("X"), 0),
                ],
                &author("c1"),
                2,
            )
            .unwrap_err();
        let Rejection::Invalid(problems) = err else {
            panic!("expected invalid")
        };
        assert_eq!(
            problems
                .iter()
                .map(|p| (p.op, p.code.as_str()))
                .collect::<Vec<_>>(),
            vec![(1, "unknown_staff"), (2, "unknown_code")]
        );
        assert_eq!(format!("{:?}", r.cells()), before);
        assert_eq!(r.seq(), 1);
        assert_eq!(r.cell_count(), 0);
    }

    #[test]
    fn stale_write_conflicts_unless_own_or_lww() {
        let mut r = setup();
        let a = r
            .apply_batch(&[set("s1", "2026-12-01", Some("D"), 0)], &author("c1"), 2)
            .unwrap();
        assert_eq!(a.seq, 2);
        // c2 never saw seq 2: conflict carrying the current value and writer.
        let err = r
            .apply_batch(&[set("s1", "2026-12-01", Some("N"), 0)], &author("c2"), 3)
            .unwrap_err();
        let Rejection::Conflict(c) = err else {
            panic!("expected conflict")
        };
        assert_eq!(
            (c[0].seq, c[0].value.clone(), c[0].client.as_str()),
            (2, serde_json::json!("D"), "c1")
        );
        // c1's own earlier write does not make its next write stale.
        r.apply_batch(&[set("s1", "2026-12-01", Some("N"), 0)], &author("c1"), 4)
            .unwrap();
        // Under last-writer-wins the stale write is applied and reported.
        r.apply_batch(
            &[Op::SetConflictMode {
                mode: ConflictMode::LastWriterWins,
            }],
            &author("c0"),
            5,
        )
        .unwrap();
        let a = r
            .apply_batch(&[set("s1", "2026-12-01", Some("D"), 0)], &author("c2"), 6)
            .unwrap();
        assert_eq!(a.overwritten.len(), 1);
        assert_eq!(r.cell("s1", d("2026-12-01")).unwrap().0, Some("D"));
    }

    #[test]
    fn removed_staff_keep_history_and_refuse_edits() {
        let mut r = setup();
        r.apply_batch(&[set("s1", "2026-12-01", Some("D"), 0)], &author("c1"), 2)
            .unwrap();
        r.apply_batch(
            &[Op::RemoveStaff {
                id: "s1".into(),
                base: None,
            }],
            &author("c1"),
            3,
        )
        .unwrap();
        assert_eq!(r.cell("s1", d("2026-12-01")).unwrap().0, Some("D"));
        let err = r
            .apply_batch(&[set("s1", "2026-12-02", Some("D"), 0)], &author("c1"), 4)
            .unwrap_err();
        assert!(matches!(err, Rejection::Invalid(ref p) if p[0].code == "staff_removed"));
        let err = r
            .apply_batch(
                &[Op::RemoveCode {
                    code: "D".into(),
                    base: None,
                }],
                &author("c1"),
                4,
            )
            .unwrap_err();
        assert!(matches!(err, Rejection::Invalid(ref p) if p[0].code == "in_use"));
    }

    #[test]
    fn writing_the_same_value_changes_nothing() {
        let mut r = setup();
        r.apply_batch(&[set("s1", "2026-12-01", Some("D"), 0)], &author("c1"), 2)
            .unwrap();
        let a = r
            .apply_batch(&[set("s1", "2026-12-01", Some("D"), 0)], &author("c2"), 3)
            .unwrap();
        assert!(a.changes.is_empty());
        assert_eq!((a.seq, r.seq()), (2, 2));
    }
}
