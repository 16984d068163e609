//! rota-fill: assisted fill. A roster's rules, requests and cells compiled
//! into arrays ([`model::Model`]), scored exactly as the rule evaluator
//! (`rota_core::domain::rules`) finds them, with each move costing what it
//! changes (one person's row, one date's staffing); and a search
//! ([`search::fill`]) that fills the empty cells of a range and keeps every
//! cell someone set.
//!
//! Pure: a [`rota_core::domain::Roster`] in, cells out; the clock it stops
//! by is handed in. No network, no files, no engine, no editor: the binary's
//! `cli::fill` does the I/O. Depends on rota-core only.

pub mod model;
pub mod search;

pub use model::{Model, Scope, Score};
pub use search::{Filled, Progress, fill};
