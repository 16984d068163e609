//! Publications: a roster's cells over a date range, as its staff are to
//! see them, fixed at a moment. Each is numbered (1, 2, ...) and records
//! who, when, the range and a note; a date shows what its last
//! publication fixed. A roster that never publishes has none, and is
//! shown as it is.

use super::{Date, Seq};
use serde::{Deserialize, Serialize};

/// Most characters of a publication's note.
pub const MAX_PUBLICATION_NOTE: usize = 200;

/// One publication of a date range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Publication {
    /// Its number within the roster: 1 for the first.
    pub number: u32,
    pub from: Date,
    pub to: Date,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// Who published (set from the edit's author).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub by: String,
    /// When, Unix ms (the edit's time).
    #[serde(default)]
    pub at: i64,
    /// The cells of the range that hold a code, as published: `[staff,
    /// date, code]`, by staff then date. In a snapshot, only the dates
    /// this publication is still the last of.
    #[serde(default)]
    pub cells: Vec<(String, Date, String)>,
    #[serde(default)]
    pub seq: Seq,
}

impl Publication {
    /// "publication 3, Mon 1 Mar to Sun 28 Mar, by ada: March".
    pub fn describe(&self) -> String {
        let day = |d: Date| d.0.format("%a %-d %b %Y").to_string();
        let mut s = format!(
            "publication {}, {} to {}",
            self.number,
            day(self.from),
            day(self.to)
        );
        if !self.by.is_empty() {
            s.push_str(&format!(", by {}", self.by));
        }
        if !self.note.is_empty() {
            s.push_str(&format!(": {}", self.note));
        }
        s
    }
}
