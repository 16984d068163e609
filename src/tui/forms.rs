//! The forms that manage a roster's staff, shift codes and rules: their
//! fields, what each field must hold, and the edit a filled form makes.
//! Pure: a form and the roster in, field errors or operations out. The
//! roster's own checks ([`Roster::check_record`]) have the last word, so a
//! form never says yes to what the hub would refuse for its shape.

use crate::domain::{
    Date, LimitMeasure, Op, Roster, Rule, RuleKind, Seq, ShiftCode, Staff, check_time,
};

/// Which list the manage panel shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Staff,
    Codes,
    Rules,
    /// Who may open the roster, and how (on a hub with accounts; admins).
    Users,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::Staff, Tab::Codes, Tab::Rules, Tab::Users];

    pub fn next(self) -> Tab {
        match self {
            Tab::Staff => Tab::Codes,
            Tab::Codes => Tab::Rules,
            Tab::Rules => Tab::Users,
            Tab::Users => Tab::Staff,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Tab::Staff => "staff",
            Tab::Codes => "shift codes",
            Tab::Rules => "rules",
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
}

/// What a filled user form asks the hub for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleChange {
    pub user: String,
    /// None takes the role away.
    pub role: Option<String>,
    /// A new user: the hub answers with their token.
    pub create: bool,
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
            FormKind::User { existing: None } => "add a user",
            FormKind::User { .. } => "change a user's role",
        }
    }

    /// A new user (None), or `existing`'s role on the roster.
    pub fn user(existing: Option<&crate::protocol::RosterUser>) -> Form {
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
        }
    }

    /// What a user form asks for, or what is wrong with it.
    pub fn role_change(&self) -> Result<RoleChange, Vec<(usize, String)>> {
        let FormKind::User { existing } = &self.kind else {
            return Err(vec![(0, "not a user form".into())]);
        };
        let mut errors = Vec::new();
        let user = self.value("user").to_string();
        if let Err(e) = crate::accounts::check_user_name(&user) {
            errors.push((self.index("user"), e.to_string()));
        }
        let role = match self.value("role") {
            "none" if existing.is_some() => None,
            "none" => {
                errors.push((self.index("role"), "a new user needs a role".into()));
                None
            }
            r if crate::accounts::Role::parse(r).is_some() => Some(r.to_string()),
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

    /// The edit the form makes, or what is wrong, field by field (index,
    /// message). Checked again on every key. (A user form makes no edit:
    /// see [`Form::role_change`].)
    pub fn check(&self, roster: &Roster) -> Result<Op, Vec<(usize, String)>> {
        if matches!(self.kind, FormKind::User { .. }) {
            return Err(self.role_change().err().unwrap_or_default());
        }
        let mut errors: Vec<(usize, String)> = Vec::new();
        let op = self.build(&mut errors);
        if let Some(op) = &op
            && errors.is_empty()
            && let Err(p) = roster.check_record(op)
        {
            errors.push((self.field_of(&p.message), p.message));
        }
        match op {
            Some(op) if errors.is_empty() => Ok(op),
            _ => Err(errors),
        }
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

    fn build(&self, errors: &mut Vec<(usize, String)>) -> Option<Op> {
        let mut err = |name: &str, m: String| errors.push((self.index(name), m));
        match &self.kind {
            FormKind::User { .. } => None,
            FormKind::AddStaff => {
                if self.value("name").is_empty() {
                    err("name", "a name is needed".into());
                }
                Some(Op::AddStaff {
                    id: self.value("id").to_string(),
                    name: self.value("name").to_string(),
                    group: self.value("group").to_string(),
                    order: None,
                })
            }
            FormKind::EditStaff { id } => {
                if self.value("name").is_empty() {
                    err("name", "a name is needed".into());
                }
                Some(Op::UpdateStaff {
                    id: id.clone(),
                    name: Some(self.value("name").to_string()),
                    group: Some(self.value("group").to_string()),
                    order: None,
                    base: self.base,
                })
            }
            FormKind::Code { .. } => {
                let hours = number(self.value("hours"), "hours").unwrap_or_else(|m| {
                    err("hours", m);
                    None
                });
                let worked = match self.value("worked").to_ascii_lowercase().as_str() {
                    "yes" | "y" | "true" => true,
                    "no" | "n" | "false" => false,
                    other => {
                        err("worked", format!("`{other}`: yes or no"));
                        true
                    }
                };
                let time = |name: &'static str, err: &mut dyn FnMut(&str, String)| {
                    let v = self.value(name);
                    if v.is_empty() {
                        return None;
                    }
                    if let Err(m) = check_time(name, v) {
                        err(name, m);
                    }
                    Some(v.to_string())
                };
                let start = time("start", &mut err);
                let end = time("end", &mut err);
                let colour = self.value("colour");
                if !colour.is_empty() && colour.parse::<ratatui::style::Color>().is_err() {
                    err(
                        "colour",
                        format!("`{colour}` is no colour: a name (green, lightred) or #rrggbb"),
                    );
                }
                let mut def = ShiftCode::new(self.value("code"), hours.unwrap_or(0.0), worked);
                def.label = self.value("label").to_string();
                def.colour = colour.to_string();
                def.start = start;
                def.end = end;
                Some(Op::PutCode {
                    code: def,
                    base: self.base,
                })
            }
            FormKind::Staffing => {
                let code = self.value("code").to_string();
                if code.is_empty() {
                    err("code", "which code is counted?".into());
                }
                let min = whole(self.value("min"), "min").unwrap_or_else(|m| {
                    err("min", m);
                    None
                });
                let max = whole(self.value("max"), "max").unwrap_or_else(|m| {
                    err("max", m);
                    None
                });
                let weekdays = weekdays(self.value("weekdays")).unwrap_or_else(|m| {
                    err("weekdays", m);
                    Vec::new()
                });
                let date = |name: &'static str, err: &mut dyn FnMut(&str, String)| {
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
                let from = date("from", &mut err);
                let to = date("to", &mut err);
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
                for name in ["first", "then"] {
                    if self.value(name).is_empty() {
                        err(name, "a code is needed".into());
                    }
                }
                self.rule_op(RuleKind::ForbiddenSequence {
                    first: self.value("first").to_string(),
                    then: self.value("then").to_string(),
                })
            }
            FormKind::Limit => {
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
                let period_days =
                    whole(self.value("period days"), "period days").unwrap_or_else(|m| {
                        err("period days", m);
                        None
                    });
                let some =
                    |name: &str| Some(self.value(name).to_string()).filter(|v| !v.is_empty());
                self.rule_op(RuleKind::Limit {
                    measure,
                    min,
                    max,
                    period_days,
                    code: some("code"),
                    staff: some("staff"),
                    group: some("group"),
                })
            }
        }
    }

    fn rule_op(&self, kind: RuleKind) -> Option<Op> {
        Some(Op::PutRule {
            rule: Rule {
                id: self.value("id").to_string(),
                kind,
                seq: 0,
            },
            base: self.base,
        })
    }
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
pub fn user_lines(users: &[crate::protocol::RosterUser]) -> Vec<(String, String)> {
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
        Tab::Staff => roster
            .staff_by_group()
            .into_iter()
            .map(|s| {
                let line = format!("{:<24} {:<12} {}", s.name, s.group, s.id);
                (s.id, line)
            })
            .collect(),
        Tab::Codes => roster
            .codes()
            .into_iter()
            .map(|c| {
                let times = match (&c.start, &c.end) {
                    (Some(a), Some(b)) => format!("{a}–{b}"),
                    _ => String::new(),
                };
                let line = format!(
                    "{:<5} {:<18} {:>5} h {:<11} {:<9} {}",
                    c.code,
                    c.label,
                    fmt_num(c.hours),
                    times,
                    if c.worked { "worked" } else { "not worked" },
                    c.colour
                );
                (c.code, line)
            })
            .collect(),
        Tab::Rules => roster
            .rules()
            .into_iter()
            .map(|r| {
                let line = format!("{:<18} {}", r.id, describe_rule(&r.kind));
                (r.id, line)
            })
            .collect(),
    }
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
        let author = crate::domain::Author {
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

    #[test]
    fn each_form_names_the_field_that_is_wrong_and_builds_its_edit_when_right() {
        let r = roster();
        let mut f = Form::code(None);
        set(&mut f, "code", "E");
        set(&mut f, "hours", "eight");
        set(&mut f, "start", "7.00");
        set(&mut f, "colour", "blurple");
        let errs = f.check(&r).expect_err("three fields are wrong");
        let named: Vec<&str> = errs.iter().map(|(i, _)| f.fields[*i].name).collect();
        assert_eq!(named, vec!["hours", "start", "colour"]);
        set(&mut f, "hours", "7.5");
        set(&mut f, "start", "07:00");
        set(&mut f, "colour", "#00aa00");
        assert!(matches!(f.check(&r), Ok(Op::PutCode { code, .. }) if code.hours == 7.5));

        let mut f = Form::rule(FormKind::Staffing, None);
        set(&mut f, "id", "min-x");
        set(&mut f, "code", "X");
        let errs = f.check(&r).expect_err("no code X");
        assert_eq!(f.fields[errs[0].0].name, "code");
        assert!(errs[0].1.contains("no shift code `X`"), "{errs:?}");
        set(&mut f, "code", "D");
        set(&mut f, "weekdays", "sat,sun");
        set(&mut f, "max", "1");
        set(&mut f, "min", "2");
        let errs = f.check(&r).expect_err("min over max");
        assert!(errs[0].1.contains("min <= max"), "{errs:?}");
        set(&mut f, "max", "3");
        assert!(f.check(&r).is_ok());

        let mut f = Form::rule(FormKind::Limit, None);
        set(&mut f, "id", "run");
        set(&mut f, "measure", "runs");
        assert_eq!(f.fields[f.check(&r).expect_err("bad")[0].0].name, "measure");
        set(&mut f, "measure", "worked-run");
        assert!(f.check(&r).is_err(), "a limit needs a min or a max");
        set(&mut f, "max", "6");
        assert!(f.check(&r).is_ok());

        let mut f = Form::add_staff();
        set(&mut f, "id", "s1");
        set(&mut f, "name", "Bea");
        let errs = f.check(&r).expect_err("s1 exists");
        assert_eq!(f.fields[errs[0].0].name, "id");
    }
}
