//! rota-editor: the live roster grid in the terminal, in The Elm
//! Architecture. It reaches the roster only through the sync engine's
//! public API (rota-client) and the domain's types (rota-core); the engine
//! never sees the UI. The fill's search (rota-fill, pure) runs on a thread
//! of the editor's own. It never reaches the hub, the store or the command
//! line: the binary's `cli::edit` runs its loop.
//!
//! - [`state`]: what is shown and where the cursor is.
//! - [`keymap`]: which keys run which command (one table, the config's
//!   overrides); [`keys`]: a key event in, an action out (pure).
//! - [`update`]: an action in, the state changed, effects out (pure).
//! - [`view`], [`grid`], [`theme`]: drawing, borrowing the state.
//! - [`forms`]: the forms that manage staff, codes and rules (pure).
//! - [`requests`]: staff requests as the prompt reads them and the
//!   status line and panel say them (pure).
//! - [`shifts`]: a person's published shifts from today, as the shifts
//!   panel (`M`) and `rota --mine` say them (pure).
//! - [`publish`]: the unpublished changes (kept edit by edit), the
//!   publish prompt's range, and how both are said (pure).
//! - [`fill`]: the fill as the editor asks for it, and the edits that
//!   propose, accept and discard (pure; the search is rota-fill's).
//! - [`dates`]: dates as people type them (pure).
//! - [`block`]: block edits (fill, clear, paste, patterns) as one edit each.
//! - [`effects`]: carries effects out against the engine, results back as
//!   actions (the app loop runs it on a thread of its own; tests call it).
//! - [`config`]: the config file's editor settings. [`term`]: the
//!   terminal, always restored. `demo`: `--demo`'s roster.

pub mod action;
pub mod block;
pub mod colour;
pub mod config;
pub mod dates;
mod demo;
pub mod effects;
pub mod fill;
pub mod forms;
pub mod grid;
pub mod help;
pub mod keymap;
pub mod keys;
pub mod layout;
pub mod publish;
pub mod requests;
pub mod shifts;
pub mod state;
pub mod term;
pub mod theme;
pub mod typing;
pub mod update;
pub mod view;

pub use demo::{demo_ops, demo_today_shift};
