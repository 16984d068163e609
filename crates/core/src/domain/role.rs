//! Roles: what a user may do on a roster. Known to the hub (which
//! enforces them) and to the editor and scripts (which refuse at once what
//! the hub would refuse), from this one definition.

use super::Op;

/// What a user may do on one roster, each role including the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Reads the roster, sees presence and history.
    Viewer,
    /// Also changes cells and enters requests for anyone.
    Editor,
    /// Also manages staff, codes, rules, settings and the roster's users.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Editor, Role::Admin];

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
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
    /// The role an edit needs: cells and requests (anyone's: a phone call
    /// to the ward) take an editor; staff, codes, rules and settings take
    /// an admin.
    pub fn needed_for(ops: &[Op]) -> Role {
        if ops.iter().all(|op| {
            matches!(
                op,
                Op::SetCell { .. } | Op::PutRequest { .. } | Op::RemoveRequest { .. }
            )
        }) {
            Role::Editor
        } else {
            Role::Admin
        }
    }

    /// "a viewer", "an editor", "an admin".
    pub fn with_article(self) -> String {
        match self {
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
