//! `rota --serve --add-user NAME --role ROLE --roster R` and the other
//! account flags: change the data dir's accounts file and exit. They work
//! while the hub runs (it notices within a fraction of a second and closes
//! the connections of revoked tokens). With a hub running on the data dir,
//! a change returns only once the hub has it in force: nothing is
//! acknowledged after that under what it took away, and what it gave works.
//! Glue over [`crate::accounts`].

use super::{Cli, exit};
use crate::accounts::{AccountsError, AccountsFile, Grant, Role};

/// Whether the flags ask for an account change rather than a hub.
pub fn asked(cli: &Cli) -> bool {
    cli.add_user.is_some()
        || cli.set_role.is_some()
        || cli.new_token.is_some()
        || cli.revoke_token.is_some()
        || cli.remove_user.is_some()
        || cli.list_users
        || cli.calendar_url.is_some()
}

/// What --role (with or without --roster) means.
#[derive(Debug, PartialEq)]
enum Wanted {
    Owner(bool),
    Role(String, Option<Role>),
}

fn wanted(cli: &Cli) -> Result<Wanted, String> {
    let role = cli.role.as_deref().unwrap_or("");
    match (role, &cli.roster) {
        ("owner", None) => Ok(Wanted::Owner(true)),
        ("none", None) => Ok(Wanted::Owner(false)),
        ("owner", Some(_)) => Err("--role owner is for the whole hub: leave out --roster".into()),
        (r, Some(roster)) => {
            let role = match r {
                "none" => None,
                r => Some(Role::parse(r).ok_or_else(|| bad_role(r))?),
            };
            Ok(Wanted::Role(roster.clone(), role))
        }
        (r, None) if Role::parse(r).is_some() => Err(format!(
            "--role {r} is a role on one roster: say which with --roster"
        )),
        (r, None) => Err(bad_role(r)),
    }
}

fn bad_role(r: &str) -> String {
    format!("--role `{r}`: use staff, viewer, editor, admin, owner or none")
}

/// Runs the account flag given. Returns the exit status.
pub fn run(cli: &Cli) -> i32 {
    let dir = match cli.data_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("rota: {e}");
            return exit::USAGE;
        }
    };
    let mut file = match AccountsFile::open_in(&dir) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("rota: {e}");
            return 1;
        }
    };
    match act(cli, &mut file).and_then(|()| in_force(cli, &dir, &file)) {
        Ok(()) => exit::OK,
        Err(Failure::Usage(m)) => {
            eprintln!("rota: {m}");
            exit::USAGE
        }
        Err(Failure::Accounts(AccountsError::Invalid(m))) => {
            eprintln!("rota: {m}");
            exit::USAGE
        }
        Err(Failure::Accounts(e)) => {
            eprintln!("rota: {e}");
            1
        }
        Err(Failure::Hub(m)) => {
            eprintln!("rota: {m}");
            1
        }
    }
}

enum Failure {
    Usage(String),
    Accounts(AccountsError),
    /// Saved, but the running hub did not say it has it in force.
    Hub(String),
}

/// How long a change waits for the hub running on its data dir to take it
/// up (the hub looks every 20 ms; a busy writer finishes its group first).
const HUB_TAKES_UP: std::time::Duration = std::time::Duration::from_secs(10);

/// Waits, when a hub runs on `dir`, until it has the change just made in
/// force (the accounts file's handshake).
fn in_force(cli: &Cli, dir: &std::path::Path, file: &AccountsFile) -> Result<(), Failure> {
    if cli.list_users {
        return Ok(());
    }
    let Some(hub) = rota_db::lock::holder(dir) else {
        return Ok(()); // no hub: it reads the file when it starts
    };
    let change = file.announce_change()?;
    let until = std::time::Instant::now() + HUB_TAKES_UP;
    while file.seen()? < change {
        if std::time::Instant::now() >= until {
            return Err(Failure::Hub(format!(
                "the change is saved, but the hub running on this data dir (pid {}, {}) has not \
                 put it in force within {} s; it will when it next reads its accounts, or at \
                 its restart",
                hub.pid,
                hub.addr,
                HUB_TAKES_UP.as_secs()
            )));
        }
        // Polling a file another process answers in: nothing to wait on.
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    Ok(())
}

impl From<AccountsError> for Failure {
    fn from(e: AccountsError) -> Failure {
        Failure::Accounts(e)
    }
}

/// The staff id `name` (an id or a unique display name) stands for on
/// `roster`, read from the data dir's store (read-only: a running hub may
/// be writing it). A staff role or a calendar feed bound to a row the
/// roster does not have would show its user nothing, and say nothing why.
fn staff_row(
    dir: &std::path::Path,
    database: Option<&str>,
    roster: &str,
    name: &str,
    flag: &str,
) -> Result<String, Failure> {
    let found = crate::server::writers::places(dir, database)
        .iter()
        .filter_map(|f| crate::store::load_roster_at(f, roster).ok())
        .find(|r| r.seq() > 0);
    let Some(r) = found else {
        return Err(Failure::Usage(format!(
            "{flag}: no roster `{roster}` in {} yet: make it first (rota --apply, or the editor's --create)",
            dir.display()
        )));
    };
    let staff = r.staff();
    crate::script::StaffNames::new(&staff)
        .resolve(name)
        .map(str::to_string)
        .map_err(|e| {
            // Those whose id or name holds what was typed, else the first.
            let typed = name.to_lowercase();
            let near: Vec<&rota_core::domain::Staff> = staff
                .iter()
                .filter(|s| {
                    s.active
                        && (s.name.to_lowercase().contains(&typed)
                            || s.id.to_lowercase().contains(&typed))
                })
                .take(5)
                .collect();
            let (lead, some) = if near.is_empty() {
                ("e.g.", staff.iter().filter(|s| s.active).take(5).collect())
            } else {
                ("did you mean", near)
            };
            let some: Vec<String> = some.iter().map(|s| format!("{} ({})", s.name, s.id)).collect();
            Failure::Usage(format!(
                "{flag}: {e} on roster `{roster}`; give a staff id or display name as the roster has them ({lead} {})",
                some.join(", ")
            ))
        })
}

fn act(cli: &Cli, file: &mut AccountsFile) -> Result<(), Failure> {
    let dir = file
        .path()
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    if let Some(name) = &cli.add_user {
        let grant = match wanted(cli).map_err(Failure::Usage)? {
            Wanted::Owner(true) => Grant::Owner,
            Wanted::Role(roster, Some(Role::Staff)) => match &cli.staff {
                Some(staff) => Grant::Staff {
                    staff: staff_row(&dir, cli.database.as_deref(), &roster, staff, "--staff")?,
                    roster,
                },
                None => return Err(Failure::Usage(staff_needs_row())),
            },
            Wanted::Role(roster, Some(role)) => Grant::Role { roster, role },
            _ => {
                return Err(Failure::Usage(
                    "--add-user needs a role: --role owner, or --role staff|viewer|editor|admin with --roster".into(),
                ));
            }
        };
        let what = describe(&grant);
        let token = file.add_user(name, grant)?;
        show_token(&format!("added {name}, {what}"), &token);
    } else if let Some(name) = &cli.set_role {
        match wanted(cli).map_err(Failure::Usage)? {
            Wanted::Owner(owner) => {
                file.set_owner(name, owner)?;
                let now = if owner {
                    "an owner of"
                } else {
                    "not an owner of"
                };
                eprintln!("rota: {name} is now {now} this hub");
            }
            Wanted::Role(roster, Some(Role::Staff)) if cli.staff.is_some() => {
                let staff = staff_row(
                    &dir,
                    cli.database.as_deref(),
                    &roster,
                    cli.staff.as_deref().unwrap_or_default(),
                    "--staff",
                )?;
                file.set_staff(name, &roster, &staff)?;
                eprintln!("rota: {name} is now staff of roster {roster}, as staff row {staff}");
            }
            Wanted::Role(roster, role) => {
                file.set_role(name, &roster, role)?;
                match role {
                    Some(r) => eprintln!("rota: {name} is now {r} of roster {roster}"),
                    None => eprintln!("rota: {name} has no role on roster {roster} now"),
                }
            }
        }
    } else if let Some(name) = &cli.new_token {
        let token = file.new_token(name)?;
        show_token(&format!("another token for {name}"), &token);
    } else if let Some(id) = &cli.revoke_token {
        match file.revoke_token(id) {
            Ok(user) => {
                eprintln!("rota: revoked {user}'s token; a running hub closes its connections now")
            }
            Err(AccountsError::Invalid(m)) => match file.revoke_calendar(id)? {
                Some((roster, staff, false)) => eprintln!(
                    "rota: revoked the calendar feed of {staff} on roster {roster}; its address answers 404 now"
                ),
                Some((roster, staff, true)) => eprintln!(
                    "rota: the calendar feed of {staff} on roster {roster} was revoked already; its address answers 404"
                ),
                None => {
                    return Err(Failure::Accounts(AccountsError::Invalid(format!(
                        "{m}, nor a calendar feed: give a token's or a feed's id as --list-users shows it (a feed's whole address works too)"
                    ))));
                }
            },
            Err(e) => return Err(e.into()),
        }
    } else if let Some(staff) = &cli.calendar_url {
        let roster = cli.roster.clone().unwrap_or_default();
        let staff = &staff_row(
            &dir,
            cli.database.as_deref(),
            &roster,
            staff,
            "--calendar-url",
        )?;
        let key = file.new_calendar(&roster, staff)?;
        let path = format!("/calendar/{key}.ics");
        let scheme = if cli.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        let dir = file.path().parent().map(std::path::Path::to_path_buf);
        match dir.as_deref().and_then(rota_db::lock::holder) {
            Some(hub) => {
                let addr = match hub.addr.rsplit_once(':') {
                    // Listening on every address: a phone needs one of
                    // them (or the machine's name) in place of 0.0.0.0.
                    Some((host, port)) if host == "0.0.0.0" || host == "[::]" => {
                        eprintln!(
                            "rota: the hub listens on every address ({}): put this machine's name or address in place of HOST",
                            hub.addr
                        );
                        format!("HOST:{port}")
                    }
                    _ => hub.addr.clone(),
                };
                eprintln!(
                    "rota: a calendar feed of {staff}'s published shifts on roster {roster}. Its address follows; it is shown only this once (subscribe to it in a phone's calendar; --revoke-token {} closes it):",
                    key.split('_').next().unwrap_or_default()
                );
                println!("{scheme}://{addr}{path}");
            }
            None => {
                eprintln!(
                    "rota: a calendar feed of {staff}'s published shifts on roster {roster}, at this path on the hub's address ({scheme}://HOST:PORT), shown only this once:"
                );
                println!("{path}");
            }
        }
    } else if let Some(name) = &cli.remove_user {
        file.remove_user(name)?;
        eprintln!("rota: removed {name}; their tokens are revoked");
    } else if cli.list_users {
        print!("{}", listing(&file.list()?));
        for c in file.calendars()? {
            println!(
                "calendar {}{}\t{} on roster {}",
                c.id,
                if c.revoked { " (revoked)" } else { "" },
                c.staff,
                c.roster
            );
        }
    }
    Ok(())
}

fn describe(grant: &Grant) -> String {
    match grant {
        Grant::Owner => "owner of this hub".into(),
        Grant::Role { roster, role } => format!("{role} of roster {roster}"),
        Grant::Staff { roster, staff } => {
            format!("staff of roster {roster}, as staff row {staff}")
        }
    }
}

fn staff_needs_row() -> String {
    "--role staff is bound to one staff row: say whose with --staff (their staff id, or their name as the roster shows it)".into()
}

/// The token alone on standard output (for scripts), what it is on stderr.
fn show_token(what: &str, token: &str) {
    eprintln!(
        "rota: {what}. The token follows; it is shown only this once (the hub keeps only its hash):"
    );
    println!("{token}");
}

/// One line per user: name, roles, token ids.
fn listing(users: &[crate::accounts::UserInfo]) -> String {
    if users.is_empty() {
        return "no users: this hub is open to anyone who can reach it (loopback only, unless --insecure)\n".into();
    }
    let mut out = String::new();
    for u in users {
        let mut roles: Vec<String> = u
            .roles
            .iter()
            .map(
                |(roster, role)| match u.staff.iter().find(|(r, _)| r == roster) {
                    Some((_, staff)) if *role == Role::Staff => {
                        format!("staff of {roster} (row {staff})")
                    }
                    _ => format!("{role} of {roster}"),
                },
            )
            .collect();
        if u.owner {
            roles.insert(0, "owner".into());
        }
        let tokens: Vec<String> = u
            .tokens
            .iter()
            .map(|(id, revoked)| {
                if *revoked {
                    format!("{id} (revoked)")
                } else {
                    id.clone()
                }
            })
            .collect();
        out.push_str(&format!(
            "{}\t{}\ttokens: {}\n",
            u.name,
            if roles.is_empty() {
                "no role".into()
            } else {
                roles.join(", ")
            },
            if tokens.is_empty() {
                "none".into()
            } else {
                tokens.join(", ")
            }
        ));
    }
    out
}
