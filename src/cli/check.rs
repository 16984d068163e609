//! `rota --check`: the roster's rule findings (staffing, sequences,
//! limits), as text or JSON (`--json`), for a nightly job: exit 0 when
//! there are none, 1 when there are. Reads the hub's roster (or the local
//! copy, saying so, when the hub cannot be reached).

use super::{Cli, connect, exit, start_engine, stop};
use crate::domain::rules::Findings;
use serde::Serialize;
use std::time::Duration;

/// Exit status when the roster has findings.
pub const FINDINGS: i32 = 1;

#[derive(Serialize)]
struct JsonFinding<'a> {
    rule: &'a str,
    first: crate::domain::Date,
    last: crate::domain::Date,
    staff: &'a [String],
    message: String,
}

pub async fn check(cli: &Cli) -> i32 {
    let engine = match start_engine(cli) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let timeout = Duration::from_secs(cli.timeout.max(1));
    let roster = match connect(&engine, timeout).await {
        Ok(_) => Some(engine.server_roster()),
        Err(reason) if engine.status().seq > 0 => {
            eprintln!(
                "rota: hub unreachable ({reason}); checking the local copy (roster at seq {})",
                engine.status().seq
            );
            Some(engine.server_roster())
        }
        Err(reason) => {
            eprintln!("rota: cannot reach the hub: {reason}");
            None
        }
    };
    stop(engine).await;
    let Some(roster) = roster else {
        return exit::UNREACHABLE;
    };
    let findings = Findings::new(&roster);
    let all = findings.all();
    if cli.json {
        let out: Vec<JsonFinding> = all
            .iter()
            .map(|f| JsonFinding {
                rule: &f.rule,
                first: f.first,
                last: f.last,
                staff: &f.staff,
                message: f.message(),
            })
            .collect();
        match serde_json::to_string_pretty(&out) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("rota: {e}");
                return exit::LOCAL;
            }
        }
    } else {
        for f in &all {
            println!("{}  [{}]", f.message(), f.rule);
        }
        match all.len() {
            0 => println!("No findings in roster {}.", cli.roster()),
            n => println!(
                "{n} finding{} in roster {}.",
                if n == 1 { "" } else { "s" },
                cli.roster()
            ),
        }
    }
    if all.is_empty() { exit::OK } else { FINDINGS }
}
