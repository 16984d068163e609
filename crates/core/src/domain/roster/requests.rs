//! Requests added, changed and withdrawn: checked like any record, written
//! with an undo, their author kept as `by`.

use super::*;

impl Roster {
    pub(super) fn op_put_request(
        &mut self,
        i: usize,
        request: &Request,
        base: Option<Seq>,
        b: &mut Batch,
    ) -> Result<(), Problem> {
        let staff = &request.staff;
        self.writable(i, staff, request.wish.code())?;
        if request.weight == 0 || request.weight > MAX_WEIGHT {
            return Err(problem(
                i,
                "invalid_value",
                format!(
                    "request weight {} must be 1 to {MAX_WEIGHT}",
                    request.weight
                ),
            ));
        }
        let note = request.note.trim();
        if note.chars().count() > MAX_NOTE_CHARS || note.chars().any(char::is_control) {
            return Err(problem(
                i,
                "invalid_value",
                format!(
                    "request note must be at most {MAX_NOTE_CHARS} characters without control characters"
                ),
            ));
        }
        check_visible("request note", note).map_err(|m| problem(i, "invalid_value", m))?;
        let key = (staff.clone(), request.date);
        let value = Request {
            note: note.to_string(),
            by: b.stamp.user.to_string(),
            seq: 0,
            ..request.clone()
        };
        if let Some(cur) = self.requests.get(&key) {
            // The same wish, weight and note, whoever sends it again (a
            // script run twice, by another user): nothing to write, and
            // the request stays who entered it.
            if (Request {
                seq: 0,
                by: value.by.clone(),
                ..cur.value.clone()
            }) == value
            {
                return Ok(());
            }
            if let Some(base) = base {
                note_conflict(
                    i,
                    || Target::Request {
                        staff: staff.clone(),
                        date: request.date,
                    },
                    base,
                    &cur.stamp,
                    || to_json(&cur.value),
                    b,
                );
            }
        }
        let prev = self.requests.insert(
            key.clone(),
            Entry {
                value: value.clone(),
                stamp: b.stamp.clone(),
            },
        );
        b.changes.push(ChangeRecord {
            before: prev.as_ref().map(|e| to_json(&e.value)).unwrap_or_default(),
            change: Change::Request {
                staff: staff.clone(),
                date: request.date,
                request: Some(Request {
                    seq: b.stamp.seq,
                    ..value
                }),
            },
        });
        b.undo.push(Undo::Request(key, prev));
        Ok(())
    }

    pub(super) fn op_remove_request(
        &mut self,
        i: usize,
        staff: &str,
        date: Date,
        base: Option<Seq>,
        b: &mut Batch,
    ) -> Result<(), Problem> {
        let key = (staff.to_string(), date);
        let Some(cur) = self.requests.get(&key) else {
            return Err(problem(
                i,
                "not_found",
                format!("no request of `{staff}` on {date}"),
            ));
        };
        if let Some(base) = base {
            note_conflict(
                i,
                || Target::Request {
                    staff: staff.to_string(),
                    date,
                },
                base,
                &cur.stamp,
                || to_json(&cur.value),
                b,
            );
        }
        let prev = self.requests.remove(&key);
        b.changes.push(ChangeRecord {
            before: prev.as_ref().map(|e| to_json(&e.value)).unwrap_or_default(),
            change: Change::Request {
                staff: staff.to_string(),
                date,
                request: None,
            },
        });
        b.undo.push(Undo::Request(key, prev));
        Ok(())
    }
}
