//! Value types of the roster model and their validation. Serde shapes here are
//! part of the wire protocol (docs/protocol.md), so new fields get `#[serde(default)]`.

use super::Seq;
pub use super::publication::{MAX_PUBLICATION_NOTE, Publication};
pub use super::request::{MAX_NOTE_CHARS, MAX_WEIGHT, Request, Wish};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A plain calendar date, written `YYYY-MM-DD` on the wire and in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub chrono::NaiveDate);

impl FromStr for Date {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Only the strict ISO form: `2026-12-01`, so that dates sort as text.
        let ok_shape = s.len() == 10
            && s.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        if !ok_shape {
            return Err(format!("bad date `{s}`: expected YYYY-MM-DD"));
        }
        // The shape is checked, so each part is all digits.
        let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(0);
        let year = i32::try_from(num(0..4)).unwrap_or(0);
        chrono::NaiveDate::from_ymd_opt(year, num(5..7), num(8..10))
            .map(Date)
            .ok_or_else(|| format!("bad date `{s}`: no such day"))
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // By hand: chrono's `format` parses its pattern on every call, and
        // dates are written for every cell on the wire and in the stores.
        use chrono::Datelike;
        let d = self.0;
        write!(f, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A member of staff: one row of the roster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Staff {
    /// Stable id; never reused within a roster.
    pub id: String,
    pub name: String,
    /// e.g. "Nurses", "Porters"; empty for none.
    #[serde(default)]
    pub group: String,
    /// Position in the roster (ascending); ties are broken by id.
    #[serde(default)]
    pub order: i64,
    /// False once removed: the row is hidden but its history is kept.
    #[serde(default = "yes")]
    pub active: bool,
    /// Seq of the last write to this record (set by the hub; ignored on input).
    #[serde(default)]
    pub seq: Seq,
}

fn yes() -> bool {
    true
}

/// One entry of the roster's catalogue of shift codes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShiftCode {
    /// 1 to 4 characters, letters and digits: `D`, `N`, `OFF`, `AL`.
    pub code: String,
    #[serde(default)]
    pub label: String,
    /// A colour name or `#rrggbb`; empty for the editor's default.
    #[serde(default)]
    pub colour: String,
    /// Paid hours the shift counts for.
    #[serde(default)]
    pub hours: f64,
    /// Whether it counts as a worked shift (D, N) or not (OFF, AL).
    #[serde(default = "yes")]
    pub worked: bool,
    /// Start and end time of day, `HH:MM`, when the shift has set times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    #[serde(default)]
    pub seq: Seq,
}

impl ShiftCode {
    /// A code with its paid hours and whether it is worked; no label,
    /// colour or set times.
    pub fn new(code: &str, hours: f64, worked: bool) -> ShiftCode {
        ShiftCode {
            code: code.to_string(),
            label: String::new(),
            colour: String::new(),
            hours,
            worked,
            start: None,
            end: None,
            seq: 0,
        }
    }
}

/// A rule of the roster, identified by an id chosen by whoever writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    #[serde(flatten)]
    pub kind: RuleKind,
    #[serde(default)]
    pub seq: Seq,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RuleKind {
    /// Between `min` and `max` people on `code` per date, optionally only on some
    /// weekdays, only counting one group, or only within a date range.
    Staffing {
        code: String,
        #[serde(default)]
        min: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<u32>,
        /// Empty means every day.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        weekdays: Vec<chrono::Weekday>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<Date>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<Date>,
        /// What each person short of `min` and over `max` costs (the
        /// benchmark's cover weights): such a rule is soft, and its
        /// findings count in the roster's soft score.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weights: Option<CoverWeights>,
    },
    /// `first` may not be followed the next day by `then` (no early after a night).
    ForbiddenSequence { first: String, then: String },
    /// A per-person limit, for everyone, one group, or one person.
    Limit {
        measure: LimitMeasure,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
        /// Length of the period in days; none means the whole roster.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        period_days: Option<u32>,
        /// Only count this code (for `shifts`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        staff: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<String>,
    },
}

impl RuleKind {
    /// Whether a limit holds `s` to it: one naming a person holds that
    /// person, one naming a group its members, one naming neither
    /// everyone. Every other kind of rule is not a person's.
    pub fn limits(&self, s: &Staff) -> bool {
        match self {
            RuleKind::Limit { staff, group, .. } => {
                staff.as_ref().is_none_or(|id| *id == s.id)
                    && group.as_ref().is_none_or(|g| *g == s.group)
            }
            _ => false,
        }
    }
}

/// The cost of each person a staffing rule is short of its minimum
/// (`under`) and over its maximum (`over`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverWeights {
    pub under: u32,
    pub over: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitMeasure {
    ConsecutiveWorked,
    ConsecutiveOff,
    Shifts,
    Hours,
    WeekendsWorked,
}

/// How the hub treats a write based on a stale version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictMode {
    /// The stale write is refused and its author told (the default).
    #[default]
    Strict,
    /// The stale write is applied and its author told what it overwrote.
    LastWriterWins,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    #[serde(default)]
    pub conflict_mode: ConflictMode,
    /// The dates the roster plans: its rules are checked over these, and
    /// only these. None until the first edit that writes a code into a
    /// cell sets it (see [`Period::covering`]) or an admin sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
    /// The roster's time zone (an IANA name such as `Europe/London`): the
    /// zone shift times are in, for calendars. None: the reader's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub seq: Seq,
}

/// A roster's planning period: the dates from `from` to `to`, both included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Period {
    pub from: Date,
    pub to: Date,
}

/// Most days a planning period may span (five years): rules are checked
/// over every date of it.
pub const MAX_PERIOD_DAYS: i64 = 1827;

impl Period {
    /// A period from `from` to `to`, checked: in order, and at most
    /// [`MAX_PERIOD_DAYS`] long.
    pub fn new(from: Date, to: Date) -> Result<Period, String> {
        if from > to {
            return Err(format!("period: from {from} is after to {to}"));
        }
        let days = (to.0 - from.0).num_days() + 1;
        if days > MAX_PERIOD_DAYS {
            return Err(format!(
                "period: {from} to {to} is {days} days; at most {MAX_PERIOD_DAYS} (five years)"
            ));
        }
        Ok(Period { from, to })
    }

    /// The whole months from `first`'s to `last`'s (the period a roster
    /// is given by the first edit that writes a code into it), at most
    /// [`MAX_PERIOD_DAYS`] long, ending with `last`'s month.
    pub fn covering(first: Date, last: Date) -> Period {
        use chrono::Datelike;
        let month_start = |d: Date| d.0.with_day(1).map_or(d, Date);
        let month_end = |d: Date| {
            let next = if d.0.month() == 12 {
                chrono::NaiveDate::from_ymd_opt(d.0.year() + 1, 1, 1)
            } else {
                chrono::NaiveDate::from_ymd_opt(d.0.year(), d.0.month() + 1, 1)
            };
            next.and_then(|n| n.pred_opt()).map_or(d, Date)
        };
        let to = month_end(last.max(first));
        let mut from = month_start(first.min(last));
        while (to.0 - from.0).num_days() + 1 > MAX_PERIOD_DAYS {
            from = month_start(from.add_days(32));
        }
        Period { from, to }
    }

    pub fn contains(&self, d: Date) -> bool {
        self.from <= d && d <= self.to
    }

    /// How many dates it holds.
    pub fn days(&self) -> usize {
        (self.to.0 - self.from.0).num_days().max(0) as usize + 1
    }

    /// Whether it spans more than one calendar year (dates shown then
    /// name their year).
    pub fn spans_years(&self) -> bool {
        use chrono::Datelike;
        self.from.0.year() != self.to.0.year()
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.from, self.to)
    }
}

impl Date {
    /// Whether it is a Saturday or a Sunday.
    pub fn is_weekend(self) -> bool {
        use chrono::Datelike;
        matches!(
            self.0.weekday(),
            chrono::Weekday::Sat | chrono::Weekday::Sun
        )
    }

    /// The date `days` later (earlier when negative); the calendar's first
    /// or last date when that would leave it.
    pub fn add_days(self, days: i64) -> Date {
        let moved = chrono::Duration::try_days(days).and_then(|n| self.0.checked_add_signed(n));
        Date(moved.unwrap_or(if days < 0 {
            chrono::NaiveDate::MIN
        } else {
            chrono::NaiveDate::MAX
        }))
    }

    /// Days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(self, later: Date) -> i64 {
        (later.0 - self.0).num_days()
    }
}

/// Checks a time zone name: an IANA zone such as `Europe/London` or `UTC`.
pub fn check_time_zone(zone: &str) -> Result<chrono_tz::Tz, String> {
    zone.parse::<chrono_tz::Tz>().map_err(|_| {
        format!("time zone `{zone}` is not an IANA zone name (e.g. Europe/London, America/New_York, UTC)")
    })
}

/// One operation of an edit batch. A batch is applied all or nothing.
///
/// `base` is the seq of the version the client based the write on (0 for a
/// cell it has never seen written). For records it is optional: without it the
/// write is applied whatever the current version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    SetCell {
        staff: String,
        date: Date,
        /// `null` clears the cell.
        code: Option<String>,
        #[serde(default)]
        base: Seq,
    },
    AddStaff {
        id: String,
        name: String,
        #[serde(default)]
        group: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order: Option<i64>,
    },
    /// Rename, regroup or reorder: fields left out stay as they are.
    UpdateStaff {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base: Option<Seq>,
    },
    RemoveStaff {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base: Option<Seq>,
    },
    /// Add or replace a shift code.
    PutCode {
        code: ShiftCode,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base: Option<Seq>,
    },
    RemoveCode {
        code: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base: Option<Seq>,
    },
    /// Add or replace a rule.
    PutRule {
        rule: Rule,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base: Option<Seq>,
    },
    RemoveRule {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base: Option<Seq>,
    },
    SetConflictMode {
        mode: ConflictMode,
    },
    /// Sets the roster's planning period (admins): rules are checked over
    /// these dates only.
    SetPeriod {
        from: Date,
        to: Date,
    },
    /// Sets the roster's time zone (an IANA name), or clears it (null).
    SetTimeZone {
        zone: Option<String>,
    },
    /// Adds or replaces a person's request for a date.
    PutRequest {
        request: Request,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base: Option<Seq>,
    },
    /// Withdraws a person's request for a date.
    RemoveRequest {
        staff: String,
        date: Date,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base: Option<Seq>,
    },
    /// Proposes a code for an empty cell (a fill's result, for the team to
    /// accept or discard), or withdraws the proposal (`null`). A proposal
    /// lives only while its cell is empty: proposed for a cell holding a
    /// code, it is withdrawn instead; a code written to the cell withdraws
    /// it. Editors see proposals; staff and viewers never do.
    Propose {
        staff: String,
        date: Date,
        code: Option<String>,
    },
    /// Publishes the cells from `from` to `to` as they are (admins): the
    /// next publication, numbered.
    Publish {
        from: Date,
        to: Date,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        note: String,
    },
}

/// The resulting state of one thing an accepted batch changed. This is what
/// other editors receive and what the change log can rebuild.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    Cell {
        staff: String,
        date: Date,
        code: Option<String>,
    },
    Staff {
        staff: Staff,
    },
    /// `def: null` means the code was removed.
    Code {
        code: String,
        def: Option<ShiftCode>,
    },
    /// `rule: null` means the rule was removed.
    Rule {
        id: String,
        rule: Option<Rule>,
    },
    Settings {
        settings: Settings,
    },
    /// `request: null` means the request was withdrawn.
    Request {
        staff: String,
        date: Date,
        request: Option<Request>,
    },
    /// A cell's proposal (see [`Op::Propose`]); `code: null` means
    /// withdrawn (or accepted: the cell then holds a code).
    Proposal {
        staff: String,
        date: Date,
        code: Option<String>,
    },
    /// A publication, with the cells it fixed.
    Publication {
        publication: Publication,
    },
}

impl Change {
    /// What this change was made to.
    pub fn target(&self) -> Target {
        match self {
            Change::Cell { staff, date, .. } => Target::Cell {
                staff: staff.clone(),
                date: *date,
            },
            Change::Staff { staff } => Target::Staff {
                id: staff.id.clone(),
            },
            Change::Code { code, .. } => Target::Code { code: code.clone() },
            Change::Rule { id, .. } => Target::Rule { id: id.clone() },
            Change::Settings { .. } => Target::Settings,
            Change::Request { staff, date, .. } => Target::Request {
                staff: staff.clone(),
                date: *date,
            },
            Change::Proposal { staff, date, .. } => Target::Proposal {
                staff: staff.clone(),
                date: *date,
            },
            Change::Publication { publication } => Target::Publication {
                number: publication.number,
            },
        }
    }
}

/// What a write refers to, for conflicts and the change log.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "entity", rename_all = "snake_case")]
pub enum Target {
    Cell { staff: String, date: Date },
    Staff { id: String },
    Code { code: String },
    Rule { id: String },
    Settings,
    Request { staff: String, date: Date },
    Proposal { staff: String, date: Date },
    Publication { number: u32 },
}

impl Op {
    /// What this operation writes.
    pub fn target(&self) -> Target {
        match self {
            Op::SetCell { staff, date, .. } => Target::Cell {
                staff: staff.clone(),
                date: *date,
            },
            Op::AddStaff { id, .. } | Op::UpdateStaff { id, .. } | Op::RemoveStaff { id, .. } => {
                Target::Staff { id: id.clone() }
            }
            Op::PutCode { code, .. } => Target::Code {
                code: code.code.clone(),
            },
            Op::RemoveCode { code, .. } => Target::Code { code: code.clone() },
            Op::PutRule { rule, .. } => Target::Rule {
                id: rule.id.clone(),
            },
            Op::RemoveRule { id, .. } => Target::Rule { id: id.clone() },
            Op::SetConflictMode { .. } | Op::SetPeriod { .. } | Op::SetTimeZone { .. } => {
                Target::Settings
            }
            Op::PutRequest { request, .. } => Target::Request {
                staff: request.staff.clone(),
                date: request.date,
            },
            Op::RemoveRequest { staff, date, .. } => Target::Request {
                staff: staff.clone(),
                date: *date,
            },
            Op::Propose { staff, date, .. } => Target::Proposal {
                staff: staff.clone(),
                date: *date,
            },
            // The number is the hub's to give: 0 names "the next".
            Op::Publish { .. } => Target::Publication { number: 0 },
        }
    }

    /// Calls `f` with every string the operation carries (ids, names,
    /// labels, codes, colours, times, groups), to bound their sizes.
    pub fn each_string(&self, f: &mut impl FnMut(&str)) {
        let opt = |s: &Option<String>, f: &mut dyn FnMut(&str)| {
            if let Some(s) = s {
                f(s)
            }
        };
        match self {
            Op::SetCell { staff, code, .. } => {
                f(staff);
                opt(code, f);
            }
            Op::AddStaff {
                id, name, group, ..
            } => {
                f(id);
                f(name);
                f(group);
            }
            Op::UpdateStaff {
                id, name, group, ..
            } => {
                f(id);
                opt(name, f);
                opt(group, f);
            }
            Op::RemoveStaff { id, .. } | Op::RemoveRule { id, .. } => f(id),
            Op::RemoveCode { code, .. } => f(code),
            Op::PutCode { code, .. } => {
                f(&code.code);
                f(&code.label);
                f(&code.colour);
                opt(&code.start, f);
                opt(&code.end, f);
            }
            Op::PutRule { rule, .. } => {
                f(&rule.id);
                match &rule.kind {
                    RuleKind::Staffing { code, group, .. } => {
                        f(code);
                        opt(group, f);
                    }
                    RuleKind::ForbiddenSequence { first, then } => {
                        f(first);
                        f(then);
                    }
                    RuleKind::Limit {
                        code, staff, group, ..
                    } => {
                        opt(code, f);
                        opt(staff, f);
                        opt(group, f);
                    }
                }
            }
            Op::SetTimeZone { zone } => opt(zone, f),
            Op::PutRequest { request, .. } => {
                f(&request.staff);
                if let Some(c) = request.wish.code() {
                    f(c);
                }
                f(&request.note);
                f(&request.by);
            }
            Op::RemoveRequest { staff, .. } => f(staff),
            Op::Propose { staff, code, .. } => {
                f(staff);
                opt(code, f);
            }
            Op::Publish { note, .. } => f(note),
            Op::SetConflictMode { .. } | Op::SetPeriod { .. } => {}
        }
    }

    /// Whether a record's write already names the version it is based on
    /// (a cell's base is always filled in by whoever sends it).
    pub fn has_record_base(&self) -> bool {
        match self {
            Op::UpdateStaff { base, .. }
            | Op::RemoveStaff { base, .. }
            | Op::PutCode { base, .. }
            | Op::RemoveCode { base, .. }
            | Op::PutRule { base, .. }
            | Op::RemoveRule { base, .. }
            | Op::PutRequest { base, .. }
            | Op::RemoveRequest { base, .. } => base.is_some(),
            _ => false,
        }
    }

    /// Sets the version this write is based on (where the op carries one).
    pub fn set_base(&mut self, seq: Seq) {
        match self {
            Op::SetCell { base, .. } => *base = seq,
            Op::UpdateStaff { base, .. }
            | Op::RemoveStaff { base, .. }
            | Op::PutCode { base, .. }
            | Op::RemoveCode { base, .. }
            | Op::PutRule { base, .. }
            | Op::RemoveRule { base, .. }
            | Op::PutRequest { base, .. }
            | Op::RemoveRequest { base, .. } => *base = Some(seq),
            Op::AddStaff { .. }
            | Op::Propose { .. }
            | Op::Publish { .. }
            | Op::SetConflictMode { .. }
            | Op::SetPeriod { .. }
            | Op::SetTimeZone { .. } => {}
        }
    }
}

impl Target {
    /// The entity kind as stored in the change log.
    pub fn entity(&self) -> &'static str {
        match self {
            Target::Cell { .. } => "cell",
            Target::Staff { .. } => "staff",
            Target::Code { .. } => "code",
            Target::Rule { .. } => "rule",
            Target::Settings => "settings",
            Target::Request { .. } => "request",
            Target::Proposal { .. } => "proposal",
            Target::Publication { .. } => "publication",
        }
    }
    /// A stable key within the entity kind.
    pub fn key(&self) -> String {
        match self {
            Target::Cell { staff, date }
            | Target::Request { staff, date }
            | Target::Proposal { staff, date } => {
                format!("{staff}/{date}")
            }
            Target::Staff { id } | Target::Rule { id } => id.clone(),
            Target::Code { code } => code.clone(),
            Target::Settings => String::new(),
            // Zero-padded: the store lists them in order by key.
            Target::Publication { number } => format!("{number:010}"),
        }
    }
}

/// A write that was based on a stale version: what it was based on and what
/// is there now, so the editor can ask its user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    /// Index of the operation in its batch.
    pub op: usize,
    #[serde(flatten)]
    pub target: Target,
    pub base: Seq,
    /// The current value: a code (or null) for a cell, the record for others.
    pub value: serde_json::Value,
    pub seq: Seq,
    pub user: String,
    pub client: String,
    /// Unix time in milliseconds of the current version.
    pub at: i64,
}

/// Why an operation can never be applied as it stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    pub op: usize,
    /// Machine-readable: unknown_staff, staff_removed, unknown_code, not_found,
    /// exists, in_use, invalid_value.
    pub code: String,
    pub message: String,
}

/// Why a batch was not applied.
#[derive(Clone, Debug, PartialEq)]
pub enum Rejection {
    /// Permanent problems (the batch can never apply as it stands).
    Invalid(Vec<Problem>),
    /// Writes based on stale versions, in strict mode.
    Conflict(Vec<Conflict>),
}

/// Checks a staff id or rule id: 1 to 64 printable characters, no `/`.
pub fn check_id(what: &str, id: &str) -> Result<(), String> {
    if id.is_empty() || id.chars().count() > 64 {
        return Err(format!("{what} `{id}` must be 1 to 64 characters"));
    }
    if id.chars().any(|c| c.is_control() || c == '/') {
        return Err(format!("{what} `{id}` has a control character or `/`"));
    }
    check_visible(what, id)
}

/// A character that takes no room or turns text around where it is shown
/// (Unicode's default-ignorable code points, the bidirectional controls):
/// in a name, it makes one that displays as another's (`admin` followed by
/// U+200B, a name reversed by U+202E).
pub fn invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F..=0x1160 | 0x17B4..=0x17B5
        | 0x180B..=0x180F | 0x200B..=0x200F | 0x202A..=0x202E
        | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF | 0xFFA0
        | 0xFFF0..=0xFFF8 | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF)
}

/// Refuses a name with an [`invisible`] character, naming it by its code
/// point (it cannot be seen to be quoted).
pub fn check_visible(what: &str, name: &str) -> Result<(), String> {
    let Some(c) = name.chars().find(|c| invisible(*c)) else {
        return Ok(());
    };
    let shown: String = name
        .chars()
        .map(|c| {
            if invisible(c) {
                format!("<U+{:04X}>", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect();
    Err(format!(
        "{what} `{shown}` holds U+{:04X}, a character that is not seen or turns text \
         around: a name must read as it is",
        c as u32
    ))
}

/// Most characters (Unicode scalar values, not bytes) in a shift code.
pub const MAX_CODE_CHARS: usize = 4;

/// A repeating pattern of codes, comma-separated: `D,D,N,N,OFF,OFF`; an
/// empty entry is a day the pattern does not write (`D,D,N,N,,` leaves
/// two days as they are: booked leave stays).
/// Each code must be well-formed (whether the roster has it is the
/// caller's to check), and one entry at least must be a code.
pub fn parse_pattern(s: &str) -> Result<Vec<Option<String>>, String> {
    let mut codes = Vec::new();
    for c in s.split(',').map(str::trim) {
        if c.is_empty() {
            codes.push(None);
            continue;
        }
        check_code(c).map_err(|m| format!("pattern `{s}`: {m}"))?;
        codes.push(Some(c.to_string()));
    }
    if codes.iter().all(Option::is_none) {
        return Err(format!(
            "pattern `{s}` has no code: write codes separated by commas, an empty entry for a day left as it is (D,D,N,N,,)"
        ));
    }
    Ok(codes)
}

/// A pattern as [`parse_pattern`] reads it: `D,D,N,N,,`.
pub fn show_pattern(codes: &[Option<String>]) -> String {
    codes
        .iter()
        .map(|c| c.as_deref().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(",")
}

/// Checks a shift code: 1 to 4 printable characters (`D`, `OFF`, `○`, `夜`,
/// `日勤`), none of them whitespace, a comma (patterns separate codes with
/// it), a quote, a control character or one that takes no room on screen
/// (a combining mark, a zero-width joiner), so that every code can be seen,
/// typed and written in CSV and patterns as it is.
pub fn check_code(code: &str) -> Result<(), String> {
    use unicode_width::UnicodeWidthChar;
    let n = code.chars().count();
    if n == 0 || n > MAX_CODE_CHARS {
        return Err(format!(
            "shift code `{code}` must be 1 to {MAX_CODE_CHARS} characters, not {n}"
        ));
    }
    let bad = code.chars().find(|&c| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, ',' | '"' | '\'' | '`')
            || c.width().is_none_or(|w| w == 0)
    });
    match bad {
        Some(c) => Err(format!(
            "shift code `{}` has {} (U+{:04X}): codes may not hold whitespace, commas, \
             quotes, control or invisible characters",
            code.escape_debug(),
            describe_char(c),
            c as u32
        )),
        None => Ok(()),
    }
}

fn describe_char(c: char) -> &'static str {
    match c {
        ',' => "a comma",
        '"' | '\'' | '`' => "a quote",
        c if c.is_whitespace() => "whitespace",
        c if c.is_control() => "a control character",
        _ => "an invisible character",
    }
}

/// Checks a roster name: 1 to 64 of letters, digits, `.`, `_`, `-`.
pub fn check_roster_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "roster name `{name}` must be 1 to 64 letters, digits, `.`, `_` or `-`"
        ))
    }
}

/// Checks a time of day written `HH:MM`.
pub fn check_time(what: &str, t: &str) -> Result<(), String> {
    let ok = t.len() == 5
        && t.is_ascii()
        && t.as_bytes()[2] == b':'
        && t[..2].parse::<u8>().is_ok_and(|h| h < 24)
        && t[3..].parse::<u8>().is_ok_and(|m| m < 60);
    if ok {
        Ok(())
    } else {
        Err(format!("{what} `{t}` must be a time HH:MM"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A limit holds the person it names, the members of the group it
    /// names (both: that person, if a member), else everyone; no other
    /// kind of rule is a person's.
    #[test]
    fn a_limit_holds_whom_it_names() {
        let person = |id: &str, group: &str| Staff {
            id: id.into(),
            name: id.into(),
            group: group.into(),
            order: 0,
            active: true,
            seq: 0,
        };
        let limit = |staff: Option<&str>, group: Option<&str>| RuleKind::Limit {
            measure: LimitMeasure::Shifts,
            min: None,
            max: Some(5.0),
            period_days: None,
            code: None,
            staff: staff.map(String::from),
            group: group.map(String::from),
        };
        let (ann, bob) = (person("ann", "nurses"), person("bob", "porters"));
        let cases = [
            (limit(None, None), true, true),
            (limit(Some("ann"), None), true, false),
            (limit(None, Some("porters")), false, true),
            (limit(Some("ann"), Some("porters")), false, false),
            (limit(Some("bob"), Some("porters")), false, true),
            (
                RuleKind::ForbiddenSequence {
                    first: "N".into(),
                    then: "D".into(),
                },
                false,
                false,
            ),
        ];
        for (rule, holds_ann, holds_bob) in cases {
            assert_eq!(
                (rule.limits(&ann), rule.limits(&bob)),
                (holds_ann, holds_bob),
                "{rule:?}"
            );
        }
    }

    /// Issue 25, hole 7: a name with a character that is not seen, or that
    /// turns text around, is refused, the character named by code point.
    #[test]
    fn names_that_display_as_others_are_refused() {
        for bad in [
            "admin\u{200B}",
            "\u{202E}nimda",
            "ann\u{FEFF}",
            "bo\u{2066}b",
            "x\u{E0041}",
        ] {
            let err = check_id("staff id", bad).unwrap_err();
            assert!(err.contains("holds U+"), "{bad:?}: {err}");
            assert!(check_visible("user name", bad).is_err(), "{bad:?}");
            assert!(crate::domain::check_user_name(bad).is_err(), "{bad:?}");
        }
        for good in ["ann", "佐藤 花子", "Zoë", "o'brien", "ward-3"] {
            assert!(check_visible("name", good).is_ok(), "{good:?}");
        }
        assert!(
            check_visible("user name", "olga\u{200B}")
                .unwrap_err()
                .contains("`olga<U+200B>`")
        );
    }

    #[test]
    fn dates_parse_strictly() {
        assert!("2026-12-01".parse::<Date>().is_ok());
        assert!("2026-2-01".parse::<Date>().is_err());
        assert!(
            "2026-02-30"
                .parse::<Date>()
                .unwrap_err()
                .contains("no such day")
        );
        assert!(
            "01/12/2026"
                .parse::<Date>()
                .unwrap_err()
                .contains("YYYY-MM-DD")
        );
    }

    #[test]
    fn codes_and_ids_are_checked() {
        for ok in [
            "OFF",
            "D",
            "D-",
            "○",
            "△",
            "×",
            "◎",
            "★",
            "夜",
            "休",
            "日勤",
            "夜勤明け",
        ] {
            assert!(check_code(ok).is_ok(), "{ok}: {:?}", check_code(ok));
        }
        for bad in [
            "NIGHT",
            "",
            "夜勤明けX",
            "D N",
            "D,N",
            "\"D",
            "D'",
            "\tD",
            "D\u{200B}",
            "\u{301}",
            "D\n",
            "\u{00A0}",
        ] {
            assert!(check_code(bad).is_err(), "{bad:?}");
        }
        assert!(
            check_code("夜勤明け休").unwrap_err().contains("not 5"),
            "counted in characters, not bytes"
        );
        assert!(check_id("staff id", "ann/1").is_err());
        assert!(check_roster_name("ward-7").is_ok());
        assert!(check_roster_name("ward 7").is_err());
        assert!(check_time("start", "07:30").is_ok());
        assert!(check_time("start", "24:00").is_err());
    }

    #[test]
    fn rule_round_trips_with_flattened_kind() {
        let json = r#"{"id":"r1","kind":"forbidden_sequence","first":"N","then":"D"}"#;
        let rule: Rule = serde_json::from_str(json).unwrap();
        assert_eq!(
            rule.kind,
            RuleKind::ForbiddenSequence {
                first: "N".into(),
                then: "D".into()
            }
        );
        let back: Rule = serde_json::from_str(&serde_json::to_string(&rule).unwrap()).unwrap();
        assert_eq!(back, rule);
    }
}
