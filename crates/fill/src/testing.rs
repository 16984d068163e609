//! What the fill's tests share: a roster made from operations, and that
//! roster compiled.

use crate::model::{Grid, Model, Scope};
use rota_core::domain::{Author, Op, Roster};
use std::sync::Arc;

/// The author of every test edit.
pub(crate) fn author() -> Author {
    Author {
        user: Arc::from("t"),
        client: Arc::from("c"),
    }
}

/// A roster made by `ops`, applied as one edit (which must be taken).
pub(crate) fn roster_of(ops: &[Op]) -> Roster {
    let mut r = Roster::default();
    let applied = r.apply_batch_with(ops, &author(), 1, true);
    assert!(applied.is_ok(), "{applied:?}");
    r
}

/// `r` compiled for a fill of its whole planning period (which it must
/// have).
pub(crate) fn compiled(r: &Roster) -> (Model, Grid) {
    match Model::new(r, &Scope::default()) {
        Some(compiled) => compiled,
        None => panic!("the roster has no planning period"),
    }
}
