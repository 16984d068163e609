//! The roster model and its rules: staff, shift codes, rules, cells, and the
//! operations that change them. Pure data and logic: no async, no I/O, no SQL.
//!
//! The hub (`server`) and the client engine apply the same [`Op`]s through
//! [`Roster::apply_batch`], so both sides agree on what an edit means.

mod publication;
mod request;
mod role;
mod roster;
mod row;
pub mod rules;
mod types;

pub use role::{MAX_USER_CHARS, Role, check_user_name};
pub use roster::{
    Applied, Author, ChangeRecord, Names, Proposed, Roster, Stamp, View, view_changes,
};
pub use types::*;

/// Sequence number of an accepted write within one roster (1, 2, 3, ...).
/// 0 means "nothing yet" (a new roster, a never-written cell).
pub type Seq = u64;
