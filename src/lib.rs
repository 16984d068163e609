//! rota: a terminal shift-roster editor that several people use at once.
//! One binary is both the hub (`rota --serve`) and the editor (`rota`).
//!
//! Crate map (data flows one way round the loop: editor state -> sync engine
//! -> WebSocket -> hub writer -> store -> broadcast -> every editor):
//!
//! - [`protocol`]: the JSON wire messages shared by hub and clients. No I/O.
//! - [`domain`]: the roster model (staff, codes, rules, cells) and the one
//!   place where operations are checked and applied. Pure: no async, no I/O.
//! - [`store`]: the hub's SQLite store, its schema and migrations, the change
//!   log and the idempotency answers. Blocking; used by the writer thread only.
//! - [`roster_db`]: a roster's current state in SQLite (its tables, load,
//!   write, migrations), shared by the hub's store and the editor's file.
//! - [`sqlite_file`]: making a SQLite file whole and telling a damaged one,
//!   for the store and the sync engine's local file alike.
//! - [`accounts`]: the hub's users, roles per roster, hashed bearer tokens and
//!   client-id owners, in their own SQLite file. Blocking.
//! - [`server`]: the hub. `server::run(listener, config, shutdown)` is what
//!   the binary and the tests call.
//! - [`tls`]: PEM certificates and keys, and the rustls configs of the hub
//!   (wss://) and its clients.
//! - [`sync`]: the client engine the editor and scripts use: local SQLite
//!   cache and outbox, optimistic view, reconnect and replay. No UI.
//! - [`text`]: text as people read it: display widths, wrapping at words,
//!   shortening at words. Pure.
//! - [`tui`]: the editor (ratatui), on the sync engine's public API and the
//!   domain's types only.
//! - [`cli`]: command-line flags and the modes they start.

pub mod accounts;
pub mod cli;
pub mod clock;
pub mod domain;
pub mod protocol;
pub mod roster_db;
pub mod script;
pub mod server;
pub mod sqlite_file;
pub mod store;
pub mod sync;
pub mod text;
pub mod tls;
pub mod tui;
