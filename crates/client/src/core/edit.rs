//! Edits, undo and redo, and settling conflicts and rejections: each
//! committed to the local store and laid into the view before it returns.

use super::*;

impl Core {
    // ----- editing -----

    /// Queues an edit: checked against the view, committed to the outbox,
    /// shown at once. With `fill_bases`, each write is based on the hub's
    /// version of its target as this editor knows it. Returns the op id, or
    /// None when the edit changes nothing in the view.
    pub fn edit(
        &mut self,
        ops: Vec<Op>,
        note: Option<&str>,
        fill_bases: bool,
    ) -> Result<Option<u64>, EditError> {
        let how = How {
            note,
            fill_bases,
            undoable: true,
            force: false,
        };
        let op_id = self.edit_inner(ops, how)?;
        if op_id.is_some() {
            self.redo.clear();
        }
        Ok(op_id)
    }

    /// Queues a script's edit: its ops carry the bases the script read, it
    /// is not on this session's undo stack, and with `force` the hub applies
    /// it over whatever changed since (listing what it overwrote).
    pub fn edit_script(
        &mut self,
        ops: Vec<Op>,
        note: &str,
        force: bool,
    ) -> Result<Option<u64>, EditError> {
        let how = How {
            note: Some(note),
            fill_bases: false,
            undoable: false,
            force,
        };
        self.edit_inner(ops, how)
    }

    pub(super) fn edit_inner(
        &mut self,
        mut ops: Vec<Op>,
        how: How<'_>,
    ) -> Result<Option<u64>, EditError> {
        let How {
            note,
            fill_bases,
            undoable,
            force,
        } = how;
        if ops.len() > protocol::MAX_OPS_PER_CHANGE_SET {
            return Err(EditError::TooLarge {
                ops: ops.len(),
                max: protocol::MAX_OPS_PER_CHANGE_SET,
            });
        }
        let chars = note.map_or(0, |n| n.chars().count());
        if chars > protocol::MAX_NOTE_CHARS {
            return Err(EditError::NoteTooLong {
                chars,
                max: protocol::MAX_NOTE_CHARS,
            });
        }
        if fill_bases {
            for op in ops.iter_mut().filter(|op| !op.has_record_base()) {
                let v = self.server.version(&op.target());
                op.set_base(v);
            }
        }
        let inverse = if undoable {
            inverse_ops(&self.view(), &ops)
        } else {
            None
        };
        let now = now_ms();
        let author = self.author();
        let applied = match self.view_mut().apply_batch_with(&ops, &author, now, true) {
            Ok(a) => a,
            Err(Rejection::Invalid(problems)) => return Err(EditError::Invalid(problems)),
            // Forced: staleness never refuses.
            Err(Rejection::Conflict(_)) => return Ok(None),
        };
        if applied.changes.is_empty() {
            return Ok(None);
        }
        let entry = match self.store.queue(ops, note, force, now) {
            Ok(e) => e,
            Err(e) => {
                self.rebuild_view();
                return Err(EditError::Store(e));
            }
        };
        add_cells(&mut self.pending_cells, &entry.ops, 1);
        let op_id = entry.op_id;
        if let Some(inverse) = inverse {
            let after = entry
                .ops
                .iter()
                .map(|op| {
                    let t = op.target();
                    let v = self.view().value_of(&t);
                    (t, v)
                })
                .collect();
            self.undo.push(UndoItem {
                op_id,
                forward: entry.ops.clone(),
                inverse,
                after,
            });
        }
        self.outbox.push(entry);
        self.emit(SyncEvent::Queued { op_id });
        self.outbox_changed();
        Ok(Some(op_id))
    }

    /// Undoes this session's last edit by a new edit that restores what it
    /// replaced. When someone else has changed a target since, nothing is
    /// done unless `anyway`: the caller asks its user first.
    pub fn undo(&mut self, anyway: bool) -> Result<Option<u64>, UndoError> {
        let Some(item) = self.undo.last().cloned() else {
            return Ok(None);
        };
        let changed: Vec<Target> = item
            .after
            .iter()
            .filter(|(t, v)| self.view().value_of(t) != *v)
            .map(|(t, _)| t.clone())
            .collect();
        if !changed.is_empty() && !anyway {
            return Err(UndoError::ChangedSince(changed));
        }
        // A proposal someone has discarded since is not withdrawn again:
        // the undo (and what it says it did) is what is left of the edit.
        let inverse: Vec<Op> = item
            .inverse
            .iter()
            .filter(|op| match op {
                Op::Propose {
                    staff,
                    date,
                    code: None,
                } => self.view().proposal(staff, *date).is_some(),
                _ => true,
            })
            .cloned()
            .collect();
        if inverse.is_empty() {
            self.undo.pop();
            self.redo.push(item);
            return Err(UndoError::NothingLeft);
        }
        let op_id = self
            .edit_inner(inverse, How::session("undo", false))
            .map_err(UndoError::Edit)?;
        self.undo.pop();
        self.redo.push(item);
        Ok(op_id)
    }

    /// Makes the last undone edit again.
    /// A value kept in the local store (see `LocalStore::kept`).
    pub fn kept(&self, key: &str) -> Option<String> {
        self.store.kept(key).ok().flatten()
    }

    /// Keeps a value in the local store.
    pub fn keep(&self, key: &str, value: &str) -> Result<(), String> {
        self.store.keep(key, value).map_err(|e| e.to_string())
    }

    /// The operations of the outbox's edit `op_id`, while it is there.
    pub fn ops_of(&self, op_id: u64) -> Option<Vec<Op>> {
        self.outbox
            .iter()
            .find(|e| e.op_id == op_id)
            .map(|e| e.ops.clone())
    }

    pub fn redo(&mut self) -> Result<Option<u64>, UndoError> {
        let Some(item) = self.redo.pop() else {
            return Ok(None);
        };
        match self.edit_inner(item.forward.clone(), How::session("redo", true)) {
            Ok(op_id) => Ok(op_id),
            Err(e) => {
                self.redo.push(item);
                Err(UndoError::Edit(e))
            }
        }
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }
    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    // ----- resolving -----

    pub(super) fn position(&self, op_id: u64) -> Option<usize> {
        self.outbox.iter().position(|e| e.op_id == op_id)
    }

    /// Drops a conflicted edit: the other writer's value stands.
    pub fn keep_theirs(&mut self, op_id: u64) -> Result<bool, LocalError> {
        let Some(i) = self.position(op_id) else {
            return Ok(false);
        };
        if !matches!(self.outbox[i].state, EntryState::Conflict { .. }) {
            return Ok(false);
        }
        self.store.remove(op_id)?;
        self.outbox.remove(i);
        self.undo.retain(|u| u.op_id != op_id);
        self.rebuild_view();
        self.outbox_changed();
        Ok(true)
    }

    /// Sends a conflicted edit again, now based on the current versions, so
    /// it overwrites the other writer's value.
    pub fn keep_mine(&mut self, op_id: u64) -> Result<Option<u64>, LocalError> {
        let Some(i) = self.position(op_id) else {
            return Ok(None);
        };
        let EntryState::Conflict { conflicts } = &self.outbox[i].state else {
            return Ok(None);
        };
        let mut ops = self.outbox[i].ops.clone();
        for op in ops.iter_mut() {
            let mut v = self.server.version(&op.target());
            // The conflict says what the hub had; the cache may lag behind.
            for c in conflicts.iter().filter(|c| c.target == op.target()) {
                v = v.max(c.seq);
            }
            op.set_base(v);
        }
        let note = self.outbox[i].note.clone();
        let entry = self.store.requeue(op_id, ops, note.as_deref(), now_ms())?;
        self.outbox.remove(i);
        add_cells(&mut self.pending_cells, &entry.ops, 1);
        let new_id = entry.op_id;
        for u in self.undo.iter_mut().filter(|u| u.op_id == op_id) {
            u.op_id = new_id;
        }
        self.outbox.push(entry);
        self.rebuild_view();
        self.emit(SyncEvent::Queued { op_id: new_id });
        self.outbox_changed();
        Ok(Some(new_id))
    }

    /// Forgets a rejected edit once its user has read why.
    pub fn dismiss(&mut self, op_id: u64) -> Result<bool, LocalError> {
        let Some(i) = self.position(op_id) else {
            return Ok(false);
        };
        if !matches!(self.outbox[i].state, EntryState::Rejected { .. }) {
            return Ok(false);
        }
        self.store.remove(op_id)?;
        self.outbox.remove(i);
        self.undo.retain(|u| u.op_id != op_id);
        self.outbox_changed();
        Ok(true)
    }

    pub fn set_cursor(&mut self, cursor: Option<Cursor>) {
        if self.cursor != cursor {
            self.cursor = cursor;
            self.cursor_dirty = true;
        }
    }
}

pub(super) fn add_cells(
    map: &mut HashMap<(String, rota_core::domain::Date), usize>,
    ops: &[Op],
    n: usize,
) {
    for op in ops {
        if let Op::SetCell { staff, date, .. } = op {
            *map.entry((staff.clone(), *date)).or_default() += n;
        }
    }
}

/// The operations that undo `ops` applied to `view`, or None when one of
/// them has no inverse.
pub(super) fn inverse_ops(view: &Roster, ops: &[Op]) -> Option<Vec<Op>> {
    let mut inv = Vec::with_capacity(ops.len());
    for op in ops {
        let back = match op {
            Op::SetCell { staff, date, .. } => Op::SetCell {
                staff: staff.clone(),
                date: *date,
                code: view
                    .cell(staff, *date)
                    .and_then(|(c, _)| c.map(str::to_string)),
                base: 0,
            },
            Op::AddStaff { id, .. } => Op::RemoveStaff {
                id: id.clone(),
                base: None,
            },
            Op::UpdateStaff { id, .. } => {
                let old = view.staff_member(id).filter(|s| s.active)?;
                Op::UpdateStaff {
                    id: old.id.clone(),
                    name: Some(old.name.clone()),
                    group: Some(old.group.clone()),
                    order: Some(old.order),
                    base: None,
                }
            }
            Op::RemoveStaff { id, .. } => {
                let old = view.staff_member(id).filter(|s| s.active)?;
                Op::AddStaff {
                    id: old.id.clone(),
                    name: old.name.clone(),
                    group: old.group.clone(),
                    order: Some(old.order),
                }
            }
            Op::PutCode { code, .. } => match view.code(&code.code) {
                Some(old) => Op::PutCode {
                    code: old.clone(),
                    base: None,
                },
                None => Op::RemoveCode {
                    code: code.code.clone(),
                    base: None,
                },
            },
            Op::RemoveCode { code, .. } => Op::PutCode {
                code: view.code(code)?.clone(),
                base: None,
            },
            Op::PutRule { rule, .. } => match view.rule(&rule.id) {
                Some(old) => Op::PutRule {
                    rule: old.clone(),
                    base: None,
                },
                None => Op::RemoveRule {
                    id: rule.id.clone(),
                    base: None,
                },
            },
            Op::RemoveRule { id, .. } => Op::PutRule {
                rule: view.rule(id)?.clone(),
                base: None,
            },
            Op::SetConflictMode { .. } => Op::SetConflictMode {
                mode: view.conflict_mode(),
            },
            Op::SetPeriod { .. } => {
                let p = view.set_period()?;
                Op::SetPeriod {
                    from: p.from,
                    to: p.to,
                }
            }
            Op::SetTimeZone { .. } => Op::SetTimeZone {
                zone: view.time_zone().map(str::to_string),
            },
            Op::PutRequest { request, .. } => match view.request(&request.staff, request.date) {
                Some(old) => Op::PutRequest {
                    request: old.clone(),
                    base: None,
                },
                None => Op::RemoveRequest {
                    staff: request.staff.clone(),
                    date: request.date,
                    base: None,
                },
            },
            Op::RemoveRequest { staff, date, .. } => Op::PutRequest {
                request: view.request(staff, *date)?.clone(),
                base: None,
            },
            Op::Propose { staff, date, .. } => Op::Propose {
                staff: staff.clone(),
                date: *date,
                code: view.proposal(staff, *date).map(str::to_string),
            },
            // What staff were shown cannot be taken back: publish again.
            Op::Publish { .. } => return None,
        };
        inv.push(back);
    }
    inv.reverse();
    Some(inv)
}
