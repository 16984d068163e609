//! Every integration test of rota, in one crate so that it is linked
//! once (each `tests/*.rs` was a crate of its own, linking rota again).
//! One module a subject; the helpers they share are in [`common`]:
//! a hub on 127.0.0.1, WebSocket clients, a cutting proxy, the editor
//! driven without a terminal.

mod common;

mod accounts;
mod apply;
mod backup;
mod binary;
mod calendar;
mod docs;
mod editor;
mod editor_fuzz;
mod fill;
mod fuzz;
mod house;
mod hub;
mod load;
mod model;
mod planning;
mod proposals;
mod publish_scripts;
mod published;
mod requests_scripts;
mod rules;
mod screens;
mod sync;
mod tls;
mod tmux;
