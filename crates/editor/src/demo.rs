//! `--demo`: a ready roster (assets/demo.json, in the `--apply` JSON
//! format) moved by whole weeks so its six weeks lie around today.

use chrono::Datelike;
use rota_core::domain::{Date, Op, RuleKind};
use rota_script::json;

/// The demo roster, as `rota --apply` reads it.
const DEMO: &str = include_str!("../../../assets/demo.json");

/// The Monday the asset's six weeks start on.
fn asset_start() -> Date {
    Date(chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap_or_default())
}

/// Days to add to the asset's dates so that today falls in its third week
/// (weekdays kept).
pub fn demo_today_shift(today: Date) -> i64 {
    let monday = today.add_days(-(today.0.weekday().num_days_from_monday() as i64));
    let start = monday.add_days(-14);
    (start.0 - asset_start().0).num_days()
}

/// The demo's operations, dated around `today`.
pub fn demo_ops(today: Date) -> Result<Vec<Op>, String> {
    let (input, problems) = json::parse(DEMO).map_err(|e| format!("assets/demo.json: {e:?}"))?;
    if let Some(p) = problems.first() {
        return Err(format!("assets/demo.json:{}: {}", p.line, p.message));
    }
    let json::Input::Ops(ops) = input else {
        return Err("assets/demo.json: expected a list of operations".into());
    };
    let shift = demo_today_shift(today);
    Ok(ops
        .into_iter()
        .map(|(_, mut op)| {
            match &mut op {
                Op::SetCell { date, .. } => *date = (*date).add_days(shift),
                Op::PutRequest { request, .. } => request.date = request.date.add_days(shift),
                Op::SetPeriod { from, to } => {
                    *from = (*from).add_days(shift);
                    *to = (*to).add_days(shift);
                }
                Op::PutRule { rule, .. } => {
                    if let RuleKind::Staffing { from, to, .. } = &mut rule.kind {
                        *from = from.map(|d| d.add_days(shift));
                        *to = to.map(|d| d.add_days(shift));
                    }
                }
                _ => {}
            }
            op
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rota_core::domain::{Author, Roster};
    use std::sync::Arc;

    #[test]
    fn the_demo_is_a_valid_roster_of_25_staff_around_today() {
        let today = Date(chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default());
        let ops = demo_ops(today).expect("the demo reads");
        let mut roster = Roster::default();
        let author = Author {
            user: Arc::from("demo"),
            client: Arc::from("c"),
        };
        roster
            .apply_batch_with(&ops, &author, 0, true)
            .expect("the demo applies");
        let staff = roster.staff();
        assert_eq!(staff.len(), 25);
        let mut groups: Vec<&str> = staff.iter().map(|s| s.group.as_str()).collect();
        groups.dedup();
        assert_eq!(groups.len(), 3);
        let (first, last) = roster.date_span().expect("cells");
        assert!(first <= today && today <= last, "{first}..{last}");
        assert_eq!(first.0.weekday(), chrono::Weekday::Mon);
        let period = roster.set_period().expect("the demo sets its period");
        assert_eq!(period.from, first, "six whole weeks from the first Monday");
        assert_eq!(period.days(), 42);
        assert!(period.contains(today));
        for code in ["E", "D", "L", "N", "OFF", "AL", "ST", "SK"] {
            assert!(roster.code(code).is_some(), "{code}");
        }
        assert_eq!(roster.rules().len(), 5);
    }
}
