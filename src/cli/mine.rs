//! `rota --mine`: one person's published shifts from today for the next
//! weeks (`--weeks N`, 4), with times, hours and totals: a member of staff
//! (their row, as their account is bound to it), or anyone with `--staff
//! ID`. What staff see: each date as its last publication left it (a
//! roster that never published, as it is).

use super::{Cli, exit, start_engine, stop};
use crate::domain::{Date, Roster};
use crate::script::StaffNames;

pub async fn mine(cli: &Cli) -> i32 {
    let engine = match start_engine(cli) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let roster = super::read_roster(
        cli,
        &engine,
        "listing shifts from",
        " and this machine has no copy of the roster",
    )
    .await;
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
    let name = super::roster_name(cli);
    for line in crate::script::shifts::lines(roster, id, from, to, Some(&name)) {
        if !crate::outln!("{line}") {
            return;
        }
    }
}
