//! How a batch is laid out in the change log: one row, or parts of at
//! most `PART_CHANGES` changes, with the staff and dates each touches.

use super::*;

/// Writes one batch's row to the change log as schema 2 did, for migration
/// 3 (which must do what it did when it shipped).
pub(super) fn log_batch_schema_2<'a>(
    conn: &Connection,
    roster: &str,
    seq: i64,
    meta: &BatchMeta,
    changes: impl Iterator<Item = (&'a Change, &'a serde_json::Value)> + Clone,
) -> Result<()> {
    let count = changes.clone().count() as i64;
    let json = serde_json::to_string(&Logged(changes))
        .map_err(|e| StoreError::Corrupt(format!("batch {seq} could not be encoded: {e}")))?;
    conn.prepare_cached(
        "INSERT INTO batches (roster, seq, user, client, op_id, at, note, count, changes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        roster,
        seq,
        meta.user,
        meta.client,
        meta.op_id as i64,
        meta.at,
        meta.note,
        count,
        json
    ])?;
    Ok(())
}

/// Writes one batch's row to the change log, and a batch of more than
/// [`PART_CHANGES`] changes in parts (history's index rows are the caller's).
pub(super) fn log_batch<'a>(
    conn: &Connection,
    roster: &str,
    seq: i64,
    meta: &BatchMeta,
    changes: impl Iterator<Item = (&'a Change, &'a serde_json::Value)> + Clone,
) -> Result<()> {
    let count = changes.clone().count();
    let encode_err = |e: serde_json::Error| {
        StoreError::Corrupt(format!("batch {seq} could not be encoded: {e}"))
    };
    let (json, parts) = if count <= PART_CHANGES {
        (
            serde_json::to_string(&Logged(changes)).map_err(encode_err)?,
            0,
        )
    } else {
        (String::from("[]"), put_parts(conn, roster, seq, changes)?)
    };
    conn.prepare_cached(
        "INSERT INTO batches (roster, seq, user, client, op_id, at, note, count, changes, parts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        roster,
        seq,
        meta.user,
        meta.client,
        meta.op_id as i64,
        meta.at,
        meta.note,
        count as i64,
        json,
        parts
    ])?;
    Ok(())
}

/// Writes a large batch's changes as parts in its order, and the range of
/// staff and dates each holds; returns how many.
pub(super) fn put_parts<'a>(
    conn: &Connection,
    roster: &str,
    seq: i64,
    changes: impl Iterator<Item = (&'a Change, &'a serde_json::Value)>,
) -> Result<i64> {
    let all: Vec<(&Change, &serde_json::Value)> = changes.collect();
    let mut put = conn.prepare_cached(
        "INSERT INTO batch_parts (roster, seq, part, changes) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut put_range = conn.prepare_cached(
        "INSERT INTO part_ranges (roster, seq, part, first, staff_lo, staff_hi, date_lo, date_hi)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut n = 0;
    let mut first = 0;
    for part in runs(&all) {
        let json = serde_json::to_string(part)
            .map_err(|e| StoreError::Corrupt(format!("batch {seq} could not be encoded: {e}")))?;
        put.execute(params![roster, seq, n, json])?;
        let keys = part.iter().map(|(c, _)| staff_and_date(c));
        let staff = keys.clone().map(|(s, _)| s.unwrap_or(""));
        let dates = keys.filter_map(|(_, d)| d);
        put_range.execute(params![
            roster,
            seq,
            n,
            first as i64,
            staff.clone().min().unwrap_or(""),
            staff.max().unwrap_or(""),
            dates.clone().min().map(|d| d.to_string()),
            dates.max().map(|d| d.to_string()),
        ])?;
        n += 1;
        first += part.len();
    }
    Ok(n)
}

/// Whether the changes from `i` on start a run of at least
/// [`MIN_PART_CHANGES`] of one person or one date.
pub(super) fn long_run_at<T>(all: &[(&Change, T)], i: usize) -> bool {
    let end = i + MIN_PART_CHANGES;
    if end > all.len() {
        return false;
    }
    let (s, d) = staff_and_date(all[i].0);
    let run = &all[i..end];
    run.iter().all(|x| staff_and_date(x.0).0 == s) || run.iter().all(|x| staff_and_date(x.0).1 == d)
}

/// A large batch cut into parts of at most [`PART_CHANGES`], each ending
/// where a run of one person's changes, or of one date's, ends (once it has
/// [`MIN_PART_CHANGES`]): an import by person or by date gives parts of one
/// person or one date, whose ranges find them exactly.
pub(super) fn runs<'a, T>(all: &'a [(&'a Change, T)]) -> Vec<&'a [(&'a Change, T)]> {
    let mut parts = Vec::new();
    let mut start = 0;
    let (mut one_staff, mut one_date) = (true, true);
    for i in 1..all.len() {
        let (s0, d0) = staff_and_date(all[start].0);
        let (s, d) = staff_and_date(all[i].0);
        let keeps_staff = one_staff && s == s0;
        let keeps_date = one_date && d == d0;
        let broken = !keeps_staff && !keeps_date;
        // A short part of one run is cut too when a long run starts here
        // (what is left of a run after a full part).
        let short_cut = broken && (one_staff || one_date) && long_run_at(all, i);
        if i - start >= PART_CHANGES || (broken && i - start >= MIN_PART_CHANGES) || short_cut {
            parts.push(&all[start..i]);
            start = i;
            (one_staff, one_date) = (true, true);
        } else {
            (one_staff, one_date) = (keeps_staff, keeps_date);
        }
    }
    if start < all.len() {
        parts.push(&all[start..]);
    }
    parts
}
