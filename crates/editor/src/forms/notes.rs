//! What saving a form will do that its user may not expect (never blocking).

use super::*;

impl Form {
    /// What saving the form will do that its user may not expect: a new
    /// group; how a new code is typed and what it does to typing others,
    /// or to a key (`command_keys`: the grid's keys a code's first
    /// character would take over, with their command's name).
    pub fn notes(
        &self,
        roster: &Roster,
        command_keys: &[(char, &str, Option<String>)],
    ) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        let groups: Vec<String> = {
            let mut g: Vec<String> = roster
                .staff()
                .into_iter()
                .filter(|s| s.active && !s.group.is_empty())
                .map(|s| s.group)
                .collect();
            g.sort();
            g.dedup();
            g
        };
        let group_note = |name: &str, out: &mut Vec<(usize, String)>, counts: bool| {
            let g = self.value(name);
            if g.is_empty() || groups.iter().any(|x| x == g) {
                return;
            }
            let known = if groups.is_empty() {
                "there are no groups yet".to_string()
            } else {
                format!("groups now: {}", groups.join(", "))
            };
            let m = if counts {
                format!("no one is in group `{g}`: it counts nobody until someone is ({known})")
            } else {
                format!("a new group `{g}` ({known})")
            };
            out.push((self.index(name), m));
        };
        match &self.kind {
            FormKind::AddStaff | FormKind::EditStaff { .. } => {
                // Two people may share a name; said, so it is meant.
                let name = self.value("name").trim();
                let me = match &self.kind {
                    FormKind::EditStaff { id } => Some(id.as_str()),
                    _ => None,
                };
                if let Some(other) = roster.staff().into_iter().find(|s| {
                    s.active
                        && Some(s.id.as_str()) != me
                        && !name.is_empty()
                        && s.name.to_lowercase() == name.to_lowercase()
                }) {
                    out.push((
                        self.index("name"),
                        format!(
                            "{} ({}) has this name too: scripts will need the id for either",
                            other.name, other.id
                        ),
                    ));
                }
                group_note("group", &mut out, false)
            }
            FormKind::Staffing | FormKind::Limit => group_note("group", &mut out, true),
            // Whose row a member of staff is bound to, by name.
            FormKind::User { .. } if self.fields.iter().any(|f| f.name == "staff") => {
                let active: Vec<_> = roster.staff().into_iter().filter(|s| s.active).collect();
                let typed = self.value("staff").trim();
                let found = rota_script::StaffNames::new(&active).resolve(typed).ok();
                if let Some(s) = found.and_then(|id| roster.staff_member(id)) {
                    out.push((
                        self.index("staff"),
                        format!(
                            "bound to {} ({}): they enter and withdraw their own requests only",
                            s.name, s.id
                        ),
                    ));
                }
            }
            FormKind::Code { existing: None } => {
                let code = self.value("code");
                if code.is_empty() || check_code(code).is_err() {
                    return out;
                }
                let at = self.index("code");
                let first = code.chars().next().unwrap_or(' ');
                let key = first.to_ascii_uppercase();
                let mut how = format!("typed as {}", typed_keys(code, roster));
                if first.is_ascii_lowercase() {
                    how.push_str(&format!(" (or i {code})"));
                }
                out.push((at, how));
                for other in roster.codes() {
                    let o = other.code;
                    if o.chars().count() > code.chars().count() && same_start(&o, code) {
                        out.push((
                            at,
                            format!("{o} starts with it: typing {code} waits for Enter"),
                        ));
                    } else if code.chars().count() > o.chars().count() && same_start(code, &o) {
                        out.push((
                            at,
                            format!("it starts with {o}: typing {o} will then wait for Enter"),
                        ));
                    }
                }
                let takes_key = !roster
                    .codes()
                    .iter()
                    .any(|c| same_start(&c.code, &first.to_string()));
                if takes_key
                    && let Some((_, cmd, other)) = command_keys.iter().find(|(k, _, _)| *k == key)
                {
                    let then = match other {
                        Some(o) => format!("{cmd} is then {o}"),
                        None => format!("bind {cmd} to another key in the config file"),
                    };
                    out.push((
                        at,
                        format!(
                            "the key {key} then types codes and no longer does `{cmd}`: {then}"
                        ),
                    ));
                }
            }
            _ => {}
        }
        out
    }
}

/// Whether `code` starts with `prefix`, letters in either case (as the
/// grid matches what is typed).
pub(super) fn same_start(code: &str, prefix: &str) -> bool {
    crate::typing::starts_with_typed(code, prefix)
}

/// The keys that type `code` in a roster: its first letter with Shift
/// when lower-case, then the rest, and Enter when a longer code starts
/// with it (see `State::keys_for_code`).
pub(super) fn typed_keys(code: &str, roster: &Roster) -> String {
    let mut keys: String = code
        .chars()
        .enumerate()
        .map(|(i, c)| if i == 0 { c.to_ascii_uppercase() } else { c })
        .collect();
    let longer = roster
        .codes()
        .iter()
        .any(|c| c.code.chars().count() > code.chars().count() && same_start(&c.code, code));
    if longer {
        keys.push_str(" Enter");
    }
    keys
}
