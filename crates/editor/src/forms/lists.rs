//! The manage panel's lists: staff, codes, rules, settings and users as lines.

use super::*;

/// The roster's users as the manage panel lists them: (name, line).
pub fn user_lines(users: &[rota_core::protocol::RosterUser]) -> Vec<(String, String)> {
    users
        .iter()
        .map(|u| {
            let owner = if u.owner { "owner of the hub" } else { "" };
            // A member of staff with the row they are bound to.
            let role = match &u.staff {
                Some(row) => format!("{} (row {row})", u.role),
                None => u.role.clone(),
            };
            (u.user.clone(), format!("{:<24} {role:<8} {owner}", u.user))
        })
        .collect()
}

/// Staff, codes or rules as the manage panel lists them: (key, line).
/// Users are not the roster's: see [`user_lines`].
pub fn list(roster: &Roster, tab: Tab) -> Vec<(String, String)> {
    match tab {
        Tab::Users => Vec::new(),
        Tab::Settings => {
            let period = match roster.set_period() {
                Some(p) => format!(
                    "period     {} to {} ({} days): rules are checked over these dates",
                    p.from.0.format("%a %-d %b %Y"),
                    p.to.0.format("%a %-d %b %Y"),
                    p.days()
                ),
                None => "period     none yet: the first code written sets it (its whole months)"
                    .to_string(),
            };
            let zone = format!(
                "time zone  {}",
                roster
                    .time_zone()
                    .unwrap_or("none: each reader's own (set one for calendars)")
            );
            vec![("period".into(), period), ("time zone".into(), zone)]
        }
        Tab::Staff => {
            let staff = roster.staff_by_group();
            let rows = staff
                .iter()
                // Long names shortened as the grid does, so the columns
                // stay in line (the form shows a name whole).
                .map(|s| {
                    vec![
                        rota_core::text::short_name(&s.name, 30),
                        rota_core::text::fit_words(&s.group, 24),
                        s.id.clone(),
                    ]
                })
                .collect();
            let keys = staff.into_iter().map(|s| s.id);
            keys.zip(columns(rows, &[30, 24, 0])).collect()
        }
        Tab::Codes => {
            let codes = roster.codes();
            let rows = codes
                .iter()
                .map(|c| {
                    let times = match (&c.start, &c.end) {
                        (Some(a), Some(b)) => format!("{a}–{b}"),
                        _ => String::new(),
                    };
                    vec![
                        c.code.clone(),
                        rota_core::text::fit_words(&c.label, 24),
                        format!("{:>5} h", fmt_num(c.hours)),
                        times,
                        if c.worked { "worked" } else { "not worked" }.to_string(),
                        c.colour.clone(),
                    ]
                })
                .collect();
            let keys = codes.into_iter().map(|c| c.code);
            keys.zip(columns(rows, &[8, 24, 0, 11, 10, 0])).collect()
        }
        Tab::Rules => {
            let rules = roster.rules();
            let rows = rules
                .iter()
                .map(|r| vec![r.id.clone(), describe_rule(&r.kind)])
                .collect();
            let keys = rules.into_iter().map(|r| r.id);
            keys.zip(columns(rows, &[28, 0])).collect()
        }
    }
}

/// Rows laid out in columns as wide as their widest cell (by display
/// width), at most `caps[i]` (0: no cap; a wider cell pushes the rest of
/// its own row along, not every row's).
pub(super) fn columns(rows: Vec<Vec<String>>, caps: &[usize]) -> Vec<String> {
    use rota_core::text::text_cols;
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            let widest = rows
                .iter()
                .filter_map(|r| r.get(i))
                .map(|c| text_cols(c, false))
                .max()
                .unwrap_or(0);
            match caps.get(i) {
                Some(&cap) if cap > 0 => widest.min(cap),
                _ => widest,
            }
        })
        .collect();
    rows.into_iter()
        .map(|row| {
            let last = row.len().saturating_sub(1);
            let mut line = String::new();
            for (i, cell) in row.into_iter().enumerate() {
                line.push_str(&cell);
                if i < last {
                    let w = text_cols(&cell, false);
                    let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(w) + 1;
                    line.push_str(&" ".repeat(pad));
                }
            }
            line.trim_end().to_string()
        })
        .collect()
}

/// A rule in a line: "D 2–4 a day (sat,sun) in Nurses".
pub fn describe_rule(kind: &RuleKind) -> String {
    match kind {
        RuleKind::Staffing {
            code,
            min,
            max,
            weekdays,
            group,
            from,
            to,
            weights,
        } => {
            let mut s = match max {
                Some(m) => format!("staffing {code}: {min} to {m} a day"),
                None => format!("staffing {code}: at least {min} a day"),
            };
            if !weekdays.is_empty() {
                let w: Vec<String> = weekdays.iter().map(|w| w.to_string()).collect();
                s.push_str(&format!(" on {}", w.join(",")));
            }
            if let Some(g) = group {
                s.push_str(&format!(" in {g}"));
            }
            if from.is_some() || to.is_some() {
                s.push_str(&format!(" ({}..{})", opt(from), opt(to)));
            }
            if let Some(w) = weights {
                s.push_str(&format!(
                    ", each short costs {}, each over {}",
                    w.under, w.over
                ));
            }
            s
        }
        RuleKind::ForbiddenSequence { first, then } => {
            format!("sequence: no {then} the day after {first}")
        }
        RuleKind::Limit {
            measure,
            min,
            max,
            period_days,
            code,
            staff,
            group,
        } => {
            let mut s = format!("limit {}", measure_name(*measure));
            if let Some(c) = code {
                s.push_str(&format!(" of {c}"));
            }
            if let Some(m) = min {
                s.push_str(&format!(" ≥ {}", fmt_num(*m)));
            }
            if let Some(m) = max {
                s.push_str(&format!(" ≤ {}", fmt_num(*m)));
            }
            match period_days {
                Some(d) => s.push_str(&format!(" per {d} days")),
                None => s.push_str(" over the roster"),
            }
            if let Some(p) = staff {
                s.push_str(&format!(" for {p}"));
            }
            if let Some(g) = group {
                s.push_str(&format!(" in {g}"));
            }
            s
        }
    }
}
