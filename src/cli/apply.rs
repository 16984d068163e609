//! `rota --apply FILE`: read a file of changes, check all of it, and apply
//! it through the sync engine as one all-or-nothing edit (or show it, with
//! `--dry-run`). The file's writes are based on the versions read when the
//! command started, so nothing changed since is overwritten unless
//! `--force`.

use super::answer::{Answer, wait_for_answer};
use super::{Cli, Unreached, connect, exit, start_engine, stop};
use crate::domain::{Conflict, Date, Roster};
use crate::script::diff;
use crate::script::{Format, LineError, Plan, csv, json, nrp};
use crate::sync::{EditError, SyncEngine, Withdrawal};
use std::io::{IsTerminal, Read, Write};
use std::time::{Duration, Instant};

/// Inputs with more lines than this show progress (when stderr is a terminal).
const PROGRESS_LINES: usize = 2000;

/// A file read and checked for shape, before the roster is known.
enum Parsed {
    Csv(Vec<csv::Row>),
    Json(json::Input),
    Nrp(nrp::Instance, Date),
}

pub async fn apply(cli: &Cli, path: &str) -> i32 {
    let file = if path == "-" { "stdin" } else { path };
    let text = match read_input(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("rota: {file}: {e}");
            return exit::USAGE;
        }
    };
    let format = match cli.format.as_deref().map(Format::parse) {
        Some(Err(e)) => {
            eprintln!("rota: {e}");
            return exit::USAGE;
        }
        Some(Ok(f)) => f,
        None => Format::detect(path, &text),
    };
    let interrupt = Interrupt::listen();
    let progress = Progress::new(text.lines().count() > PROGRESS_LINES);
    progress.phase(&format!("reading {file}"));
    // Shape first: these errors need no hub. The good lines are still
    // checked against the roster, so that every bad line is reported. The
    // local copy is opened meanwhile, on the other core: for a large roster
    // that takes about as long as reading a large file.
    let start = cli.start.clone();
    let parsing = tokio::task::spawn_blocking(move || parse(format, &text, start.as_deref()));
    let engine = start_engine(cli);
    let shaped = parsing
        .await
        .unwrap_or_else(|e| Err(vec![LineError::new(0, format!("reading failed: {e}"))]));
    let ((parsed, shape_errors), engine) = match (shaped, engine) {
        (Err(errors), engine) => {
            if let Ok(engine) = engine {
                stop(engine).await;
            }
            progress.clear();
            return report_bad_input(file, errors);
        }
        (Ok(_), Err(code)) => return code,
        (Ok(shaped), Ok(engine)) => (shaped, engine),
    };
    let code = run(
        cli,
        file,
        parsed,
        shape_errors,
        &engine,
        &progress,
        &interrupt,
    )
    .await;
    progress.clear();
    stop(engine).await;
    code
}

async fn run(
    cli: &Cli,
    file: &str,
    parsed: Parsed,
    mut errors: Vec<LineError>,
    engine: &SyncEngine,
    progress: &Progress,
    interrupt: &Interrupt,
) -> i32 {
    let timeout = Duration::from_secs(cli.timeout.max(1));
    progress.phase("connecting to the hub");
    let online = match connect(engine, timeout).await {
        Ok(_) => true,
        Err(refused @ Unreached::Refused(_)) => {
            let code = refused.report("");
            if !errors.is_empty() {
                report_bad_input(file, errors);
            }
            return code;
        }
        Err(Unreached::Unreachable(reason)) if !errors.is_empty() => {
            eprintln!(
                "rota: hub unreachable ({reason}); lines were not checked against the roster"
            );
            return report_bad_input(file, errors);
        }
        // No copy here to check against (this user never opened the
        // roster on this data dir): every staff name would read as unknown.
        Err(e @ Unreached::Unreachable(_))
            if (cli.queue || cli.dry_run) && engine.status().seq == 0 =>
        {
            return e.report(&format!(
                "; and no copy of roster {} here ({}) to check {file} against: nothing queued. Run it once with the hub reachable, or give the --data of an editor that has the roster",
                super::roster_name(cli),
                engine.config().local_path().display()
            ));
        }
        Err(Unreached::Unreachable(reason)) if cli.queue || cli.dry_run => {
            eprintln!(
                "rota: hub unreachable ({reason}); checking {file} against the local copy (seq {})",
                engine.status().seq
            );
            false
        }
        Err(e) => return e.report("; nothing applied (--queue queues the edit instead)"),
    };
    // What the script read: its writes are based on these versions.
    let mut roster = engine.server_roster();
    progress.phase(&format!(
        "checking {file} against roster at seq {}",
        roster.seq()
    ));
    let mut plan = match plan(&parsed, &roster) {
        Ok(p) => p,
        Err(mut more) => {
            errors.append(&mut more);
            Plan::default()
        }
    };
    progress.log("planned: checking the writes against the roster");
    let changes = match plan.check(&mut roster) {
        Ok(changes) => changes,
        Err(mut more) => {
            errors.append(&mut more);
            Vec::new()
        }
    };
    if !errors.is_empty() {
        return report_bad_input(file, errors);
    }
    // Checked here so that a dry run says it too.
    let max = crate::protocol::MAX_OPS_PER_CHANGE_SET;
    if plan.ops.len() > max {
        return too_large(file, plan.ops.len(), max);
    }
    for note in &plan.notes {
        eprintln!("rota: {file}: note: {note}");
    }
    progress.phase("describing the changes");
    let (lines, summary) = diff::describe(&roster, changes);
    if cli.dry_run {
        progress.phase("checking the rules");
        let (added, cleared) = warnings_of(&roster, &plan.ops);
        progress.clear();
        let mut out = std::io::stdout().lock();
        for l in &lines {
            let _ = writeln!(out, "{l}");
        }
        for (title, sign, list) in [
            ("Rule warnings this would add:", '+', &added),
            ("Rule warnings this would clear:", '-', &cleared),
        ] {
            if !list.is_empty() {
                let _ = writeln!(out, "{title}");
                for w in list.iter() {
                    let _ = writeln!(out, "  {sign} {w}");
                }
            }
        }
        let _ = writeln!(
            out,
            "Would change {summary} in roster {} (at seq {}); nothing applied.",
            super::roster_name(cli),
            roster.seq()
        );
        return exit::OK;
    }
    if summary.is_empty() {
        crate::outln!(
            "Nothing to change: roster {} already matches {file}.",
            super::roster_name(cli)
        );
        return exit::OK;
    }
    if interrupt.heard() {
        progress.clear();
        eprintln!("rota: {file}: interrupted: nothing applied, nothing queued");
        return exit::INTERRUPTED;
    }
    // A role too small for the file is refused here, before anything is
    // queued (the hub would refuse it; a queued edit would wait forever).
    let access = engine.access();
    if online
        && let Some(role) = access.role.as_deref().and_then(crate::domain::Role::parse)
        && !role.allows(&plan.ops, access.staff.as_deref())
    {
        progress.clear();
        let need = crate::domain::Role::needed_for(&plan.ops);
        eprintln!(
            "rota: {file}: nothing applied: it changes {} on roster {}: {} (ask an admin of the roster)",
            if need == crate::domain::Role::Editor {
                "cells or requests"
            } else {
                "staff, shift codes, rules or settings"
            },
            super::roster_name(cli),
            role.why_not(&plan.ops, access.staff.as_deref())
        );
        return exit::REFUSED;
    }
    let mut events = engine.subscribe();
    let ops = std::mem::take(&mut plan.ops);
    progress.phase(&format!("saving {} changes to the outbox", ops.len()));
    let op_id = match engine.edit_script(ops, &apply_note(file), cli.force) {
        Ok(Some(id)) => id,
        Ok(None) => {
            crate::outln!(
                "Nothing to change: roster {} already matches {file}.",
                super::roster_name(cli)
            );
            return exit::OK;
        }
        Err(EditError::Invalid(problems)) => {
            let errors: Vec<LineError> = problems.into_iter().map(|p| plan.error(p)).collect();
            return report_bad_input(file, errors);
        }
        Err(EditError::TooLarge { ops, max }) => return too_large(file, ops, max),
        Err(e) => {
            eprintln!("rota: {e}");
            return exit::LOCAL;
        }
    };
    if !online {
        crate::outln!(
            "Queued {summary} in the outbox: the hub is unreachable. `rota --sync` or the editor sends it."
        );
        return exit::OK;
    }
    let started = Instant::now();
    let answer = wait_for_answer(
        engine,
        &mut events,
        op_id,
        tokio::time::Instant::now() + timeout,
        || {
            progress.show(&format!(
                "waiting for the hub to commit the edit ({:.1}s)",
                started.elapsed().as_secs_f64()
            ))
        },
        interrupt.wait(),
    )
    .await;
    progress.log("answered");
    progress.clear();
    match answer {
        Answer::Acked { seq, overwritten } => {
            crate::outln!(
                "Applied {summary} to roster {} at seq {seq}.",
                super::roster_name(cli)
            );
            if !overwritten.is_empty() {
                crate::outln!(
                    "--force overwrote {} changed on the hub since {file} was read:",
                    diff::plural(overwritten.len(), "value")
                );
                for c in &overwritten {
                    crate::outln!("  {}", conflict_line(file, &plan, c));
                }
            }
            exit::OK
        }
        Answer::Conflicted(conflicts) => {
            // Nothing was applied; don't leave the edit for an editor to ask about.
            let _ = engine.keep_theirs(op_id);
            eprintln!(
                "rota: {file}: nothing applied: {} changed on the hub since the file was read:",
                diff::plural(conflicts.len(), "value")
            );
            for c in &conflicts {
                eprintln!("  {}", conflict_line(file, &plan, c));
            }
            eprintln!("rota: run it again to apply over the new values, or add --force");
            exit::CONFLICT
        }
        Answer::Rejected(code, message, problems) => {
            let _ = engine.dismiss(op_id);
            eprintln!("rota: {file}: nothing applied: the hub refused it ({code}: {message})");
            for p in problems {
                eprintln!("  {}", plan.error(p).display(file));
            }
            if code == crate::protocol::codes::FORBIDDEN {
                exit::REFUSED
            } else {
                exit::CONFLICT
            }
        }
        Answer::Interrupted => {
            match engine.withdraw(op_id) {
                Ok(Withdrawal::Withdrawn) => eprintln!(
                    "rota: {file}: interrupted before the edit was all sent: nothing applied, nothing left queued"
                ),
                Ok(Withdrawal::MayBeOnHub) => eprintln!(
                    "rota: {file}: interrupted after the edit was sent: the hub may have applied it; \
                     it stays in the outbox and `rota --sync` settles it (applied once at most)"
                ),
                Ok(Withdrawal::NotQueued) => eprintln!(
                    "rota: {file}: interrupted, but the hub had already answered: see `rota --sync`"
                ),
                Err(e) => eprintln!("rota: {file}: interrupted: {e}"),
            }
            exit::INTERRUPTED
        }
        Answer::TimedOut => {
            eprintln!(
                "rota: {file}: {}; the edit stays in the outbox \
                 and `rota --sync` finishes it (it is applied once at most)",
                super::answer::why_unanswered(engine, timeout)
            );
            exit::UNREACHABLE
        }
    }
}

fn read_input(path: &str) -> Result<String, String> {
    let mut bytes = Vec::new();
    let read = if path == "-" {
        std::io::stdin().read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut bytes))
    };
    read.map_err(|e| format!("cannot read: {e}"))?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        format!("line {line}: not UTF-8 text (byte {at})")
    })
}

/// The file read for shape: what could be read, and what could not.
type Shaped = (Parsed, Vec<LineError>);

fn parse(format: Format, text: &str, start: Option<&str>) -> Result<Shaped, Vec<LineError>> {
    match format {
        Format::Csv => csv::parse(text).map(|(rows, e)| (Parsed::Csv(rows), e)),
        Format::Json => json::parse(text).map(|(input, e)| (Parsed::Json(input), e)),
        Format::Nrp => {
            let start: Date = match start.map(str::parse) {
                Some(Ok(d)) => d,
                Some(Err(m)) => return Err(vec![LineError::new(0, format!("--start: {m}"))]),
                None => {
                    return Err(vec![LineError::new(
                        0,
                        "--format nrp needs --start DATE, the date of day 0",
                    )]);
                }
            };
            nrp::parse(text).map(|i| (Parsed::Nrp(i, start), Vec::new()))
        }
    }
}

fn plan(parsed: &Parsed, roster: &Roster) -> Result<Plan, Vec<LineError>> {
    match parsed {
        Parsed::Csv(rows) => csv::plan(rows, roster),
        Parsed::Json(json::Input::Ops(ops)) => {
            let mut plan = Plan::default();
            for (line, op) in ops {
                plan.push(*line, op.clone());
            }
            Ok(plan)
        }
        Parsed::Json(json::Input::Roster(file)) => Ok(json::plan_roster(file, roster)),
        Parsed::Nrp(inst, start) => Ok(nrp::plan(inst, *start, roster)),
    }
}

/// Prints every problem as `FILE:LINE: what`, in line order, and returns
/// the bad-input status.
/// A file of more operations than one edit may hold: bad input.
fn too_large(file: &str, ops: usize, max: usize) -> i32 {
    eprintln!(
        "rota: {file}: {ops} operations, more than the {max} one edit may hold: \
         split the file (by staff or dates) and apply each part; nothing applied"
    );
    exit::USAGE
}

fn report_bad_input(file: &str, mut errors: Vec<LineError>) -> i32 {
    errors.sort_by_key(|e| e.line);
    let mut err = std::io::stderr().lock();
    for e in &errors {
        let _ = writeln!(err, "{}", e.display(file));
    }
    let _ = writeln!(
        err,
        "rota: {file}: {}; nothing applied",
        diff::plural(errors.len(), "problem")
    );
    exit::USAGE
}

/// "FILE:LINE: s1 2026-12-01 is now N (set by bob at 2026-11-24 10:02 UTC)".
fn conflict_line(file: &str, plan: &Plan, c: &Conflict) -> String {
    let what = match &c.target {
        crate::domain::Target::Cell { staff, date } => format!("{staff} {date}"),
        other => format!("{} {}", other.entity(), other.key()),
    };
    let value = match &c.value {
        serde_json::Value::Null => "(empty)".to_string(),
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    let when = chrono::DateTime::from_timestamp_millis(c.at)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let e = LineError::new(
        plan.line_of(c.op),
        format!("{what} is now {value} (set by {} at {when})", c.user),
    );
    e.display(file).to_string()
}

/// Ctrl-C (SIGINT) during `--apply`: heard from the start (so it never
/// kills the process half way), acted on where it is safe.
struct Interrupt {
    heard: std::sync::Arc<std::sync::atomic::AtomicBool>,
    notify: std::sync::Arc<tokio::sync::Notify>,
}

impl Interrupt {
    fn listen() -> Interrupt {
        let heard = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let notify = std::sync::Arc::new(tokio::sync::Notify::new());
        // Registered here, before anything is read or queued.
        if let Ok(mut sig) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        {
            let (h, n) = (heard.clone(), notify.clone());
            tokio::spawn(async move {
                if sig.recv().await.is_some() {
                    h.store(true, std::sync::atomic::Ordering::SeqCst);
                    n.notify_waiters();
                }
            });
        }
        Interrupt { heard, notify }
    }

    fn heard(&self) -> bool {
        self.heard.load(std::sync::atomic::Ordering::SeqCst)
    }

    async fn wait(&self) {
        let notified = self.notify.notified();
        if self.heard() {
            return;
        }
        notified.await;
    }
}

/// One status line on stderr, rewritten in place; only for large inputs and
/// only when stderr is a terminal. Each phase is also logged at debug level
/// with the time since the start (`--log-level debug`).
struct Progress {
    on: bool,
    started: Instant,
    /// A status line is on the screen (and must be cleared).
    shown: std::cell::Cell<bool>,
}

impl Progress {
    fn new(large: bool) -> Progress {
        Progress {
            on: large && std::io::stderr().is_terminal(),
            started: Instant::now(),
            shown: std::cell::Cell::new(false),
        }
    }

    fn phase(&self, what: &str) {
        self.log(what);
        self.show(what);
    }

    /// Logs a phase at debug level only.
    fn log(&self, what: &str) {
        tracing::debug!(
            ms = self.started.elapsed().as_millis() as u64,
            "apply: {what}"
        );
    }

    fn show(&self, what: &str) {
        if self.on {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2Krota: {what}...");
            let _ = err.flush();
            self.shown.set(true);
        }
    }

    fn clear(&self) {
        if self.shown.replace(false) {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

/// The rule warnings an edit would add and clear, as printed lines
/// ("sentence  [rule]"). Warnings never block an edit; a dry run lists them.
fn warnings_of(
    roster: &crate::domain::Roster,
    ops: &[crate::domain::Op],
) -> (Vec<String>, Vec<String>) {
    use crate::domain::rules::{Finding, Findings};
    let before = Findings::new(roster);
    let mut after_roster = roster.clone();
    let author = crate::domain::Author {
        user: "".into(),
        client: "".into(),
    };
    if after_roster
        .apply_batch_with(ops, &author, 0, true)
        .is_err()
    {
        return (Vec::new(), Vec::new());
    }
    let after = Findings::new(&after_roster);
    let (added, cleared) = before.compare(&after);
    let show = |f: &&Finding| format!("{}  [{}]", f.message(), f.rule);
    (
        added.iter().map(show).collect(),
        cleared.iter().map(show).collect(),
    )
}

/// The note an applied file's edit is logged with: `apply:FILE`, the path
/// cut from the front (keeping the file's name) to fit the hub's limit.
fn apply_note(file: &str) -> String {
    const PREFIX: &str = "apply:";
    let room = crate::protocol::MAX_NOTE_CHARS - PREFIX.len();
    let n = file.chars().count();
    if n <= room {
        return format!("{PREFIX}{file}");
    }
    let tail: String = file.chars().skip(n - (room - 1)).collect();
    format!("{PREFIX}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_path_is_cut_from_the_front_to_fit_the_note() {
        assert_eq!(apply_note("leave.csv"), "apply:leave.csv");
        let long = format!("/{}/rota-年間.csv", "d".repeat(300));
        let note = apply_note(&long);
        assert_eq!(note.chars().count(), crate::protocol::MAX_NOTE_CHARS);
        assert!(
            note.starts_with("apply:…") && note.ends_with("/rota-年間.csv"),
            "{note}"
        );
    }
}
