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
        (Some(name), _) => match StaffNames::new(&staff).resolve(name) {
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
    let today = Date(chrono::Local::now().date_naive());
    let days = i64::from(cli.weeks.clamp(1, 260)) * 7;
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
    let (mut shifts, mut hours) = (0u32, 0.0f64);
    let mut unpublished: Option<Date> = None;
    let mut any = false;
    let mut d = from;
    while d <= to {
        if roster.publishes() && roster.published_by(d).is_none() {
            unpublished.get_or_insert(d);
        }
        if let Some(code) = view.cell(id, d).and_then(|(c, _)| c) {
            any = true;
            let def = view.code(code);
            let label = def.map_or("", |c| c.label.as_str());
            let times = match def.and_then(|c| c.start.clone().zip(c.end.clone())) {
                Some((a, b)) => format!("{a}-{b}"),
                None => String::new(),
            };
            let (worked, h) = def.map_or((false, 0.0), |c| (c.worked, c.hours));
            if worked {
                shifts += 1;
                hours += h;
            }
            // Hours count for worked shifts; leave and days off say so.
            let h = match (worked, h > 0.0) {
                (true, true) => format!("{h} h"),
                (true, false) => String::new(),
                (false, _) => "not worked".into(),
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
    crate::outln!(
        "{shifts} shift{}, {} h worked.",
        if shifts == 1 { "" } else { "s" },
        (hours * 10.0).round() / 10.0
    );
    if let Some(u) = unpublished {
        crate::outln!(
            "Not yet published from {}: those dates show nothing until they are.",
            day(u)
        );
    }
}
