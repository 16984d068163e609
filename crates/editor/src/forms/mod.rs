//! The forms that manage a roster's staff, shift codes, rules and settings:
//! their fields, what each field must hold, and the edit a filled form
//! makes. Pure: a form and the roster in, field errors (every one, each on
//! its own field), notes (what saving it will do, never blocking) or
//! operations out. The roster's own checks ([`Roster::check_record`]) have
//! the last word, so a form never says yes to what the hub would refuse.

mod build;
mod fields;
mod lists;
mod notes;
#[cfg(test)]
mod tests;

use fields::*;
pub use lists::{describe_rule, list, user_lines};

use crate::action::RoleChange;
use rota_core::domain::{
    Date, LimitMeasure, Op, Roster, Rule, RuleKind, Seq, ShiftCode, Staff, check_code, check_id,
    check_time,
};

/// Which list the manage panel shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Staff,
    Codes,
    Rules,
    /// The planning period and the time zone.
    Settings,
    /// Who may open the roster, and how (on a hub with accounts; admins).
    Users,
}

impl Tab {
    pub const ALL: [Tab; 5] = [
        Tab::Staff,
        Tab::Codes,
        Tab::Rules,
        Tab::Settings,
        Tab::Users,
    ];

    pub fn next(self) -> Tab {
        match self {
            Tab::Staff => Tab::Codes,
            Tab::Codes => Tab::Rules,
            Tab::Rules => Tab::Settings,
            Tab::Settings => Tab::Users,
            Tab::Users => Tab::Staff,
        }
    }

    pub fn previous(self) -> Tab {
        match self {
            Tab::Staff => Tab::Users,
            Tab::Codes => Tab::Staff,
            Tab::Rules => Tab::Codes,
            Tab::Settings => Tab::Rules,
            Tab::Users => Tab::Settings,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Tab::Staff => "staff",
            Tab::Codes => "shift codes",
            Tab::Rules => "rules",
            Tab::Settings => "settings",
            Tab::Users => "users",
        }
    }
}

/// The manage panel: a list, and maybe a form open over it.
#[derive(Clone, Debug, PartialEq)]
pub struct Manage {
    pub tab: Tab,
    pub selected: usize,
    pub form: Option<Form>,
    /// `d` was pressed on the selected item: y removes it.
    pub confirm_remove: bool,
    /// `a` was pressed on the rules: which kind (s, f, l)?
    pub adding_rule: bool,
}

/// What a form makes.
#[derive(Clone, Debug, PartialEq)]
pub enum FormKind {
    AddStaff,
    EditStaff {
        id: String,
    },
    /// Add (None) or change a code.
    Code {
        existing: Option<String>,
    },
    Staffing,
    Sequence,
    Limit,
    /// Add (None) a user with a role on the roster, or change one's role.
    User {
        existing: Option<String>,
    },
    /// The planning period and time zone.
    Settings,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: &'static str,
    pub value: String,
    /// What the field takes, shown beside it.
    pub hint: &'static str,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Form {
    pub kind: FormKind,
    pub fields: Vec<Field>,
    pub focus: usize,
    /// The version of the record being changed, sent as the edit's base so
    /// that a colleague's change in between shows as a conflict.
    pub base: Option<Seq>,
    /// What is wrong now, field by field (index, message).
    pub errors: Vec<(usize, String)>,
    /// What saving it will do that its user may not expect (a new group,
    /// how a code is typed), field by field. Never blocks.
    pub notes: Vec<(usize, String)>,
}

fn field(name: &'static str, value: impl Into<String>, hint: &'static str) -> Field {
    Field {
        name,
        value: value.into(),
        hint,
    }
}

/// A few of the roster's staff ids with their names, for a message: "s1
/// Amara Okafor, s2 Ben Hughes, s3 Chloe Martin, …".
fn some_ids(roster: &Roster) -> String {
    let staff: Vec<Staff> = roster
        .staff_by_group()
        .into_iter()
        .filter(|s| s.active)
        .collect();
    if staff.is_empty() {
        return "the roster has no staff yet".into();
    }
    let mut ids: Vec<String> = staff
        .iter()
        .take(3)
        .map(|s| format!("{} {}", s.id, s.name))
        .collect();
    if staff.len() > 3 {
        ids.push("…".into());
    }
    ids.join(", ")
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(T::to_string).unwrap_or_default()
}

impl Form {
    pub fn add_staff() -> Form {
        Form {
            kind: FormKind::AddStaff,
            fields: vec![
                field("id", "", "a short id kept for good, e.g. s26"),
                field("name", "", "as shown in the grid"),
                field("group", "", "e.g. Nurses; empty for none"),
            ],
            focus: 0,
            base: None,
            errors: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn edit_staff(s: &Staff) -> Form {
        Form {
            kind: FormKind::EditStaff { id: s.id.clone() },
            fields: vec![
                field("name", s.name.clone(), "as shown in the grid"),
                field("group", s.group.clone(), "e.g. Nurses; empty for none"),
            ],
            focus: 0,
            base: Some(s.seq),
            errors: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn code(c: Option<&ShiftCode>) -> Form {
        let blank = ShiftCode::new("", 8.0, true);
        let d = c.unwrap_or(&blank);
        Form {
            kind: FormKind::Code {
                existing: c.map(|c| c.code.clone()),
            },
            fields: vec![
                field("code", d.code.clone(), "1 to 4 characters: D, OFF, 夜"),
                field("label", d.label.clone(), "e.g. Day shift"),
                field("colour", d.colour.clone(), "a name (green) or #rrggbb"),
                field("hours", fmt_num(d.hours), "paid hours, 0 to 48"),
                field("start", opt(&d.start), "HH:MM, or empty"),
                field("end", opt(&d.end), "HH:MM, or empty"),
                field(
                    "worked",
                    if d.worked { "yes" } else { "no" },
                    "yes (a shift) or no (OFF, leave)",
                ),
            ],
            focus: if c.is_some() { 1 } else { 0 },
            base: c.map(|c| c.seq),
            errors: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// A rule's form: for a new rule of `kind`, or for `rule` as it is.
    pub fn rule(kind: FormKind, rule: Option<&Rule>) -> Form {
        let id = rule.map(|r| r.id.clone()).unwrap_or_default();
        let id_field = field("id", id, "a short name, e.g. min-nights");
        let mut fields = vec![id_field];
        let kind = match rule.map(|r| &r.kind) {
            Some(RuleKind::Staffing { .. }) => FormKind::Staffing,
            Some(RuleKind::ForbiddenSequence { .. }) => FormKind::Sequence,
            Some(RuleKind::Limit { .. }) => FormKind::Limit,
            None => kind,
        };
        match (&kind, rule.map(|r| &r.kind)) {
            (
                FormKind::Staffing,
                Some(RuleKind::Staffing {
                    code,
                    min,
                    max,
                    weekdays,
                    group,
                    from,
                    to,
                    ..
                }),
            ) => fields.extend(staffing_fields(
                code,
                &min.to_string(),
                &opt(max),
                &weekdays
                    .iter()
                    .map(|w| w.to_string().to_lowercase())
                    .collect::<Vec<_>>()
                    .join(","),
                &opt(group),
                &opt(from),
                &opt(to),
            )),
            (FormKind::Staffing, _) => {
                fields.extend(staffing_fields("", "1", "", "", "", "", ""));
            }
            (FormKind::Sequence, Some(RuleKind::ForbiddenSequence { first, then })) => {
                fields.extend(sequence_fields(first, then))
            }
            (FormKind::Sequence, _) => fields.extend(sequence_fields("", "")),
            (
                FormKind::Limit,
                Some(RuleKind::Limit {
                    measure,
                    min,
                    max,
                    period_days,
                    code,
                    staff,
                    group,
                }),
            ) => fields.extend(limit_fields(
                measure_name(*measure),
                &opt(&min.map(fmt_num)),
                &opt(&max.map(fmt_num)),
                &opt(period_days),
                &opt(code),
                &opt(staff),
                &opt(group),
            )),
            _ => fields.extend(limit_fields("", "", "", "", "", "", "")),
        }
        Form {
            kind,
            fields,
            focus: if rule.is_some() { 1 } else { 0 },
            base: rule.map(|r| r.seq),
            errors: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn title(&self) -> &'static str {
        match self.kind {
            FormKind::AddStaff => "add a person",
            FormKind::EditStaff { .. } => "change a person",
            FormKind::Code { existing: None } => "add a shift code",
            FormKind::Code { .. } => "change a shift code",
            FormKind::Staffing => "staffing rule",
            FormKind::Sequence => "forbidden sequence rule",
            FormKind::Limit => "per-person limit rule",
            FormKind::Settings => "the roster's settings",
            FormKind::User { existing: None } => "add a user",
            FormKind::User { .. } => "change a user's role",
        }
    }

    /// A new user (None), or `existing`'s role on the roster (a member
    /// of staff's with the row they are bound to).
    pub fn user(existing: Option<&rota_core::protocol::RosterUser>) -> Form {
        let mut form = Form {
            kind: FormKind::User {
                existing: existing.map(|u| u.user.clone()),
            },
            fields: vec![
                field(
                    "user",
                    existing.map_or("", |u| u.user.as_str()),
                    "their account name",
                ),
                field(
                    "role",
                    existing.map_or("editor", |u| u.role.as_str()),
                    "staff, viewer, editor, admin, or none",
                ),
            ],
            focus: usize::from(existing.is_some()),
            base: None,
            errors: Vec::new(),
            notes: Vec::new(),
        };
        form.fit_user_fields(existing.and_then(|u| u.staff.as_deref()));
        form
    }

    /// A user form asks for the staff row while the role typed is
    /// `staff` (filled in with `row` when it comes), and not otherwise.
    pub fn fit_user_fields(&mut self, row: Option<&str>) {
        if !matches!(self.kind, FormKind::User { .. }) {
            return;
        }
        let has = self.fields.iter().any(|f| f.name == "staff");
        let wants = self.value("role") == "staff";
        if wants && !has {
            self.fields.push(field(
                "staff",
                row.unwrap_or_default(),
                "their row: an id or name as the staff tab lists it",
            ));
        } else if !wants && has {
            self.fields.retain(|f| f.name != "staff");
            self.focus = self.focus.min(self.fields.len().saturating_sub(1));
        }
    }

    /// The roster's settings: its planning period and time zone.
    pub fn settings(roster: &Roster) -> Form {
        let p = roster.period();
        Form {
            kind: FormKind::Settings,
            fields: vec![
                field(
                    "period from",
                    p.map(|p| p.from.to_string()).unwrap_or_default(),
                    "YYYY-MM-DD: the first date planned",
                ),
                field(
                    "period to",
                    p.map(|p| p.to.to_string()).unwrap_or_default(),
                    "YYYY-MM-DD: the last (rules are checked over these dates only)",
                ),
                field(
                    "time zone",
                    roster.time_zone().unwrap_or(""),
                    "e.g. Europe/London: shift times are in it (calendars)",
                ),
            ],
            focus: 0,
            base: Some(roster.settings().seq),
            errors: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// What a user form asks for, or what is wrong with it (a staff row
    /// the roster does not have among them).
    pub fn role_change(&self, roster: &Roster) -> Result<RoleChange, Vec<(usize, String)>> {
        let FormKind::User { existing } = &self.kind else {
            return Err(vec![(0, "not a user form".into())]);
        };
        let mut errors = Vec::new();
        let user = self.value("user").to_string();
        if let Err(e) = rota_core::domain::check_user_name(&user) {
            errors.push((self.index("user"), e.to_string()));
        }
        let role = match self.value("role") {
            "none" if existing.is_some() => None,
            "none" => {
                errors.push((self.index("role"), "a new user needs a role".into()));
                None
            }
            r if rota_core::domain::Role::parse(r).is_some() => Some(r.to_string()),
            r => {
                errors.push((
                    self.index("role"),
                    format!("`{r}`: use staff, viewer, editor, admin or none"),
                ));
                None
            }
        };
        let typed = (role.as_deref() == Some("staff")).then(|| self.value("staff").trim());
        let mut staff = None;
        match typed {
            Some("") => errors.push((
                self.index("staff"),
                format!(
                    "a member of staff is bound to a row: which? ({})",
                    some_ids(roster)
                ),
            )),
            Some(typed) => {
                // An id, or a display name the roster has once.
                let all = roster.staff();
                let active: Vec<_> = all.into_iter().filter(|s| s.active).collect();
                match rota_script::StaffNames::new(&active).resolve(typed) {
                    Ok(id) => staff = Some(id.to_string()),
                    Err(e) => errors.push((
                        self.index("staff"),
                        format!(
                            "{e} on this roster: an id or name as the staff tab lists it ({})",
                            some_ids(roster)
                        ),
                    )),
                }
            }
            None => {}
        }
        if errors.is_empty() {
            Ok(RoleChange {
                user,
                role,
                create: existing.is_none(),
                staff,
            })
        } else {
            Err(errors)
        }
    }

    /// Whether a field can be typed in (a record's key is fixed once made).
    pub fn editable(&self, i: usize) -> bool {
        let fixed_key = match &self.kind {
            FormKind::Code { existing } | FormKind::User { existing } => existing.is_some(),
            FormKind::Staffing | FormKind::Sequence | FormKind::Limit => self.base.is_some(),
            _ => false,
        };
        !(fixed_key && i == 0)
    }

    fn value(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map_or("", |f| f.value.trim())
    }

    fn index(&self, name: &str) -> usize {
        self.fields.iter().position(|f| f.name == name).unwrap_or(0)
    }

    /// The edit the form makes, or everything that is wrong, each on its
    /// own field (index, message). Checked again on every key. (A user
    /// form makes no edit: see [`Form::role_change`].)
    pub fn check(&self, roster: &Roster) -> Result<Vec<Op>, Vec<(usize, String)>> {
        if matches!(self.kind, FormKind::User { .. }) {
            return Err(self.role_change(roster).err().unwrap_or_default());
        }
        let mut errors: Vec<(usize, String)> = Vec::new();
        let ops = self.build(roster, &mut errors);
        if errors.is_empty() {
            // The roster's own checks have the last word; what they find is
            // put on the field whose value they quote.
            for op in &ops {
                if let Err(p) = roster.check_record(op) {
                    errors.push((self.field_of(&p.message), p.message));
                }
            }
        }
        if errors.is_empty() {
            Ok(ops)
        } else {
            errors.sort_by_key(|(i, _)| *i);
            Err(errors)
        }
    }
}
