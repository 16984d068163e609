//! `rota --mine`: one person's published shifts from today for the next
//! weeks (`--weeks N`, 4), with times, hours and totals: a member of staff
//! (their row, as their account is bound to it), or anyone with `--staff
//! ID`. What staff see: each date as its last publication left it (a
//! roster that never published, as it is).

use super::{Cli, Unreached, connect, exit, roster_exists, start_engine, stop};
use crate::domain::{Date, Roster};
use crate::script::StaffNames;
use std::time::Duration;

pub async fn mine(cli: &Cli) -> i32 {
    let engine = match start_engine(cli) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let timeout = Duration::from_secs(cli.timeout.max(1));
    let roster = match connect(&engine, timeout).await {
        Ok(_) => match roster_exists(&engine, timeout).await {
            Ok(()) => Ok(engine.server_roster()),
            Err(code) => Err(code),
        },
        Err(Unreached::Unreachable(reason)) if engine.status().seq > 0 => {
            eprintln!(
                "rota: hub unreachable ({reason}); from the local copy (roster at seq {})",
                engine.status().seq
            );
            Ok(engine.server_roster())
        }
        Err(e) => Err(e.report(" and this machine has no copy of the roster")),
    };
    let bound = engine.access().staff;
    stop(engine).await;
    let roster = match roster {
        Ok(r) => r,
        Err(code) => return code,
    };
    let staff = roster.staff();
    let id = match (&cli.staff, bound) {
        (Some(name), Some(me)) => match StaffNames::new(&staff).resolve(name) {
            Ok(id) if id == me => me,
            _ => {
                eprintln!(
                    "rota: --mine: as staff you see your own shifts only (leave out --staff)"
                );
                return exit::REFUSED;
            }
        },
        (Some(name), None) => match StaffNames::new(&staff).resolve(name) {
            Ok(id) => id.to_string(),
            Err(e) => {
                eprintln!("rota: --staff: {e}");
                return exit::USAGE;
            }
        },
        (None, Some(me)) => me,
        (None, None) => {
            eprintln!(
                "rota: --mine: whose shifts? Say --staff ID (your account is not bound to a staff row of roster {})",
                super::roster_name(cli)
            );
            return exit::USAGE;
        }
    };
    if cli.weeks == 0 || cli.weeks > 260 {
        eprintln!("rota: --weeks {}: give 1 to 260 weeks", cli.weeks);
        return exit::USAGE;
    }
    let today = Date(chrono::Local::now().date_naive());
    let days = i64::from(cli.weeks) * 7;
    print_mine(cli, &roster, &id, today, today.add_days(days - 1));
    exit::OK
}

fn print_mine(cli: &Cli, roster: &Roster, id: &str, from: Date, to: Date) {
    let view = roster.published_view();
    let name = view.staff_member(id).map_or(id, |s| s.name.as_str());
    let day = |d: Date| d.0.format("%a %-d %b %Y").to_string();
    crate::outln!(
        "{name} ({id}), roster {}: {} from {} to {}",
        super::roster_name(cli),
        if roster.publishes() {
            "published shifts"
        } else {
            "shifts (the roster does not publish)"
        },
        day(from),
        day(to)
    );
    let (mut shifts, mut hours, mut paid) = (0u32, 0.0f64, 0.0f64);
    // Runs of dates never published: (first, last).
    let mut unpublished: Vec<(Date, Date)> = Vec::new();
    let mut any = false;
    let mut d = from;
    while d <= to {
        if roster.publishes() && roster.published_by(d).is_none() {
            match unpublished.last_mut() {
                Some((_, last)) if last.add_days(1) == d => *last = d,
                _ => unpublished.push((d, d)),
            }
        }
        if let Some(code) = view.cell(id, d).and_then(|(c, _)| c) {
            any = true;
            let def = view.code(code);
            let label = def.map_or("", |c| c.label.as_str());
            // A night ends the next morning: `20:00-08:00 (+1)`.
            let times = match def.and_then(|c| c.start.clone().zip(c.end.clone())) {
                Some((a, b)) if b <= a => format!("{a}-{b} (+1)"),
                Some((a, b)) => format!("{a}-{b}"),
                None => String::new(),
            };
            let (worked, h) = def.map_or((false, 0.0), |c| (c.worked, c.hours));
            if worked {
                shifts += 1;
                hours += h;
            } else {
                paid += h;
            }
            // Hours count for worked shifts; paid leave says its hours.
            let h = match (worked, h > 0.0) {
                (true, true) => format!("{h} h"),
                (true, false) => String::new(),
                (false, true) => format!("{h} h, not worked"),
                (false, false) => "not worked".into(),
            };
            let line = format!(
                "  {:<16} {:<4} {:<20} {:<11} {h}",
                day(d),
                code,
                label,
                times
            );
            if !crate::outln!("{}", line.trim_end()) {
                return;
            }
        }
        d = d.add_days(1);
    }
    if !any {
        crate::outln!("  no shifts");
    }
    let round = |h: f64| (h * 10.0).round() / 10.0;
    crate::outln!(
        "{shifts} shift{}, {} h worked{}. Days not listed: no shift.",
        if shifts == 1 { "" } else { "s" },
        round(hours),
        if paid > 0.0 {
            format!("; {} h paid leave or other time", round(paid))
        } else {
            String::new()
        }
    );
    if !unpublished.is_empty() {
        let runs: Vec<String> = unpublished
            .iter()
            .map(|(a, b)| {
                if a == b {
                    day(*a)
                } else {
                    format!("{} to {}", day(*a), day(*b))
                }
            })
            .collect();
        crate::outln!(
            "Not yet published: {} (nothing shows there until it is).",
            runs.join(", ")
        );
    }
    if let Some(p) = roster.last_publication() {
        crate::outln!("Last {}.", p.describe());
    }
}
