//! The fields of each kind of rule, and how a field's text is read.

use super::*;

#[allow(clippy::too_many_arguments)]
pub(super) fn staffing_fields(
    code: &str,
    min: &str,
    max: &str,
    weekdays: &str,
    group: &str,
    from: &str,
    to: &str,
) -> Vec<Field> {
    vec![
        field("code", code, "the shift code counted"),
        field("min", min, "fewest people on it a day"),
        field("max", max, "most people, or empty"),
        field("weekdays", weekdays, "e.g. sat,sun; empty: every day"),
        field("group", group, "count one group only, or empty"),
        field("from", from, "YYYY-MM-DD, or empty"),
        field("to", to, "YYYY-MM-DD, or empty"),
    ]
}

pub(super) fn sequence_fields(first: &str, then: &str) -> Vec<Field> {
    vec![
        field("first", first, "a code, e.g. N"),
        field("then", then, "may not follow it the next day, e.g. D"),
    ]
}

#[allow(clippy::too_many_arguments)]
pub(super) fn limit_fields(
    measure: &str,
    min: &str,
    max: &str,
    period: &str,
    code: &str,
    staff: &str,
    group: &str,
) -> Vec<Field> {
    vec![
        field("measure", measure, MEASURES_HINT),
        field("min", min, "at least, or empty"),
        field("max", max, "at most, or empty"),
        field(
            "period days",
            period,
            "e.g. 7 or 28; empty: the whole roster",
        ),
        field("code", code, "count only this code (shifts), or empty"),
        field("staff", staff, "one person's id, or empty: everyone"),
        field("group", group, "one group, or empty"),
    ]
}

pub(super) const MEASURES_HINT: &str = "worked-run, off-run, shifts, hours, weekends";

pub(super) fn measure_name(m: LimitMeasure) -> &'static str {
    match m {
        LimitMeasure::ConsecutiveWorked => "worked-run",
        LimitMeasure::ConsecutiveOff => "off-run",
        LimitMeasure::Shifts => "shifts",
        LimitMeasure::Hours => "hours",
        LimitMeasure::WeekendsWorked => "weekends",
    }
}

pub(super) fn measure_of(s: &str) -> Result<LimitMeasure, String> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "worked-run" | "consecutive_worked" => LimitMeasure::ConsecutiveWorked,
        "off-run" | "consecutive_off" => LimitMeasure::ConsecutiveOff,
        "shifts" => LimitMeasure::Shifts,
        "hours" => LimitMeasure::Hours,
        "weekends" | "weekends_worked" => LimitMeasure::WeekendsWorked,
        other => return Err(format!("`{other}`: one of {MEASURES_HINT}")),
    })
}

pub(super) fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        v.to_string()
    }
}

/// A number of at least 0, or nothing.
pub(super) fn number(s: &str, what: &str) -> Result<Option<f64>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
        _ => Err(format!("{what} `{s}`: a number, 0 or more")),
    }
}

/// A whole number of at least 0, or nothing.
pub(super) fn whole(s: &str, what: &str) -> Result<Option<u32>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<u32>()
        .map(Some)
        .map_err(|_| format!("{what} `{s}`: a whole number, 0 or more"))
}

pub(super) fn weekdays(s: &str) -> Result<Vec<chrono::Weekday>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.parse::<chrono::Weekday>()
                .map_err(|_| format!("`{w}` is no weekday: mon, tue, … sun"))
        })
        .collect()
}
