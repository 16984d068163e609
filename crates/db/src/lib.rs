//! rota-db: a roster on disk, in SQLite. One home for a roster's tables,
//! loading, writing, change records and versioned migrations
//! ([`roster_db`]), shared by the hub's store and the client's local file
//! (and the interface a second store implements); making a SQLite file
//! whole and telling a damaged one ([`sqlite_file`]); the data dir's lock,
//! which tells an editor which hub owns the dir ([`lock`]).
//!
//! Blocking, no async. Depends on rota-core only; it knows neither the hub
//! nor the client that use it.

pub mod lock;
pub mod roster_db;
pub mod sqlite_file;
