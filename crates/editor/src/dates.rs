//! Dates as people type them (`2027-03-01`, `1/3`, `1.3.27`, `14`): read
//! near a date, preferring the planning period. Pure; used by the jump
//! prompt and the publish prompt.

use rota_core::domain::Date;

/// A typed date (as the jump prompt reads one), but a day and month without a year is the one
/// inside the planning period `within` when one is (the nearest else).
pub fn parse_jump_date_in(
    s: &str,
    near: Date,
    within: Option<rota_core::domain::Period>,
) -> Option<Date> {
    use chrono::{Datelike, NaiveDate};
    let s = s.trim().trim_end_matches('.');
    if let Ok(d) = s.parse::<Date>() {
        return Some(d);
    }
    let parts: Vec<&str> = s.split(['/', '.']).collect();
    let num = |i: usize| -> Option<u32> {
        let p = parts.get(i)?.trim();
        (!p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    let y = near.0.year();
    match parts.len() {
        1 => NaiveDate::from_ymd_opt(y, near.0.month(), num(0)?).map(Date),
        2 => {
            let (day, month) = (num(0)?, num(1)?);
            let inside = |d: &NaiveDate| within.is_some_and(|p| p.from.0 <= *d && *d <= p.to.0);
            [y - 1, y, y + 1]
                .into_iter()
                .filter_map(|year| NaiveDate::from_ymd_opt(year, month, day))
                .min_by_key(|d| (!inside(d), (*d - near.0).num_days().abs()))
                .map(Date)
        }
        3 => {
            // 27 is 2027; a year needs two digits or four.
            let written = parts.get(2).map_or(0, |p| p.trim().len());
            let year = match (written, num(2)?) {
                (2, y) => 2000 + i32::try_from(y).ok()?,
                (4, y) => i32::try_from(y).ok()?,
                _ => return None,
            };
            NaiveDate::from_ymd_opt(year, num(1)?, num(0)?).map(Date)
        }
        _ => None,
    }
}
