//! Staff requests: one person's wish for one date (work a code, not work a
//! code, not work at all), with a weight and a note. A request is a roster
//! record like a rule: versioned, in the change log, never blocking; an
//! unmet one is a soft finding whose cost is its weight (the benchmark's
//! shift-on and shift-off requests are these).

use super::{Date, Seq};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The heaviest weight a request may carry. People give 1 to 3; the
/// benchmark's requests weigh up to 3 as well, and its cover weights up to
/// 100, so room is left for imported data without letting a typo of
/// 1,000,000 drown every other finding.
pub const MAX_WEIGHT: u32 = 1_000;
/// Most characters of a request's note.
pub const MAX_NOTE_CHARS: usize = 200;

/// What a person asks for on a date.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "want", rename_all = "snake_case")]
pub enum Wish {
    /// To work this code ("on N").
    On { code: String },
    /// Not to work this code ("off N"), or not to work at all (no code).
    Off {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
    },
}

impl Wish {
    /// The code it names, if any.
    pub fn code(&self) -> Option<&str> {
        match self {
            Wish::On { code } => Some(code),
            Wish::Off { code } => code.as_deref(),
        }
    }

    /// Whether a cell holding `cell` (None: empty) meets it. `worked` says
    /// whether a code is a worked one (an "off" request is met by a day
    /// off, leave, or an empty cell).
    pub fn met_by(&self, cell: Option<&str>, worked: impl Fn(&str) -> bool) -> bool {
        match self {
            Wish::On { code } => cell == Some(code.as_str()),
            Wish::Off { code: Some(code) } => cell != Some(code.as_str()),
            Wish::Off { code: None } => cell.is_none_or(|c| !worked(c)),
        }
    }

    /// How it is written in files and on screen: `on N`, `off N`, `off`.
    pub fn parse(s: &str) -> Result<Wish, String> {
        let mut words = s.split_whitespace();
        let want = words.next().unwrap_or("").to_ascii_lowercase();
        let code = words.next().map(str::to_string);
        if words.next().is_some() {
            return Err(format!(
                "request `{s}`: write `on CODE`, `off CODE` or `off`"
            ));
        }
        match (want.as_str(), code) {
            ("on", Some(code)) => Ok(Wish::On { code }),
            ("on", None) => Err(format!("request `{s}`: `on` needs a code (`on N`)")),
            ("off", code) => Ok(Wish::Off { code }),
            _ => Err(format!(
                "request `{s}`: write `on CODE`, `off CODE` or `off`"
            )),
        }
    }
}

impl fmt::Display for Wish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Wish::On { code } => write!(f, "on {code}"),
            Wish::Off { code: Some(code) } => write!(f, "off {code}"),
            Wish::Off { code: None } => write!(f, "off"),
        }
    }
}

/// One person's wish for one date. At most one per person and date: a new
/// one replaces it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub staff: String,
    pub date: Date,
    #[serde(flatten)]
    pub wish: Wish,
    /// How much it matters, 1 (default) to [`MAX_WEIGHT`]: an unmet
    /// request costs its weight.
    #[serde(default = "one")]
    pub weight: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// Who entered it (set from the edit's author; ignored on input).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub by: String,
    /// Seq of the last write (set by the hub; ignored on input).
    #[serde(default)]
    pub seq: Seq,
}

fn one() -> u32 {
    1
}

impl Request {
    /// A request of weight 1 with no note.
    pub fn new(staff: &str, date: Date, wish: Wish) -> Request {
        Request {
            staff: staff.to_string(),
            date,
            wish,
            weight: 1,
            note: String::new(),
            by: String::new(),
            seq: 0,
        }
    }

    /// "off N (weight 2, Ann's birthday; by sam)": what the status line says.
    pub fn describe(&self) -> String {
        let mut s = format!("{} (weight {}", self.wish, self.weight);
        if !self.note.is_empty() {
            s.push_str(", ");
            s.push_str(&self.note);
        }
        if !self.by.is_empty() {
            s.push_str("; by ");
            s.push_str(&self.by);
        }
        s.push(')');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wish_is_met_by_what_it_asks_and_only_that() {
        let worked = |c: &str| c != "OFF" && c != "AL";
        let on = Wish::On { code: "E".into() };
        assert!(on.met_by(Some("E"), worked));
        assert!(!on.met_by(Some("N"), worked));
        assert!(!on.met_by(None, worked));
        let off_n = Wish::Off {
            code: Some("N".into()),
        };
        assert!(off_n.met_by(Some("E"), worked));
        assert!(off_n.met_by(None, worked));
        assert!(!off_n.met_by(Some("N"), worked));
        let off = Wish::Off { code: None };
        assert!(off.met_by(None, worked));
        assert!(off.met_by(Some("AL"), worked));
        assert!(!off.met_by(Some("E"), worked));
    }

    #[test]
    fn wishes_are_written_and_read_the_same_way() {
        for s in ["on N", "off E", "off"] {
            assert_eq!(Wish::parse(s).map(|w| w.to_string()).as_deref(), Ok(s));
        }
        assert_eq!(
            Wish::parse("OFF").map(|w| w.to_string()).as_deref(),
            Ok("off")
        );
        assert!(Wish::parse("on").is_err());
        assert!(Wish::parse("maybe N").is_err());
        assert!(Wish::parse("on N please").is_err());
    }

    #[test]
    fn a_request_reads_and_writes_as_its_json() {
        let j = r#"{"staff":"ann","date":"2027-03-02","want":"off","code":"N","weight":2,"note":"school run"}"#;
        let r: Request = serde_json::from_str(j).unwrap();
        assert_eq!(
            r.wish,
            Wish::Off {
                code: Some("N".into())
            }
        );
        assert_eq!(r.weight, 2);
        let back: Request = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        let bare: Request =
            serde_json::from_str(r#"{"staff":"ann","date":"2027-03-02","want":"off"}"#).unwrap();
        assert_eq!(bare.weight, 1);
        assert_eq!(bare.wish, Wish::Off { code: None });
    }
}
