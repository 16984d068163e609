//! What a record must be before it is applied: its fields, and the
//! codes, staff and groups a rule names.

use super::*;

impl Roster {
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
    pub(super) fn check_rule_refs(&self, i: usize, kind: &RuleKind) -> Result<(), Problem> {
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
                weights,
                ..
            } => {
                code_known(code)?;
                bounds(Some(f64::from(*min)), max.map(f64::from))?;
                if let Some(w) = weights
                    && (w.under > MAX_WEIGHT || w.over > MAX_WEIGHT)
                {
                    return Err(problem(
                        i,
                        "invalid_value",
                        format!(
                            "cover weights {} and {} must be at most {MAX_WEIGHT}",
                            w.under, w.over
                        ),
                    ));
                }
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

/// A shift code's definition as the roster takes it: the code, times and
/// hours checked; the label and colour trimmed.
pub(super) fn check_code_def(i: usize, def: &ShiftCode) -> Result<(String, String), Problem> {
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

pub(super) fn check_name(i: usize, s: &str) -> Result<String, Problem> {
    let s = s.trim();
    if s.chars().count() > MAX_NAME || s.chars().any(char::is_control) {
        return Err(problem(
            i,
            "invalid_value",
            format!("`{s}` must be at most {MAX_NAME} characters without control characters"),
        ));
    }
    check_visible("name", s).map_err(|m| problem(i, "invalid_value", m))?;
    Ok(s.to_string())
}
