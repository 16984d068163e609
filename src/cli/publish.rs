//! `rota --publish --from D --to D [--note TEXT]`: fix the roster's cells of
//! those dates as its staff are to see them (admins), as the next numbered
//! publication; `rota --diff-published`: what staff were shown that the
//! roster no longer says (what a publication now would change for them).

use super::answer::{self, Answer, wait_for_answer};
use super::{Cli, connect, exit, roster_exists, start_engine, stop};
use crate::domain::{Date, Op, Role, Roster};

use std::time::Duration;

pub async fn publish(cli: &Cli) -> i32 {
    let (from, to) = match dates(cli) {
        Ok(Some(range)) => range,
        Ok(None) => {
            eprintln!("rota: --publish needs the dates: --from DATE --to DATE");
            return exit::USAGE;
        }
        Err(e) => {
            eprintln!("rota: {e}");
            return exit::USAGE;
        }
    };
    let engine = match start_engine(cli) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let code = publish_with(cli, &engine, from, to).await;
    stop(engine).await;
    code
}

async fn publish_with(cli: &Cli, engine: &crate::sync::SyncEngine, from: Date, to: Date) -> i32 {
    let timeout = Duration::from_secs(cli.timeout.max(1));
    // Publishing says what staff see now: it is never queued for later.
    match connect(engine, timeout).await {
        Ok(_) => {}
        Err(e) => return e.report(": nothing published (a publication is never queued)"),
    }
    if let Err(code) = roster_exists(engine, timeout).await {
        return code;
    }
    let ops = vec![Op::Publish {
        from,
        to,
        note: cli.note.clone().unwrap_or_default(),
    }];
    let access = engine.access();
    if let Some(role) = access.role.as_deref().and_then(Role::parse)
        && !role.allows(&ops, access.staff.as_deref())
    {
        eprintln!(
            "rota: nothing published on roster {}: {} (ask an admin of the roster)",
            super::roster_name(cli),
            role.why_not(&ops, access.staff.as_deref())
        );
        return exit::REFUSED;
    }
    let mut events = engine.subscribe();
    let op_id = match engine.edit_script(ops, "publish", false) {
        Ok(Some(id)) => id,
        Ok(None) => {
            eprintln!("rota: nothing published: the hub took nothing");
            return exit::LOCAL;
        }
        Err(e) => {
            eprintln!("rota: nothing published: {e}");
            return exit::USAGE;
        }
    };
    let deadline = tokio::time::Instant::now() + timeout;
    let answer = wait_for_answer(
        engine,
        &mut events,
        op_id,
        deadline,
        || {},
        std::future::pending(),
    )
    .await;
    match answer {
        Answer::Acked { seq, .. } => {
            let roster = engine.server_roster();
            match roster.last_publication() {
                Some(p) => {
                    let cells = roster.unpublished().len();
                    // The cells it fixed (that hold a code), as staff see them.
                    let fixed = roster.publications().last().map_or(0, |p| p.cells.len());
                    crate::outln!(
                        "Published roster {} at seq {seq}: {} ({}).{}",
                        super::roster_name(cli),
                        p.describe(),
                        crate::script::diff::plural(fixed, "shift"),
                        if cells == 0 {
                            String::new()
                        } else {
                            format!(
                                " {} elsewhere still {} from what staff see (rota --diff-published).",
                                crate::script::diff::plural(cells, "cell"),
                                if cells == 1 { "differs" } else { "differ" }
                            )
                        }
                    );
                }
                None => {
                    crate::outln!("Published roster {} at seq {seq}.", super::roster_name(cli));
                }
            }
            exit::OK
        }
        Answer::Conflicted(conflicts) => {
            let _ = engine.keep_theirs(op_id);
            eprintln!(
                "rota: nothing published: {} changed meanwhile; publish again",
                crate::script::diff::plural(conflicts.len(), "record")
            );
            exit::CONFLICT
        }
        Answer::Rejected(code, message, _) => {
            answer::refused(engine, op_id, "published", &code, &message, exit::USAGE)
        }
        // Sent, perhaps applied: the outbox settles it on the next sync.
        Answer::TimedOut | Answer::Interrupted => {
            answer::unanswered("the publication", timeout, engine)
        }
    }
}

/// --from and --to, both or neither, in order.
fn dates(cli: &Cli) -> Result<Option<(Date, Date)>, String> {
    let parse = |flag: &str, v: &Option<String>| -> Result<Option<Date>, String> {
        v.as_deref()
            .map(|v| v.parse().map_err(|e| format!("{flag}: {e}")))
            .transpose()
    };
    match (parse("--from", &cli.from)?, parse("--to", &cli.to)?) {
        (Some(f), Some(t)) if t < f => Err(format!("--to {t} is before --from {f}")),
        (Some(f), Some(t)) => Ok(Some((f, t))),
        (None, None) => Ok(None),
        _ => Err("--publish needs both --from and --to".into()),
    }
}

/// `--diff-published`: each cell whose code differs from what staff were
/// shown, as "published -> now"; exit 0.
pub async fn diff_published(cli: &Cli) -> i32 {
    let engine = match start_engine(cli) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let roster = super::read_roster(
        cli,
        &engine,
        "comparing",
        " and this machine has no copy of the roster",
    )
    .await;
    stop(engine).await;
    match roster {
        Ok(r) => {
            print_diff(cli, &r);
            exit::OK
        }
        Err(code) => code,
    }
}

fn print_diff(cli: &Cli, roster: &Roster) {
    let name = super::roster_name(cli);
    let Some(last) = roster.last_publication() else {
        crate::outln!("Roster {name} has never published: its staff see it as it is.");
        return;
    };
    let differs = roster.unpublished();
    for (staff, date, now, shown) in &differs {
        let who = roster
            .staff_member(staff)
            .map_or(staff.as_str(), |s| s.name.as_str());
        let code = |c: &Option<String>| c.clone().unwrap_or_else(|| "(empty)".into());
        if !crate::outln!(
            "{who} ({staff})  {}  {} -> {}",
            date.0.format("%a %-d %b %Y"),
            code(shown),
            code(now)
        ) {
            return;
        }
    }
    match differs.len() {
        0 => crate::outln!(
            "Roster {name}: staff see every published date as it is now (last: {}).",
            last.describe()
        ),
        n => crate::outln!(
            "Roster {name}: {} {} from what staff were shown (last: {}); publish to show them.",
            crate::script::diff::plural(n, "cell"),
            if n == 1 { "differs" } else { "differ" },
            last.describe()
        ),
    };
}
