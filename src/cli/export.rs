//! `rota --export csv|json|ics|txt`: write the hub's roster out, whole or a
//! selection (`--from`, `--to`, `--staff`), to standard output or `--out`;
//! `--export csv --requests`: its requests.
//! When the hub cannot be reached, the local copy is written (and said so)
//! if there is one.

use super::{Cli, exit, start_engine, stop};
use crate::clock::now_ms;
use crate::domain::{Date, Roster};
use crate::script::{Selection, StaffNames, csv, grid, ics, json};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Csv,
    Json,
    Ics,
    Txt,
}

pub async fn export(cli: &Cli, format: &str) -> i32 {
    let kind = match format.to_ascii_lowercase().as_str() {
        "csv" => Kind::Csv,
        "json" => Kind::Json,
        "ics" | "ical" | "icalendar" => Kind::Ics,
        "txt" | "text" => Kind::Txt,
        _ => {
            eprintln!("rota: --export `{format}`: expected csv, json, ics or txt");
            return exit::USAGE;
        }
    };
    if cli.requests && kind != Kind::Csv {
        eprintln!(
            "rota: --requests goes with --export csv (--export json writes the requests with the roster)"
        );
        return exit::USAGE;
    }
    let (from, to) = match (date_flag("--from", &cli.from), date_flag("--to", &cli.to)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("rota: {e}");
            return exit::USAGE;
        }
    };
    if let (Some(f), Some(t)) = (from, to)
        && t < f
    {
        eprintln!("rota: --to {t} is before --from {f}");
        return exit::USAGE;
    }
    let engine = match start_engine(cli) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let no_copy = format!(
        " and this machine has no copy of roster {}",
        super::roster_name(cli)
    );
    let roster = super::read_roster(cli, &engine, "writing", &no_copy).await;
    stop(engine).await;
    let roster = match roster {
        Ok(r) if cli.published => r.published_view(),
        Ok(r) => r,
        Err(code) => return code,
    };
    let staff_list = roster.staff();
    let staff = match &cli.staff {
        None => None,
        Some(name) => match StaffNames::new(&staff_list).resolve(name) {
            Ok(id) => Some(id.to_string()),
            Err(e) => {
                eprintln!("rota: --staff: {e}");
                return exit::USAGE;
            }
        },
    };
    let sel = Selection { from, to, staff };
    match write_out(cli, kind, &roster, &sel) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("rota: {e}");
            exit::LOCAL
        }
    }
}

fn date_flag(flag: &str, value: &Option<String>) -> Result<Option<Date>, String> {
    value
        .as_deref()
        .map(|v| v.parse().map_err(|e| format!("{flag}: {e}")))
        .transpose()
}

fn write_out(cli: &Cli, kind: Kind, roster: &Roster, sel: &Selection) -> Result<(), String> {
    let name = &super::roster_name(cli);
    if kind == Kind::Ics
        && let Some(dir) = cli.out.as_deref().filter(|p| p.is_dir())
    {
        return write_per_person(dir, roster, name, sel);
    }
    let text = match kind {
        Kind::Csv if cli.requests => csv::export_requests(roster, sel),
        Kind::Csv => csv::export(roster, sel),
        Kind::Json => json::export(roster, name, sel),
        Kind::Ics => ics::export(roster, name, sel, now_ms()),
        Kind::Txt => grid::export(roster, name, sel, cli.width, cli.warnings),
    };
    match &cli.out {
        Some(path) => write_file(path, &text),
        None => {
            // A reader that went away (`| head`) ends it quietly.
            super::out::write(&text);
            Ok(())
        }
    }
}

/// One calendar per person of the selection, `DIR/STAFF-ID.ics`.
fn write_per_person(
    dir: &Path,
    roster: &Roster,
    name: &str,
    sel: &Selection,
) -> Result<(), String> {
    let now = now_ms();
    let people = sel.staff(roster);
    for s in &people {
        let one = Selection {
            staff: Some(s.id.clone()),
            ..sel.clone()
        };
        let file: String =
            s.id.chars()
                .map(|c| {
                    if c.is_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
        write_file(
            &dir.join(format!("{file}.ics")),
            &ics::export(roster, name, &one, now),
        )?;
    }
    eprintln!(
        "rota: wrote {} calendars to {}",
        people.len(),
        dir.display()
    );
    Ok(())
}

/// Writes the whole file or nothing: a temporary file beside it, then a rename.
fn write_file(path: &Path, text: &str) -> Result<(), String> {
    let mut tmp = PathBuf::from(path);
    tmp.as_mut_os_string().push(".rota-tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("writing {}: {e}", path.display())
        })
}
