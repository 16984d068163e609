//! rota-core: what every other crate of rota shares, and nothing that
//! waits. The roster model and its rules ([`domain`]: staff, codes, rules,
//! cells, the one place where operations are checked and applied, rule
//! evaluation), the wire messages and their framing ([`protocol`]: the only
//! code that knows how a frame is laid out), the clock ([`clock`]), text
//! as people read it ([`text`]) and the seeded random step ([`rng`]).
//!
//! Owns no I/O: no files, no sockets, no async, no threads. It depends on
//! no other rota crate; every other rota crate may depend on it.

pub mod clock;
pub mod domain;
pub mod protocol;
pub mod rng;
pub mod text;
