//! The hub against real WebSocket clients on 127.0.0.1 (issue 2's tests).

use crate::common;

use common::*;
use futures_util::SinkExt;
use rota::domain::{ConflictMode, Op};
use rota::protocol::{ClientMsg, HistoryQuery, MAX_MESSAGE_BYTES, MAX_OPS_PER_BATCH, ServerMsg};
use rota::server::Config;
use std::time::Duration;

mod database;
mod editing;
mod fair;
mod input;
mod limits;
mod parts;
mod records;
mod requests;
mod sessions;
mod store;

#[allow(unused_imports)]
use {editing::*, input::*, limits::*, parts::*, records::*, sessions::*, store::*};

pub(super) async fn hub_with_staff(dir: &std::path::Path, staff: usize) -> Hub {
    let hub = Hub::start(dir).await;
    let (mut admin, _) = Client::join(&hub.url(), "admin", "c-admin", "default", 0).await;
    ack_seq(&admin.edit(1, setup_ops(staff)).await);
    hub
}
