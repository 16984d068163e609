//! `rota --check`: the roster's rule findings (staffing, sequences,
//! limits), then its unmet requests and its soft score (what unmet
//! requests and weighted staffing rules cost, the benchmark's objective),
//! as text or JSON (`--json`), for a nightly job: exit 0 when there are no
//! rule findings, 1 when there are (unmet requests never change it). Reads
//! the hub's roster (or the local copy, saying so, when the hub cannot be
//! reached).

use super::{Cli, exit, start_engine, stop};
use crate::domain::rules::{Finding, Findings, SoftScore, What};
use crate::domain::{Date, Roster, RuleKind};
use serde::Serialize;

/// Exit status when the roster has findings.
pub const FINDINGS: i32 = 1;

/// What `--check --json` prints.
#[derive(Serialize)]
struct JsonCheck<'a> {
    findings: Vec<JsonFinding<'a>>,
    unmet_requests: Vec<JsonRequest<'a>>,
    soft_score: JsonScore,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    rule: &'a str,
    first: Date,
    last: Date,
    staff: &'a [String],
    message: String,
}

#[derive(Serialize)]
struct JsonRequest<'a> {
    staff: &'a str,
    date: Date,
    /// `on N`, `off N` or `off`.
    request: &'a str,
    weight: u32,
    /// The code the cell holds (null: empty).
    has: Option<&'a str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    note: &'a str,
    message: String,
}

#[derive(Serialize)]
struct JsonScore {
    requests: u64,
    under: u64,
    over: u64,
    total: u64,
}

pub async fn check(cli: &Cli) -> i32 {
    let engine = match start_engine(cli) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let roster = super::read_roster(
        cli,
        &engine,
        "checking",
        " and this machine has no copy of the roster",
    )
    .await;
    stop(engine).await;
    let roster = match roster {
        Ok(r) => r,
        Err(code) => return code,
    };
    let findings = Findings::new(&roster);
    let all = findings.all();
    let unmet = findings.unmet_requests();
    let score = findings.soft_score();
    if cli.json {
        let out = JsonCheck {
            findings: all
                .iter()
                .map(|f| JsonFinding {
                    rule: &f.rule,
                    first: f.first,
                    last: f.last,
                    staff: &f.staff,
                    message: f.message(),
                })
                .collect(),
            unmet_requests: unmet
                .iter()
                .filter_map(|f| json_request(&roster, f))
                .collect(),
            soft_score: JsonScore {
                requests: score.requests,
                under: score.under,
                over: score.over,
                total: score.total(),
            },
        };
        match serde_json::to_string_pretty(&out) {
            Ok(s) => {
                crate::cli::out::line(&s);
            }
            Err(e) => {
                eprintln!("rota: {e}");
                return exit::LOCAL;
            }
        }
    } else if cli.score {
        let name = super::roster_name(cli);
        let hard = hard_findings(&roster, &all);
        crate::cli::out::write(&score_text(&name, &hard, score));
        return if hard.is_empty() { exit::OK } else { FINDINGS };
    } else {
        let checked = checked_requests(&roster, &findings);
        let name = super::roster_name(cli);
        crate::cli::out::write(&text(&roster, &name, &all, (&unmet, checked), score));
    }
    if all.is_empty() { exit::OK } else { FINDINGS }
}

/// The findings of rules that must hold: all but those of staffing rules
/// with weights (the benchmark's cover, counted in the soft score).
fn hard_findings<'a>(roster: &Roster, all: &[&'a Finding]) -> Vec<&'a Finding> {
    let soft: Vec<String> = roster
        .rules()
        .into_iter()
        .filter(|r| {
            matches!(
                r.kind,
                RuleKind::Staffing {
                    weights: Some(_),
                    ..
                }
            )
        })
        .map(|r| r.id)
        .collect();
    all.iter()
        .copied()
        .filter(|f| !soft.contains(&f.rule))
        .collect()
}

/// `--check --score`: the rules broken, each a line, then the score.
fn score_text(name: &str, hard: &[&Finding], score: SoftScore) -> String {
    let mut out = String::new();
    for f in hard {
        out.push_str(&format!("{}  [{}]\n", f.message(), f.rule));
    }
    out.push_str(&match hard.len() {
        0 => format!("No rule broken in roster {name}.\n"),
        n => format!("{n} rule{} broken in roster {name}.\n", plural(n)),
    });
    out.push_str(&format!(
        "Score: {} (requests {}, cover under {}, cover over {}).\n",
        score.total(),
        score.requests,
        score.under,
        score.over
    ));
    out
}

/// How many requests are checked: those of active staff in the dates
/// checked (the planning period).
fn checked_requests(roster: &Roster, findings: &Findings) -> usize {
    let Some((from, to)) = findings.span() else {
        return 0;
    };
    roster
        .staff()
        .iter()
        .filter(|s| s.active)
        .map(|s| roster.requests_of(&s.id, from, to).count())
        .sum()
}

fn json_request<'a>(roster: &'a Roster, f: &'a Finding) -> Option<JsonRequest<'a>> {
    let What::Request {
        wish, weight, has, ..
    } = &f.what
    else {
        return None;
    };
    let staff = f.staff.first()?;
    Some(JsonRequest {
        staff,
        date: f.first,
        request: wish,
        weight: *weight,
        has: has.as_deref(),
        note: roster
            .request(staff, f.first)
            .map_or("", |r| r.note.as_str()),
        message: f.message(),
    })
}

/// The text report: the rule findings and their count; then, when the
/// roster has requests, the unmet ones under their own heading; then,
/// when anything is soft (requests, or staffing rules with weights), the
/// soft score. Each a whole line: never cut.
fn text(
    roster: &Roster,
    name: &str,
    all: &[&Finding],
    (unmet, checked): (&[&Finding], usize),
    score: SoftScore,
) -> String {
    let mut out = String::new();
    for f in all {
        out.push_str(&format!("{}  [{}]\n", f.message(), f.rule));
    }
    out.push_str(&match all.len() {
        0 => format!("No findings in roster {name}.\n"),
        n => format!("{n} finding{} in roster {name}.\n", plural(n)),
    });
    let requests = roster.request_count();
    if requests > 0 {
        let weight: u64 = unmet
            .iter()
            .map(|f| match f.what {
                What::Request { weight, .. } => u64::from(weight),
                _ => 0,
            })
            .sum();
        out.push_str(&format!(
            "\nUnmet requests: {} of the {checked} in the dates checked, weight {weight}\n",
            unmet.len()
        ));
        for f in unmet {
            out.push_str(&f.message());
            if let Some(r) = f.staff.first().and_then(|s| roster.request(s, f.first))
                && !r.note.is_empty()
            {
                out.push_str("; note: ");
                out.push_str(&r.note);
            }
            out.push('\n');
        }
    }
    let weighted = roster.rules().iter().any(|r| {
        matches!(
            r.kind,
            RuleKind::Staffing {
                weights: Some(_),
                ..
            }
        )
    });
    if requests > 0 || weighted {
        out.push_str(&format!(
            "\nSoft score: {} (requests {}, cover under {}, cover over {}).\n",
            score.total(),
            score.requests,
            score.under,
            score.over
        ));
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
