//! `rota --check`: the roster's rule findings (staffing, sequences,
//! limits), as text or JSON (`--json`), for a nightly job: exit 0 when
//! there are none, 1 when there are. Reads the hub's roster (or the local
//! copy, saying so, when the hub cannot be reached).

use super::{Cli, Unreached, connect, exit, roster_exists, start_engine, stop};
use crate::domain::rules::Findings;
use crate::outln;
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
        Ok(_) => match roster_exists(&engine, timeout).await {
            Ok(()) => Ok(engine.server_roster()),
            Err(code) => Err(code),
        },
        Err(Unreached::Unreachable(reason)) if engine.status().seq > 0 => {
            eprintln!(
                "rota: hub unreachable ({reason}); checking the local copy (roster at seq {})",
                engine.status().seq
            );
            Ok(engine.server_roster())
        }
        Err(e) => Err(e.report(" and this machine has no copy of the roster")),
    };
    stop(engine).await;
    let roster = match roster {
        Ok(r) => r,
        Err(code) => return code,
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
            Ok(s) => {
                outln!("{s}");
            }
            Err(e) => {
                eprintln!("rota: {e}");
                return exit::LOCAL;
            }
        }
    } else {
        for f in &all {
            if !outln!("{}  [{}]", f.message(), f.rule) {
                break;
            }
        }
        match all.len() {
            0 => outln!("No findings in roster {}.", super::roster_name(cli)),
            n => outln!(
                "{n} finding{} in roster {}.",
                if n == 1 { "" } else { "s" },
                super::roster_name(cli)
            ),
        };
    }
    if all.is_empty() { exit::OK } else { FINDINGS }
}
