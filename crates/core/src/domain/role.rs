//! Roles: what a user may do on a roster. Known to the hub (which
//! enforces them) and to the editor and scripts (which refuse at once what
//! the hub would refuse), from this one definition.

use super::Op;

/// What a user may do on one roster, each role including the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// One member of staff, bound to their row: reads the roster, enters
    /// and withdraws their own requests, reads the history of their own
    /// row. (A viewer, bound to no row, has no requests of their own.)
    Staff,
    /// Reads the roster, sees presence and history.
    Viewer,
    /// Also changes cells and enters requests for anyone.
    Editor,
    /// Also manages staff, codes, rules, settings and the roster's users.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Staff, Role::Viewer, Role::Editor, Role::Admin];

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Staff => "staff",
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Role {
    /// The role an edit needs: cells, proposals and requests (anyone's: a
    /// phone call to the ward) take an editor; staff, codes, rules and
    /// settings take an admin.
    pub fn needed_for(ops: &[Op]) -> Role {
        if ops.iter().all(|op| {
            matches!(
                op,
                Op::SetCell { .. }
                    | Op::Propose { .. }
                    | Op::PutRequest { .. }
                    | Op::RemoveRequest { .. }
            )
        }) {
            Role::Editor
        } else {
            Role::Admin
        }
    }

    /// Whether this role, bound to the staff row `own` (the staff role's),
    /// may make an edit of `ops`: when it is the role the edit needs or
    /// above, or when it is staff and every op is a request of its own
    /// row's.
    pub fn allows(self, ops: &[Op], own: Option<&str>) -> bool {
        if self >= Role::needed_for(ops) {
            return true;
        }
        let Some(me) = own.filter(|_| self == Role::Staff) else {
            return false;
        };
        ops.iter().all(|op| match op {
            Op::PutRequest { request, .. } => request.staff == me,
            Op::RemoveRequest { staff, .. } => staff == me,
            _ => false,
        })
    }

    /// Why this role (bound to `own`) may not make an edit of `ops`, in
    /// words: "it takes the editor role; you are a viewer".
    pub fn why_not(self, ops: &[Op], own: Option<&str>) -> String {
        let need = Role::needed_for(ops);
        match own.filter(|_| self == Role::Staff) {
            Some(me) if need == Role::Editor => format!(
                "as staff you may enter only your own requests (staff `{me}`); it takes the {need} role"
            ),
            _ => format!("it takes the {need} role; you are {}", self.with_article()),
        }
    }

    /// "a viewer", "an editor", "an admin".
    pub fn with_article(self) -> String {
        match self {
            Role::Staff => "a staff member".into(),
            Role::Viewer => "a viewer".into(),
            Role::Editor => "an editor".into(),
            Role::Admin => "an admin".into(),
        }
    }
}

/// Most characters in a user name.
pub const MAX_USER_CHARS: usize = 64;

/// What a user name must be: as the hub prints it in the change log (1 to
/// 64 printable characters, no spaces at either end).
pub fn check_user_name(name: &str) -> Result<(), String> {
    let ok = !name.trim().is_empty()
        && name.trim() == name
        && name.chars().count() <= MAX_USER_CHARS
        && !name.chars().any(char::is_control);
    if !ok {
        return Err(format!(
            "user name `{name}` must be 1 to {MAX_USER_CHARS} printable characters, without spaces at either end"
        ));
    }
    super::check_visible("user name", name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Request, Wish};

    fn ask(staff: &str) -> Op {
        Op::PutRequest {
            request: Request::new(
                staff,
                "2027-03-02".parse().unwrap(),
                Wish::Off { code: None },
            ),
            base: None,
        }
    }

    #[test]
    fn staff_may_write_only_their_own_requests_and_viewers_none() {
        let cell = Op::SetCell {
            staff: "ann".into(),
            date: "2027-03-02".parse().unwrap(),
            code: None,
            base: 0,
        };
        let withdraw = |s: &str| Op::RemoveRequest {
            staff: s.into(),
            date: "2027-03-02".parse().unwrap(),
            base: None,
        };
        let staff = Role::Staff;
        assert!(staff.allows(&[ask("ann"), withdraw("ann")], Some("ann")));
        assert!(!staff.allows(&[ask("ann"), ask("bob")], Some("ann")));
        assert!(!staff.allows(&[withdraw("bob")], Some("ann")));
        assert!(!staff.allows(std::slice::from_ref(&cell), Some("ann")));
        assert!(!staff.allows(&[ask("ann")], None), "unbound: nothing");
        assert!(!Role::Viewer.allows(&[ask("ann")], Some("ann")));
        assert!(Role::Editor.allows(&[ask("bob"), cell], None));
        assert!(
            staff
                .why_not(&[ask("bob")], Some("ann"))
                .contains("own requests")
        );
        assert_eq!(Role::parse("staff"), Some(Role::Staff));
    }
}
