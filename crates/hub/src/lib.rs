//! rota-hub: the hub. [`server`] is the WebSocket server
//! (`server::Hub::bind(listener, config)` then `serve(shutdown)`): one
//! writer thread with group commit, a ring of recent changes per roster,
//! readers for history, the broadcast, and (on a shared database) a
//! listener for other hubs' commits; [`store`] its store, SQLite files or
//! a PostgreSQL database behind one interface (schema, migrations, the
//! change log, answers by client and op id);
//! [`accounts`] users, roles and hashed tokens; [`embedded`] a hub an
//! editor starts on its own data dir, on a runtime of its own; [`backup`]
//! online backups of a data dir and their checked restore.
//!
//! Depends on rota-core, rota-db, rota-tls and rota-script (its pure
//! iCalendar writer, for the calendar feed); never on the client or the
//! editor (its simulation test drives the client's sync core as a
//! dev-dependency only; its store suite runs on a test server from
//! rota-testpg, also a dev-dependency only).

pub mod accounts;
pub mod backup;
pub mod embedded;
pub mod server;
pub mod store;
