//! rota: a terminal shift-roster editor that several people use at once.
//! One binary is both the hub (`rota --serve`) and the editor (`rota`).
//!
//! The layers are crates, so that the compiler refuses a wrong-way import
//! (data flows one way round the loop: editor state -> sync engine ->
//! WebSocket -> hub writer -> store -> broadcast -> every editor):
//!
//! - `rota-core` ([`domain`], [`protocol`], [`clock`], [`text`]): the roster
//!   model and its rules, the wire types, dates. Pure: no I/O.
//! - `rota-db` ([`roster_db`], [`sqlite_file`], `lock`): a roster in SQLite,
//!   one home for the hub's store and the client's local file.
//! - `rota-tls` ([`tls`]): certificates and rustls configs.
//! - `rota-script` ([`script`]): apply, import and export formats. Pure.
//! - `rota-fill` ([`fill`]): the rules compiled for search, their exact
//!   score, and the assisted fill's search. Pure.
//! - `rota-hub` ([`server`], [`store`], [`accounts`], `embedded`): the hub.
//! - `rota-client` ([`sync`]): the sync engine. No UI, no hub inside.
//! - `rota-editor` ([`tui`]): the editor's state, keys, update and view.
//! - this crate: [`cli`], the command line and the mode each flag starts
//!   (the editor's loop in `cli::edit`), with one settings resolver; and
//!   the names above re-exported, so the tests and benchmarks read one
//!   crate.
//!
//! Each crate may use only the crates listed before it that it names in
//! its Cargo.toml; `tests/all/house.rs` checks the graph.

pub mod cli;

pub use rota_client as sync;
pub use rota_core::{clock, domain, protocol, text};
pub use rota_db::{roster_db, sqlite_file};
pub use rota_editor as tui;
pub use rota_fill as fill;
pub use rota_hub::{accounts, backup, server, store};
pub use rota_script as script;
pub use rota_tls as tls;
