//! rota-fill: assisted fill. A roster's rules, requests and cells compiled
//! into arrays ([`model::Model`]), scored exactly as the rule evaluator
//! (`rota_core::domain::rules`) finds them, with each move costing what it
//! changes (one person's row, one date's staffing); and a search
//! ([`search::fill`], on several threads [`parallel::fill_parallel`]) that
//! fills the empty cells of a range and keeps every cell someone set, its
//! strongest move a window of one person's row rebuilt by a dynamic
//! program that keeps their rules (`rebuild`).
//!
//! Pure: a [`rota_core::domain::Roster`] in, cells out; the clock it stops
//! by is handed in. No network, no files, no engine, no editor: the binary's
//! `cli::fill` does the I/O. Depends on rota-core only.

pub mod model;
pub mod parallel;
mod rebuild;
pub mod search;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

pub use model::{Model, Scope, Score};
pub use parallel::fill_parallel;
pub use search::{Filled, Progress, fill};
