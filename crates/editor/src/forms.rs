//! The forms that manage a roster's staff, shift codes, rules and settings:
//! their fields, what each field must hold, and the edit a filled form
//! makes. Pure: a form and the roster in, field errors (every one, each on
//! its own field), notes (what saving it will do, never blocking) or
//! operations out. The roster's own checks ([`Roster::check_record`]) have
//! the last word, so a form never says yes to what the hub would refuse.

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

    /// A new user (None), or `existing`'s role on the roster.
    pub fn user(existing: Option<&rota_core::protocol::RosterUser>) -> Form {
        Form {
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
                    "viewer, editor, admin, or none",
                ),
            ],
            focus: usize::from(existing.is_some()),
            base: None,
            errors: Vec::new(),
            notes: Vec::new(),
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

    /// What a user form asks for, or what is wrong with it.
    pub fn role_change(&self) -> Result<RoleChange, Vec<(usize, String)>> {
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
                    format!("`{r}`: use viewer, editor, admin or none"),
                ));
                None
            }
        };
        if errors.is_empty() {
            Ok(RoleChange {
                user,
                role,
                create: existing.is_none(),
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
            return Err(self.role_change().err().unwrap_or_default());
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

    /// Which field a roster's complaint is about: the one whose value it
    /// quotes, else the first.
    fn field_of(&self, message: &str) -> usize {
        self.fields
            .iter()
            .position(|f| {
                !f.value.trim().is_empty() && message.contains(&format!("`{}`", f.value.trim()))
            })
            .unwrap_or(0)
    }

    fn build(&self, roster: &Roster, errors: &mut Vec<(usize, String)>) -> Vec<Op> {
        let mut err = |name: &str, m: String| errors.push((self.index(name), m));
        match &self.kind {
            FormKind::User { .. } => Vec::new(),
            FormKind::AddStaff => {
                let id = self.value("id");
                match check_id("staff id", id) {
                    Err(m) => err("id", m),
                    Ok(()) if roster.staff_member(id).is_some_and(|s| s.active) => err(
                        "id",
                        format!(
                            "staff `{id}` already exists: Esc, then Enter on them changes them"
                        ),
                    ),
                    Ok(()) => {}
                }
                self.staff_fields(&mut err);
                vec![Op::AddStaff {
                    id: id.to_string(),
                    name: self.value("name").to_string(),
                    group: self.value("group").to_string(),
                    order: None,
                }]
            }
            FormKind::EditStaff { id } => {
                self.staff_fields(&mut err);
                vec![Op::UpdateStaff {
                    id: id.clone(),
                    name: Some(self.value("name").to_string()),
                    group: Some(self.value("group").to_string()),
                    order: None,
                    base: self.base,
                }]
            }
            FormKind::Code { existing } => {
                let code = self.value("code");
                if let Err(m) = check_code(code) {
                    err("code", m);
                } else if existing.is_none() {
                    if let Some(c) = roster.code(code) {
                        let what = if c.label.is_empty() {
                            format!("{} h", fmt_num(c.hours))
                        } else {
                            format!("{}, {} h", c.label, fmt_num(c.hours))
                        };
                        err(
                            "code",
                            format!(
                                "code {code} exists ({what}): Esc, then Enter on it in the list changes it"
                            ),
                        );
                    } else if let Some(c) = roster
                        .codes()
                        .into_iter()
                        .find(|c| c.code.eq_ignore_ascii_case(code))
                    {
                        err(
                            "code",
                            format!(
                                "`{code}` would be typed like the code {}: codes may not differ only in the case of their letters",
                                c.code
                            ),
                        );
                    }
                }
                let hours = match number(self.value("hours"), "hours") {
                    Ok(Some(h)) if h > 48.0 => {
                        err(
                            "hours",
                            format!("hours `{}`: paid hours are 0 to 48", self.value("hours")),
                        );
                        None
                    }
                    Ok(h) => h,
                    Err(m) => {
                        err("hours", m);
                        None
                    }
                };
                let worked = match self.value("worked").to_ascii_lowercase().as_str() {
                    "yes" | "y" | "true" => true,
                    "no" | "n" | "false" => false,
                    other => {
                        err("worked", format!("`{other}`: yes or no"));
                        true
                    }
                };
                let mut time = |name: &'static str| {
                    let v = self.value(name);
                    if v.is_empty() {
                        return None;
                    }
                    if let Err(m) = check_time(name, v) {
                        err(name, m);
                    }
                    Some(v.to_string())
                };
                let start = time("start");
                let end = time("end");
                if start.is_some() != end.is_some() {
                    let missing = if start.is_none() { "start" } else { "end" };
                    err(
                        missing,
                        format!("{missing}: a shift with set times needs both start and end"),
                    );
                }
                let colour = self.value("colour");
                if !colour.is_empty() && crate::colour::parse_colour(colour).is_none() {
                    err(
                        "colour",
                        format!("`{colour}` is no colour: {}", crate::colour::COLOUR_HINT),
                    );
                }
                let label = self.value("label");
                if label.chars().count() > 200 {
                    err("label", "a label is at most 200 characters".into());
                }
                let mut def = ShiftCode::new(code, hours.unwrap_or(0.0), worked);
                def.label = label.to_string();
                def.colour = colour.to_string();
                def.start = start;
                def.end = end;
                vec![Op::PutCode {
                    code: def,
                    base: self.base,
                }]
            }
            FormKind::Staffing => {
                self.rule_id(roster, &mut err);
                let mut code = self.value("code").to_string();
                if code.is_empty() {
                    err("code", "which code is counted?".into());
                } else {
                    match roster.code_named(&code) {
                        Ok(c) => code = c.to_string(),
                        Err(m) => err("code", m),
                    }
                }
                let min = whole(self.value("min"), "min").unwrap_or_else(|m| {
                    err("min", m);
                    None
                });
                let max = whole(self.value("max"), "max").unwrap_or_else(|m| {
                    err("max", m);
                    None
                });
                if let (Some(a), Some(b)) = (min, max)
                    && a > b
                {
                    err("max", format!("max {b} is under min {a}: min <= max"));
                }
                let weekdays = weekdays(self.value("weekdays")).unwrap_or_else(|m| {
                    err("weekdays", m);
                    Vec::new()
                });
                let mut date = |name: &'static str| {
                    let v = self.value(name);
                    if v.is_empty() {
                        return None;
                    }
                    match v.parse::<Date>() {
                        Ok(d) => Some(d),
                        Err(_) => {
                            err(name, format!("`{v}` is no date: YYYY-MM-DD"));
                            None
                        }
                    }
                };
                let from = date("from");
                let to = date("to");
                if let (Some(f), Some(t)) = (from, to)
                    && f > t
                {
                    err("to", format!("to {t} is before from {f}"));
                }
                let group = Some(self.value("group").to_string()).filter(|g| !g.is_empty());
                self.rule_op(RuleKind::Staffing {
                    code,
                    min: min.unwrap_or(0),
                    max,
                    weekdays,
                    group,
                    from,
                    to,
                })
            }
            FormKind::Sequence => {
                self.rule_id(roster, &mut err);
                let mut named = |name: &'static str| {
                    let v = self.value(name);
                    if v.is_empty() {
                        err(name, "a code is needed".into());
                        return String::new();
                    }
                    roster
                        .code_named(v)
                        .map(str::to_string)
                        .unwrap_or_else(|m| {
                            err(name, m);
                            v.to_string()
                        })
                };
                let first = named("first");
                let then = named("then");
                self.rule_op(RuleKind::ForbiddenSequence { first, then })
            }
            FormKind::Limit => {
                self.rule_id(roster, &mut err);
                let measure = measure_of(self.value("measure")).unwrap_or_else(|m| {
                    err("measure", m);
                    LimitMeasure::Shifts
                });
                let min = number(self.value("min"), "min").unwrap_or_else(|m| {
                    err("min", m);
                    None
                });
                let max = number(self.value("max"), "max").unwrap_or_else(|m| {
                    err("max", m);
                    None
                });
                match (min, max) {
                    (None, None)
                        if self.value("min").is_empty() && self.value("max").is_empty() =>
                    {
                        err("max", "a limit needs a min or a max".into())
                    }
                    (Some(a), Some(b)) if a > b => err(
                        "max",
                        format!("max {} is under min {}: min <= max", fmt_num(b), fmt_num(a)),
                    ),
                    _ => {}
                }
                let period_days =
                    whole(self.value("period days"), "period days").unwrap_or_else(|m| {
                        err("period days", m);
                        None
                    });
                if period_days == Some(0) {
                    err(
                        "period days",
                        "period days: at least 1, or empty for the whole roster".into(),
                    );
                }
                let some =
                    |name: &str| Some(self.value(name).to_string()).filter(|v| !v.is_empty());
                let code = some("code").map(|c| match roster.code_named(&c) {
                    Ok(named) => named.to_string(),
                    Err(m) => {
                        err("code", m);
                        c
                    }
                });
                let staff = some("staff");
                if let Some(p) = &staff
                    && roster.staff_member(p).is_none_or(|s| !s.active)
                {
                    err(
                        "staff",
                        format!("no one with the id `{p}` (an id, as the staff list shows)"),
                    );
                }
                self.rule_op(RuleKind::Limit {
                    measure,
                    min,
                    max,
                    period_days,
                    code,
                    staff,
                    group: some("group"),
                })
            }
            FormKind::Settings => {
                let mut date = |name: &'static str| match self.value(name).parse::<Date>() {
                    Ok(d) => Some(d),
                    Err(_) => {
                        err(
                            name,
                            format!("`{}` is no date: YYYY-MM-DD", self.value(name)),
                        );
                        None
                    }
                };
                let from = date("period from");
                let to = date("period to");
                let mut ops = Vec::new();
                if let (Some(f), Some(t)) = (from, to) {
                    match rota_core::domain::Period::new(f, t) {
                        Ok(p) if roster.set_period() != Some(p) => {
                            ops.push(Op::SetPeriod { from: f, to: t })
                        }
                        Ok(_) => {}
                        Err(m) => err("period to", m),
                    }
                }
                let zone = self.value("time zone");
                let zone = (!zone.is_empty()).then(|| zone.to_string());
                if let Some(z) = &zone
                    && let Err(m) = rota_core::domain::check_time_zone(z)
                {
                    err("time zone", m);
                }
                if zone.as_deref() != roster.time_zone() {
                    ops.push(Op::SetTimeZone { zone });
                }
                ops
            }
        }
    }

    /// The name and group of a person.
    fn staff_fields(&self, err: &mut impl FnMut(&str, String)) {
        let name = self.value("name");
        if name.is_empty() {
            err("name", "a name is needed".into());
        } else if name.chars().count() > 200 || name.chars().any(char::is_control) {
            err(
                "name",
                "a name is at most 200 characters, none of them control characters".into(),
            );
        }
        if self.value("group").chars().count() > 200 {
            err("group", "a group is at most 200 characters".into());
        }
    }

    /// A rule's id: needed, and a new rule's not taken.
    fn rule_id(&self, roster: &Roster, err: &mut impl FnMut(&str, String)) {
        let id = self.value("id");
        if let Err(m) = check_id("rule id", id) {
            err("id", m);
        } else if self.base.is_none() && roster.rule(id).is_some() {
            err(
                "id",
                format!("rule `{id}` exists: Esc, then Enter on it in the list changes it"),
            );
        }
    }

    fn rule_op(&self, kind: RuleKind) -> Vec<Op> {
        vec![Op::PutRule {
            rule: Rule {
                id: self.value("id").to_string(),
                kind,
                seq: 0,
            },
            base: self.base,
        }]
    }
}

/// Whether `code` starts with `prefix`, letters in either case (as the
/// grid matches what is typed).
fn same_start(code: &str, prefix: &str) -> bool {
    crate::typing::starts_with_typed(code, prefix)
}

/// The keys that type `code` in a roster: its first letter with Shift
/// when lower-case, then the rest, and Enter when a longer code starts
/// with it (see `State::keys_for_code`).
fn typed_keys(code: &str, roster: &Roster) -> String {
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

#[allow(clippy::too_many_arguments)]
fn staffing_fields(
    code: &str,
    min: &str,
    max: &str,
    weekdays: &str,
    group: &str,
    from: &str,
    to: &str,
) -> Vec<Field> {
    vec![
        field("code", code, "the shift code counted"),
        field("min", min, "fewest people on it a day"),
        field("max", max, "most people, or empty"),
        field("weekdays", weekdays, "e.g. sat,sun; empty: every day"),
        field("group", group, "count one group only, or empty"),
        field("from", from, "YYYY-MM-DD, or empty"),
        field("to", to, "YYYY-MM-DD, or empty"),
    ]
}

fn sequence_fields(first: &str, then: &str) -> Vec<Field> {
    vec![
        field("first", first, "a code, e.g. N"),
        field("then", then, "may not follow it the next day, e.g. D"),
    ]
}

#[allow(clippy::too_many_arguments)]
fn limit_fields(
    measure: &str,
    min: &str,
    max: &str,
    period: &str,
    code: &str,
    staff: &str,
    group: &str,
) -> Vec<Field> {
    vec![
        field("measure", measure, MEASURES_HINT),
        field("min", min, "at least, or empty"),
        field("max", max, "at most, or empty"),
        field(
            "period days",
            period,
            "e.g. 7 or 28; empty: the whole roster",
        ),
        field("code", code, "count only this code (shifts), or empty"),
        field("staff", staff, "one person's id, or empty: everyone"),
        field("group", group, "one group, or empty"),
    ]
}

const MEASURES_HINT: &str = "worked-run, off-run, shifts, hours, weekends";

fn measure_name(m: LimitMeasure) -> &'static str {
    match m {
        LimitMeasure::ConsecutiveWorked => "worked-run",
        LimitMeasure::ConsecutiveOff => "off-run",
        LimitMeasure::Shifts => "shifts",
        LimitMeasure::Hours => "hours",
        LimitMeasure::WeekendsWorked => "weekends",
    }
}

fn measure_of(s: &str) -> Result<LimitMeasure, String> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "worked-run" | "consecutive_worked" => LimitMeasure::ConsecutiveWorked,
        "off-run" | "consecutive_off" => LimitMeasure::ConsecutiveOff,
        "shifts" => LimitMeasure::Shifts,
        "hours" => LimitMeasure::Hours,
        "weekends" | "weekends_worked" => LimitMeasure::WeekendsWorked,
        other => return Err(format!("`{other}`: one of {MEASURES_HINT}")),
    })
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        v.to_string()
    }
}

/// A number of at least 0, or nothing.
fn number(s: &str, what: &str) -> Result<Option<f64>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
        _ => Err(format!("{what} `{s}`: a number, 0 or more")),
    }
}

/// A whole number of at least 0, or nothing.
fn whole(s: &str, what: &str) -> Result<Option<u32>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<u32>()
        .map(Some)
        .map_err(|_| format!("{what} `{s}`: a whole number, 0 or more"))
}

fn weekdays(s: &str) -> Result<Vec<chrono::Weekday>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.parse::<chrono::Weekday>()
                .map_err(|_| format!("`{w}` is no weekday: mon, tue, … sun"))
        })
        .collect()
}

/// The roster's users as the manage panel lists them: (name, line).
pub fn user_lines(users: &[rota_core::protocol::RosterUser]) -> Vec<(String, String)> {
    users
        .iter()
        .map(|u| {
            let owner = if u.owner { "owner of the hub" } else { "" };
            (
                u.user.clone(),
                format!("{:<24} {:<8} {owner}", u.user, u.role),
            )
        })
        .collect()
}

/// Staff, codes or rules as the manage panel lists them: (key, line).
/// Users are not the roster's: see [`user_lines`].
pub fn list(roster: &Roster, tab: Tab) -> Vec<(String, String)> {
    match tab {
        Tab::Users => Vec::new(),
        Tab::Settings => {
            let period = match roster.set_period() {
                Some(p) => format!(
                    "period     {} to {} ({} days): rules are checked over these dates",
                    p.from.0.format("%a %-d %b %Y"),
                    p.to.0.format("%a %-d %b %Y"),
                    p.days()
                ),
                None => "period     none yet: the first code written sets it (its whole months)"
                    .to_string(),
            };
            let zone = format!(
                "time zone  {}",
                roster
                    .time_zone()
                    .unwrap_or("none: each reader's own (set one for calendars)")
            );
            vec![("period".into(), period), ("time zone".into(), zone)]
        }
        Tab::Staff => {
            let staff = roster.staff_by_group();
            let rows = staff
                .iter()
                // Long names shortened as the grid does, so the columns
                // stay in line (the form shows a name whole).
                .map(|s| {
                    vec![
                        rota_core::text::short_name(&s.name, 30),
                        rota_core::text::fit_words(&s.group, 24),
                        s.id.clone(),
                    ]
                })
                .collect();
            let keys = staff.into_iter().map(|s| s.id);
            keys.zip(columns(rows, &[30, 24, 0])).collect()
        }
        Tab::Codes => {
            let codes = roster.codes();
            let rows = codes
                .iter()
                .map(|c| {
                    let times = match (&c.start, &c.end) {
                        (Some(a), Some(b)) => format!("{a}–{b}"),
                        _ => String::new(),
                    };
                    vec![
                        c.code.clone(),
                        rota_core::text::fit_words(&c.label, 24),
                        format!("{:>5} h", fmt_num(c.hours)),
                        times,
                        if c.worked { "worked" } else { "not worked" }.to_string(),
                        c.colour.clone(),
                    ]
                })
                .collect();
            let keys = codes.into_iter().map(|c| c.code);
            keys.zip(columns(rows, &[8, 24, 0, 11, 10, 0])).collect()
        }
        Tab::Rules => {
            let rules = roster.rules();
            let rows = rules
                .iter()
                .map(|r| vec![r.id.clone(), describe_rule(&r.kind)])
                .collect();
            let keys = rules.into_iter().map(|r| r.id);
            keys.zip(columns(rows, &[28, 0])).collect()
        }
    }
}

/// Rows laid out in columns as wide as their widest cell (by display
/// width), at most `caps[i]` (0: no cap; a wider cell pushes the rest of
/// its own row along, not every row's).
fn columns(rows: Vec<Vec<String>>, caps: &[usize]) -> Vec<String> {
    use rota_core::text::text_cols;
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            let widest = rows
                .iter()
                .filter_map(|r| r.get(i))
                .map(|c| text_cols(c, false))
                .max()
                .unwrap_or(0);
            match caps.get(i) {
                Some(&cap) if cap > 0 => widest.min(cap),
                _ => widest,
            }
        })
        .collect();
    rows.into_iter()
        .map(|row| {
            let last = row.len().saturating_sub(1);
            let mut line = String::new();
            for (i, cell) in row.into_iter().enumerate() {
                line.push_str(&cell);
                if i < last {
                    let w = text_cols(&cell, false);
                    let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(w) + 1;
                    line.push_str(&" ".repeat(pad));
                }
            }
            line.trim_end().to_string()
        })
        .collect()
}

/// A rule in a line: "D 2–4 a day (sat,sun) in Nurses".
pub fn describe_rule(kind: &RuleKind) -> String {
    match kind {
        RuleKind::Staffing {
            code,
            min,
            max,
            weekdays,
            group,
            from,
            to,
        } => {
            let mut s = match max {
                Some(m) => format!("staffing {code}: {min} to {m} a day"),
                None => format!("staffing {code}: at least {min} a day"),
            };
            if !weekdays.is_empty() {
                let w: Vec<String> = weekdays.iter().map(|w| w.to_string()).collect();
                s.push_str(&format!(" on {}", w.join(",")));
            }
            if let Some(g) = group {
                s.push_str(&format!(" in {g}"));
            }
            if from.is_some() || to.is_some() {
                s.push_str(&format!(" ({}..{})", opt(from), opt(to)));
            }
            s
        }
        RuleKind::ForbiddenSequence { first, then } => {
            format!("sequence: no {then} the day after {first}")
        }
        RuleKind::Limit {
            measure,
            min,
            max,
            period_days,
            code,
            staff,
            group,
        } => {
            let mut s = format!("limit {}", measure_name(*measure));
            if let Some(c) = code {
                s.push_str(&format!(" of {c}"));
            }
            if let Some(m) = min {
                s.push_str(&format!(" ≥ {}", fmt_num(*m)));
            }
            if let Some(m) = max {
                s.push_str(&format!(" ≤ {}", fmt_num(*m)));
            }
            match period_days {
                Some(d) => s.push_str(&format!(" per {d} days")),
                None => s.push_str(" over the roster"),
            }
            if let Some(p) = staff {
                s.push_str(&format!(" for {p}"));
            }
            if let Some(g) = group {
                s.push_str(&format!(" in {g}"));
            }
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roster() -> Roster {
        let mut r = Roster::default();
        let author = rota_core::domain::Author {
            user: "t".into(),
            client: "c".into(),
        };
        let ops = vec![
            Op::PutCode {
                code: ShiftCode::new("D", 8.0, true),
                base: None,
            },
            Op::AddStaff {
                id: "s1".into(),
                name: "Ann".into(),
                group: "Nurses".into(),
                order: None,
            },
        ];
        r.apply_batch_with(&ops, &author, 0, false)
            .expect("the roster takes its set-up");
        r
    }

    fn set(form: &mut Form, name: &str, v: &str) {
        let i = form.index(name);
        form.fields[i].value = v.into();
    }

    fn names(f: &Form, errs: &[(usize, String)]) -> Vec<&'static str> {
        errs.iter().map(|(i, _)| f.fields[*i].name).collect()
    }

    #[test]
    fn each_form_names_every_field_that_is_wrong_and_builds_its_edit_when_right() {
        let r = roster();
        let mut f = Form::code(None);
        set(&mut f, "code", "E");
        set(&mut f, "hours", "eight");
        set(&mut f, "start", "7.00");
        set(&mut f, "end", "15:00");
        set(&mut f, "colour", "blurple");
        let errs = f.check(&r).expect_err("three fields are wrong");
        assert_eq!(names(&f, &errs), vec!["colour", "hours", "start"]);
        set(&mut f, "hours", "99");
        let errs = f.check(&r).expect_err("99 hours");
        let hours = errs.iter().find(|(i, _)| f.fields[*i].name == "hours");
        assert!(
            hours.is_some_and(|(_, m)| m.contains("0 to 48")),
            "{errs:?}"
        );
        set(&mut f, "hours", "7.5");
        set(&mut f, "start", "07:00");
        set(&mut f, "colour", "purple");
        let ops = f.check(&r).expect("right now");
        assert!(matches!(&ops[..], [Op::PutCode { code, .. }] if code.hours == 7.5));

        // Adding a code that exists, or one typed the same, is refused.
        let mut f = Form::code(None);
        set(&mut f, "code", "D");
        let errs = f.check(&r).expect_err("D exists");
        assert!(errs[0].1.contains("code D exists"), "{errs:?}");
        set(&mut f, "code", "d");
        let errs = f.check(&r).expect_err("d is typed like D");
        assert!(errs[0].1.contains("typed like the code D"), "{errs:?}");
        // What a new code does to typing is said before it is saved.
        set(&mut f, "code", "DX");
        let notes = f.notes(&r, &[('H', "history", Some("F2".into()))]);
        assert!(
            notes
                .iter()
                .any(|(_, n)| n.contains("typing D will then wait for Enter")),
            "{notes:?}"
        );
        set(&mut f, "code", "HOL");
        let notes = f.notes(&r, &[('H', "history", Some("F2".into()))]);
        assert!(
            notes
                .iter()
                .any(|(_, n)| n.contains("no longer does `history`: history is then F2")),
            "{notes:?}"
        );
        set(&mut f, "code", "n1");
        let notes = f.notes(&r, &[]);
        assert!(
            notes
                .iter()
                .any(|(_, n)| n.contains("typed as N1 (or i n1)")),
            "{notes:?}"
        );

        // Every error at once, each beside its own field.
        let mut f = Form::rule(FormKind::Staffing, None);
        set(&mut f, "id", "min-x");
        set(&mut f, "code", "X");
        set(&mut f, "min", "3");
        set(&mut f, "max", "1");
        set(&mut f, "from", "2026-12-09");
        set(&mut f, "to", "2026-12-01");
        let errs = f.check(&r).expect_err("wrong");
        assert_eq!(names(&f, &errs), vec!["code", "max", "to"], "{errs:?}");
        set(&mut f, "code", "D");
        set(&mut f, "weekdays", "sat,sun");
        set(&mut f, "max", "3");
        set(&mut f, "to", "");
        set(&mut f, "group", "Doctorz");
        assert!(f.check(&r).is_ok());
        let notes = f.notes(&r, &[]);
        assert!(
            notes
                .iter()
                .any(|(_, n)| n.contains("counts nobody") && n.contains("Nurses")),
            "{notes:?}"
        );

        let mut f = Form::rule(FormKind::Limit, None);
        set(&mut f, "id", "run");
        set(&mut f, "measure", "runs");
        assert_eq!(names(&f, &f.check(&r).expect_err("bad"))[0], "measure");
        set(&mut f, "measure", "worked-run");
        assert!(f.check(&r).is_err(), "a limit needs a min or a max");
        set(&mut f, "max", "6");
        assert!(f.check(&r).is_ok());

        let mut f = Form::add_staff();
        set(&mut f, "id", "s1");
        set(&mut f, "name", "Bea");
        let errs = f.check(&r).expect_err("s1 exists");
        assert_eq!(names(&f, &errs), vec!["id"]);
        // A second person of the same name is allowed, and said.
        set(&mut f, "id", "s9");
        set(&mut f, "name", "ann");
        assert!(f.check(&r).is_ok());
        let notes = f.notes(&r, &[]);
        assert!(
            notes
                .iter()
                .any(|(_, n)| n.contains("Ann (s1) has this name too")),
            "{notes:?}"
        );
        // A rule names a code in any case, and keeps it as written.
        let mut f = Form::rule(FormKind::Sequence, None);
        set(&mut f, "id", "no-d-d");
        set(&mut f, "first", "d");
        set(&mut f, "then", "D");
        let ops = f.check(&r).expect("d names D");
        assert!(
            matches!(&ops[..], [Op::PutRule { rule, .. }]
                if rule.kind == RuleKind::ForbiddenSequence { first: "D".into(), then: "D".into() }),
            "{ops:?}"
        );

        let mut f = Form::settings(&r);
        set(&mut f, "period from", "2026-12-01");
        set(&mut f, "period to", "2026-11-01");
        set(&mut f, "time zone", "Europe/Londn");
        let errs = f.check(&r).expect_err("wrong");
        assert_eq!(names(&f, &errs), vec!["period to", "time zone"], "{errs:?}");
        set(&mut f, "period to", "2027-01-31");
        set(&mut f, "time zone", "Europe/London");
        assert_eq!(f.check(&r).map(|o| o.len()), Ok(2));
    }
}
